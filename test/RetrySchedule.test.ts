import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { isRetryable, retrySchedule } from "../src/internal/retry.js"

/** A scripted failure; structural equality, so exits can be compared. */
class Failure extends Data.Class<{
  readonly transient: boolean
  readonly retryAfterMillis?: number | undefined
  readonly label: string
}> {}
const transient = (label = "") => new Failure({ transient: true, label })
const permanent = (label = "") => new Failure({ transient: false, label })
const retryAfter = (ms: number) => new Failure({ transient: true, retryAfterMillis: ms, label: "" })

/** Lets fibers woken by a clock change run. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

interface Run {
  /** Clock time of each attempt. */
  readonly attempts: ReadonlyArray<number>
  /** The waits between consecutive attempts. */
  readonly waits: ReadonlyArray<number>
  readonly exit: Exit.Exit<number, Failure>
}

/**
 * `Effect.retry(attempt, schedule)` under TestClock, where attempt `n`
 * (1-based) fails with `script(n)` or succeeds when that is `undefined`. The
 * clock jumps straight to each pending wake-up, so every wait is measured
 * exactly. Stops after `maxAttempts` attempts (then `exit` is an interruption).
 */
const drive = (
  schedule: Schedule.Schedule<unknown, Failure>,
  script: (n: number) => Failure | undefined,
  maxAttempts = 1_000
): Effect.Effect<Run> =>
  Effect.gen(function*() {
    const attempts: Array<number> = []
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      attempts.push(now)
      const failure = script(attempts.length)
      return failure === undefined ? Effect.succeed(attempts.length) : Effect.fail(failure)
    })
    const fiber = yield* Effect.fork(Effect.retry(attempt, schedule))
    yield* settle
    while (fiber.unsafePoll() === null && attempts.length < maxAttempts) {
      const wake = Chunk.head(yield* TestClock.sleeps())
      if (wake._tag === "None") break
      yield* TestClock.setTime(wake.value)
      yield* settle
    }
    const exit = fiber.unsafePoll() ?? (yield* Fiber.interrupt(fiber))
    return { attempts, waits: attempts.slice(1).map((time, i) => time - attempts[i]!), exit }
  })

const noJitter = { min: 1, max: 1 }

describe("retrySchedule", () => {
  it.effect("isRetryable reads the transient flag only", () =>
    Effect.sync(() => {
      expect(isRetryable(transient())).toBe(true)
      expect(isRetryable(permanent())).toBe(false)
      expect(isRetryable(new Failure({ transient: false, retryAfterMillis: 1_000, label: "" }))).toBe(false)
    }))

  it.effect("without jitter the waits double from base: 100, 200, 400, 800, 1600 ms", () =>
    Effect.gen(function*() {
      const run = yield* drive(
        retrySchedule({ times: 5, base: "100 millis", cap: "1 minute", jitter: noJitter }),
        () => transient()
      )
      expect(run.waits).toEqual([100, 200, 400, 800, 1_600])
      expect(run.attempts).toHaveLength(6)
      expect(Exit.isFailure(run.exit)).toBe(true)
    }))

  it.effect("jitter stays within [0.75, 1.25] of each doubled delay and hits both ends", () =>
    Effect.gen(function*() {
      // the Random service is fixed: factors 0.75 (r = 0), 1.25 (r = 1), 1.0 (r = 0.5)
      const pinned = yield* drive(
        retrySchedule({ times: 3, base: "200 millis", cap: "30 seconds" }),
        () => transient()
      ).pipe(Effect.withRandomFixed([0, 1, 0.5]))
      expect(pinned.waits).toEqual([150, 500, 800])

      // a seeded generator: every wait inside its band, and not all of them on the unjittered value
      const seeded = yield* drive(
        retrySchedule({ times: 10, base: "200 millis", cap: "1 hour" }),
        () => transient()
      ).pipe(Effect.withRandom(Random.make("jitter")))
      expect(seeded.waits).toHaveLength(10)
      seeded.waits.forEach((wait, n) => {
        const backoff = 200 * 2 ** n
        expect(wait).toBeGreaterThanOrEqual(Math.floor(backoff * 0.75))
        expect(wait).toBeLessThanOrEqual(Math.ceil(backoff * 1.25))
        expect(Number.isInteger(wait)).toBe(true)
      })
      expect(seeded.waits.some((wait, n) => wait !== 200 * 2 ** n)).toBe(true)
    }))

  it.effect("the backoff is capped (before jitter)", () =>
    Effect.gen(function*() {
      const exact = yield* drive(
        retrySchedule({ times: 7, base: "1 second", cap: "5 seconds", jitter: noJitter }),
        () => transient()
      )
      expect(exact.waits).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000])

      // the key refresher's policy: 1 s doubling to 5 minutes, forever; after many failures still 5 min ±25%
      const refresher = yield* drive(
        retrySchedule({ base: "1 second", cap: "5 minutes" }),
        () => transient(),
        40
      ).pipe(Effect.withRandom(Random.make(7)))
      for (const wait of refresher.waits.slice(12)) {
        expect(wait).toBeGreaterThanOrEqual(225_000)
        expect(wait).toBeLessThanOrEqual(375_000)
      }
    }))

  it.effect("a Retry-After is waited exactly, without jitter, instead of the backoff", () =>
    Effect.gen(function*() {
      const run = yield* drive(
        retrySchedule({ times: 5, base: "100 millis", cap: "30 seconds", maxRetryAfter: "60 seconds" }),
        (n) => n === 1 ? retryAfter(5_000) : n === 2 ? retryAfter(0) : n === 3 ? transient() : undefined
      ).pipe(Effect.withRandomFixed([1]))
      // after failure 3 the backoff resumes at its third step: 400 ms × 1.25
      expect(run.waits).toEqual([5_000, 0, 500])
      expect(run.exit).toEqual(Exit.succeed(4))
    }))

  it.effect("a Retry-After beyond maxRetryAfter ends the retrying with that failure", () =>
    Effect.gen(function*() {
      const policy = { times: 5, base: "100 millis", cap: "30 seconds", maxRetryAfter: "60 seconds" } as const
      const tooLong = retryAfter(60_001)
      const run = yield* drive(retrySchedule(policy), () => tooLong)
      expect(run.attempts).toHaveLength(1)
      expect(run.exit).toEqual(Exit.fail(tooLong))

      // exactly the bound is still waited
      const atBound = yield* drive(retrySchedule(policy), (n) => n === 1 ? retryAfter(60_000) : undefined)
      expect(atBound.waits).toEqual([60_000])
      expect(atBound.exit).toEqual(Exit.succeed(2))
    }))

  it.effect("a permanent failure is never retried, however many retries are left", () =>
    Effect.gen(function*() {
      for (const times of [3, undefined]) {
        const first = permanent("first")
        const run = yield* drive(
          retrySchedule({ times, base: "10 millis", cap: "1 second" }),
          () => first
        )
        expect(run.attempts).toHaveLength(1)
        expect(run.exit).toEqual(Exit.fail(first))
      }
      // nor after transient ones: the permanent failure is what the caller sees
      const last = permanent("after two transient")
      const mixed = yield* drive(
        retrySchedule({ times: 10, base: "10 millis", cap: "1 second" }),
        (n) => n < 3 ? transient() : last
      )
      expect(mixed.attempts).toHaveLength(3)
      expect(mixed.exit).toEqual(Exit.fail(last))
    }))

  it.effect("times counts retries after the first attempt; 0, negative and NaN mean none", () =>
    Effect.gen(function*() {
      for (const [times, attempts] of [[0, 1], [1, 2], [3, 4], [2.9, 3], [-1, 1], [Number.NaN, 1]] as const) {
        const run = yield* drive(
          retrySchedule({ times, base: "10 millis", cap: "1 second" }),
          (n) => transient(`#${n}`)
        )
        expect(run.attempts).toHaveLength(attempts)
        // the caller gets the last failure
        expect(run.exit).toEqual(Exit.fail(transient(`#${attempts}`)))
      }
    }))

  it.effect("times undefined or Infinity retries for as long as failures are transient", () =>
    Effect.gen(function*() {
      for (const times of [undefined, Infinity]) {
        const run = yield* drive(
          retrySchedule({ times, base: "1 second", cap: "5 minutes" }),
          (n) => n <= 200 ? transient() : undefined
        )
        expect(run.attempts).toHaveLength(201)
        expect(run.exit).toEqual(Exit.succeed(201))
        // still backing off at the cap, not spinning
        expect(Math.min(...run.waits.slice(20))).toBeGreaterThanOrEqual(225_000)
      }
    }))

  it.effect("one schedule value serves many calls: no state leaks from one retry to the next", () =>
    Effect.gen(function*() {
      const shared = retrySchedule<Failure>({ times: 2, base: "100 millis", cap: "1 second", jitter: noJitter })
      const first = yield* drive(shared, () => transient())
      const second = yield* drive(shared, () => transient())
      expect(first.waits).toEqual([100, 200])
      expect(second.waits).toEqual([100, 200])
    }))
})
