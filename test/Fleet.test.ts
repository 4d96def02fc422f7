// A fleet of real processes sharing one Redis and one operator on 127.0.0.1: one key request per
// refresh interval for the whole fleet, rotations reach every process, and Redis faults never stop
// decryption. Every worker and redis-server started here is killed when its test ends.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestOperator from "../src/testing/TestOperator.js"
import { decryptOnAll, perInterval, startWorker, statuses } from "./support/fleet.js"
import { ownRedis, randomPrefix, rawRedis, REDIS_URL } from "./support/redis.js"

const INTERVAL_MS = 1_000
const KEY_PATH = "/v2/key/bidstream"

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

const requestTimes = (op: TestOperator.TestOperatorShape) =>
  Effect.map(op.requests, (all) => all.filter((r) => r.path === KEY_PATH).map((r) => r.atMs))

describe("a fleet of processes on one Redis", () => {
  it.scopedLive(
    "4 workers: at most one key request per interval, and a rotation reaches every worker",
    () =>
      quiet(Effect.gen(function*() {
        const op = yield* TestOperator.make()
        const options = {
          operatorUrl: op.baseUrl,
          redisUrl: REDIS_URL,
          keyPrefix: randomPrefix(),
          intervalMs: INTERVAL_MS
        }
        // The first fetches at start-up; the rest start warm from the ring it saved.
        const first = yield* startWorker(options, 1)
        const rest = yield* Effect.forEach([2, 3, 4], (id) => startWorker(options, id), { concurrency: "unbounded" })
        const workers = [first, ...rest]
        expect(rest.map((w) => w.lines.find((l) => l.startsWith("ready")))).toEqual([
          "ready store",
          "ready store",
          "ready store"
        ])

        const start = yield* op.now
        const intervals = 6
        yield* Effect.sleep(intervals * INTERVAL_MS)
        const times = yield* requestTimes(op)
        const counts = perInterval(times, start, INTERVAL_MS, intervals)
        console.log(`fleet of 4: key requests per ${INTERVAL_MS} ms interval: ${counts.join(" ")}`)
        for (const count of counts) expect(count).toBeLessThanOrEqual(1)
        // Refreshes do happen: the fleet is not simply idle.
        expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(intervals - 2)

        // A rotation: a token under the new keys decrypts on every worker once the next refresh lands.
        yield* op.rotateKeys()
        const issued = yield* op.issueToken({ email: "fleet@example.com" })
        const delays = yield* decryptOnAll(workers, "rotated", issued.advertisingToken, "30 seconds")
        console.log(
          `fleet of 4: rotation reached every worker within ${Math.max(...delays).toFixed(0)} ms (${
            delays.map((d) => d.toFixed(0)).join(", ")
          })`
        )
        expect(delays.every((d) => d < 20_000)).toBe(true)
      })),
    120_000
  )

  it.scopedLive(
    "Redis faults: killed mid-run, workers decrypt and refresh on their own; they rejoin after restart; garbage is ignored",
    () =>
      quiet(Effect.gen(function*() {
        const op = yield* TestOperator.make()
        const redis = yield* ownRedis
        const options = {
          operatorUrl: op.baseUrl,
          redisUrl: redis.url,
          keyPrefix: randomPrefix(),
          intervalMs: INTERVAL_MS
        }
        const first = yield* startWorker(options, 1)
        const rest = yield* Effect.forEach([2, 3], (id) => startWorker(options, id), { concurrency: "unbounded" })
        const workers = [first, ...rest]
        const before = yield* op.issueToken({ email: "before@example.com" })
        yield* decryptOnAll(workers, "before", before.advertisingToken)

        // Redis dies: every worker keeps decrypting, and refreshes from the operator on its own.
        yield* redis.stop
        const downSince = yield* op.now
        yield* decryptOnAll(workers, "during", before.advertisingToken)
        yield* op.rotateKeys()
        const during = yield* op.issueToken({ email: "during@example.com" })
        const delays = yield* decryptOnAll(workers, "rotated-during-outage", during.advertisingToken, "30 seconds")
        console.log(`Redis down: rotation reached every worker within ${Math.max(...delays).toFixed(0)} ms`)
        const whileDown = (yield* requestTimes(op)).filter((t) => t >= downSince).length
        expect(whileDown).toBeGreaterThanOrEqual(workers.length)

        // Redis is back (empty: no persistence): the workers coordinate again.
        yield* redis.start
        // Reconnect backoff is capped at 5 s; then a cycle or two to settle.
        yield* Effect.sleep(7_000)
        const rejoined = yield* op.now
        yield* Effect.sleep(4 * INTERVAL_MS)
        const counts = perInterval(yield* requestTimes(op), rejoined, INTERVAL_MS, 4)
        console.log(`Redis back: key requests per interval ${counts.join(" ")}`)
        for (const count of counts) expect(count).toBeLessThanOrEqual(1)
        const sources = (yield* statuses(workers)).map((s) => s.source)
        expect(sources.filter((s) => s === "peer").length).toBeGreaterThanOrEqual(workers.length - 1)

        // Garbage in the ring's key: logged and ignored; decryption goes on; the next refresh repairs it.
        const raw = yield* rawRedis(redis.url)
        const ringKey = `{${options.keyPrefix}:bidstream}:ring`
        yield* Effect.promise(() => raw.hset(ringKey, "d", "Z2FyYmFnZQ=="))
        yield* decryptOnAll(workers, "garbage", during.advertisingToken)
        yield* Effect.sleep(3 * INTERVAL_MS)
        const logged = workers.some((w) => w.lines.some((l) => l.includes("holds an unreadable ring")))
        expect(logged).toBe(true)
        const repaired = yield* Effect.promise(() => raw.hget(ringKey, "d"))
        expect(repaired).not.toBe("Z2FyYmFnZQ==")
      })),
    180_000
  )
})
