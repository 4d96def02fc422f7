import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Crypto from "../src/Crypto.js"
import { HttpTransport } from "../src/HttpTransport.js"
import * as KeyRefresher from "../src/KeyRefresher.js"
import * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { sharingRing } from "../src/testing/Builders.js"
import { OperatorRejected, OperatorUnreachable, type TransportError } from "../src/TransportError.js"

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
    const context = yield* Layer.buildWithScope(Layer.mergeAll(layer, store, Crypto.layerNode), scope)
    const refresher = yield* KeyRefresher.make({ endpoint: "/v2/key/sharing", jitter: 0, ...options }).pipe(
      Effect.provide(context),
      Scope.extend(scope)
    )
    const keyStore = Context.get(context, KeyStore.KeyStore)
    return { calls, refresher, store: keyStore, scope, ring: () => refresher.current()?.ring }
  })

const rejected401 = new OperatorRejected({ path: "/v2/key/sharing", httpStatus: 401, status: "unauthorized" })

describe("KeyRefresher", () => {
  it.effect("fetches at start-up, then every interval; picks up a rotation", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const first = sharingRing(NOW)
      const rotated = sharingRing(NOW, {
        keys: [...first.keys, {
          id: 300,
          keysetId: 99999,
          activates: NOW + HOUR,
          expires: NOW + 48 * HOUR,
          secret: new Uint8Array(32).fill(9)
        }]
      })
      const { calls, refresher, ring } = yield* start([responseFor(first), responseFor(rotated)])
      yield* refresher.awaitReady()
      expect(calls).toEqual([NOW])
      expect(ring()?.keyById(300)).toBeUndefined()
      yield* TestClock.adjust("59 minutes")
      expect(calls.length).toBe(1)
      yield* TestClock.adjust("1 minute")
      expect(calls).toEqual([NOW, NOW + HOUR])
      expect(ring()?.keyById(300)?.id).toBe(300)
      const status = yield* refresher.status
      expect(status).toMatchObject({
        ready: true,
        source: "operator",
        lastSuccessAt: NOW + HOUR,
        consecutiveFailures: 0,
        ringAgeMs: 0
      })
      expect(status.lastFailure).toBeUndefined()
      expect(status.keysUsableForMs).toBe(ring()!.latestKeyExpiry - (NOW + HOUR))
    }))

  it.effect("retries failures with capped, jittered exponential backoff and keeps the last good ring", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const good = sharingRing(NOW)
      const rejected = new OperatorRejected({ path: "/v2/key/sharing", httpStatus: 500 })
      const { calls, refresher, ring } = yield* start(
        [
          responseFor(good),
          unreachable,
          "{not json",
          rejected,
          `{"body":{"keys":[{"id":1}]}}`,
          unreachable,
          responseFor(good)
        ],
        { interval: "10 minutes", retryBase: "1 second", retryMax: "4 seconds" }
      )
      const firstRing = ring()
      expect(firstRing).toBeDefined()
      // Step the clock in small increments so every retry fires close to its due time.
      for (let i = 0; i < 10 * 60 + 40; i++) yield* TestClock.adjust("1 second")
      expect(calls.length).toBe(7)
      const gaps = calls.slice(2).map((t, i) => t - calls[i + 1]!)
      // Doubling from 1 s, capped at 4 s, each delay jittered by at most ±25% (rounded to the 1 s step).
      const nominal = [1000, 2000, 4000, 4000, 4000]
      gaps.forEach((gap, i) => {
        expect(gap).toBeGreaterThanOrEqual(Math.floor(nominal[i]! * 0.75 / 1000) * 1000)
        expect(gap).toBeLessThanOrEqual(Math.ceil(nominal[i]! * 1.25 / 1000) * 1000)
      })
      const status = yield* refresher.status
      expect(status.consecutiveFailures).toBe(0)
      expect(ring()).not.toBe(firstRing)
      // every failure above left the first ring in place
      expect(firstRing?.keyById(164)?.id).toBe(164)
    }))

  it.effect("a transient start-up failure is retried; start-up waits for keys", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const fiber = yield* Effect.fork(start([unreachable, responseFor(sharingRing(NOW))], { retryBase: "5 seconds" }))
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      const { calls, refresher } = yield* fiber.await.pipe(Effect.flatten)
      expect(calls.length).toBe(2)
      expect((yield* refresher.status).ready).toBe(true)
    }))

  it.effect("a permanent rejection at start-up fails at once with the cause and a hint", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const error = yield* Effect.flip(start([rejected401]))
      expect(error._tag).toBe("KeysUnavailable")
      expect(error.reason).toBe("Rejected")
      expect(error.cause?._tag).toBe("OperatorRejected")
      expect(error.message).toContain("check the API key")
    }))

  it.effect("start-up gives up after its timeout, or starts without keys when told to", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const failing = yield* Effect.fork(Effect.flip(start([unreachable], { startup: { timeout: "10 seconds" } })))
      for (let i = 0; i < 12; i++) yield* TestClock.adjust("1 second")
      const error = yield* fiberResult(failing)
      expect(error).toMatchObject({ _tag: "KeysUnavailable", reason: "Timeout" })
      expect(error.message).toContain("connection refused")

      const lenient = yield* Effect.fork(
        start([unreachable, unreachable, responseFor(sharingRing(NOW))], {
          startup: { timeout: "2 seconds", failOnTimeout: false },
          retryBase: "3 seconds"
        })
      )
      for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 second")
      const { calls, refresher } = yield* fiberResult(lenient)
      expect((yield* refresher.status).ready).toBe(false)
      const notInitialized = refresher.notInitialized()
      expect(notInitialized._tag).toBe("NotInitialized")
      expect(notInitialized.lastFailure).toContain("connection refused")
      const waiter = yield* Effect.fork(refresher.awaitReady())
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      yield* fiberResult(waiter)
      expect(calls.length).toBe(3)
    }))

  it.effect("awaitReady fails once a permanent failure is known, and honours its timeout", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const slow = yield* Effect.fork(start([unreachable], { startup: { timeout: "1 second", failOnTimeout: false } }))
      yield* TestClock.adjust("2 seconds")
      const { refresher } = yield* fiberResult(slow)
      const timedOut = yield* Effect.fork(Effect.flip(refresher.awaitReady("5 seconds")))
      yield* TestClock.adjust("6 seconds")
      expect(yield* fiberResult(timedOut)).toMatchObject({ _tag: "NotReady", reason: "Timeout" })

      const revokedStart = yield* Effect.fork(
        start([unreachable, rejected401], {
          startup: { timeout: "1 second", failOnTimeout: false },
          retryBase: "1 minute"
        })
      )
      yield* TestClock.adjust("2 seconds")
      const { refresher: revoked } = yield* fiberResult(revokedStart)
      const waiting = yield* Effect.fork(Effect.flip(revoked.awaitReady()))
      yield* TestClock.adjust("2 minutes") // the next attempt is the 401
      expect(yield* fiberResult(waiting)).toMatchObject({ _tag: "NotReady", reason: "Rejected" })
    }))

  it.effect("warm start: a ring already in the store serves while the operator is down", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const saved = sharingRing(NOW)
      const { refresher, ring } = yield* start([unreachable], {}, KeyStore.layerMemoryWith(saved))
      yield* refresher.awaitReady()
      expect(ring()).toBe(saved)
      yield* TestClock.adjust("1 second")
      const status = yield* refresher.status
      expect(status).toMatchObject({ ready: true, source: "store" })
      expect(status.lastSuccessAt).toBeUndefined()
      expect(status.lastFailure?.error._tag).toBe("OperatorUnreachable")
    }))

  it.effect("a response with no key usable now keeps the last good ring and counts as a failure", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const good = sharingRing(NOW)
      const expired = sharingRing(NOW, {
        keys: [{
          id: 500,
          keysetId: 99999,
          activates: NOW - 2 * HOUR,
          expires: NOW - HOUR,
          secret: new Uint8Array(32).fill(5)
        }]
      })
      const empty = sharingRing(NOW, { keys: [] })
      const { refresher, ring } = yield* start([responseFor(good), responseFor(expired), responseFor(empty)])
      for (const _ of [1, 2]) {
        const error = yield* Effect.flip(refresher.refresh)
        expect(error._tag).toBe("NoUsableKeys")
        expect(ring()).toBe(ring())
        expect(ring()?.keyById(164)?.id).toBe(164)
      }
      const status = yield* refresher.status
      expect(status).toMatchObject({ ready: true, consecutiveFailures: 2 })
      expect(status.lastFailure?.error._tag).toBe("NoUsableKeys")
    }))

  it.effect("a defect in one refresh is logged and counted; the schedule goes on", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const good = responseFor(sharingRing(NOW))
      let n = 0
      const transport = Layer.succeed(
        HttpTransport,
        HttpTransport.of({
          post: () =>
            Effect.suspend(
              () => (++n === 2 ? Effect.die(new RangeError("Maximum call stack size exceeded")) : Effect.succeed(good))
            ),
          postRaw: () => Effect.die("not used")
        })
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Layer.mergeAll(transport, KeyStore.layerMemory, Crypto.layerNode),
        scope
      )
      const refresher = yield* KeyRefresher.make({
        endpoint: "/v2/key/sharing",
        jitter: 0,
        interval: "1 minute",
        retryBase: "1 second"
      })
        .pipe(Effect.provide(context), Scope.extend(scope))
      yield* TestClock.adjust("1 minute") // the defect
      const afterDefect = yield* refresher.status
      expect(afterDefect).toMatchObject({ defects: 1, consecutiveFailures: 1, ready: true })
      expect(afterDefect.lastFailure?.error._tag).toBe("RefreshDefect")
      for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 second") // retried
      expect(n).toBe(3)
      yield* TestClock.adjust("1 minute")
      expect(n).toBe(4)
      expect(yield* refresher.status).toMatchObject({ defects: 1, consecutiveFailures: 0 })
    }))

  it.effect("on-demand refresh fails typed and keeps the ring; concurrent refreshes share the lock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls, refresher, ring } = yield* start([
        responseFor(sharingRing(NOW)),
        unreachable,
        responseFor(sharingRing(NOW + 1))
      ])
      const before = ring()
      const error = yield* Effect.flip(refresher.refresh)
      expect(error._tag).toBe("OperatorUnreachable")
      expect(ring()).toBe(before)
      const both = yield* Effect.all([refresher.refresh, refresher.refresh], { concurrency: 2 })
      expect(both.length).toBe(2)
      expect(calls.length).toBe(4)
    }))

  it.effect("stops refreshing when its scope closes, and releases its ring", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { calls, scope, refresher } = yield* start([responseFor(sharingRing(NOW))], { interval: "1 minute" })
      yield* TestClock.adjust("1 minute")
      expect(calls.length).toBe(2)
      yield* Scope.close(scope, Exit.void)
      expect(refresher.current()).toBeUndefined()
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

const fiberResult = <A, E>(fiber: Fiber.Fiber<A, E>) => Fiber.join(fiber)
