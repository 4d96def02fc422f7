// The identity-map pipeline against TestOperator over loopback HTTP: scripted 429/503
// answers and stalls for particular batches, the in-flight limit counted at the
// operator, batch boundaries, ordering, progress and backpressure. Small batches via
// options everywhere except the one test at the real 5,000-item boundary.
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as IdentityMap from "../src/IdentityMap.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { carries, emailHashOf, identityMapClient } from "./batchClients.js"

const { Paths } = TestOperator
const MAP = Paths.identityMapV3
const start = Effect.orDie(TestOperator.make())

const emails = (n: number, prefix = "user") => Array.from({ length: n }, (_, i) => `${prefix}${i}@example.com`)
const run = (
  client: IdentityMap.IdentityMapClientShape,
  inputs: ReadonlyArray<string>,
  options?: IdentityMap.MapOptions
) =>
  Effect.map(
    Stream.runCollect(client.mapStream(Stream.fromIterable(inputs.map(IdentityMap.email)), options)),
    Chunk.toReadonlyArray
  )

/** Records the sizes of the identity-map requests the operator decrypts (a rule that never matches). */
const spySizes = (operator: TestOperator.TestOperatorShape) =>
  Effect.gen(function*() {
    const items: Array<number> = []
    const bytes: Array<number> = []
    yield* operator.scriptRequests({
      path: MAP,
      times: Infinity,
      when: (payload) => {
        const p = payload as { email_hash: ReadonlyArray<string>; phone_hash: ReadonlyArray<string> }
        items.push(p.email_hash.length + p.phone_hash.length)
        bytes.push(new TextEncoder().encode(JSON.stringify(payload)).length)
        return false
      }
    })
    return { items, bytes }
  })

describe("identity map pipeline (TestOperator, loopback HTTP)", () => {
  it.scopedLive("429 and 503 for scripted batches: one result per input; a batch failing after its retries fails exactly its items", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator, { maxBatchItems: 10, concurrency: 4 })
      const inputs = emails(120)
      yield* operator.scriptRequests({ path: MAP, when: carries(emailHashOf(inputs[15]!)), status: 429, times: 2 })
      yield* operator.scriptRequests({ path: MAP, when: carries(emailHashOf(inputs[57]!)), status: 503 })
      // more failures than the transport's 3 retries: the batch of items 100…109 fails
      yield* operator.scriptRequests({
        path: MAP,
        when: carries(emailHashOf(inputs[101]!)),
        status: 503,
        times: Infinity
      })
      const progress = yield* IdentityMap.makeProgress

      const results = yield* run(client, inputs, { progress })

      expect(results.map((r) => r.input.value)).toEqual(inputs) // exactly one each, in input order
      const failed = results.flatMap((r, i) => r._tag === "Failed" ? [i] : [])
      expect(failed).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i))
      const error = (results[100] as IdentityMap.Failed).error
      expect(error._tag === "OperatorRejected" && error.httpStatus).toBe(503)
      expect(results.filter((r) => r._tag === "Mapped")).toHaveLength(110)
      expect(yield* operator.requestCount(MAP)).toBe(12 + 2 + 1 + 3)
      expect(yield* SubscriptionRef.get(progress)).toEqual({
        read: 120,
        mapped: 110,
        unmapped: 0,
        invalid: 0,
        failed: 10,
        requests: 12,
        inFlight: 0,
        retries: 6
      })
    }))

  it.scopedLive("the most requests in flight, counted at the operator, never exceeds the limit", () =>
    Effect.gen(function*() {
      const operator = yield* start
      yield* operator.setLatency("100 millis") // answers overlap, so the limit is what bounds them

      const three = yield* identityMapClient(operator, { maxBatchItems: 5, concurrency: 3 })
      expect(yield* run(three, emails(60))).toHaveLength(60)
      expect(yield* operator.requestCount(MAP)).toBe(12)
      const peak = yield* operator.maxInFlight(MAP)
      expect(peak).toBeLessThanOrEqual(3)
      expect(peak).toBeGreaterThan(1) // the requests did overlap

      yield* operator.clearRequests()
      const defaults = yield* identityMapClient(operator, { maxBatchItems: 1 })
      expect(yield* run(defaults, emails(30))).toHaveLength(30)
      expect(yield* operator.maxInFlight(MAP)).toBeLessThanOrEqual(IdentityMap.MAX_CONCURRENCY)
      expect(yield* operator.maxInFlight(MAP)).toBeGreaterThan(3)

      // values above the documented maximum are capped to it
      yield* operator.clearRequests()
      const greedy = yield* identityMapClient(operator, { maxBatchItems: 1, concurrency: 500 })
      expect(yield* run(greedy, emails(30))).toHaveLength(30)
      expect(yield* operator.maxInFlight(MAP)).toBeLessThanOrEqual(IdentityMap.MAX_CONCURRENCY)
    }))

  it.scopedLive("batch boundaries at exactly 5,000 items", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      const spy = yield* spySizes(operator)
      const exactly = yield* run(client, emails(5_000))
      expect(spy.items).toEqual([5_000])
      const oneMore = yield* run(client, emails(5_001))
      expect(spy.items).toEqual([5_000, 5_000, 1])
      expect([...exactly, ...oneMore].every((r) => r._tag === "Mapped")).toBe(true)
      expect(oneMore.map((r) => r.input.value)).toEqual(emails(5_001))
    }))

  it.scopedLive("requests stay under 1 MB: long caller hashes are split by bytes", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      const spy = yield* spySizes(operator)
      const hashes = Array.from({ length: 4_100 }, (_, i) =>
        IdentityMap.emailHash(`${i}`.padStart(IdentityMap.MAX_HASH_INPUT_LENGTH, "#")))
      const response = yield* client.map(hashes)
      expect(spy.items.length).toBe(2)
      expect(spy.items.reduce((a, b) =>
        a + b, 0)).toBe(4_100)
      expect(spy.bytes.every((b) => b < IdentityMap.MAX_REQUEST_BYTES)).toBe(true)
      expect(response.results.every((r) => r._tag === "Unmapped" && r.reason === "InvalidIdentifier")).toBe(true)
    }))

  it.scopedLive("a stalled request times out and is retried", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator, { maxBatchItems: 5, timeout: "1 second" })
      const inputs = emails(20)
      yield* operator.scriptRequests({ path: MAP, when: carries(emailHashOf(inputs[7]!)), stall: "1 hour" })
      const progress = yield* IdentityMap.makeProgress
      const results = yield* run(client, inputs, { progress })
      expect(results.map((r) => r._tag)).toEqual(inputs.map(() => "Mapped"))
      expect(yield* operator.requestCount(MAP)).toBe(5)
      expect((yield* operator.requests).filter((r) => r.fault === "scripted")).toHaveLength(1)
      expect((yield* SubscriptionRef.get(progress)).retries).toBe(1)
    }))

  it.scopedLive("input of 0 items and of 1 item", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      expect(yield* run(client, [])).toEqual([])
      expect(yield* operator.requestCount()).toBe(0)
      const one = yield* run(client, ["only@example.com"])
      expect(one).toHaveLength(1)
      expect(one[0]!._tag === "Mapped" && one[0]!.currentRawUid).toBe(
        yield* operator.rawUidOf({ email: "only@example.com" })
      )
      expect(yield* operator.requestCount(MAP)).toBe(1)
    }))

  it.scopedLive("results keep input order when an early batch is slow; unordered still gives one result per input", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator, { maxBatchItems: 4, concurrency: 4 })
      const inputs = emails(40)
      yield* operator.scriptRequests({ path: MAP, when: carries(emailHashOf(inputs[0]!)), stall: "300 millis" })
      expect((yield* run(client, inputs)).map((r) => r.input.value)).toEqual(inputs)

      yield* operator.scriptRequests({ path: MAP, when: carries(emailHashOf(inputs[0]!)), stall: "300 millis" })
      const unordered = yield* run(client, inputs, { ordered: false })
      expect(unordered.map((r) => r.input.value).sort()).toEqual([...inputs].sort())
    }))

  it.scopedLive("progress can be followed as a stream of snapshots", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator, { maxBatchItems: 3 })
      const progress = yield* IdentityMap.makeProgress
      const inputs = emails(30)
      const watcher = yield* progress.changes.pipe(
        Stream.takeUntil((p) => IdentityMap.settled(p) === inputs.length),
        Stream.runCollect,
        Effect.fork
      )
      yield* run(client, inputs, { progress })
      const snapshots = Chunk.toReadonlyArray(yield* Fiber.join(watcher))
      const settled = snapshots.map(IdentityMap.settled)
      expect(settled).toEqual([...settled].sort((a, b) => a - b))
      expect(snapshots.at(-1)).toMatchObject({ read: 30, mapped: 30, requests: 10, inFlight: 0 })
      expect(snapshots.every((p) => p.inFlight >= 0 && p.inFlight <= IdentityMap.MAX_CONCURRENCY)).toBe(true)
    }))

  it.scopedLive("an endless input is read only as far as the results are taken", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator, { maxBatchItems: 5, concurrency: 2 })
      const endless = Stream.iterate(0, (n) => n + 1).pipe(Stream.map((n) => IdentityMap.email(`user${n}@example.com`)))
      const taken = yield* Stream.runCollect(Stream.take(client.mapStream(endless), 25))
      expect(Chunk.size(taken)).toBe(25)
      // 5 batches were needed; a bounded number more were prepared or in flight when the stream stopped
      expect(yield* operator.requestCount(MAP)).toBeLessThanOrEqual(10)
    }))
})
