/**
 * Times on the command line: `--now` as ISO-8601 or epoch milliseconds, and
 * epoch milliseconds printed as ISO-8601 or relative to now.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/** The largest epoch-ms value a JavaScript `Date` can hold. */
const MAX_DATE_MS = 8.64e15

/**
 * Parses a `--now` value: digits are epoch milliseconds, anything else must
 * be an ISO-8601 date-time (or date).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseInstant = (text: string): Either.Either<number, string> => {
  const value = text.trim()
  if (/^-?\d+$/.test(value)) {
    const ms = Number(value)
    return Math.abs(ms) <= MAX_DATE_MS
      ? Either.right(ms)
      : Either.left(`--now ${value} is out of range`)
  }
  // Date.parse accepts many non-ISO forms; require the ISO shape first.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    return Either.left(`--now must be ISO-8601 (e.g. 2024-05-01T12:00:00Z) or epoch milliseconds, got "${clip(value)}"`)
  }
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? Either.left(`--now "${clip(value)}" is not a valid date`) : Either.right(ms)
}

const clip = (text: string): string => text.length > 40 ? `${text.slice(0, 40)}…` : text

/**
 * Epoch milliseconds as ISO-8601, or `undefined` when a `Date` cannot hold them.
 *
 * @since 0.1.0
 * @category formatting
 */
export const iso = (ms: number): string | undefined =>
  Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : undefined

/**
 * Epoch milliseconds for JSON output: ISO-8601 when representable, else the
 * number itself (a garbage field of a failed token).
 *
 * @since 0.1.0
 * @category formatting
 */
export const isoOrMs = (ms: number): string | number => iso(ms) ?? ms

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ["year", 365 * 86_400_000],
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1_000]
]

/**
 * A duration in words, in its largest unit, rounded: "3 days", "15 minutes", "1 hour".
 *
 * @since 0.1.0
 * @category formatting
 */
export const duration = (ms: number): string => {
  const abs = Math.abs(ms)
  for (const [unit, size] of UNITS) {
    if (abs >= size) {
      const n = Math.round(abs / size)
      return `${n} ${unit}${n === 1 ? "" : "s"}`
    }
  }
  return `${Math.round(abs)} ms`
}

/**
 * `at` relative to `now`: "in 3 days" or "2 hours ago".
 *
 * @since 0.1.0
 * @category formatting
 */
export const relative = (at: number, now: number): string =>
  at >= now ? `in ${duration(at - now)}` : `${duration(now - at)} ago`

/**
 * `ms` as ISO-8601 followed by its distance from `now`, for people.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeInstant = (ms: number, now: number): string => {
  const text = iso(ms)
  return text === undefined ? `${ms} (not a valid date)` : `${text} (${relative(ms, now)})`
}
