// Opt-out status: the client against TestOperator over loopback HTTP (results,
// sequential requests by default, a declared Private Operator in parallel, retries
// and failures), the operator's own checks, and response checks over a recording
// transport.
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { randomBytes } from "node:crypto"
import * as Crypto from "../src/Crypto.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as OptOut from "../src/OptOut.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { optOutClient } from "./batchClients.js"

const {
  DSP_CLIENT,
  MAPPER_CLIENT,
  Paths,
  PUBLISHER_CLIENT,
  SHARER_CLIENT,
  TEST_IDENTITIES_OPTED_OUT_SINCE,
  TestIdentities
} = TestOperator
const STATUS = Paths.optoutStatus
const start = Effect.orDie(TestOperator.make())

/** Fresh raw UID2s (33 bytes, like the operator's), none of them opted out. */
const rawUids = (n: number) => Array.from({ length: n }, () => randomBytes(33).toString("base64"))

const run = (client: OptOut.OptOutClientShape, ids: ReadonlyArray<string>, options?: OptOut.StatusOptions) =>
  Effect.map(Stream.runCollect(client.statusStream(Stream.fromIterable(ids), options)), Chunk.toReadonlyArray)

/** A `RequestRule.when` that matches opt-out requests carrying `id`. */
const carriesId = (id: string) => (payload: unknown) =>
  (payload as { advertising_ids?: ReadonlyArray<string> }).advertising_ids?.includes(id) ?? false

describe("opt-out status against TestOperator (loopback HTTP)", () => {
  it.scopedLive("a result per raw UID: opted out (since, in ms), not opted out, invalid; duplicates answered alike", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* optOutClient(operator)
      const optedEmail = yield* operator.rawUidOf({ email: TestIdentities.optoutEmail })
      const optedPhone = yield* operator.rawUidOf({ phone: TestIdentities.optoutPhone })
      const fine = yield* operator.rawUidOf({ email: "fine@example.com" })
      const v2Style = randomBytes(32).toString("base64") // a 32-byte raw UID is valid too
      const response = yield* client.status([
        optedEmail,
        fine,
        optedPhone,
        "not a raw uid",
        v2Style,
        optedEmail,
        "A".repeat(42) + "B="
      ])

      expect(response.results.map((r) => r._tag)).toEqual([
        "OptedOut",
        "NotOptedOut",
        "OptedOut",
        "Invalid",
        "NotOptedOut",
        "OptedOut",
        "Invalid" // 44 characters of Base64, but not canonical (non-zero padding bits)
      ])
      const since = response.optedOut.get(optedEmail)!.optedOutSince
      expect(DateTime.toEpochMillis(since)).toBe(TEST_IDENTITIES_OPTED_OUT_SINCE)
      expect(DateTime.toEpochMillis(response.optedOut.get(optedPhone)!.optedOutSince)).toBe(
        TEST_IDENTITIES_OPTED_OUT_SINCE
      )
      expect(response.invalid.get("not a raw uid")!.error.reason).toBe("NotRawUid")
      expect(response.optedOut.size).toBe(2)
      expect(yield* operator.requestCount(STATUS)).toBe(1)
    }))

  it.scopedLive("an identity opted out later is reported from then on, also under its raw UID from before a salt rotation", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* optOutClient(operator)
      const before = yield* operator.rawUidOf({ email: "leaving@example.com" })
      expect((yield* client.status([before])).notOptedOut.has(before)).toBe(true)

      const t0 = yield* operator.now
      yield* operator.optOut({ email: "leaving@example.com" })
      const t1 = yield* operator.now
      yield* operator.rotateSalts()
      const after = yield* operator.rawUidOf({ email: "leaving@example.com" })
      expect(after).not.toBe(before)
      const response = yield* client.status([before, after])
      expect(response.optedOut.size).toBe(2)
      const since = DateTime.toEpochMillis(response.optedOut.get(after)!.optedOutSince)
      expect(since).toBeGreaterThanOrEqual(t0)
      expect(since).toBeLessThanOrEqual(t1)
    }))

  it.scopedLive("never two requests in flight by default; several only for a declared Private Operator", () =>
    Effect.gen(function*() {
      const operator = yield* start
      yield* operator.setLatency("50 millis") // would overlap if sent in parallel
      const ids = rawUids(12)

      const sequential = yield* optOutClient(operator, { maxBatchItems: 2 })
      expect(yield* run(sequential, ids)).toHaveLength(12)
      expect(yield* operator.requestCount(STATUS)).toBe(6)
      expect(yield* operator.maxInFlight(STATUS)).toBe(1)

      // a per-call option without privateOperator keeps the client's (sequential) setting
      yield* operator.clearRequests()
      expect(yield* run(sequential, ids, { maxBatchItems: 4 })).toHaveLength(12)
      expect(yield* operator.requestCount(STATUS)).toBe(3)
      expect(yield* operator.maxInFlight(STATUS)).toBe(1)

      yield* operator.clearRequests()
      const parallel = yield* optOutClient(operator, { maxBatchItems: 2, privateOperator: { concurrency: 3 } })
      const results = yield* run(parallel, ids)
      expect(results.map((r) => r.rawUid)).toEqual(ids) // still in input order
      const peak = yield* operator.maxInFlight(STATUS)
      expect(peak).toBeLessThanOrEqual(3)
      expect(peak).toBeGreaterThan(1)
    }))

  it.scopedLive("retries through the transport; a request failing after its retries fails exactly its raw UIDs", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* optOutClient(operator, { maxBatchItems: 3 })
      const ids = rawUids(9)
      yield* operator.scriptRequests({ path: STATUS, when: carriesId(ids[1]!), status: 429, times: 2 })
      yield* operator.scriptRequests({ path: STATUS, when: carriesId(ids[7]!), status: 503, times: Infinity })
      const progress = yield* OptOut.makeProgress
      const results = yield* run(client, ids, { progress })
      expect(results.map((r) => r._tag)).toEqual([
        "NotOptedOut",
        "NotOptedOut",
        "NotOptedOut",
        "NotOptedOut",
        "NotOptedOut",
        "NotOptedOut",
        "Failed",
        "Failed",
        "Failed"
      ])
      expect(results.map((r) => r.rawUid)).toEqual(ids)
      expect(yield* operator.requestCount(STATUS)).toBe(3 + 2 + 3)
      expect(yield* operator.maxInFlight(STATUS)).toBe(1)
      expect(yield* SubscriptionRef.get(progress)).toEqual({
        read: 9,
        optedOut: 0,
        notOptedOut: 6,
        invalid: 0,
        failed: 3,
        requests: 3,
        inFlight: 0,
        retries: 5
      })
    }))

  it.scopedLive("batches of at most 5,000; 0 and 1 raw UIDs", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* optOutClient(operator)
      const sizes: Array<number> = []
      yield* operator.scriptRequests({
        path: STATUS,
        times: Infinity,
        when: (payload) => {
          sizes.push((payload as { advertising_ids: ReadonlyArray<string> }).advertising_ids.length)
          return false
        }
      })
      expect(yield* run(client, [])).toEqual([])
      expect(sizes).toEqual([])
      const one = rawUids(1)
      expect((yield* run(client, one)).map((r) => r._tag)).toEqual(["NotOptedOut"])
      const many = yield* run(client, rawUids(5_001))
      expect(many).toHaveLength(5_001)
      expect(sizes).toEqual([1, 5_000, 1])
    }))

  it.scopedLive("the operator: roles, the 5,000 limit and malformed requests", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const post = (credentials: TestOperator.ClientCredentials, payload: unknown) =>
        Effect.flatMap(HttpTransport.HttpTransport, (t) =>
          t.post(STATUS, new TextEncoder().encode(JSON.stringify(payload)))).pipe(
            Effect.provide(
              HttpTransport.layerNode({
                baseUrl: operator.baseUrl,
                apiKey: Redacted.make(credentials.apiKey),
                secretKey: Redacted.make(credentials.secret),
                retry: { times: 0 }
              }).pipe(Layer.provide(Crypto.layerNode), Layer.orDie)
            ),
            Effect.either
          )
      for (const client of [MAPPER_CLIENT, DSP_CLIENT, SHARER_CLIENT]) {
        const ok = yield* post(client, { advertising_ids: rawUids(2) })
        expect(ok._tag === "Right" && JSON.parse(ok.right)).toEqual({ body: { opted_out: [] }, status: "success" })
      }
      const rejected = (e: any) =>
        e._tag === "Left" && e.left._tag === "OperatorRejected" ? e.left.httpStatus : e
      expect(rejected(yield* post(PUBLISHER_CLIENT, { advertising_ids: [] }))).toBe(401)
      expect(rejected(yield* post(MAPPER_CLIENT, { advertising_ids: rawUids(5_001) }))).toBe(400)
      expect(rejected(yield* post(MAPPER_CLIENT, {}))).toBe(400)
      expect(rejected(yield* post(MAPPER_CLIENT, { advertising_ids: [1, 2] }))).toBe(400)
      const exactly = yield* post(MAPPER_CLIENT, { advertising_ids: rawUids(5_000) })
      expect(exactly._tag).toBe("Right")
    }))
})

describe("opt-out status responses", () => {
  /** An opt-out client over a transport that answers every request with `answer(request)`. */
  const answering = (answer: (request: { advertising_ids: Array<string> }) => unknown) =>
    Layer.effect(OptOut.OptOutClient, OptOut.make()).pipe(
      Layer.provide(Layer.succeed(
        HttpTransport.HttpTransport,
        HttpTransport.HttpTransport.of({
          post: (_path, payload) =>
            Effect.sync(() => JSON.stringify(answer(JSON.parse(new TextDecoder().decode(payload))))),
          postRaw: () => Effect.die("not used")
        })
      ))
    )
  const statusWith = (answer: (request: { advertising_ids: Array<string> }) => unknown, ids: ReadonlyArray<string>) =>
    Effect.provide(Effect.flatMap(OptOut.OptOutClient, (c) => c.status(ids)), answering(answer))

  it.effect("a missing opted_out means nobody opted out; duplicates are sent once", () =>
    Effect.gen(function*() {
      const ids = rawUids(2)
      let sent: Array<string> = []
      const response = yield* statusWith((request) => {
        sent = request.advertising_ids
        return { status: "success", body: {} }
      }, [ids[0]!, ids[1]!, ids[0]!])
      expect(sent).toEqual(ids)
      expect(response.results.map((r) => r._tag)).toEqual(["NotOptedOut", "NotOptedOut", "NotOptedOut"])
    }))

  it.effect("an id that was not requested, a bad time or a bad status fails the whole request", () =>
    Effect.gen(function*() {
      const ids = rawUids(2)
      const other = rawUids(1)[0]!
      const cases: ReadonlyArray<[unknown, string]> = [
        [{ status: "success", body: { opted_out: [{ advertising_id: other, opted_out_since: 1 }] } }, "not requested"],
        [
          { status: "success", body: { opted_out: [{ advertising_id: ids[0], opted_out_since: "yesterday" }] } },
          "opted_out_since"
        ],
        [
          { status: "success", body: { opted_out: [{ advertising_id: ids[0], opted_out_since: 1e300 }] } },
          "opted_out_since"
        ],
        [{ status: "success", body: { opted_out: {} } }, "not an array"],
        [{ status: "unauthorized" }, "Got unexpected opt-out status response status: unauthorized"],
        ["not an object", "not a JSON object"]
      ]
      for (const [answer, message] of cases) {
        const response = yield* statusWith(() => answer, ids)
        expect(response.failed.size).toBe(2)
        expect(response.failed.get(ids[0]!)!.error.message).toContain(message)
        expect(response.failed.get(ids[0]!)!.error.message).not.toContain(ids[0]!)
      }
      const ok = yield* statusWith(
        () => ({
          status: "success",
          body: { opted_out: [{ advertising_id: ids[1], opted_out_since: 1_633_643_601_000 }] }
        }),
        ids
      )
      expect(ok.optedOut.get(ids[1]!)!.optedOutSince).toEqual(DateTime.unsafeMake(1_633_643_601_000))
      expect(ok.notOptedOut.has(ids[0]!)).toBe(true)
    }))

  it.effect("values that are not strings are Invalid, never sent", () =>
    Effect.gen(function*() {
      let calls = 0
      const response = yield* statusWith(() => {
        calls++
        return { status: "success", body: {} }
      }, [null as unknown as string, 7 as unknown as string])
      expect(response.results.map((r) => r._tag === "Invalid" && r.error.reason)).toEqual(["NotAString", "NotAString"])
      expect(calls).toBe(0)
    }))
})
