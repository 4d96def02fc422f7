// Every parser of outside input is total: arbitrary JSON values, values of any JS type, nesting 10,000+
// deep and strings of several MB, at the top and in every field position, give the parser's typed result.
// A throw (RangeError, TypeError) fails the property.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Crypto from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import * as IdentityTokens from "../src/IdentityTokens.js"
import * as KeyRing from "../src/KeyRing.js"
import * as Publisher from "../src/Publisher.js"
import { EnvelopeError } from "../src/TransportError.js"
import { CLIENT_SECRET, P8 } from "./vectors.js"

/** A generated input: the value, and its JSON text when it has one. */
interface Input {
  readonly value: unknown
  readonly text: string | undefined
}

const textOf = (value: unknown): string | undefined => {
  try {
    const text: unknown = JSON.stringify(value)
    return typeof text === "string" ? text : undefined
  } catch {
    return undefined
  }
}

const fromValue = (value: unknown): Input => ({ value, text: textOf(value) })

// Some text for a value that has no JSON (String() itself throws for a null-prototype object).
const someText = (x: Input): string => {
  if (x.text !== undefined) return x.text
  try {
    return String(x.value)
  } catch {
    return "[object]"
  }
}

// Nesting built in a loop, and its text by concatenation: JSON.stringify itself overflows the stack here.
const nested = (depth: number, kind: "array" | "object" | "mixed", leaf: unknown): Input => {
  let value = leaf
  const open: Array<string> = []
  for (let i = 0; i < depth; i++) {
    const asArray = kind === "array" || (kind === "mixed" && i % 2 === 0)
    value = asArray ? [value] : { a: value }
    open.push(asArray ? "[" : "{\"a\":")
  }
  const close = open.map((o) => (o === "[" ? "]" : "}")).reverse()
  return { value, text: `${open.reverse().join("")}${JSON.stringify(leaf)}${close.join("")}` }
}

const deep: FastCheck.Arbitrary<Input> = FastCheck.tuple(
  FastCheck.integer({ min: 10_000, max: 20_000 }),
  FastCheck.constantFrom("array" as const, "object" as const, "mixed" as const),
  FastCheck.jsonValue({ maxDepth: 1 })
).map(([depth, kind, leaf]) => nested(depth, kind, leaf))

const huge: FastCheck.Arbitrary<Input> = FastCheck.tuple(
  FastCheck.integer({ min: 2_000_000, max: 3_000_000 }),
  FastCheck.constantFrom("a", "7", " ", "\\", "\"", "[", "é", "😀")
).map(([length, unit]) => fromValue(unit.repeat(Math.ceil(length / unit.length))))

const anything: FastCheck.Arbitrary<Input> = FastCheck.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true
}).map(fromValue)

const json: FastCheck.Arbitrary<Input> = FastCheck.jsonValue().map(fromValue)

const SECRET = "o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="
const KEY = { id: 1, activates: 1, expires: 4102444800, secret: SECRET }

/** Plausible places for the input inside each parser's format, so the bad value reaches every field. */
const keyBodies = (x: Input): ReadonlyArray<Input> => [
  x,
  { value: [x.value], text: x.text && `[${x.text}]` },
  { value: { keys: x.value }, text: x.text && `{"keys":${x.text}}` },
  { value: { keys: [x.value] }, text: x.text && `{"keys":[${x.text}]}` },
  ...["id", "keyset_id", "site_id", "activates", "secret"].map((field): Input => ({
    value: { keys: [{ ...KEY, [field]: x.value }] },
    text: x.text &&
      `{"keys":[${JSON.stringify({ ...KEY, [field]: 0 }).replace(`"${field}":0`, `"${field}":${x.text}`)}]}`
  })),
  { value: { caller_site_id: x.value, keys: [] }, text: x.text && `{"caller_site_id":${x.text},"keys":[]}` },
  { value: { keys: [], site_data: x.value }, text: x.text && `{"keys":[],"site_data":${x.text}}` },
  { value: { keys: [], site_data: [{ id: 1, domain_names: x.value }] }, text: undefined }
]

const identityBodies = (x: Input): ReadonlyArray<Input> => [
  x,
  ...["advertising_token", "refresh_token", "identity_expires", "refresh_response_key", "x_extra"].map((
    field
  ): Input => ({
    value: { ...P8, [field]: x.value },
    text: x.text && JSON.stringify({ ...P8, [field]: 0 }).replace(`"${field}":0`, `"${field}":${x.text}`)
  }))
]

const wrap = (prefix: string, x: Input, suffix: string): string | undefined => x.text && `${prefix}${x.text}${suffix}`

const responses = (x: Input): ReadonlyArray<string | undefined> => [
  x.text,
  wrap(`{"status":`, x, `}`),
  wrap(`{"status":"success","body":`, x, `}`),
  ...identityBodies(x).map((body) => wrap(`{"status":"success","body":`, body, `}`))
]

const isKeyRingResult = (result: Either.Either<KeyRing.KeyRing, KeyRing.KeyRingParseError>) =>
  Either.isEither(result) &&
  (Either.isRight(result) ? result.right instanceof KeyRing.KeyRing : result.left instanceof KeyRing.KeyRingParseError)

// A Schema failure is a ParseError whose message can be formatted without throwing.
const isSchemaResult = <A>(result: Either.Either<A, ParseResult.ParseError>) =>
  Either.isEither(result) && (Either.isRight(result) || (ParseResult.isParseError(result.left) &&
    typeof result.left.message === "string"))

const isIdentityResult = (result: Either.Either<IdentityTokens.IdentityTokens, IdentityTokens.InvalidIdentityJson>) =>
  Either.isEither(result) &&
  (Either.isRight(result)
    ? IdentityTokens.isIdentityTokens(result.right)
    : result.left instanceof IdentityTokens.InvalidIdentityJson)

const isPublisherResult = (result: ReturnType<typeof Publisher.parseResponse>) =>
  Either.isEither(result) &&
  (Either.isRight(result) || result.left._tag === "InvalidResponse" || result.left._tag === "UnexpectedStatus")

const isEnvelopeResult = (result: Either.Either<unknown, EnvelopeError>) =>
  Either.isEither(result) && (Either.isRight(result) || result.left instanceof EnvelopeError)

const decodeBody = Schema.decodeUnknownEither(KeyRing.KeyRingFromBody)
const decodeBodyJson = Schema.decodeUnknownEither(KeyRing.KeyRingFromBodyJson)

const checkKeyRing = (x: Input) => {
  for (const body of keyBodies(x)) {
    expect(isKeyRingResult(KeyRing.fromBody(body.value))).toBe(true)
    expect(isKeyRingResult(KeyRing.fromResponse({ body: body.value, status: "success" }))).toBe(true)
    expect(isSchemaResult(decodeBody(body.value))).toBe(true)
    const text = someText(body)
    expect(isKeyRingResult(KeyRing.fromJson(`{"body":${text},"status":"success"}`))).toBe(true)
    expect(isKeyRingResult(KeyRing.fromBodyJson(text))).toBe(true)
    expect(isSchemaResult(decodeBodyJson(text))).toBe(true)
  }
  expect(isKeyRingResult(KeyRing.fromResponse(x.value))).toBe(true)
  expect(isKeyRingResult(KeyRing.fromJson(x.value as string))).toBe(true)
}

const checkIdentity = (x: Input) => {
  for (const body of identityBodies(x)) {
    expect(isIdentityResult(IdentityTokens.fromBody(body.value))).toBe(true)
    expect(isIdentityResult(IdentityTokens.fromJsonString(someText(body)))).toBe(true)
  }
  expect(isIdentityResult(IdentityTokens.fromJsonString(x.value as string))).toBe(true)
}

const checkPublisher = (x: Input) => {
  for (const text of responses(x)) {
    if (text === undefined) continue
    expect(isPublisherResult(Publisher.parseResponse("generate", text))).toBe(true)
    expect(isPublisherResult(Publisher.parseResponse("refresh", text))).toBe(true)
  }
  expect(isPublisherResult(Publisher.parseResponse("generate", x.value as string))).toBe(true)
}

const crypto = Crypto.makeNode(Crypto.seededRandom(3))
const secret = Either.getOrThrow(Envelope.parseClientSecret(CLIENT_SECRET))
const NONCE = new Uint8Array(8)

const checkEnvelope = (x: Input) => {
  const anyValue = x.value as never
  const bodies: ReadonlyArray<never> = [anyValue, (x.text ?? "") as never]
  for (const body of bodies) {
    expect(isEnvelopeResult(Envelope.decodeResponse(crypto, secret, body, NONCE))).toBe(true)
    expect(isEnvelopeResult(Envelope.decodeResponse(crypto, secret, body, NONCE, { binary: true }))).toBe(true)
    expect(isEnvelopeResult(Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, body))).toBe(true)
  }
  expect(isEnvelopeResult(Envelope.decodeResponse(crypto, anyValue, "AAAA", anyValue, anyValue))).toBe(true)
  expect(isEnvelopeResult(Envelope.decodeRefreshResponse(crypto, anyValue, anyValue))).toBe(true)
  expect(isEnvelopeResult(Envelope.decodeRefreshResponse(crypto, Redacted.make(anyValue), "AAAA"))).toBe(true)
  const parsed = Envelope.parseClientSecret(anyValue)
  expect(Either.isRight(parsed) || parsed.left instanceof Envelope.InvalidClientSecret).toBe(true)
}

const everyParser = (x: Input) => {
  checkKeyRing(x)
  checkIdentity(x)
  checkPublisher(x)
  checkEnvelope(x)
}

describe("every parser is total", () => {
  it.prop("on arbitrary JSON values, at the top and in every field", [json], ([x]) => everyParser(x), {
    fastCheck: { numRuns: 150 }
  })

  it.prop(
    "on values of any JS type (maps, sets, dates, bigints, boxed values, sparse arrays…)",
    [anything],
    ([x]) => everyParser(x),
    { fastCheck: { numRuns: 150 } }
  )

  it.prop("on arrays and objects nested 10,000 to 20,000 deep", [deep], ([x]) => everyParser(x), {
    fastCheck: { numRuns: 25 }
  })

  it.prop("on strings of several MB", [huge], ([x]) => everyParser(x), { fastCheck: { numRuns: 3 } })

  it("deep values are rejected for their depth, at the documented limits", () => {
    const x = nested(5_000, "mixed", 1)
    expect(x.text!.length).toBeLessThan(IdentityTokens.MAX_JSON_LENGTH)
    const ring = KeyRing.fromJson(`{"body":${x.text}}`)
    expect(Either.isLeft(ring) && ring.left.detail).toBe(
      `nests arrays and objects more than ${KeyRing.MAX_JSON_DEPTH} deep`
    )
    const body = KeyRing.fromBody({ keys: [x.value] })
    expect(Either.isLeft(body) && body.left.detail).toBe(
      `nests arrays and objects more than ${KeyRing.MAX_JSON_DEPTH} deep`
    )
    const identity = IdentityTokens.fromJsonString(x.text!)
    expect(Either.isLeft(identity) && identity.left.reason).toBe("TooDeep")
    const response = Publisher.parseResponse("refresh", `{"status":"success","body":${x.text}}`)
    expect(Either.isLeft(response) && response.left.message).toContain("deep")
  })
})
