/**
 * Progress of the batch commands on stderr: on a terminal, a bar redrawn in
 * place (items, rate, ETA, retries, requests in flight); otherwise a plain
 * line every few seconds and one when the run ends, so stdout stays the
 * results alone (`uid2 map in.csv > out.ndjson`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type TextSink, write } from "./terminal.js"

/**
 * What the bar shows at one moment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Items with a result. */
  readonly done: number
  /** Items in the input, when known. */
  readonly total: number | undefined
  readonly retries: number
  readonly inFlight: number
}

const thousands = (n: number): string => Math.round(n).toLocaleString("en-US")

const eta = (snapshot: Snapshot, rate: number): string | undefined => {
  if (snapshot.total === undefined || rate <= 0) return undefined
  const seconds = Math.max(0, (snapshot.total - snapshot.done) / rate)
  return seconds < 60
    ? `${Math.ceil(seconds)}s`
    : `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`
}

/**
 * Items per second so far.
 *
 * @since 0.1.0
 * @category rendering
 */
export const rateOf = (snapshot: Snapshot, elapsedMs: number): number =>
  elapsedMs <= 0 ? 0 : snapshot.done / (elapsedMs / 1000)

const counts = (snapshot: Snapshot, noun: string) =>
  snapshot.total === undefined
    ? `${thousands(snapshot.done)} ${noun}`
    : `${thousands(snapshot.done)}/${thousands(snapshot.total)} ${noun}`

const tail = (snapshot: Snapshot, elapsedMs: number): Array<string> => {
  const rate = rateOf(snapshot, elapsedMs)
  const left = eta(snapshot, rate)
  return [
    `${thousands(rate)}/s`,
    ...(left === undefined ? [] : [`ETA ${left}`]),
    `${snapshot.retries} ${snapshot.retries === 1 ? "retry" : "retries"}`,
    `${snapshot.inFlight} in flight`
  ]
}

/**
 * The bar line for a terminal `columns` wide (without `\r`).
 *
 * @since 0.1.0
 * @category rendering
 */
export const barLine = (
  label: string,
  noun: string,
  snapshot: Snapshot,
  elapsedMs: number,
  columns: number
): string => {
  const text = [counts(snapshot, noun), ...tail(snapshot, elapsedMs)].join("  ")
  const fraction = snapshot.total === undefined || snapshot.total === 0
    ? undefined
    : Math.min(1, snapshot.done / snapshot.total)
  const percent = fraction === undefined ? "" : ` ${String(Math.floor(fraction * 100)).padStart(3)}%`
  const room = columns - label.length - text.length - percent.length - 5
  if (room < 10 || fraction === undefined) return `${label}${percent} ${text}`.slice(0, Math.max(0, columns - 1))
  const width = Math.min(40, room)
  const filled = Math.round(fraction * width)
  return `${label} [${"█".repeat(filled)}${"░".repeat(width - filled)}]${percent} ${text}`
}

/**
 * The plain progress line.
 *
 * @since 0.1.0
 * @category rendering
 */
export const plainLine = (label: string, noun: string, snapshot: Snapshot, elapsedMs: number): string => {
  const percent = snapshot.total === undefined || snapshot.total === 0
    ? ""
    : ` (${Math.floor(Math.min(1, snapshot.done / snapshot.total) * 100)}%)`
  return `${label}: ${counts(snapshot, noun)}${percent}, ${tail(snapshot, elapsedMs).join(", ")}`
}

/**
 * A running progress display.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reporter {
  /** Erases the bar (before writing to a stdout that shares the terminal). */
  readonly clear: Effect.Effect<void>
  /** Draws the bar again now. */
  readonly redraw: Effect.Effect<void>
  /** Draws the final state (and ends the bar's line). */
  readonly finish: Effect.Effect<void>
}

/**
 * How often each mode draws.
 *
 * @since 0.1.0
 * @category constants
 */
export const INTERVALS = { terminal: Duration.millis(200), plain: Duration.seconds(5) } as const

/**
 * Starts drawing `snapshot()` on `sink` until the scope closes: a bar on a
 * terminal, a plain line every five seconds otherwise.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: {
  readonly sink: TextSink
  readonly label: string
  readonly noun: string
  readonly snapshot: () => Snapshot
}): Effect.Effect<Reporter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { label, noun, sink, snapshot } = options
    const startedAt = yield* Clock.currentTimeMillis
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
    let drawn = false
    const draw = Effect.flatMap(elapsed, (ms) =>
      sink.isTTY
        ? Effect.suspend(() => {
          drawn = true
          const columns = sink.columns !== undefined && sink.columns > 0 ? sink.columns : 80
          return write(sink, `\r${barLine(label, noun, snapshot(), ms, columns)}\u001b[K`)
        })
        : write(sink, `${plainLine(label, noun, snapshot(), ms)}\n`))
    const clear = Effect.suspend(() => sink.isTTY && drawn ? write(sink, "\r\u001b[K") : Effect.void)
    const every = sink.isTTY ? INTERVALS.terminal : INTERVALS.plain
    const ticker = yield* draw.pipe(Effect.schedule(Schedule.spaced(every)), Effect.forkScoped)
    return {
      clear,
      redraw: sink.isTTY ? draw : Effect.void,
      finish: Fiber.interrupt(ticker).pipe(
        Effect.zipRight(draw),
        Effect.zipRight(sink.isTTY ? write(sink, "\n") : Effect.void)
      )
    }
  })
