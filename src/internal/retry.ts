import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/** What the retry schedule reads of a failure. */
export interface Retryable {
  readonly transient: boolean
  readonly retryAfterMillis?: number | undefined
}

/** The one retry policy: exponential from `base`, jittered, capped at `cap`, honouring Retry-After. */
export interface RetryPolicy {
  readonly times?: number | undefined
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/** Placeholder until the transport's schedule lands. */
export const retrySchedule = <E extends Retryable>(policy: RetryPolicy): Schedule.Schedule<unknown, E> => {
  const cap = Duration.toMillis(policy.cap)
  const delays = Schedule.exponential(policy.base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((d) => Duration.millis(Math.min(cap, Duration.toMillis(d))))
  )
  const counted = policy.times === undefined || policy.times === Infinity
    ? delays
    : delays.pipe(Schedule.intersect(Schedule.recurs(policy.times)), Schedule.map(([d]) => d))
  return Schedule.identity<E>().pipe(
    Schedule.zipRight(counted),
    Schedule.whileInput((e: E) => e.transient)
  )
}
