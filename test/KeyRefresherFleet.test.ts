// Fleet coordination in KeyRefresher, under TestClock: several clients sharing one store that has
// a lease refresh once per interval between them; a failing store makes each refresh on its own.
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Crypto from "../src/Crypto.js"
import { HttpTransport } from "../src/HttpTransport.js"
import * as KeyRefresher from "../src/KeyRefresher.js"
import * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { sharingRing } from "../src/testing/Builders.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const HOUR = 3_600_000

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

// An operator that answers each key request with a ring made at the request's time, and counts requests.
const countingOperator = () => {
  const calls: Array<number> = []
  const transport = HttpTransport.of({
    post: () =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        calls.push(now)
        return JSON.stringify({ body: KeyRing.toBody(sharingRing(Math.floor(now / 1000) * 1000)), status: "success" })
      }),
    postRaw: () => Effect.die("not used")
  })
  return { calls, layer: Layer.succeed(HttpTransport, transport) }
}

// A shared in-memory store with a change feed and a lease, like the Redis store's, plus a switch to make it fail.
const leasedMemory = Effect.gen(function*() {
  const saved = yield* PubSub.unbounded<KeyStore.StoredRing>()
  let stored: KeyStore.StoredRing | undefined
  let holder: { token: number; until: number } | undefined
  let nextToken = 0
  let down = false
  const failing = (operation: "load" | "save" | "lease", slot: string) =>
    Effect.fail(new KeyStore.KeyStoreError({ operation, slot, detail: "down" }))
  const store = KeyStore.make({
    name: "shared",
    load: (slot) => down ? failing("load", slot) : Effect.sync(() => Option.fromNullable(stored)),
    save: (slot, next) =>
      down ? failing("save", slot) : Effect.suspend(() => {
        if (stored !== undefined && stored.fetchedAt > next.fetchedAt) return Effect.void
        stored = next
        return Effect.asVoid(PubSub.publish(saved, next))
      }),
    watch: () => Stream.fromPubSub(saved),
    lease: (slot, ttl) =>
      down ? failing("lease", slot) : Effect.map(Clock.currentTimeMillis, (now) => {
        if (holder !== undefined && holder.until > now) return Option.none()
        const mine = { token: nextToken++, until: now + Duration.toMillis(ttl) }
        holder = mine
        const held = () => holder?.token === mine.token
        return Option.some<KeyStore.Lease>({
          release: Effect.sync(() => {
            if (held()) holder = undefined
          }),
          extend: Effect.map(Clock.currentTimeMillis, (t) => {
            if (!held()) return false
            mine.until = t + Duration.toMillis(ttl)
            return true
          })
        })
      })
  })
  return { store, setDown: (value: boolean) => (down = value) }
})

const startClient = (store: KeyStore.KeyStoreShape, options: Partial<KeyRefresher.Options> = {}) =>
  Effect.gen(function*() {
    const operator = countingOperator()
    const context = yield* Layer.build(
      Layer.mergeAll(operator.layer, Layer.succeed(KeyStore.KeyStore, store), Crypto.layerNode)
    )
    const refresher = yield* KeyRefresher.make({ endpoint: "/v2/key/sharing", jitter: 0, interval: HOUR, ...options })
      .pipe(
        Effect.provide(context)
      )
    return { refresher, calls: operator.calls }
  })

describe("KeyRefresher in a fleet", () => {
  it.scoped("clients sharing a leased store call the operator once per interval between them", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { store } = yield* leasedMemory
      const clients = []
      for (let i = 0; i < 4; i++) clients.push(yield* startClient(store, { jitter: 0.1 }))
      // The first fetched at start-up; the others started warm from its ring.
      expect(clients.map((c) => c.calls.length)).toEqual([1, 0, 0, 0])
      for (const c of clients.slice(1)) expect((yield* c.refresher.status).source).toBe("store")
      const intervals = 6
      for (let i = 0; i < intervals * 10; i++) yield* TestClock.adjust(HOUR / 10)
      const total = clients.reduce((n, c) => n + c.calls.length, 0)
      // Fetches are at least (1 − jitter) intervals apart, whoever makes them.
      const fetchTimes = clients.flatMap((c) => c.calls).sort((a, b) => a - b)
      for (let i = 1; i < fetchTimes.length; i++) {
        expect(fetchTimes[i]! - fetchTimes[i - 1]!).toBeGreaterThanOrEqual(0.9 * HOUR)
      }
      expect(total).toBeLessThanOrEqual(1 + Math.ceil(intervals / 0.9))
      expect(total).toBeGreaterThanOrEqual(intervals - 1)
      // Every client holds the newest ring, and it is never older than about two intervals.
      const newest = fetchTimes[fetchTimes.length - 1]!
      for (const c of clients) {
        const status = yield* c.refresher.status
        expect(status.ringFetchedAt).toBe(newest)
        expect(status.ringAgeMs!).toBeLessThan(2.2 * HOUR)
      }
    })))

  it.scoped("a client that does not get the lease takes the leader's ring from the change feed", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { store } = yield* leasedMemory
      const a = yield* startClient(store)
      const b = yield* startClient(store)
      // Someone else holds the lease (a third process mid-fetch): both wait, and the ring it saves reaches both.
      yield* TestClock.adjust(HOUR - 1_000)
      const held = Option.getOrThrow(yield* store.lease!("sharing", Duration.minutes(1)))
      yield* TestClock.adjust(1_000)
      expect(a.calls.length + b.calls.length).toBe(1)
      const ring = sharingRing(NOW + HOUR)
      yield* store.save("sharing", { ring, fetchedAt: NOW + HOUR })
      yield* held.release
      yield* TestClock.adjust("1 second")
      expect(a.refresher.current()?.ring).toBe(ring)
      expect(b.refresher.current()?.ring).toBe(ring)
      expect(a.calls.length + b.calls.length).toBe(1)
      expect((yield* b.refresher.status).source).toBe("peer")
    })))

  it.scoped("a leader that never saves: the others fetch themselves once its lease lapses", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { store } = yield* leasedMemory
      const a = yield* startClient(store)
      yield* TestClock.adjust(HOUR - 1_000)
      yield* store.lease!("sharing", Duration.seconds(15)) // a leader that dies holding it
      yield* TestClock.adjust(1_000)
      expect(a.calls.length).toBe(1)
      yield* TestClock.adjust("16 seconds")
      expect(a.calls.length).toBe(2)
    })))

  it.scoped("a failing store: each client keeps its ring, refreshes on its own after a jittered pause, and rejoins", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const shared = yield* leasedMemory
      const a = yield* startClient(shared.store)
      const b = yield* startClient(shared.store)
      const ring = a.refresher.current()!.ring
      yield* TestClock.adjust("1 second") // b's catch-up takes a's ring from the store
      shared.setDown(true)
      // To the refresh time exactly: the store fails now, and the client's own fetch waits for its
      // random pause (0 to 30 s), so the ring in use stays.
      yield* TestClock.adjust(HOUR - 1_000)
      expect(a.refresher.current()?.ring).toBe(ring)
      expect(a.calls.length).toBe(1)
      yield* TestClock.adjust(HOUR / 4)
      expect(a.calls.length).toBe(2)
      expect(b.calls.length).toBe(1)
      expect((yield* b.refresher.status).source).toBe("operator")
      // Back up: the next cycle coordinates again — one fetch for both.
      shared.setDown(false)
      const before = a.calls.length + b.calls.length
      for (let i = 0; i < 30; i++) yield* TestClock.adjust(HOUR / 10)
      const after = a.calls.length + b.calls.length
      expect(after - before).toBeLessThanOrEqual(3)
      expect(after - before).toBeGreaterThanOrEqual(2)
    })))

  it.scoped("metrics: refreshes by source, ring age, key count and decrypt outcomes", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const { store } = yield* leasedMemory
      const a = yield* startClient(store)
      const b = yield* startClient(store)
      for (let i = 0; i < 5; i++) b.refresher.record({ _tag: "ExpiredToken" })
      b.refresher.record({ _tag: "DecryptedToken" })
      yield* TestClock.adjust(HOUR + 10_000)
      const counter = (source: string) =>
        Metric.value(
          KeyRefresher.metrics.refreshes.pipe(
            Metric.tagged("endpoint", "/v2/key/sharing"),
            Metric.tagged("outcome", "success"),
            Metric.tagged("source", source)
          )
        )
      expect((yield* counter("operator")).count).toBeGreaterThanOrEqual(2)
      expect((yield* counter("store:shared")).count).toBeGreaterThanOrEqual(1)
      expect((yield* counter("peer:shared")).count).toBeGreaterThanOrEqual(1)
      const decrypts = (outcome: string) =>
        Metric.value(
          KeyRefresher.metrics.decrypts.pipe(
            Metric.tagged("endpoint", "/v2/key/sharing"),
            Metric.tagged("outcome", outcome)
          )
        )
      expect((yield* decrypts("ExpiredToken")).count).toBeGreaterThanOrEqual(5)
      expect((yield* decrypts("DecryptedToken")).count).toBeGreaterThanOrEqual(1)
      const age = yield* Metric.value(
        KeyRefresher.metrics.ringAgeSeconds.pipe(Metric.tagged("endpoint", "/v2/key/sharing"))
      )
      expect(age.value).toBeGreaterThanOrEqual(0)
      expect(age.value).toBeLessThan(HOUR / 1000)
      const keys = yield* Metric.value(KeyRefresher.metrics.keyCount.pipe(Metric.tagged("endpoint", "/v2/key/sharing")))
      expect(keys.value).toBe(a.refresher.current()!.ring.keys.length)
    })))
})
