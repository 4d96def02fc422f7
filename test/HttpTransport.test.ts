import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { inspect } from "node:util"
import * as Crypto from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as OperatorEnvelope from "../src/internal/operatorEnvelope.js"
import type { TransportError } from "../src/TransportError.js"
import { CLIENT_SECRET } from "./vectors.js"

const SECRET = CLIENT_SECRET
const OTHER_SECRET = Buffer.alloc(32, 9).toString("base64")
const API_KEY = "uid2-test-api-key-Zq8xW3"
const TIMESTAMP = 1667885597644

const crypto = Crypto.makeNode(Crypto.seededRandom(1))
const serverSecret = Either.getOrThrow(Envelope.parseClientSecret(SECRET))
const otherSecret = Either.getOrThrow(Envelope.parseClientSecret(OTHER_SECRET))
const utf8 = (s: string) => new TextEncoder().encode(s)

/** The error, in every printable form, must mention neither credential. */
const expectNoCredentials = (error: unknown) => {
  const forms = [
    String(error),
    (error as Error).message,
    JSON.stringify(error),
    inspect(error, { depth: 10 }),
    (error as Error).stack ?? ""
  ]
  for (const form of forms) {
    expect(form).not.toContain(API_KEY)
    expect(form).not.toContain(SECRET)
    expect(form).not.toContain(OTHER_SECRET)
  }
}

// ---------------------------------------------------------------------------
// A small scripted operator on a real loopback socket

interface Seen {
  readonly path: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: Uint8Array
}

const seen: Array<Seen> = []
const calls = (path: string) => seen.filter((s) => s.path === path).length
const counter = new Map<string, number>()
const nth = (path: string) => {
  const n = (counter.get(path) ?? 0) + 1
  counter.set(path, n)
  return n
}

const rejection = (status: number, json: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(json, { status, headers })

/** Validates like the operator, then answers `respond(json)` in an envelope (or a rejection). */
const enveloped = (
  respond: (json: string | undefined, nonce: Uint8Array) => { readonly json: string; readonly nonce?: Uint8Array },
  options: { readonly textAnswer?: boolean } = {}
) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://x").pathname
    const body = new Uint8Array(yield* request.arrayBuffer)
    seen.push({ path, headers: { ...request.headers }, body })
    if (request.headers["authorization"] !== `Bearer ${API_KEY}`) return rejection(401, { status: "unauthorized" })
    const binary = request.headers["content-type"] === "application/octet-stream"
    const text = binary ? body : new TextDecoder().decode(body)
    const decoded = OperatorEnvelope.decodeRequest(crypto, serverSecret, text, { nowMs: Date.now(), binary })
    if (Either.isLeft(decoded)) {
      return rejection(400, { status: "client_error", message: `Invalid body: ${decoded.left.detail}` })
    }
    const answer = respond(decoded.right.json, decoded.right.nonce)
    const encoded = OperatorEnvelope.encodeResponse(crypto, serverSecret, {
      nowMs: Date.now(),
      nonce: answer.nonce ?? decoded.right.nonce,
      iv: crypto.randomBytes(12),
      json: answer.json
    })
    return binary && options.textAnswer !== true
      ? HttpServerResponse.uint8Array(encoded.bytes, { contentType: "application/octet-stream" })
      : HttpServerResponse.text(encoded.text)
  })

const echo = enveloped((json) => ({ json: `{"body":{"echo":${json ?? "null"}},"status":"success"}` }))

/** Fails `failures` times with `fail`, then echoes. */
const flaky = (failures: number, fail: () => HttpServerResponse.HttpServerResponse) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://x").pathname
    if (nth(path) <= failures) {
      seen.push({ path, headers: { ...request.headers }, body: new Uint8Array(yield* request.arrayBuffer) })
      return fail()
    }
    return yield* echo
  })

const record = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const path = new URL(request.url, "http://x").pathname
  const body = new Uint8Array(yield* request.arrayBuffer)
  seen.push({ path, headers: { ...request.headers }, body })
  return new TextDecoder().decode(body)
})

const Operator = HttpRouter.empty.pipe(
  HttpRouter.post("/v2/echo", echo),
  HttpRouter.post("/v3/identity/map", echo),
  HttpRouter.post(
    "/v3/identity/map-text",
    enveloped((json) => ({ json: `{"body":{"echo":${json ?? "null"}},"status":"success"}` }), { textAnswer: true })
  ),
  HttpRouter.post("/v2/flaky503", flaky(2, () => rejection(503, { status: "error", message: "busy" }))),
  HttpRouter.post(
    "/v2/retry-after-503",
    flaky(1, () => rejection(503, { status: "error", message: "busy" }, { "retry-after": "1" }))
  ),
  HttpRouter.post(
    "/v2/retry-after-429",
    flaky(1, () => HttpServerResponse.empty({ status: 429, headers: { "retry-after": "1" } }))
  ),
  HttpRouter.post(
    "/v2/retry-after-long",
    flaky(1, () => HttpServerResponse.empty({ status: 429, headers: { "retry-after": "3600" } }))
  ),
  HttpRouter.post(
    "/v2/bad400",
    flaky(5, () => rejection(400, { status: "client_error", message: "Invalid body: nope" }))
  ),
  HttpRouter.post("/v2/unauth401", flaky(5, () => rejection(401, { status: "unauthorized" }))),
  HttpRouter.post(
    "/v2/leaky",
    flaky(5, () => rejection(400, { status: "client_error", message: `bad key ${API_KEY} and ${SECRET}` }))
  ),
  HttpRouter.post("/v2/stall", Effect.zipRight(record, Effect.never)),
  HttpRouter.post(
    "/v2/other-secret",
    Effect.gen(function*() {
      yield* record
      const encoded = OperatorEnvelope.encodeResponse(crypto, otherSecret, {
        nowMs: Date.now(),
        nonce: new Uint8Array(8),
        iv: crypto.randomBytes(12),
        json: `{"status":"success"}`
      })
      return HttpServerResponse.text(encoded.text)
    })
  ),
  HttpRouter.post("/v2/wrong-nonce", enveloped(() => ({ json: `{"status":"success"}`, nonce: new Uint8Array(8) }))),
  HttpRouter.post("/v2/garbage", Effect.as(record, HttpServerResponse.text("this is not an encrypted response"))),
  HttpRouter.post(
    "/v2/token/refresh",
    Effect.map(record, (body) => HttpServerResponse.text(`raw:${body}`))
  )
)

const ServerLive = Operator.pipe(
  HttpServer.serve(),
  Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
)

type TestOptions = Partial<Omit<HttpTransport.Options, "baseUrl">> & { readonly baseUrl?: string }

/** Runs `f` against a transport on undici pointed at the loopback operator. */
const withTransport = <A, E>(
  f: (t: HttpTransport.HttpTransportShape, baseUrl: string) => Effect.Effect<A, E>,
  options: TestOptions = {}
) =>
  HttpServer.addressFormattedWith((url) =>
    Effect.flatMap(HttpTransport.HttpTransport, (t) => f(t, url)).pipe(
      Effect.provide(
        HttpTransport.layer({
          baseUrl: url,
          apiKey: Redacted.make(API_KEY),
          secretKey: Redacted.make(SECRET),
          retry: { base: "10 millis" },
          ...options
        }).pipe(Layer.provide([Crypto.layerNode, NodeHttpClient.layerUndici]))
      )
    )
  ).pipe(Effect.provide(ServerLive))

const flip = <A>(effect: Effect.Effect<A, TransportError>) => Effect.flip(effect)

describe("HttpTransport over loopback HTTP", () => {
  it.live("post: envelope round trip with Bearer and version headers", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const json = yield* t.post("/v2/echo", utf8(`{"email":"test@example.com"}`))
        expect(JSON.parse(json)).toEqual({ body: { echo: { email: "test@example.com" } }, status: "success" })
        const request = seen.filter((s) => s.path === "/v2/echo").at(-1)!
        expect(request.headers["authorization"]).toBe(`Bearer ${API_KEY}`)
        expect(request.headers["x-uid2-client-version"]).toBe("uid2-client-node-effect-0.1.0")
        expect(request.headers["content-type"]).toContain("text/plain")
        // the body is the Base64 text form, version byte 1
        expect(Buffer.from(new TextDecoder().decode(request.body), "base64")[0]).toBe(1)

        const empty = yield* t.post("/v2/echo", undefined)
        expect(JSON.parse(empty).body.echo).toBeNull()
      })
    ))

  it.live("post binary: octet-stream both ways", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const json = yield* t.post("/v3/identity/map", utf8(`{"email_hash":["a"]}`), { binary: true })
        expect(JSON.parse(json).body.echo).toEqual({ email_hash: ["a"] })
        const request = seen.filter((s) => s.path === "/v3/identity/map").at(-1)!
        expect(request.headers["content-type"]).toBe("application/octet-stream")
        expect(request.body[0]).toBe(1)
        // an operator answering a binary request in Base64 text is understood too
        const text = yield* t.post("/v3/identity/map-text", utf8(`{"email_hash":["b"]}`), { binary: true })
        expect(JSON.parse(text).body.echo).toEqual({ email_hash: ["b"] })
      })
    ))

  it.live("a trailing slash on the base URL is harmless", () =>
    HttpServer.addressFormattedWith((url) =>
      Effect.flatMap(HttpTransport.HttpTransport, (t) => t.post("/v2/echo", utf8("{}"))).pipe(
        Effect.provide(
          HttpTransport.layer({ baseUrl: `${url}/`, apiKey: Redacted.make(API_KEY), secretKey: Redacted.make(SECRET) })
            .pipe(Layer.provide([Crypto.layerNode, NodeHttpClient.layerUndici]))
        )
      )
    ).pipe(
      Effect.provide(ServerLive),
      Effect.map((json) => expect(JSON.parse(json).status).toBe("success"))
    ))

  it.live("postRaw sends the body as-is and returns the raw 200 text", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const text = yield* t.postRaw("/v2/token/refresh", "AAAAAARomrP3")
        expect(text).toBe("raw:AAAAAARomrP3")
        const request = seen.filter((s) => s.path === "/v2/token/refresh").at(-1)!
        expect(request.headers["authorization"]).toBe(`Bearer ${API_KEY}`)
        expect(request.headers["x-uid2-client-version"]).toBe(HttpTransport.CLIENT_VERSION)
      })
    ))

  it.live("retries 503 with backoff, then succeeds; each attempt is sealed afresh around the same payload", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const payload = "{\"email_hash\":[\"a\",\"b\"],\"n\":1}"
        const json = yield* t.post("/v2/flaky503", utf8(payload))
        expect(JSON.parse(json)).toEqual({ body: { echo: JSON.parse(payload) }, status: "success" })
        const attempts = seen.filter((s) => s.path === "/v2/flaky503")
        expect(attempts).toHaveLength(3)
        const opened = attempts.map((a) =>
          Either.getOrThrow(
            OperatorEnvelope.decodeRequest(crypto, serverSecret, new TextDecoder().decode(a.body), {
              nowMs: Date.now()
            })
          )
        )
        expect(opened.map((o) => o.json)).toEqual([payload, payload, payload])
        expect(new Set(opened.map((o) => Buffer.from(o.nonce).toString("hex"))).size).toBe(3)
        expect(new Set(attempts.map((a) => Buffer.from(a.body).toString("hex"))).size).toBe(3)
      })
    ))

  it.live("honours Retry-After on 503 and 429", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        for (const path of ["/v2/retry-after-503", "/v2/retry-after-429"]) {
          const start = Date.now()
          const json = yield* t.post(path, utf8("{}"))
          expect(JSON.parse(json).status).toBe("success")
          expect(Date.now() - start).toBeGreaterThanOrEqual(950)
          expect(calls(path)).toBe(2)
        }
      })
    ), 20_000)

  it.live("a Retry-After beyond maxRetryAfter is not waited for", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const error = yield* flip(t.post("/v2/retry-after-long", utf8("{}")))
        expect(error._tag).toBe("OperatorRejected")
        if (error._tag !== "OperatorRejected") return
        expect(error.httpStatus).toBe(429)
        expect(error.retryAfterMillis).toBe(3_600_000)
        expect(calls("/v2/retry-after-long")).toBe(1)
      })
    ))

  it.live("does not retry 400 or 401; OperatorRejected carries status and message", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const bad = yield* flip(t.post("/v2/bad400", utf8("{}")))
        expect(bad).toMatchObject({
          _tag: "OperatorRejected",
          httpStatus: 400,
          status: "client_error",
          operatorMessage: "Invalid body: nope"
        })
        expect(bad.message).toContain("400")
        expect(bad.message).toContain("Invalid body: nope")
        expect(calls("/v2/bad400")).toBe(1)

        const unauth = yield* flip(t.post("/v2/unauth401", utf8("{}")))
        expect(unauth).toMatchObject({ _tag: "OperatorRejected", httpStatus: 401, status: "unauthorized" })
        expect(unauth.message).toContain("401")
        expect(calls("/v2/unauth401")).toBe(1)
        expectNoCredentials(bad)
        expectNoCredentials(unauth)
      })
    ))

  it.live("a bad API key gets the operator's 401", () =>
    withTransport(
      (t) =>
        Effect.gen(function*() {
          const error = yield* flip(t.post("/v2/echo", utf8("{}")))
          expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 401 })
          expect(error.message).toContain("401")
          expect(String(error)).not.toContain("wrong-api-key")
        }),
      { apiKey: Redacted.make("wrong-api-key") }
    ))

  it.live("a wrong (valid Base64) client secret gets the operator's 400", () =>
    withTransport(
      (t) =>
        Effect.gen(function*() {
          const error = yield* flip(t.post("/v2/echo", utf8("{}")))
          expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 400, status: "client_error" })
          expect(error.message).toContain("Check encryption key")
          expectNoCredentials(error)
        }),
      { secretKey: Redacted.make(OTHER_SECRET) }
    ))

  it.live("a response under another secret is an EnvelopeError, not retried", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const error = yield* flip(t.post("/v2/other-secret", utf8("{}")))
        expect(error).toMatchObject({ _tag: "EnvelopeError", reason: "Decrypt" })
        expect(calls("/v2/other-secret")).toBe(1)
        expectNoCredentials(error)
        const mismatch = yield* flip(t.post("/v2/wrong-nonce", utf8("{}")))
        expect(mismatch).toMatchObject({ _tag: "EnvelopeError", reason: "NonceMismatch" })
        const garbage = yield* flip(t.post("/v2/garbage", utf8("{}")))
        expect(garbage).toMatchObject({ _tag: "EnvelopeError", reason: "Base64" })
      })
    ))

  it.live("per-attempt timeout on a stalled server", () =>
    withTransport(
      (t) =>
        Effect.gen(function*() {
          const start = Date.now()
          const error = yield* flip(t.post("/v2/stall", utf8("{}")))
          const elapsed = Date.now() - start
          expect(error).toMatchObject({ _tag: "Timeout", path: "/v2/stall", timeoutMillis: 200 })
          expect(calls("/v2/stall")).toBe(2) // one retry, each attempt with its own 200 ms
          expect(elapsed).toBeGreaterThanOrEqual(400)
          expect(elapsed).toBeLessThan(5_000)
          expectNoCredentials(error)
        }),
      { timeout: "200 millis", retry: { times: 1, base: "10 millis" } }
    ))

  it.live("operator messages are scrubbed of credentials", () =>
    withTransport((t) =>
      Effect.gen(function*() {
        const error = yield* flip(t.post("/v2/leaky", utf8("{}")))
        expect(error._tag).toBe("OperatorRejected")
        expect(error.message).toContain("<redacted>")
        expectNoCredentials(error)
      })
    ))

  it.live("an unreachable operator is OperatorUnreachable after retries", () =>
    Effect.gen(function*() {
      // grab a free port, then close it
      const port = yield* Effect.async<number>((resume) => {
        const server = createServer()
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          server.close(() => resume(Effect.succeed(typeof address === "object" && address ? address.port : 1)))
        })
      })
      const post = Effect.flatMap(HttpTransport.HttpTransport, (t) => flip(t.post("/v2/echo", utf8("{}"))))
      const error = yield* post.pipe(
        Effect.provide(
          HttpTransport.layer({
            baseUrl: `http://127.0.0.1:${port}`,
            apiKey: Redacted.make(API_KEY),
            secretKey: Redacted.make(SECRET),
            retry: { times: 2, base: "10 millis" }
          }).pipe(Layer.provide([Crypto.layerNode, NodeHttpClient.layerUndici]))
        )
      )
      expect(error).toMatchObject({ _tag: "OperatorUnreachable", transient: true })
      expect(error.message).toContain("/v2/echo")
      expectNoCredentials(error)
    }))

  it.live("layerNode builds its own undici client", () =>
    HttpServer.addressFormattedWith((url) =>
      Effect.flatMap(HttpTransport.HttpTransport, (t) => t.post("/v2/echo", utf8(`{"a":1}`))).pipe(
        Effect.provide(
          HttpTransport.layerNode({ baseUrl: url, apiKey: Redacted.make(API_KEY), secretKey: Redacted.make(SECRET) })
            .pipe(Layer.provide(Crypto.layerNode))
        )
      )
    ).pipe(
      Effect.provide(ServerLive),
      Effect.map((json) => expect(JSON.parse(json).body.echo).toEqual({ a: 1 }))
    ))
})

// ---------------------------------------------------------------------------
// Mock HttpClient under TestClock: timings

type Reply = { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }

/**
 * A mock client: `script(n, body)` answers call n (1-based). `undefined` never
 * answers. 200 replies are built by the caller.
 */
const mockClient = (
  calls: Ref.Ref<number>,
  script: (n: number, body: string, nowMs: number) => Reply | undefined
) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.gen(function*() {
        const n = yield* Ref.updateAndGet(calls, (c) => c + 1)
        const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
        const reply = script(n, body, yield* Clock.currentTimeMillis)
        if (reply === undefined) return yield* Effect.never
        return HttpClientResponse.fromWeb(
          request,
          new Response(reply.body ?? null, { status: reply.status, headers: reply.headers ?? {} })
        )
      })
    )
  )

const mockTransport = (
  calls: Ref.Ref<number>,
  script: (n: number, body: string, nowMs: number) => Reply | undefined,
  options: Partial<HttpTransport.Options> = {}
) =>
  HttpTransport.layer({
    baseUrl: "https://operator.invalid",
    apiKey: Redacted.make(API_KEY),
    secretKey: Redacted.make(SECRET),
    ...options
  }).pipe(Layer.provide([Crypto.layerDeterministic(5), mockClient(calls, script)]))

/** Lets woken fibers run after a clock adjustment. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const adjustTo = (ms: number) => Effect.zipRight(TestClock.adjust(Duration.millis(ms)), settle)

describe("HttpTransport under TestClock (mock HttpClient)", () => {
  it.effect("exponential backoff with jitter on 503: 200 ms, 400 ms, 800 ms (±25%), then gives up", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const times: Array<number> = []
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, (_n, _body, nowMs) => {
          times.push(nowMs)
          return { status: 503 }
        })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      for (let i = 0; i < 300 && fiber.unsafePoll() === null; i++) yield* adjustTo(10)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 503 })
      expect(times).toHaveLength(4) // 3 retries, then gave up
      const gaps = times.slice(1).map((time, i) => time - times[i]!)
      // each gap: the jittered delay, rounded up to the 10 ms clock steps
      expect(gaps[0]).toBeGreaterThanOrEqual(150)
      expect(gaps[0]).toBeLessThanOrEqual(260)
      expect(gaps[1]).toBeGreaterThanOrEqual(300)
      expect(gaps[1]).toBeLessThanOrEqual(510)
      expect(gaps[2]).toBeGreaterThanOrEqual(600)
      expect(gaps[2]).toBeLessThanOrEqual(1010)
      yield* adjustTo(60_000)
      expect(yield* Ref.get(count)).toBe(4)
    }).pipe(Effect.scoped))

  it.effect("Retry-After on 429 is honoured exactly", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, (n) => n === 1 ? { status: 429, headers: { "retry-after": "5" } } : { status: 400 })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      yield* adjustTo(4_999)
      expect(yield* Ref.get(count)).toBe(1)
      yield* adjustTo(1)
      expect(yield* Ref.get(count)).toBe(2)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 400 })
    }).pipe(Effect.scoped))

  it.effect("Retry-After is ignored on other statuses (500 uses backoff)", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, (n) => n === 1 ? { status: 500, headers: { "retry-after": "30" } } : { status: 401 })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* adjustTo(250)
      expect(yield* Ref.get(count)).toBe(2)
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ httpStatus: 401 })
    }).pipe(Effect.scoped))

  it.effect("Retry-After as an HTTP-date on 503 is honoured exactly", () =>
    Effect.gen(function*() {
      const start = Date.UTC(2026, 0, 15, 12, 0, 0)
      yield* TestClock.setTime(start)
      const count = yield* Ref.make(0)
      const when = new Date(start + 7_000).toUTCString()
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, (n) => n === 1 ? { status: 503, headers: { "retry-after": when } } : { status: 403 })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      yield* adjustTo(6_999)
      expect(yield* Ref.get(count)).toBe(1)
      yield* adjustTo(1)
      expect(yield* Ref.get(count)).toBe(2)
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "OperatorRejected", httpStatus: 403 })
    }).pipe(Effect.scoped))

  it.effect("a Retry-After beyond maxRetryAfter fails at once, without sleeping", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, () => ({ status: 429, headers: { "retry-after": "11" } }), {
          retry: { maxRetryAfter: "10 seconds" }
        })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      const exit = fiber.unsafePoll() // no clock adjustment: it must already be over
      expect(exit).not.toBeNull()
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({
        _tag: "OperatorRejected",
        httpStatus: 429,
        retryAfterMillis: 11_000,
        transient: true
      })
      expect(yield* Ref.get(count)).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("an invalid base URL is a permanent OperatorUnreachable: not retried", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, () => ({ status: 200 }), { baseUrl: "http://[not-a-host", retry: { times: 3 } })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      expect(fiber.unsafePoll()).not.toBeNull() // a retry would be asleep on the TestClock
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "OperatorUnreachable", transient: false })
      expect(error.message).toContain("InvalidUrl")
      expect(yield* Ref.get(count)).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("a web Response body (fetch-style stream) is bounded too; oversized bodies are not retried", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const pulled = yield* Ref.make(0)
      const endless = () =>
        new ReadableStream<Uint8Array>({
          pull: (controller) => {
            Effect.runSync(Ref.update(pulled, (n) => n + 1))
            controller.enqueue(new Uint8Array(4096).fill(65))
          }
        })
      const client = Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request) =>
          Effect.as(
            Ref.update(count, (n) => n + 1),
            HttpClientResponse.fromWeb(request, new Response(endless(), { status: 200 }))
          )
        )
      )
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        HttpTransport.layer({
          baseUrl: "https://operator.invalid",
          apiKey: Redacted.make(API_KEY),
          secretKey: Redacted.make(SECRET),
          maxResponseBytes: 10_000
        }).pipe(Layer.provide([Crypto.layerDeterministic(5), client]))
      )
      const error = yield* Effect.flip(t.postRaw("/v2/token/refresh", "x"))
      expect(error).toMatchObject({ _tag: "ResponseTooLarge", path: "/v2/token/refresh", limitBytes: 10_000 })
      expect(yield* Ref.get(count)).toBe(1)
      // reading stopped right after the limit: 10,000 bytes are three 4 KiB chunks, the stream was not drained
      expect(yield* Ref.get(pulled)).toBeLessThan(10)
    }).pipe(Effect.scoped))

  it.effect("400, 401 and 403 fail at once", () =>
    Effect.gen(function*() {
      for (const status of [400, 401, 403, 404]) {
        const count = yield* Ref.make(0)
        const t = yield* Effect.provide(HttpTransport.HttpTransport, mockTransport(count, () => ({ status })))
        const error = yield* Effect.flip(t.post("/v2/x", utf8("{}")))
        expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: status })
        expect(yield* Ref.get(count)).toBe(1)
      }
    }).pipe(Effect.scoped))

  it.effect("per-attempt timeout: default 10 s each, retried, then Timeout", () =>
    Effect.gen(function*() {
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, () => undefined, { retry: { times: 1, base: "1 second" } })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8("{}")))
      yield* settle
      yield* adjustTo(9_999)
      expect(fiber.unsafePoll()).toBeNull()
      expect(yield* Ref.get(count)).toBe(1)
      yield* adjustTo(1) // attempt 1 times out; backoff 0.75–1.25 s
      yield* adjustTo(1_250)
      expect(yield* Ref.get(count)).toBe(2)
      yield* adjustTo(10_000)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({ _tag: "Timeout", timeoutMillis: 10_000 })
    }).pipe(Effect.scoped))

  it.effect("the envelope timestamp comes from Effect's Clock; each attempt has a fresh nonce", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(TIMESTAMP)
      const bodies: Array<string> = []
      const count = yield* Ref.make(0)
      const t = yield* Effect.provide(
        HttpTransport.HttpTransport,
        mockTransport(count, (n, body) => {
          bodies.push(body)
          if (n === 1) return { status: 502 }
          const request = Either.getOrThrow(
            OperatorEnvelope.decodeRequest(crypto, serverSecret, body, { nowMs: TIMESTAMP })
          )
          const response = OperatorEnvelope.encodeResponse(crypto, serverSecret, {
            nowMs: TIMESTAMP,
            nonce: request.nonce,
            iv: new Uint8Array(12),
            json: `{"status":"success","ts":${request.timestampMs}}`
          })
          return { status: 200, body: response.text }
        })
      )
      const fiber = yield* Effect.fork(t.post("/v2/x", utf8(`{"q":1}`)))
      yield* adjustTo(1_000)
      const json = yield* Fiber.join(fiber)
      expect(JSON.parse(json).status).toBe("success")
      const [first, second] = bodies.map((b) =>
        Either.getOrThrow(OperatorEnvelope.decodeRequest(crypto, serverSecret, b, { nowMs: TIMESTAMP }))
      )
      expect(first!.timestampMs).toBe(TIMESTAMP)
      expect(second!.timestampMs).toBeGreaterThan(TIMESTAMP) // re-encoded after the backoff sleep
      expect(first!.nonce).not.toEqual(second!.nonce)
      expect(JSON.parse(json).ts).toBe(second!.timestampMs)
    }).pipe(Effect.scoped))

  it.effect("building with a bad secret fails with InvalidClientSecret, secret not echoed", () =>
    Effect.gen(function*() {
      for (const bad of ["bad secret key", Buffer.alloc(16, 1).toString("base64")]) {
        const count = yield* Ref.make(0)
        const error = yield* Effect.flip(
          Effect.provide(
            HttpTransport.HttpTransport,
            mockTransport(count, () => ({ status: 200 }), {
              secretKey: Redacted.make(bad)
            })
          )
        )
        expect(error._tag).toBe("InvalidClientSecret")
        for (const form of [String(error), error.message, JSON.stringify(error), inspect(error)]) {
          expect(form).not.toContain(bad)
          expect(form).not.toContain(API_KEY)
        }
      }
    }).pipe(Effect.scoped))

  it.effect("layerConfig reads UID2_BASE_URL, UID2_API_KEY and UID2_SECRET_KEY", () =>
    Effect.gen(function*() {
      const urls: Array<string> = []
      const authorization: Array<string | undefined> = []
      const client = Layer.succeed(
        HttpClient.HttpClient,
        HttpClient.make((request) => {
          urls.push(request.url)
          authorization.push(request.headers["authorization"])
          return Effect.succeed(HttpClientResponse.fromWeb(request, new Response(null, { status: 403 })))
        })
      )
      const layer = HttpTransport.layerConfig().pipe(
        Layer.provide([Crypto.layerNode, client]),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["UID2_BASE_URL", "https://operator.example"],
            ["UID2_API_KEY", API_KEY],
            ["UID2_SECRET_KEY", SECRET]
          ])
        )))
      )
      const post = Effect.flatMap(HttpTransport.HttpTransport, (t) => t.post("/v2/key/sharing", undefined))
      const error = yield* Effect.flip(Effect.provide(post, layer))
      expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 403 })
      expect(urls).toEqual(["https://operator.example/v2/key/sharing"])
      expect(authorization).toEqual([`Bearer ${API_KEY}`])

      const missing = yield* Effect.flip(Effect.provide(
        HttpTransport.HttpTransport,
        HttpTransport.layerConfig().pipe(
          Layer.provide([Crypto.layerNode, client]),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["UID2_API_KEY", API_KEY]]))))
        )
      ))
      expect(String(missing)).not.toContain(API_KEY)
    }).pipe(Effect.scoped))

  it("CLIENT_VERSION follows package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
    expect(HttpTransport.VERSION).toBe(pkg.version)
    expect(HttpTransport.CLIENT_VERSION).toBe(`uid2-client-node-effect-${pkg.version}`)
    expect(HttpTransport.CLIENT_VERSION).not.toMatch(/android|ios|tvos/i)
  })
})
