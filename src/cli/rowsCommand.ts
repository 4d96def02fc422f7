/**
 * The pipeline of `uid2 map` and `uid2 optout`: rows read from a file or
 * stdin (CSV with a header, or NDJSON), sent in groups through an SDK
 * client, answered on stdout as NDJSON or CSV in input order, one output
 * row per input row, with progress on stderr. Memory is bounded by the
 * groups in flight, whatever the input's length.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createReadStream } from "node:fs"
import { stat } from "node:fs/promises"
import { formatLine } from "./csv.js"
import * as Errors from "./errors.js"
import { readableLines } from "./lines.js"
import * as Progress from "./progress.js"
import { type Format, guessFormat, type Row, rows } from "./records.js"
import { printError, stderr, stdout, write } from "./terminal.js"

/**
 * Items per group: the operator's largest request.
 *
 * @since 0.1.0
 * @category constants
 */
export const GROUP_SIZE = 5_000

/**
 * How one row turned out: its status, the fields to print, and whether it
 * counts as an input failure (`invalid`, exit 1) or an operator failure
 * (`failed`, exit 3).
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: string
  readonly fields: Readonly<Record<string, string | number | null>>
  readonly kind: "ok" | "invalid" | "failed"
}

/**
 * What a command plugs into the pipeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec<I, O> {
  /** `map` or `optout`, for messages. */
  readonly label: string
  /** The result columns of CSV output, after `status`. */
  readonly resultColumns: ReadonlyArray<string>
  /** The item a row asks about, or why it has none. */
  readonly itemOf: (row: Row) => Either.Either<I, string>
  /** The results of a group of items, in their order. */
  readonly process: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<O>>
  readonly answer: (result: O) => Answer
  /** The client's own counters: results so far, retries, requests in flight. */
  readonly counters: () => { readonly settled: number; readonly retries: number; readonly inFlight: number }
}

/**
 * Where the rows come from and how to print the results.
 *
 * @since 0.1.0
 * @category models
 */
export interface Io {
  /** A file, or `-` / none for stdin. */
  readonly file: Option.Option<string>
  readonly input: Format | "auto"
  readonly output: Format
  /** Groups in flight at once. */
  readonly concurrency: number
}

const countLines = (path: string): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    let count = 0
    let last = 10
    const stream = createReadStream(path)
    stream.on("data", (chunk: Buffer | string) => {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk
      for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) count++
      if (bytes.length > 0) last = bytes[bytes.length - 1]!
    })
    stream.on("error", () => resume(Effect.succeed(0)))
    stream.on("end", () => resume(Effect.succeed(count + (last === 10 ? 0 : 1))))
    return Effect.sync(() => stream.destroy())
  })

const errorAnswer = (message: string): Answer => ({ status: "invalid", fields: { message }, kind: "invalid" })

/**
 * Runs the pipeline; the exit code is 3 when a request failed, 1 when a row
 * was invalid, else 0. A summary line ends stderr.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <I, O>(spec: Spec<I, O>, io: Io): Effect.Effect<Errors.ExitCode, Errors.CliError, Scope.Scope> =>
  Effect.gen(function*() {
    const file = Option.filter(io.file, (path) => path !== "-")
    let total: number | undefined
    if (Option.isSome(file)) {
      const info = yield* Effect.tryPromise({
        try: () => stat(file.value),
        catch: (cause) =>
          Errors.input("ReadError", `could not read ${file.value}: ${(cause as { code?: string }).code ?? "failed"}`)
      })
      if (!info.isFile()) return yield* Errors.input("ReadError", `${file.value} is not a regular file`)
    }
    const format: Format | "auto" = io.input !== "auto"
      ? io.input
      : Option.isSome(file) && /\.(csv|ndjson|jsonl|json)$/i.test(file.value)
      ? guessFormat(file.value, undefined)
      : "auto"
    if (Option.isSome(file)) {
      const lines = yield* countLines(file.value)
      total = Math.max(0, lines - (format === "csv" ? 1 : 0))
    }

    let header: ReadonlyArray<string> | undefined
    let outputColumns: ReadonlyArray<string> | undefined
    let localInvalid = 0
    const tally = { rows: 0, ok: 0, invalid: 0, failed: 0, byStatus: new Map<string, number>() }

    const progress = yield* Progress.start({
      sink: stderr,
      label: `uid2 ${spec.label}`,
      noun: "rows",
      snapshot: () => {
        const c = spec.counters()
        return { done: c.settled + localInvalid, total, retries: c.retries, inFlight: c.inFlight }
      }
    })

    const csvColumns = (first: Row): ReadonlyArray<string> => {
      const inputs = header ?? first.fields.map(([name]) => name)
      const results = ["status", ...spec.resultColumns].map((name) => inputs.includes(name) ? `uid2_${name}` : name)
      return [...inputs, ...results]
    }

    const render = (row: Row, answer: Answer): string => {
      if (io.output === "ndjson") {
        return JSON.stringify({
          line: row.line,
          input: Object.fromEntries(row.fields),
          status: answer.status,
          ...answer.fields
        })
      }
      const inputs = new Map(row.fields)
      const names = outputColumns!.slice(0, outputColumns!.length - spec.resultColumns.length - 1)
      const cell = (value: unknown) =>
        value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value)
      return formatLine([
        ...names.map((name) => cell(inputs.get(name))),
        answer.status,
        ...spec.resultColumns.map((name) => cell(answer.fields[name] ?? null))
      ])
    }

    const answerGroup = (group: ReadonlyArray<Row>) =>
      Effect.gen(function*() {
        const items = group.map((row): Either.Either<I, string> =>
          row.error === undefined ? spec.itemOf(row) : Either.left(row.error)
        )
        localInvalid += items.filter(Either.isLeft).length
        const results = yield* spec.process(items.filter(Either.isRight).map((item) => item.right))
        let next = 0
        return group.map((row, i) => {
          const item = items[i]!
          const answer = Either.isLeft(item) ? errorAnswer(item.left) : spec.answer(results[next++]!)
          return { row, answer }
        })
      })

    const shared = stdout.isTTY && stderr.isTTY
    yield* readableLines(
      () => Option.match(file, { onNone: () => process.stdin, onSome: (path) => createReadStream(path) }),
      Option.getOrElse(file, () => "stdin")
    ).pipe(
      (lines) => rows(lines, format, (columns) => (header = columns)),
      Stream.grouped(GROUP_SIZE),
      Stream.mapEffect((group) => answerGroup(Chunk.toReadonlyArray(group)), { concurrency: io.concurrency }),
      Stream.runForEach((answered) =>
        Effect.gen(function*() {
          if (answered.length === 0) return
          let out = ""
          if (io.output === "csv" && outputColumns === undefined) {
            outputColumns = csvColumns(answered[0]!.row)
            out += `${formatLine(outputColumns)}\n`
          }
          for (const { answer, row } of answered) {
            out += `${render(row, answer)}\n`
            tally.rows++
            tally[answer.kind]++
            tally.byStatus.set(answer.status, (tally.byStatus.get(answer.status) ?? 0) + 1)
          }
          if (shared) yield* progress.clear
          yield* write(stdout, out)
          if (shared) yield* progress.redraw
        })
      )
    )
    yield* progress.finish
    const statuses = Array.from(tally.byStatus, ([status, n]) => `${n} ${status}`).join(", ")
    yield* printError(`uid2 ${spec.label}: ${tally.rows} rows${statuses.length === 0 ? "" : `: ${statuses}`}`)
    return tally.failed > 0
      ? Errors.ExitCode.Operator
      : tally.invalid > 0
      ? Errors.ExitCode.Failed
      : Errors.ExitCode.Success
  })
