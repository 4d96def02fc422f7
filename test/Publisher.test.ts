// Publisher flows (token generate, token refresh, the refresh loop; vectors P-8…P-17), deterministic:
// the real HttpTransport over a scripted mock HttpClient, under TestClock.
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { inspect } from "node:util"
import * as Crypto from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as IdentityTokens from "../src/IdentityTokens.js"
import * as OperatorEnvelope from "../src/internal/operatorEnvelope.js"
import * as Publisher from "../src/Publisher.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"
import {
  CLIENT_SECRET,
  P10_KEY,
  P10_RESPONSE,
  P8,
  P8_RESPONSE,
  P9,
  P9_NOW,
  P9_RESPONSE,
  P_IV_HEX,
  P_NONCE_HEX,
  P_TIMESTAMP
} from "./vectors.js"

// ---------------------------------------------------------------------------
// Reference vectors: the shared client secret and the publisher vectors P-1…P-17

const SECRET = CLIENT_SECRET
const API_KEY = "uid2-publisher-test-key-7Yq2"
const P_NONCE = Buffer.from(P_NONCE_HEX, "hex")
const P_IV = Buffer.from(P_IV_HEX, "hex")
const P3_ENVELOPE =
  "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYrD77pL7WNFKiMt7QbM9mWHZwOWPyVTqSnDVNzhXRdcmIkV0ODOdll2inDo9iIZQ5oV2NvSUSWG5j6ACiXKH0JxiTPzs716eIH7P1Q=="

const P8_JSON = JSON.stringify(P8)

const P11_RESPONSE =
  `{"body":{"advertising_token":"AgAAAANsVKE9wmkKhBhOucQ26SXHAAr02EnIkXxJQP2kalEEov3h18AP7nGIhQUQQVAPKaL6y8iyyA65YtZhYHLKW+eJhXUFqm4vl+F2Gg3Q7bBu+GZ6DzY5rpDfukw3vztJccEqdkKaEdbJIIKi/jwRazQWbAJNXF4V4HUd9SExMJ+QKQ==","user_token":"AgAAAAJd/kXzNcUdHRt4iyZIzYYD+DegEYk8brfvjFFtjmJZysI82h01mo4J8mkdt8vZ6e30Zbor6rcLAJ3MeDOPG0eRD5agLn0/bgP5kAFF0HCLOtEgmaTQ0mC0NIAcQUxznKQ=","refresh_token":"AAAAAAT7HUXdgdgMjz5isYkZTlgWtgiW5YesZEZIIfFqvtqCeXGYZUvfzO896LhNeL6jlJZRfNMl8Pr63NRG0zS5atNKKU3OzVLLqd+W8xgtQd3VUndq7l6eHtVMckiQ5Z/XyuAcYP+vCe1JXzM/67SQ9VMgPV8UFMyo3UZQDuOyKlPQaav91gq/L4yTA/6EnOTUxs/sc2zegIQeYRasSMuQqXAHLOGy4v86/fLVxdjj+eEtIvrBDVAdubrITHgFmLALSHx0sdAgq+yRiEvOM+i7vfqTxcNI6zfL8y6dypI243Pm+D4n145CURT243n7ZrmF6bWUayGOZTkLdRJe4E3Mf+QewkAUZsShrofUB4ylehe1U1wedh5648+zLaTmBwC1","identity_expires":1668398943517,"refresh_expires":1668481743517,"refresh_from":1668395346517,"refresh_response_key":"7Cm2fFFbM2klAzTHEqbDnE8BFJKm02doDxI5uIcCl3Y="},"status":"success"}`

const identityOf = (json: string) => Either.getOrThrow(IdentityTokens.fromJsonString(json))
const P8_IDENTITY = identityOf(P8_JSON)

// ---------------------------------------------------------------------------
// A scripted operator behind a mock HttpClient

/** Random bytes of the request envelope: nonce (8 bytes) and IV (12 bytes) of the P vectors. */
const vectorCrypto = Layer.succeed(
  Crypto.Crypto,
  Crypto.makeNode((n) => new Uint8Array(n === 8 ? P_NONCE : n === 12 ? P_IV : Buffer.alloc(n)), "vectors")
)
const nodeCrypto = Crypto.makeNode(Crypto.seededRandom(7))
const serverSecret = Either.getOrThrow(Envelope.parseClientSecret(Redacted.make(SECRET)))

interface Seen {
  readonly url: string
  readonly path: string
  readonly body: string
  readonly authorization: string | undefined
}

interface Reply {
  readonly status?: number
  readonly body: string
}

type Script = (seen: Seen, nowMs: number) => Reply

const json = (status: number, body: unknown): Reply => ({ status, body: JSON.stringify(body) })

/** Decrypts the request envelope and answers `responseJson` enveloped with the request's nonce. */
const enveloped = (seen: Seen, nowMs: number, responseJson: string, iv: Uint8Array = P_IV): Reply => {
  const request = Either.getOrThrow(OperatorEnvelope.decodeRequest(nodeCrypto, serverSecret, seen.body, { nowMs }))
  return {
    body:
      OperatorEnvelope.encodeResponse(nodeCrypto, serverSecret, { nowMs, nonce: request.nonce, iv, json: responseJson })
        .text
  }
}

/** A publisher client on the real transport over a mock `HttpClient` running `script`; `seen` records requests. */
const setup = (script: Script) => {
  const seen: Array<Seen> = []
  const client = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.gen(function*() {
        const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
        const entry: Seen = {
          url: request.url,
          path: new URL(request.url).pathname,
          body,
          authorization: request.headers["authorization"]
        }
        seen.push(entry)
        const reply = script(entry, yield* Clock.currentTimeMillis)
        return HttpClientResponse.fromWeb(request, new Response(reply.body, { status: reply.status ?? 200 }))
      })
    )
  )
  const layer = Publisher.layerWith({
    baseUrl: "https://operator.invalid",
    apiKey: Redacted.make(API_KEY),
    secretKey: Redacted.make(SECRET),
    retry: { times: 0 }
  }).pipe(Layer.provide([vectorCrypto, client]), Layer.orDie)
  return { seen, layer }
}

const SECRETS = [API_KEY, SECRET, P8.advertising_token, P8.refresh_token, P8.refresh_response_key, P10_KEY]

/** No printable form of the error mentions a credential or a token. */
const expectNoSecrets = (error: unknown) => {
  const forms = [String(error), (error as Error).message, JSON.stringify(error), inspect(error, { depth: 10 })]
  for (const form of forms) for (const s of SECRETS) expect(form).not.toContain(s)
}

const email = (e: string) => Either.getOrThrow(TokenGenerateInput.fromEmail(e))

// ---------------------------------------------------------------------------

describe("Publisher.generateToken", () => {
  it.effect("P-3/P-8: sends the P-3 envelope and decrypts the generate response into the identity", () => {
    const { layer, seen } = setup(() => ({ body: P8_RESPONSE }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const response = yield* Publisher.PublisherClient.generateToken(email("user@example.com"))
      expect(seen).toHaveLength(1)
      expect(seen[0]!.url).toBe("https://operator.invalid/v2/token/generate")
      expect(seen[0]!.body).toBe(P3_ENVELOPE)
      expect(seen[0]!.authorization).toBe(`Bearer ${API_KEY}`)

      expect(Publisher.isSuccess(response)).toBe(true)
      expect(Publisher.isOptout(response)).toBe(false)
      expect(Publisher.identityJsonString(response)).toBe(P8_JSON)
      const identity = Publisher.identity(response)!
      expect(identity.advertisingToken).toBe(P8.advertising_token)
      expect(identity.refreshToken).toBe(P8.refresh_token)
      expect(identity.identityExpires).toBe(P8.identity_expires)
      expect(identity.refreshExpires).toBe(P8.refresh_expires)
      expect(identity.refreshFrom).toBe(P8.refresh_from)
      expect(identity.refreshResponseKey).toBe(P8.refresh_response_key)
      // the times are in 2022
      expect(IdentityTokens.isRefreshable(identity, Date.UTC(2026, 0, 1))).toBe(false)
      expect(IdentityTokens.isDueForRefresh(identity, Date.UTC(2026, 0, 1))).toBe(true)
    }).pipe(Effect.provide(layer))
  })

  it.effect("sends the compact request JSON with the TCF string (payload checked by decrypting)", () => {
    const payloads: Array<string | undefined> = []
    const { layer } = setup((seen, nowMs) => {
      payloads.push(
        Either.getOrThrow(OperatorEnvelope.decodeRequest(nodeCrypto, serverSecret, seen.body, { nowMs })).json
      )
      return enveloped(seen, nowMs, JSON.stringify({ body: P8, status: "success" }))
    })
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const input = TokenGenerateInput.withTransparencyAndConsentString(
        email("user@example.com"),
        "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
      )
      const response = yield* Publisher.PublisherClient.generateToken(input)
      expect(Publisher.identityJsonString(response)).toBe(P8_JSON)
      expect(payloads).toEqual([
        `{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=","tcf_consent_string":"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"}`
      ])
      // P-17: no `policy` member, even with the deprecated no-op
      const legacy = TokenGenerateInput.doNotGenerateTokensForOptedOut(email("user@example.com"))
      yield* Publisher.PublisherClient.generateToken(legacy)
      expect(payloads[1]).toBe(`{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="}`)
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-14: opt-out is a successful OptOut result", () => {
    const { layer } = setup((seen, nowMs) => enveloped(seen, nowMs, `{"status":"optout"}`))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const response = yield* Publisher.PublisherClient.generateToken(email("optout@example.com"))
      expect(response).toEqual(Publisher.TokenResponse.OptOut())
      expect(Publisher.isOptout(response)).toBe(true)
      expect(Publisher.isSuccess(response)).toBe(false)
      expect(Publisher.identity(response)).toBeUndefined()
      expect(Publisher.identityJsonString(response)).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("insufficient_user_consent (and any other status) → UnexpectedStatus", () => {
    const { layer } = setup((seen, nowMs) => enveloped(seen, nowMs, `{"status":"insufficient_user_consent"}`))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const error = yield* Effect.flip(Publisher.PublisherClient.generateToken(email("user@example.com")))
      expect(error).toEqual(
        new Publisher.UnexpectedStatus({ operation: "generate", status: "insufficient_user_consent" })
      )
      expect(error.message).toBe("Got unexpected token generate status: insufficient_user_consent")
    }).pipe(Effect.provide(layer))
  })

  it.effect("HTTP 400 → ClientError with the operator message; 401/403 → Unauthorized; 500 stays OperatorRejected", () => {
    const replies = [
      json(400, { status: "client_error", message: "Invalid Identifier" }),
      json(401, { status: "unauthorized" }),
      json(403, { status: "unauthorized" }),
      json(500, { status: "unknown", message: "No active encryption key available" })
    ]
    const { layer, seen } = setup((_, __) => replies[seen.length - 1]!)
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const generate = Publisher.PublisherClient.generateToken(email("user@example.com"))
      const e400 = yield* Effect.flip(generate)
      expect(e400).toMatchObject({
        _tag: "ClientError",
        operation: "generate",
        httpStatus: 400,
        status: "client_error",
        operatorMessage: "Invalid Identifier"
      })
      expect(e400.message).toBe("token generate rejected with HTTP 400 client_error: Invalid Identifier")
      const e401 = yield* Effect.flip(generate)
      expect(e401).toMatchObject({ _tag: "Unauthorized", operation: "generate", httpStatus: 401 })
      const e403 = yield* Effect.flip(generate)
      expect(e403).toMatchObject({ _tag: "Unauthorized", httpStatus: 403 })
      const e500 = yield* Effect.flip(generate)
      expect(e500).toMatchObject({ _tag: "OperatorRejected", httpStatus: 500, status: "unknown" })
      for (const e of [e400, e401, e403, e500]) expectNoSecrets(e)
      expect(seen).toHaveLength(4)
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-16: a garbage response or the request echoed back → EnvelopeError", () => {
    const { layer } = setup((seen) =>
      seen.body.length > 0 && seen.path === "/v2/token/generate" && garbage.shift() === true
        ? { body: "this is not an encrypted response" }
        : { body: seen.body }
    )
    const garbage = [true, false]
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const generate = Publisher.PublisherClient.generateToken(email("user@example.com"))
      const notBase64 = yield* Effect.flip(generate)
      expect(notBase64._tag).toBe("EnvelopeError")
      const echoed = yield* Effect.flip(generate)
      expect(echoed).toMatchObject({ _tag: "EnvelopeError", reason: "Decrypt" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a success without a usable body → InvalidResponse naming the field, never the values", () => {
    const answers = [
      `{"status":"success"}`,
      JSON.stringify({ body: { ...P8, refresh_from: undefined }, status: "success" }),
      `{"body":{}}`,
      `[1,2]`
    ]
    const { layer } = setup((seen, nowMs) => enveloped(seen, nowMs, answers.shift()!))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const generate = Effect.flip(Publisher.PublisherClient.generateToken(email("user@example.com")))
      const noBody = yield* generate
      expect(noBody).toMatchObject({ _tag: "InvalidResponse", operation: "generate" })
      expect(noBody.message).toContain("Invalid identity in token generate response")
      const missing = yield* generate
      expect(missing.message).toContain("refresh_from")
      expectNoSecrets(missing)
      expect((yield* generate).message).toBe("token generate response has no status")
      expect((yield* generate).message).toBe("token generate response is not a JSON object")
    }).pipe(Effect.provide(layer))
  })

  it.effect("works on any HttpTransport: a stub returning the decrypted JSON", () =>
    Effect.gen(function*() {
      const paths: Array<string> = []
      const stub = Layer.succeed(HttpTransport.HttpTransport, {
        post: (path, payload) => {
          paths.push(`${path} ${new TextDecoder().decode(payload)}`)
          return Effect.succeed(JSON.stringify({ body: P8, status: "success" }))
        },
        postRaw: () => Effect.die("unexpected postRaw")
      })
      const response = yield* Publisher.PublisherClient.generateToken(email("user@example.com")).pipe(
        Effect.provide(
          Layer.effect(Publisher.PublisherClient, Publisher.make).pipe(Layer.provide([stub, Crypto.layerNode]))
        )
      )
      expect(Publisher.identityJsonString(response)).toBe(P8_JSON)
      expect(paths).toEqual([`/v2/token/generate {"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="}`])
    }))
})

describe("Publisher.refreshToken", () => {
  it.effect("P-9: posts the refresh token as-is and decrypts with refresh_response_key; validated at Clock time", () => {
    const { layer, seen } = setup(() => ({ body: P9_RESPONSE }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      const response = yield* Publisher.PublisherClient.refreshToken(P8_IDENTITY)
      expect(seen).toHaveLength(1)
      expect(seen[0]!.url).toBe("https://operator.invalid/v2/token/refresh")
      expect(seen[0]!.body).toBe(P8.refresh_token)
      expect(seen[0]!.authorization).toBe(`Bearer ${API_KEY}`)
      expect(Publisher.isSuccess(response)).toBe(true)
      expect(Publisher.identityJsonString(response)).toBe(JSON.stringify(P9))
      const identity = Publisher.identity(response)!
      expect(identity.advertisingToken).toBe(P9.advertising_token)
      expect(identity.refreshResponseKey).toBe(P9.refresh_response_key)
      expect(IdentityTokens.isRefreshable(identity, P9_NOW)).toBe(true)
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-10: opt-out on refresh", () => {
    const { layer } = setup(() => ({ body: P10_RESPONSE }))
    const identity = identityOf(JSON.stringify({ ...P8, refresh_response_key: P10_KEY }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      const response = yield* Publisher.PublisherClient.refreshToken(identity)
      expect(Publisher.isOptout(response)).toBe(true)
      expect(Publisher.isSuccess(response)).toBe(false)
      expect(Publisher.identity(response)).toBeUndefined()
      expect(Publisher.identityJsonString(response)).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-11: a v1 session (no refresh_response_key) reads the response as plain JSON", () => {
    const { layer } = setup(() => ({ body: P11_RESPONSE }))
    const { refresh_response_key: _, ...v1 } = P8
    const identity = identityOf(JSON.stringify(v1))
    expect(identity.refreshResponseKey).toBeUndefined()
    return Effect.gen(function*() {
      yield* TestClock.setTime(P8.refresh_from)
      const response = yield* Publisher.PublisherClient.refreshToken(identity)
      expect(Publisher.isSuccess(response)).toBe(true)
      expect(Publisher.identityJsonString(response)).toBe(JSON.stringify(JSON.parse(P11_RESPONSE).body))
      expect(Publisher.identity(response)!.refreshResponseKey).toBe("7Cm2fFFbM2klAzTHEqbDnE8BFJKm02doDxI5uIcCl3Y=")
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-11: a v1 session with a non-JSON answer → InvalidResponse", () => {
    const { layer } = setup(() => ({ body: "this is not json" }))
    const { refresh_response_key: _, ...v1 } = P8
    return Effect.gen(function*() {
      yield* TestClock.setTime(P8.refresh_from)
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(identityOf(JSON.stringify(v1))))
      expect(error).toMatchObject({ _tag: "InvalidResponse", operation: "refresh" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("P-16: a garbage refresh response, or one under another key → EnvelopeError", () => {
    const bodies = ["this is not an encrypted response", P10_RESPONSE]
    const { layer } = setup(() => ({ body: bodies.shift()! }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      const refresh = Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect((yield* refresh)._tag).toBe("EnvelopeError")
      expect(yield* refresh).toMatchObject({ _tag: "EnvelopeError", reason: "Decrypt" })
    }).pipe(Effect.provide(layer))
  })

  it.effect("a refreshed identity already expired at Clock time → InvalidResponse", () => {
    const { layer, seen } = setup(() => ({ body: P9_RESPONSE }))
    return Effect.gen(function*() {
      // P-8 is still refreshable, but P-9's identity_expires has passed
      yield* TestClock.setTime(P9.identity_expires + 1)
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect(seen).toHaveLength(1)
      expect(error).toEqual(
        new Publisher.InvalidResponse({
          operation: "refresh",
          detail: "Invalid identity in token refresh response: identity_expires has passed"
        })
      )
      expect(error.message).toBe("Invalid identity in token refresh response: identity_expires has passed")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a refreshed identity that is no longer refreshable → InvalidResponse", () => {
    const now = P9_NOW
    const dead = { ...P9, identity_expires: now + 60_000, refresh_expires: now - 1 }
    const key = Buffer.from(P8.refresh_response_key, "base64")
    const body = OperatorEnvelope.encodeRefreshResponse(nodeCrypto, key, {
      iv: P_IV,
      json: JSON.stringify({ body: dead, status: "success" })
    }).text
    const { layer } = setup(() => ({ body }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect(error.message).toBe("Invalid identity in token refresh response: refresh_expires has passed")
    }).pipe(Effect.provide(layer))
  })

  it.effect("an identity past refresh_expires is refused locally, without a request", () => {
    const { layer, seen } = setup(() => ({ body: P9_RESPONSE }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P8.refresh_expires + 1)
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect(error).toEqual(
        new Publisher.IdentityNotRefreshable({ refreshExpires: P8.refresh_expires, nowMs: P8.refresh_expires + 1 })
      )
      expect(seen).toHaveLength(0)
      expectNoSecrets(error)
      // exactly at refresh_expires it is still refreshable: the request goes out
      yield* TestClock.setTime(P8.refresh_expires)
      const late = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      // P-9 is stale by then
      expect(late.message).toBe("Invalid identity in token refresh response: identity_expires has passed")
      expect(seen).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("unexpected refresh status → UnexpectedStatus", () => {
    const key = Buffer.from(P8.refresh_response_key, "base64")
    const body = OperatorEnvelope.encodeRefreshResponse(nodeCrypto, key, { iv: P_IV, json: `{"status":"weird"}` }).text
    const { layer } = setup(() => ({ body }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect(error).toEqual(new Publisher.UnexpectedStatus({ operation: "refresh", status: "weird" }))
      expect(error.message).toBe("Got unexpected token refresh status: weird")
    }).pipe(Effect.provide(layer))
  })

  it.effect("HTTP 400 invalid_token / expired_token / client_error and 401 are mapped", () => {
    const replies = [
      json(400, { status: "invalid_token", message: "Invalid Token" }),
      json(400, { status: "expired_token", message: "Expired Token" }),
      json(400, { status: "client_error", message: "Required Parameter Missing: refresh_token" }),
      json(401, { status: "unauthorized" })
    ]
    const { layer, seen } = setup(() => replies[seen.length - 1]!)
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      const refresh = Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      const invalid = yield* refresh
      expect(invalid).toEqual(new Publisher.InvalidRefreshToken({ operatorMessage: "Invalid Token" }))
      const expired = yield* refresh
      expect(expired).toEqual(new Publisher.ExpiredRefreshToken({ operatorMessage: "Expired Token" }))
      const client = yield* refresh
      expect(client).toMatchObject({ _tag: "ClientError", operation: "refresh", httpStatus: 400 })
      const unauthorized = yield* refresh
      expect(unauthorized).toMatchObject({ _tag: "Unauthorized", operation: "refresh", httpStatus: 401 })
      for (const e of [invalid, expired, client, unauthorized]) expectNoSecrets(e)
    }).pipe(Effect.provide(layer))
  })
})

describe("a new identity is validated when it arrives (generate and refresh alike)", () => {
  const NOW = P9_NOW
  const refreshKey = Buffer.from(P8.refresh_response_key, "base64")
  const asRefreshBody = (json: string) =>
    OperatorEnvelope.encodeRefreshResponse(nodeCrypto, refreshKey, { iv: P_IV, json }).text
  const success = (body: unknown) => JSON.stringify({ body, status: "success" })
  const urlAlphabetKey = Buffer.alloc(32, 0xfb).toString("base64url")
  const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
    [{ identity_expires: NOW - 1 }, "identity_expires has passed"],
    [{ refresh_expires: NOW - 1 }, "refresh_expires has passed"],
    [{ refresh_response_key: "not a key" }, "refresh_response_key is not standard Base64 of 32 bytes"],
    [{ refresh_response_key: "AAAA" }, "refresh_response_key is not standard Base64 of 32 bytes"],
    [
      { refresh_response_key: Buffer.alloc(16, 1).toString("base64") },
      "refresh_response_key is not standard Base64 of 32 bytes"
    ],
    [{ refresh_response_key: urlAlphabetKey }, "refresh_response_key is not standard Base64 of 32 bytes"],
    [{ refresh_response_key: undefined }, "refresh_response_key is missing"],
    [{ advertising_token: "" }, "advertising_token is empty"],
    [{ refresh_token: "" }, "refresh_token is empty"]
  ]

  it.effect("generate: an identity that could not be used later → InvalidResponse naming the field", () => {
    const answers = [success(P9), ...cases.map(([change]) => success({ ...P9, ...change }))]
    const { layer } = setup((seen, nowMs) => enveloped(seen, nowMs, answers.shift()!))
    return Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const generate = Publisher.PublisherClient.generateToken(email("user@example.com"))
      expect(Publisher.identityJsonString(yield* generate)).toBe(JSON.stringify(P9))
      for (const [change, problem] of cases) {
        const error = yield* Effect.flip(generate)
        expect(error, JSON.stringify(change)).toEqual(
          new Publisher.InvalidResponse({
            operation: "generate",
            detail: `Invalid identity in token generate response: ${problem}`
          })
        )
        expectNoSecrets(error)
      }
    }).pipe(Effect.provide(layer))
  })

  it.effect("refresh: the same checks on the refreshed identity", () => {
    const bodies = cases.map(([change]) => asRefreshBody(success({ ...P9, ...change })))
    const { layer } = setup(() => ({ body: bodies.shift()! }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      for (const [, problem] of cases) {
        const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
        expect(error).toMatchObject({
          _tag: "InvalidResponse",
          operation: "refresh",
          detail: `Invalid identity in token refresh response: ${problem}`
        })
      }
    }).pipe(Effect.provide(layer))
  })

  it.effect("a response nested 3,000 deep → InvalidResponse, not a defect", () => {
    const deep = "[".repeat(3000) + "]".repeat(3000)
    const json = `{"status":"success","body":{"advertising_token":${deep}}}`
    const { layer } = setup((seen, nowMs) =>
      seen.path === Publisher.GENERATE_PATH ? enveloped(seen, nowMs, json) : { body: asRefreshBody(json) }
    )
    return Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const generated = yield* Effect.flip(Publisher.PublisherClient.generateToken(email("user@example.com")))
      expect(generated).toEqual(
        new Publisher.InvalidResponse({
          operation: "generate",
          detail: "token generate response nests arrays and objects more than 64 deep"
        })
      )
      const refreshed = yield* Effect.flip(Publisher.PublisherClient.refreshToken(P8_IDENTITY))
      expect(refreshed).toMatchObject({ _tag: "InvalidResponse", operation: "refresh" })
    }).pipe(Effect.provide(layer))
  })

  it("parseResponse is total: wrong types, huge and deep text", () => {
    const inputs: ReadonlyArray<unknown> = [
      undefined,
      null,
      42,
      {},
      "x".repeat(5_000_000),
      `{"status":"${"s".repeat(Publisher.MAX_RESPONSE_LENGTH)}"}`,
      "[".repeat(100_000),
      `{"status":"success","body":${"{\"a\":".repeat(10_000)}1${"}".repeat(10_000)}}`
    ]
    for (const input of inputs) {
      const result = Publisher.parseResponse("generate", input as string)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left._tag).toBe("InvalidResponse")
    }
  })
})

describe("operator text in errors is bounded", () => {
  it("UnexpectedStatus keeps 256 characters of a 5 MB status, with an ellipsis", () => {
    const error = new Publisher.UnexpectedStatus({ operation: "generate", status: "s".repeat(5_000_000) })
    expect(error.status).toBe(`${"s".repeat(Publisher.MAX_OPERATOR_TEXT)}…`)
    expect(Publisher.MAX_OPERATOR_TEXT).toBe(256)
    expect(error.message).toBe(`Got unexpected token generate status: ${"s".repeat(256)}…`)
    // cut at a code point boundary: no lone surrogate
    const emoji = new Publisher.UnexpectedStatus({ operation: "refresh", status: `${"a".repeat(255)}😀😀` })
    expect(emoji.status).toBe(`${"a".repeat(255)}…`)
    expect(new Publisher.UnexpectedStatus({ operation: "refresh", status: "a".repeat(256) }).status).toBe(
      "a".repeat(256)
    )
  })

  it.effect("through the client: a long status from the operator is kept cut", () => {
    const status = "insufficient_".repeat(1_000)
    const { layer } = setup((seen, nowMs) => enveloped(seen, nowMs, JSON.stringify({ status })))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P_TIMESTAMP)
      const error = yield* Effect.flip(Publisher.PublisherClient.generateToken(email("user@example.com")))
      expect(error).toMatchObject({ _tag: "UnexpectedStatus", status: `${status.slice(0, 256)}…` })
    }).pipe(Effect.provide(layer))
  })

  it("ClientError, Unauthorized and the refresh token errors keep operator text cut too", () => {
    const long = "m".repeat(100_000)
    const cut = `${"m".repeat(256)}…`
    const client = new Publisher.ClientError({
      operation: "generate",
      httpStatus: 400,
      status: long,
      operatorMessage: long
    })
    expect([client.status, client.operatorMessage]).toEqual([cut, cut])
    expect(client.message.length).toBeLessThan(600)
    expect(new Publisher.Unauthorized({ operation: "refresh", httpStatus: 401, status: long }).status).toBe(cut)
    expect(new Publisher.InvalidRefreshToken({ operatorMessage: long }).operatorMessage).toBe(cut)
    expect(new Publisher.ExpiredRefreshToken({ operatorMessage: long }).operatorMessage).toBe(cut)
    expect(new Publisher.ClientError({ operation: "generate", httpStatus: 400 }).message).toBe(
      "token generate rejected with HTTP 400"
    )
  })
})

describe("Publisher.refreshIfNeeded", () => {
  it.effect("Keep before refresh_from (and exactly at it), Refreshed after, Drop once not refreshable", () => {
    const { layer, seen } = setup(() => ({ body: P9_RESPONSE }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P8.refresh_from)
      const keep = yield* Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY)
      expect(keep).toEqual(Publisher.SessionResult.Keep({ identity: P8_IDENTITY }))
      expect(seen).toHaveLength(0)

      yield* TestClock.setTime(P9_NOW)
      const refreshed = yield* Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY)
      expect(refreshed._tag).toBe("Refreshed")
      if (refreshed._tag === "Refreshed") {
        expect(IdentityTokens.toJsonString(refreshed.identity)).toBe(JSON.stringify(P9))
      }
      expect(seen).toHaveLength(1)

      yield* TestClock.setTime(P8.refresh_expires + 1)
      const drop = yield* Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY)
      expect(drop).toEqual(Publisher.SessionResult.Drop({ reason: "NotRefreshable" }))
      expect(seen).toHaveLength(1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("Drop on opt-out and on a rejected refresh token; other failures stay errors", () => {
    const replies: Array<Reply> = [
      { body: P10_RESPONSE },
      json(400, { status: "expired_token", message: "Expired Token" }),
      json(400, { status: "invalid_token", message: "Invalid Token" }),
      json(503, { status: "error" })
    ]
    const { layer, seen } = setup(() => replies[seen.length - 1]!)
    const optoutIdentity = identityOf(JSON.stringify({ ...P8, refresh_response_key: P10_KEY }))
    return Effect.gen(function*() {
      yield* TestClock.setTime(P9_NOW)
      expect(yield* Publisher.PublisherClient.refreshIfNeeded(optoutIdentity)).toEqual(
        Publisher.SessionResult.Drop({ reason: "OptOut" })
      )
      expect(yield* Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY)).toEqual(
        Publisher.SessionResult.Drop({ reason: "ExpiredRefreshToken" })
      )
      expect(yield* Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY)).toEqual(
        Publisher.SessionResult.Drop({ reason: "InvalidRefreshToken" })
      )
      const error = yield* Effect.flip(Publisher.PublisherClient.refreshIfNeeded(P8_IDENTITY))
      expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 503 })
    }).pipe(Effect.provide(layer))
  })
})

describe("Publisher layers", () => {
  it.effect("layerConfig reads UID2_BASE_URL / UID2_API_KEY / UID2_SECRET_KEY; a bad secret fails the layer", () =>
    Effect.gen(function*() {
      const provider = (secret: string) =>
        Layer.setConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["UID2_BASE_URL", "https://operator.invalid"],
            ["UID2_API_KEY", API_KEY],
            ["UID2_SECRET_KEY", secret]
          ])
        ))
      const ok = yield* Effect.either(
        Effect.provide(Publisher.PublisherClient, Publisher.layerConfig().pipe(Layer.provide(provider(SECRET))))
      )
      expect(Either.isRight(ok)).toBe(true)
      const bad = yield* Effect.flip(
        Effect.provide(Publisher.PublisherClient, Publisher.layerConfig().pipe(Layer.provide(provider("nope"))))
      )
      expect(bad._tag).toBe("InvalidClientSecret")
      expect(String(bad)).not.toContain(API_KEY)
      const missing = yield* Effect.flip(
        Effect.provide(
          Publisher.PublisherClient,
          Publisher.layerConfig().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map()))))
        )
      )
      expect(missing._tag).toBe("ConfigError")
    }))

  it.effect("error messages never contain tokens, keys or DII", () =>
    Effect.sync(() => {
      const errors = [
        new Publisher.UnexpectedStatus({ operation: "generate", status: "insufficient_user_consent" }),
        new Publisher.ClientError({ operation: "generate", httpStatus: 400, operatorMessage: "Invalid Identifier" }),
        new Publisher.Unauthorized({ operation: "refresh", httpStatus: 401 }),
        new Publisher.InvalidRefreshToken({}),
        new Publisher.ExpiredRefreshToken({}),
        new Publisher.IdentityNotRefreshable({ refreshExpires: 1, nowMs: 2 }),
        new Publisher.InvalidResponse({ operation: "refresh", detail: "Invalid identity in token refresh response" })
      ]
      for (const e of errors) {
        expectNoSecrets(e)
        expect(e.message.length).toBeGreaterThan(0)
      }
      expect(new Publisher.UnexpectedStatus({ operation: "refresh", status: "x".repeat(1000) }).message.length)
        .toBeLessThan(300)
    }))
})
