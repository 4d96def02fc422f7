/**
 * Input read line by line, in bounded memory: a line longer than the limit
 * is not kept, only reported as too long (its characters are skipped up to
 * the next newline), so a file without newlines cannot exhaust memory.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Errors from "./errors.js"

/**
 * One input line: its text (without the line break), or the marker of a
 * line longer than the limit.
 *
 * @since 0.1.0
 * @category models
 */
export type Line = string | TooLong

/**
 * A line longer than the limit; `length` counts its characters.
 *
 * @since 0.1.0
 * @category models
 */
export interface TooLong {
  readonly _tag: "TooLong"
  readonly length: number
}

/**
 * The default line limit: far above any token, identity or row the CLI reads.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_LINE = 64 * 1024

/**
 * Splits text chunks into lines (`\n` or `\r\n`), keeping at most `maxLine`
 * characters of a line in memory.
 *
 * @since 0.1.0
 * @category models
 */
export class LineSplitter {
  private partial = ""
  private skipped = 0
  constructor(readonly maxLine: number = MAX_LINE) {}

  /** The lines completed by `chunk`. */
  push(chunk: string): Array<Line> {
    const out: Array<Line> = []
    let start = 0
    for (;;) {
      const nl = chunk.indexOf("\n", start)
      if (nl < 0) break
      this.take(chunk.slice(start, nl))
      out.push(this.finish())
      start = nl + 1
    }
    this.take(chunk.slice(start))
    return out
  }

  /** The last line, if the input did not end with a newline. */
  end(): Array<Line> {
    return this.partial.length === 0 && this.skipped === 0 ? [] : [this.finish()]
  }

  private take(piece: string): void {
    if (this.skipped > 0) {
      this.skipped += piece.length
    } else if (this.partial.length + piece.length > this.maxLine + 1) {
      // One spare character: a `\r` before the newline does not count.
      this.skipped = this.partial.length + piece.length
      this.partial = ""
    } else {
      this.partial += piece
    }
  }

  private finish(): Line {
    if (this.skipped > 0) {
      const length = this.skipped
      this.skipped = 0
      return { _tag: "TooLong", length }
    }
    const text = this.partial.endsWith("\r") ? this.partial.slice(0, -1) : this.partial
    this.partial = ""
    if (text.length > this.maxLine) return { _tag: "TooLong", length: text.length }
    return text
  }
}

/**
 * Whether a line is the too-long marker.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTooLong = (line: Line): line is TooLong => typeof line !== "string"

/**
 * The lines of a text stream, in chunks as they arrive.
 *
 * @since 0.1.0
 * @category streams
 */
export const splitLines = <E, R>(
  text: Stream.Stream<string, E, R>,
  maxLine: number = MAX_LINE
): Stream.Stream<Line, E, R> =>
  Stream.suspend(() => {
    const splitter = new LineSplitter(maxLine)
    return text.pipe(
      Stream.mapChunks((chunk) => Chunk.unsafeFromArray(Chunk.toReadonlyArray(chunk).flatMap((s) => splitter.push(s)))),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.end())))
    )
  })

/**
 * The lines of a Node readable stream (stdin, a file), decoded as UTF-8.
 *
 * @since 0.1.0
 * @category streams
 */
export const readableLines = (
  open: () => NodeJS.ReadableStream,
  what: string,
  maxLine: number = MAX_LINE
): Stream.Stream<Line, Errors.CliError> =>
  splitLines(
    Stream.unwrap(Effect.sync(() => {
      const readable = open()
      readable.setEncoding("utf8")
      return Stream.fromAsyncIterable(
        readable as AsyncIterable<string>,
        (cause) => Errors.input("ReadError", `could not read ${what}: ${describe(cause)}`, cause)
      )
    })),
    maxLine
  )

const describe = (cause: unknown): string =>
  cause instanceof Error ? ((cause as { code?: unknown }).code as string | undefined) ?? cause.message : String(cause)
