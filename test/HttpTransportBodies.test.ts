import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Crypto from "../src/Crypto.js"
import * as HttpTransport from "../src/HttpTransport.js"
import { CLIENT_SECRET } from "./vectors.js"

const MiB = 1024 * 1024
const DEFAULT_LIMIT = 16 * MiB

/** What the server saw of one response. */
interface Served {
  /** Body bytes the server managed to hand to its socket. */
  written: number
  /** Completes when the connection carrying the response is gone (the client hung up or it ended). */
  readonly closed: Deferred.Deferred<void>
}

type Route = (request: IncomingMessage, response: ServerResponse, served: Served) => void

/**
 * Writes `total` bytes (forever when `undefined`) of `byte`, respecting
 * backpressure: the server never queues more than the socket accepts, so
 * what it holds in memory stays small whatever the client does.
 */
const pump = (response: ServerResponse, served: Served, total: number | undefined, byte = 0x41) => {
  const chunk = Buffer.alloc(64 * 1024, byte)
  const step = () => {
    while (!response.destroyed) {
      if (total !== undefined && served.written >= total) {
        response.end()
        return
      }
      const size = total === undefined ? chunk.length : Math.min(chunk.length, total - served.written)
      served.written += size
      if (!response.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
        response.once("drain", step)
        return
      }
    }
  }
  step()
}

const routes: Record<string, Route> = {
  "/endless": (_, response, served) => {
    response.writeHead(200, { "content-type": "text/plain" }) // chunked: no length declared
    pump(response, served, undefined)
  },
  "/declared-300mb": (_, response, served) => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": String(300_000_000) })
    pump(response, served, 300_000_000)
  },
  "/rejected-endless": (_, response, served) => {
    response.writeHead(503, { "content-type": "application/json" })
    response.write(`{"status":"error","message":"`)
    pump(response, served, undefined)
  },
  "/stall-body": (_, response) => {
    response.writeHead(200, { "content-type": "text/plain" })
    response.write("AAAA") // and nothing more
  },
  "/binary-declared": (_, response, served) => {
    response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(DEFAULT_LIMIT + 1) })
    pump(response, served, DEFAULT_LIMIT + 1)
  },
  "/euro-split": (_, response) => {
    // "€" is E2 82 AC: send it split over writes (and packets) to cross chunk boundaries
    const text = Buffer.from("€uro €€ ok €", "utf8")
    response.writeHead(200, { "content-type": "text/plain" })
    let i = 0
    const next = () => {
      if (i >= text.length) return response.end()
      response.write(text.subarray(i, i + 1))
      i += 1
      setTimeout(next, 2)
    }
    next()
  }
}

/** `/sized/<n>/<chunked|declared>`: exactly n bytes of "B", with or without Content-Length. */
const sized: Route = (request, response, served) => {
  const [, , n, mode] = request.url!.split("/")
  const total = Number(n)
  response.writeHead(200, {
    "content-type": "text/plain",
    ...(mode === "declared" ? { "content-length": String(total) } : {})
  })
  pump(response, served, total, 0x42)
}

interface TestServer {
  readonly url: string
  /** Every response served, by path, in order. */
  readonly served: Map<string, Array<Served>>
}

const server: Effect.Effect<TestServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly http: ReturnType<typeof createServer>; readonly state: TestServer }>((resume) => {
    const served = new Map<string, Array<Served>>()
    const http = createServer((request, response) => {
      const path = new URL(request.url!, "http://x").pathname
      const entry: Served = { written: 0, closed: Deferred.unsafeMake<void>(FiberId.none) }
      served.set(path, [...(served.get(path) ?? []), entry])
      response.on("close", () => Deferred.unsafeDone(entry.closed, Effect.void))
      request.resume() // the request body is not needed
      const route = routes[path] ?? (path.startsWith("/sized/") ? sized : undefined)
      if (route === undefined) {
        response.writeHead(404).end()
        return
      }
      route(request, response, entry)
    })
    http.listen(0, "127.0.0.1", () => {
      const { port } = http.address() as AddressInfo
      resume(Effect.succeed({ http, state: { url: `http://127.0.0.1:${port}`, served } }))
    })
  }),
  ({ http }) =>
    Effect.async<void>((resume) => {
      http.closeAllConnections()
      http.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ state }) => state))

/** A transport on undici, living as long as the test's scope. */
const transport = (url: string, options: Partial<HttpTransport.Options> = {}) =>
  Effect.map(
    Layer.build(
      HttpTransport.layer({
        baseUrl: url,
        apiKey: Redacted.make("uid2-test-api-key"),
        secretKey: Redacted.make(CLIENT_SECRET),
        retry: { times: 2, base: "10 millis" },
        ...options
      }).pipe(Layer.provide([Crypto.layerNode, NodeHttpClient.layerUndici]))
    ),
    Context.get(HttpTransport.HttpTransport)
  )

const rss = () => process.memoryUsage().rss

/** The server's view of the only response on `path`, once its connection has closed. */
const onlyResponse = (state: TestServer, path: string) =>
  Effect.gen(function*() {
    const all = state.served.get(path) ?? []
    expect(all).toHaveLength(1) // a permanent failure: no retry
    // liveness, not timing: the client must hang up, or this fails instead of hanging the suite
    yield* Deferred.await(all[0]!.closed).pipe(
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${path}: connection never closed`) })
    )
    return all[0]!
  })

describe("HttpTransport reads bounded response bodies (loopback HTTP)", () => {
  it.scopedLive("an endless chunked body fails with ResponseTooLarge at the default 16 MiB; memory stays bounded", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url)
      const before = rss()
      const error = yield* Effect.flip(t.postRaw("/endless", "x"))
      const growth = rss() - before
      expect(error).toMatchObject({
        _tag: "ResponseTooLarge",
        path: "/endless",
        limitBytes: DEFAULT_LIMIT,
        transient: false
      })
      expect(error.message).toContain(String(DEFAULT_LIMIT))
      // The accepted 16 MiB is held (and joined once) before the limit trips; the rest of the
      // process (other suites in this worker) adds noise, so the bound is generous but finite.
      expect(growth).toBeLessThan(128 * MiB)
      const served = yield* onlyResponse(state, "/endless")
      // the client stopped the transfer soon after the limit (socket buffers aside)
      expect(served.written).toBeGreaterThan(DEFAULT_LIMIT)
      expect(served.written).toBeLessThan(DEFAULT_LIMIT + 48 * MiB)
    }))

  it.scopedLive("post (the envelope path) stops an endless body the same way", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url, { maxResponseBytes: MiB })
      const error = yield* Effect.flip(t.post("/endless", new TextEncoder().encode("{}")))
      expect(error).toMatchObject({ _tag: "ResponseTooLarge", path: "/endless", limitBytes: MiB })
      const served = yield* onlyResponse(state, "/endless")
      expect(served.written).toBeLessThan(MiB + 48 * MiB)
    }))

  it.scopedLive("a 300 MB Content-Length is rejected from the header, before the body is read", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url)
      const before = rss()
      const error = yield* Effect.flip(t.postRaw("/declared-300mb", "x"))
      const growth = rss() - before
      expect(error).toMatchObject({ _tag: "ResponseTooLarge", path: "/declared-300mb", limitBytes: DEFAULT_LIMIT })
      expect(growth).toBeLessThan(64 * MiB)
      const served = yield* onlyResponse(state, "/declared-300mb")
      expect(served.written).toBeLessThan(48 * MiB) // far from 300 MB: the connection was dropped
    }))

  it.scopedLive("binary responses are bounded too", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url)
      const error = yield* Effect.flip(t.post("/binary-declared", new TextEncoder().encode("{}"), { binary: true }))
      expect(error).toMatchObject({ _tag: "ResponseTooLarge", limitBytes: DEFAULT_LIMIT })
      yield* onlyResponse(state, "/binary-declared")
    }))

  it.scopedLive("a body of exactly the limit succeeds, one byte more fails (with and without Content-Length)", () =>
    Effect.gen(function*() {
      const state = yield* server
      const limit = 100_000
      const t = yield* transport(state.url, { maxResponseBytes: limit })
      for (const mode of ["chunked", "declared"]) {
        for (const size of [0, 1, limit - 1, limit]) {
          const text = yield* t.postRaw(`/sized/${size}/${mode}`, "x")
          expect(text.length, `${size} ${mode}`).toBe(size)
          expect(text).toBe("B".repeat(size))
        }
        const error = yield* Effect.flip(t.postRaw(`/sized/${limit + 1}/${mode}`, "x"))
        expect(error).toMatchObject({
          _tag: "ResponseTooLarge",
          path: `/sized/${limit + 1}/${mode}`,
          limitBytes: limit
        })
      }
    }))

  it.scopedLive("a body just under the default limit succeeds", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url)
      const text = yield* t.postRaw(`/sized/${DEFAULT_LIMIT - 1}/chunked`, "x")
      expect(text.length).toBe(DEFAULT_LIMIT - 1)
      expect(text.startsWith("BBBB") && text.endsWith("BBBB")).toBe(true)
    }))

  it.scopedLive("UTF-8 split across chunks decodes intact", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url)
      expect(yield* t.postRaw("/euro-split", "x")).toBe("€uro €€ ok €")
    }))

  it.scopedLive("a rejection's endless body is read only far enough for a message", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url, { retry: { times: 0 } })
      const error = yield* Effect.flip(t.postRaw("/rejected-endless", "x"))
      expect(error).toMatchObject({ _tag: "OperatorRejected", httpStatus: 503, transient: true })
      const served = yield* onlyResponse(state, "/rejected-endless")
      expect(served.written).toBeLessThan(48 * MiB)
    }))

  it.scopedLive("the per-attempt timeout covers the body: a stalled body is a Timeout", () =>
    Effect.gen(function*() {
      const state = yield* server
      const t = yield* transport(state.url, { timeout: "300 millis", retry: { times: 1, base: "10 millis" } })
      const error = yield* Effect.flip(t.postRaw("/stall-body", "x"))
      expect(error).toMatchObject({ _tag: "Timeout", path: "/stall-body", timeoutMillis: 300, transient: true })
      // Timeout is transient: retried once, and each timed-out attempt's connection is released
      const all = state.served.get("/stall-body") ?? []
      expect(all).toHaveLength(2)
      yield* Effect.forEach(all, (served) =>
        Deferred.await(served.closed).pipe(
          Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("connection never closed") })
        ))
    }))
})
