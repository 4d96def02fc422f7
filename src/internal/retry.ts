/**
 * The one retry policy of the SDK: capped, jittered exponential backoff over
 * failures that say they are transient, honouring the operator's
 * `Retry-After`. The transport, the key refresher and the identity-map
 * pipeline all retry through {@link retrySchedule}, so they agree on what is
 * worth retrying and how long to wait.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/**
 * What the schedule reads from a failure: whether it may go away by itself,
 * and how long the operator asked us to wait (its `Retry-After`), if it did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Retryable {
  readonly transient: boolean
  readonly retryAfterMillis?: number | undefined
}

/**
 * The bounds of a random factor that multiplies each backoff delay (never a
 * `Retry-After`), so a fleet that failed together does not retry together.
 *
 * @since 0.1.0
 * @category models
 */
export interface Jitter {
  readonly min: number
  readonly max: number
}

/**
 * How a {@link retrySchedule} retries.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy {
  /** Retries after the first attempt; `undefined` or `Infinity` retries for as long as failures stay transient. */
  readonly times?: number | undefined
  /** The first backoff delay; each further retry doubles it. */
  readonly base: Duration.DurationInput
  /** The backoff stops doubling here (the bound applies before jitter). */
  readonly cap: Duration.DurationInput
  /** A `Retry-After` longer than this ends the retrying: the call fails with that error. Default: no bound. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** Default ±25%: each backoff delay is multiplied by a random factor in [0.75, 1.25]. */
  readonly jitter?: Jitter | undefined
}

/**
 * The jitter used when a policy names none: ±25%.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultJitter: Jitter = { min: 0.75, max: 1.25 }

/**
 * Whether a failure is worth another attempt. The schedule asks nothing else
 * of the error: its `transient` flag, set when the error was made, decides.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: Retryable): boolean => error.transient

/**
 * The retry schedule for a policy, to pass to `Effect.retry`. Its input is the
 * failure; its output is the last failure seen. After failure `n` (0-based)
 * it waits `min(cap, base × 2ⁿ)` times a jitter factor, or exactly the
 * failure's `retryAfterMillis` when it carries one. It stops on a permanent
 * failure, on a `Retry-After` beyond `maxRetryAfter`, and after `times`
 * retries.
 *
 * The schedule keeps no state between uses: one value serves every call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retrySchedule = <E extends Retryable = Retryable>(policy: RetryPolicy): Schedule.Schedule<E, E> => {
  const cap = Duration.decode(policy.cap)
  const jitter = policy.jitter ?? defaultJitter
  const maxRetryAfterMillis = policy.maxRetryAfter === undefined
    ? Infinity
    : Duration.toMillis(policy.maxRetryAfter)

  const backoff = Schedule.exponential(policy.base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap)),
    Schedule.jitteredWith(jitter),
    // whole milliseconds: clocks (and the envelope timestamps read from them) stay integral
    Schedule.modifyDelay((_, delay) => Duration.millis(Math.round(Duration.toMillis(delay))))
  )

  const schedule = Schedule.identity<E>().pipe(
    Schedule.zipLeft(backoff),
    Schedule.modifyDelay((error, delay) => error.retryAfterMillis === undefined ? delay : error.retryAfterMillis),
    Schedule.whileInput((error: E) => isRetryable(error)),
    Schedule.whileInput((error: E) =>
      error.retryAfterMillis === undefined || error.retryAfterMillis <= maxRetryAfterMillis
    )
  )

  const times = policy.times ?? Infinity
  if (times === Infinity) return schedule
  // a negative or NaN count (from untyped callers) means no retries, not an endless loop
  return Schedule.zipLeft(schedule, Schedule.recurs(times > 0 ? Math.floor(times) : 0))
}
