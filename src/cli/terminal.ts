/**
 * What the `uid2` command writes to: stdout and stderr, whether each is a
 * terminal, and colour only where a person is looking (a terminal, no
 * `NO_COLOR`, not `TERM=dumb`). Writes wait for the stream to drain, so
 * thousands of output lines never pile up in memory.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

/**
 * A stream the command writes text to.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextSink {
  readonly isTTY: boolean
  /** Terminal width, when known. */
  readonly columns: number | undefined
  /** Writes `text`; `false` when the caller should wait for `drain`. */
  readonly write: (text: string) => boolean
  readonly once: (event: "drain", listener: () => void) => unknown
}

/**
 * Whether colour codes may be written to `sink`.
 *
 * @since 0.1.0
 * @category terminal
 */
export const colorsOn = (sink: Pick<TextSink, "isTTY">, env: NodeJS.ProcessEnv = process.env): boolean =>
  sink.isTTY && env["NO_COLOR"] === undefined && env["TERM"] !== "dumb"

/**
 * Writes `text` to `sink`, waiting for it to drain when its buffer is full.
 *
 * @since 0.1.0
 * @category terminal
 */
export const write = (sink: TextSink, text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (sink.write(text)) resume(Effect.void)
    else sink.once("drain", () => resume(Effect.void))
  })

// A terminal that reports no size (some pseudo-terminals say 0) falls back to COLUMNS.
const columnsOf = (stream: NodeJS.WriteStream): number | undefined => {
  if (stream.isTTY !== true) return undefined
  if (stream.columns > 0) return stream.columns
  const fromEnv = Number(process.env["COLUMNS"])
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined
}

/**
 * The process's stdout.
 *
 * @since 0.1.0
 * @category terminal
 */
export const stdout: TextSink = {
  get isTTY() {
    return process.stdout.isTTY === true
  },
  get columns() {
    return columnsOf(process.stdout)
  },
  write: (text) => process.stdout.write(text),
  once: (event, listener) => process.stdout.once(event, listener)
}

/**
 * The process's stderr.
 *
 * @since 0.1.0
 * @category terminal
 */
export const stderr: TextSink = {
  get isTTY() {
    return process.stderr.isTTY === true
  },
  get columns() {
    return columnsOf(process.stderr)
  },
  write: (text) => process.stderr.write(text),
  once: (event, listener) => process.stderr.once(event, listener)
}

/**
 * Writes a line to stdout.
 *
 * @since 0.1.0
 * @category terminal
 */
export const printLine = (text: string): Effect.Effect<void> => write(stdout, `${text}\n`)

/**
 * Writes a line to stderr.
 *
 * @since 0.1.0
 * @category terminal
 */
export const printError = (text: string): Effect.Effect<void> => write(stderr, `${text}\n`)

/**
 * Writes a value as one line of JSON to stdout.
 *
 * @since 0.1.0
 * @category terminal
 */
export const printJson = (value: unknown): Effect.Effect<void> => printLine(JSON.stringify(value))

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g

/**
 * `text` without ANSI escape sequences.
 *
 * @since 0.1.0
 * @category terminal
 */
export const stripAnsi = (text: string): string => text.replace(ANSI, "")

const plain = (args: ReadonlyArray<unknown>, colors: boolean): ReadonlyArray<unknown> =>
  colors ? args : args.map((arg) => typeof arg === "string" ? stripAnsi(arg) : arg)

/**
 * Runs `effect` with a `Console` whose `log` and `error` drop colour codes
 * when their stream is not a colour terminal (the help pages and usage
 * errors of `@effect/cli` are printed through it).
 *
 * @since 0.1.0
 * @category terminal
 */
export const withPlainConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (base) =>
    Console.withConsole(effect, {
      ...base,
      log: (...args) => base.log(...plain(args, colorsOn(stdout))),
      error: (...args) => base.error(...plain(args, colorsOn(stderr)))
    }))

/**
 * Colour helpers that are the identity when `on` is false.
 *
 * @since 0.1.0
 * @category terminal
 */
export const palette = (on: boolean) => {
  const wrap = (code: string) => (text: string) => on ? `\u001b[${code}m${text}\u001b[0m` : text
  return {
    green: wrap("32"),
    red: wrap("31"),
    yellow: wrap("33"),
    dim: wrap("2"),
    bold: wrap("1"),
    cyan: wrap("36")
  }
}

/**
 * The colour helpers of {@link palette}.
 *
 * @since 0.1.0
 * @category terminal
 */
export type Palette = ReturnType<typeof palette>
