/**
 * One JSON line out per line in: the stdin mode of `decrypt`, `encrypt` and
 * `inspect`. Each chunk of lines that arrives is answered synchronously and
 * written in one go, so thousands of tokens cost one write per chunk, not
 * one Effect per token; writes wait for stdout to drain.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { CliError } from "./errors.js"
import { isTooLong, type Line, MAX_LINE, readableLines } from "./lines.js"
import { printError, stdout, write } from "./terminal.js"

/**
 * The answer to one input line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  /** The JSON object to print (one line). */
  readonly json: unknown
  /** Whether the line succeeded (any failure makes the exit code 1). */
  readonly ok: boolean
}

/**
 * How many lines were read, and how many failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tally {
  readonly lines: number
  readonly failed: number
}

/**
 * Answers every line of `lines` with one JSON line on stdout, in order.
 * `answer` receives each line trimmed; `tooLong` answers a line over the
 * length limit.
 *
 * @since 0.1.0
 * @category batch
 */
export const answerLines = <E, R>(
  lines: Stream.Stream<Line, E, R>,
  answer: (line: string) => Answer,
  tooLong: (length: number, limit: number) => Answer
): Effect.Effect<Tally, E, R> =>
  Effect.suspend(() => {
    let count = 0
    let failed = 0
    return lines.pipe(
      Stream.runForEachChunk((chunk) => {
        let out = ""
        for (const line of chunk) {
          const result = isTooLong(line) ? tooLong(line.length, MAX_LINE) : answer(line.trim())
          count++
          if (!result.ok) failed++
          out += `${JSON.stringify(result.json)}\n`
        }
        return out.length === 0 ? Effect.void : write(stdout, out)
      }),
      Effect.map(() => ({ lines: count, failed }))
    )
  })

/**
 * {@link answerLines} over stdin, with a hint on stderr when stdin is a terminal.
 *
 * @since 0.1.0
 * @category batch
 */
export const answerStdin = (
  what: string,
  answer: (line: string) => Answer,
  tooLong: (length: number, limit: number) => Answer
): Effect.Effect<Tally, CliError> =>
  Effect.zipRight(
    process.stdin.isTTY === true
      ? printError(`uid2: reading ${what} from the terminal, one per line; end with Ctrl-D`)
      : Effect.void,
    answerLines(readableLines(() => process.stdin, "stdin"), answer, tooLong)
  )
