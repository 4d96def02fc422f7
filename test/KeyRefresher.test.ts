import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { OperatorRejected, OperatorUnreachable, type TransportError } from "../src/TransportError.js"
import { HttpTransport } from "../src/HttpTransport.js"
import * as KeyRefresher from "../src/KeyRefresher.js"
import * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { sharingRing } from "../src/testing/Builders.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const HOUR = 3_600_000

const responseFor = (ring: KeyRing.KeyRing) => JSON.stringify({ body: KeyRing.toBody(ring), status: "success" })
const unreachable = new OperatorUnreachable({ path: "/v2/key/sharing", detail: "connection refused" })

// A transport that answers from a script: each call takes the next entry (the last one repeats).
const scripted = (script: Array<string | TransportError>) => {
  const calls: Array<number> = []
  const transport = HttpTransport.of({
    post: (path) =>
      Effect.clockWith((clock) =>
        Effect.suspend(() => {
          expect(path).toBe("/v2/key/sharing")
          calls.push(clock.unsafeCurrentTimeMillis())
          const next = script.length > 1 ? script.shift()! : script[0]!
          return typeof next === "string" ? Effect.succeed(next) : Effect.fail(next)
        })
      ),
    postRaw: () => Effect.die("not used")
  })
  return { calls, layer: Layer.succeed(HttpTransport, transport) }
}

const start = (
  script: Array<string | TransportError>,
  options: Partial<KeyRefresher.Options> = {},
  store: Layer.Layer<KeyStore.KeyStore> = KeyStore.layerMemory
) =>
  Effect.gen(function*() {
    const { calls, layer } = scripted(script)
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      KeyRefresher.layer({ endpoint: "/v2/key/sharing", jitter: 0, ...options }).pipe(
        Layer.provideMerge(Layer.merge(layer, store))
      ),
      scope
    )
    const refresher = yield* Effect.provide(KeyRefresher.KeyRefresher, context)
    const keyStore = yield* Effect.provide(KeyStore.KeyStore, context)
    return { calls, refresher, store: keyStore, scope }
  })

describe("KeyRefresher", () => {
  it.effect("fetches at start-up, then every interval; picks up a rotation", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const first = sharingRing(NOW)
      const rotated = sharingRing(NOW, { keys: [...first.keys, { id: 300, keysetId: 99999, activates: NOW + HOUR, expires: NOW + 48 * HOUR, secret: new Uint8Array(32).fill(9) }] })
      const { calls, refresher, store } = yield* start([responseFor(first), responseFor(rotated)])
      yield* refresher.awaitReady
      expect(calls).toEqual([NOW])
      expect(store.current()?.keyById(300)).toBeUndefined()
      yield* TestClock.adjust("59 minutes")
      expect(calls.length).toBe(1)
      yield* TestClock.adjust("1 minute")
      expect(calls).toEqual([NOW, NOW + HOUR])
      expect(store.current()?.keyById(300)?.id).toBe(300)
      const status = yield* refresher.status
      expect(status).toMatchObject({ ready: true, lastSuccessAt: NOW + HOUR, consecutiveFailures: 0, ringAgeMs: 0 })
      expect(status.lastFailure).toBeUndefined()
      expect(status.keysUsableForMs).toBe(store.current()!.latestKeyExpiry - (NOW + HOUR))
    }))

  it.effect("retries failures with capped exponential backoff and keeps the last good ring", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const good = sharingRing(NOW)
      const rejected = new OperatorRejected({ path: "/v2/key/sharing", httpStatus: 500 })
      const { calls, refresher, store } = yield* start(
        [responseFor(good), unreachable, "{not json", rejected, `{"body":{"keys":[{"id":1}]}}`, unreachable, responseFor(good)],
        { interval: "10 minutes", retryBase: "1 second", retryMax: "4 seconds" }
      )
      expect(store.current()).toBeDefined()
      const ring = store.current()
      yield* TestClock.adjust("10 minutes") // 2nd call fails
      const t0 = NOW + 10 * 60_000
      yield* TestClock.adjust("1 second") // 3rd: malformed JSON
      yield* TestClock.adjust("2 seconds") // 4th: 500
      yield* TestClock.adjust("4 seconds") // 5th: body fails to parse
      const status = yield* refresher.status
      expect(status.consecutiveFailures).toBe(4)
      expect(status.lastFailure?.error._tag).toBe("KeyRingParseError")
      expect(status.lastSuccessAt).toBe(NOW)
      yield* TestClock.adjust("4 seconds") // 6th: capped at 4 s, unreachable
      yield* TestClock.adjust("4 seconds") // 7th: success
      expect(calls).toEqual([NOW, t0, t0 + 1000, t0 + 3000, t0 + 7000, t0 + 11_000, t0 + 15_000])
      expect(store.current()).not.toBe(ring)
      expect((yield* refresher.status).consecutiveFailures).toBe(0)
      // every failure above left the first ring in place
      expect(ring?.keyById(164)?.id).toBe(164)
    }))

  it.effect("a failed start-up fetch does not fail the layer; it becomes ready on a later success", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls, refresher } = yield* start([unreachable, responseFor(sharingRing(NOW))], { retryBase: "5 seconds" })
      expect((yield* refresher.status).ready).toBe(false)
      expect((yield* refresher.status).lastFailure?.reason).toContain("connection refused")
      const waiter = yield* Effect.fork(refresher.awaitReady)
      yield* TestClock.adjust("5 seconds")
      yield* waiter.await
      expect(calls.length).toBe(2)
      expect((yield* refresher.status).ready).toBe(true)
    }))

  it.effect("warm start: a ring already in the store serves while the operator is down", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const saved = sharingRing(NOW)
      const { refresher, store } = yield* start([unreachable], {}, KeyStore.layerMemoryWith(saved))
      yield* refresher.awaitReady
      expect(store.current()).toBe(saved)
      const status = yield* refresher.status
      expect(status.ready).toBe(true)
      expect(status.lastSuccessAt).toBeUndefined()
      expect(status.lastFailure?.error._tag).toBe("OperatorUnreachable")
    }))

  it.effect("on-demand refresh fails typed and keeps the ring; concurrent refreshes share the lock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls, refresher, store } = yield* start([responseFor(sharingRing(NOW)), unreachable, responseFor(sharingRing(NOW + 1))])
      const before = store.current()
      const error = yield* Effect.flip(refresher.refresh)
      expect(error._tag).toBe("OperatorUnreachable")
      expect(store.current()).toBe(before)
      const both = yield* Effect.all([refresher.refresh, refresher.refresh], { concurrency: 2 })
      expect(both.length).toBe(2)
      expect(calls.length).toBe(4)
    }))

  it.effect("stops refreshing when its scope closes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls, scope } = yield* start([responseFor(sharingRing(NOW))], { interval: "1 minute" })
      yield* TestClock.adjust("1 minute")
      expect(calls.length).toBe(2)
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 minutes")
      expect(calls.length).toBe(2)
    }))

  it.effect("jitter keeps each interval within ±jitter", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls } = yield* start([responseFor(sharingRing(NOW))], { interval: "100 seconds", jitter: 0.2 })
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("10 seconds")
      const gaps = calls.slice(1).map((t, i) => t - calls[i]!)
      expect(gaps.length).toBeGreaterThanOrEqual(1)
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(80_000)
        expect(gap).toBeLessThanOrEqual(120_000)
      }
    }))
})
