// Publisher.validateToken end to end: the real client against TestOperator over
// loopback HTTP, for each DII form, and the typed errors.
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Crypto from "../src/Crypto.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as Publisher from "../src/Publisher.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"
import { sha256b64 } from "./batchClients.js"

const { DSP_CLIENT, Paths, PUBLISHER_CLIENT } = TestOperator

const publisher = (
  operator: TestOperator.TestOperatorShape,
  credentials: Pick<TestOperator.ClientCredentials, "apiKey" | "secret"> = PUBLISHER_CLIENT
): Effect.Effect<Publisher.PublisherClientShape, never, Scope.Scope> =>
  Layer.build(Publisher.layer({
    baseUrl: operator.baseUrl,
    apiKey: Redacted.make(credentials.apiKey),
    secretKey: Redacted.make(credentials.secret),
    retry: { times: 0 }
  })).pipe(Effect.orDie, Effect.map(Context.get(Publisher.PublisherClient)))

/** An advertising token generated through the operator for `input`. */
const tokenFor = (
  client: Publisher.PublisherClientShape,
  input: Either.Either<TokenGenerateInput.TokenGenerateInput, unknown>
) => Effect.map(client.generateToken(Either.getOrThrow(input)), (r) => Publisher.identity(r)!.advertisingToken)

describe("Publisher.validateToken against TestOperator (loopback HTTP)", () => {
  it.scopedLive("email: true for the email (normalized or not) and its hash, false for others", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const client = yield* publisher(operator)
      const token = yield* tokenFor(client, TokenGenerateInput.fromEmail("Jane.Doe@example.com"))
      expect(yield* client.validateToken(token, { email: "jane.doe@example.com" })).toBe(true)
      expect(yield* client.validateToken(token, { email: " Jane.Doe@EXAMPLE.com" })).toBe(true)
      expect(yield* client.validateToken(token, { emailHash: sha256b64("jane.doe@example.com") })).toBe(true)
      // the mistake the endpoint exists to catch: hashing before normalizing
      expect(yield* client.validateToken(token, { emailHash: sha256b64("Jane.Doe@example.com") })).toBe(false)
      expect(yield* client.validateToken(token, { email: "someone.else@example.com" })).toBe(false)
      expect(yield* client.validateToken(token, { phone: "+12345678901" })).toBe(false)
      expect(yield* operator.requestCount(Paths.tokenValidate)).toBe(6)
    }))

  it.scopedLive("phone: true for the phone and its hash, false for others", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const client = yield* publisher(operator)
      const token = yield* tokenFor(client, TokenGenerateInput.fromPhone("+15555550100"))
      expect(yield* client.validateToken(token, { phone: "+15555550100" })).toBe(true)
      expect(yield* client.validateToken(token, { phoneHash: sha256b64("+15555550100") })).toBe(true)
      expect(yield* client.validateToken(token, { phone: "+15555550101" })).toBe(false)
      expect(yield* client.validateToken(token, { phoneHash: sha256b64("+15555550101") })).toBe(false)
      // the same digits as an email hash are another identity type
      expect(yield* client.validateToken(token, { emailHash: sha256b64("+15555550100") })).toBe(false)
    }))

  it.scopedLive("a token that is not the caller's, or not a token, is a ClientError", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const client = yield* publisher(operator)
      // issued by the operator for another site
      const foreign = yield* Effect.orDie(
        operator.issueToken({ email: "user@example.com", siteId: TestOperator.DEFAULT_SITE_ID })
      )
      const error = yield* Effect.flip(client.validateToken(foreign.advertisingToken, { email: "user@example.com" }))
      expect(error).toMatchObject({ _tag: "ClientError", operation: "validate", httpStatus: 400 })
      expect(error.message).not.toContain(foreign.advertisingToken)

      const garbage = yield* Effect.flip(client.validateToken("A4AAAAnotatoken", { email: "user@example.com" }))
      expect(garbage).toMatchObject({ _tag: "ClientError", httpStatus: 400 })
      const badDii = yield* Effect.flip(client.validateToken(foreign.advertisingToken, { phone: "555" }))
      expect(badDii).toMatchObject({ _tag: "ClientError", httpStatus: 400 })
    }))

  it.scopedLive("a key without the GENERATOR role is Unauthorized", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const token = yield* tokenFor(yield* publisher(operator), TokenGenerateInput.fromEmail("user@example.com"))
      const dsp = yield* publisher(operator, DSP_CLIENT)
      const error = yield* Effect.flip(dsp.validateToken(token, { email: "user@example.com" }))
      expect(error).toMatchObject({ _tag: "Unauthorized", operation: "validate", httpStatus: 401 })
    }))

  it.scopedLive("input that cannot be sent is refused locally, without a request", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const client = yield* publisher(operator)
      const cases: ReadonlyArray<[unknown, unknown]> = [
        ["", { email: "user@example.com" }],
        ["x".repeat(Publisher.MAX_VALIDATE_TOKEN_LENGTH + 1), { email: "user@example.com" }],
        [42, { email: "user@example.com" }],
        ["token", { email: "user@example.com", phone: "+12345678901" }],
        ["token", {}],
        ["token", null],
        ["token", { email: 10n }],
        ["token", { emailHash: "h".repeat(Publisher.MAX_VALIDATE_DII_LENGTH + 1) }]
      ]
      for (const [token, dii] of cases) {
        const error = yield* Effect.flip(client.validateToken(token as string, dii as Publisher.ValidateDii))
        expect(error._tag).toBe("InvalidValidateInput")
        expect(error.message).not.toContain("user@example.com")
      }
      expect(yield* operator.requestCount()).toBe(0)
    }))

  it.scopedLive("the operator: 400 for zero or several DII fields, an invalid identifier or no token", () =>
    Effect.gen(function*() {
      const operator = yield* Effect.orDie(TestOperator.make())
      const token = yield* tokenFor(yield* publisher(operator), TokenGenerateInput.fromEmail("user@example.com"))
      // the client never sends these shapes, so post them through a bare transport
      const transport = yield* Layer.build(
        HttpTransport.layerNode({
          baseUrl: operator.baseUrl,
          apiKey: Redacted.make(PUBLISHER_CLIENT.apiKey),
          secretKey: Redacted.make(PUBLISHER_CLIENT.secret),
          retry: { times: 0 }
        }).pipe(Layer.provide(Crypto.layerNode))
      ).pipe(Effect.orDie, Effect.map(Context.get(HttpTransport.HttpTransport)))
      const post = (payload: unknown) =>
        transport.post(Paths.tokenValidate, new TextEncoder().encode(JSON.stringify(payload))).pipe(Effect.either)
      const rejection = (e: Either.Either<string, unknown>) =>
        Either.isLeft(e) ? e.left as { httpStatus?: number; operatorMessage?: string } : { body: e.right }
      expect(rejection(yield* post({ token }))).toMatchObject({ httpStatus: 400 })
      expect(rejection(yield* post({ token, email: "user@example.com", phone: "+12345678901" }))).toMatchObject({
        httpStatus: 400
      })
      expect(rejection(yield* post({ token, email_hash: "not a hash" }))).toMatchObject({
        httpStatus: 400,
        operatorMessage: "Invalid Identifier"
      })
      expect(rejection(yield* post({ email: "user@example.com" }))).toMatchObject({ httpStatus: 400 })
      const ok = yield* post({ token, email_hash: sha256b64("user@example.com") })
      expect(Either.map(ok, JSON.parse)).toEqual(Either.right({ body: true, status: "success" }))
    }))
})
