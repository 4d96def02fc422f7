/**
 * The rows of a batch input (`uid2 map`, `uid2 optout`): CSV with a header
 * line, or NDJSON (one JSON object per line). Every line after the header is
 * one row, in order; a line that cannot be read is a row with an error, so
 * it still gets its line of output.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { parseLine } from "./csv.js"
import { isTooLong, type Line } from "./lines.js"

/**
 * The input formats.
 *
 * @since 0.1.0
 * @category models
 */
export type Format = "csv" | "ndjson"

/**
 * One input row: its line number (1-based), its fields by name, in order,
 * or why it could not be read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Row {
  readonly line: number
  readonly fields: ReadonlyArray<readonly [string, unknown]>
  readonly error: string | undefined
}

/**
 * The format of a file: by its extension, else by its first line.
 *
 * @since 0.1.0
 * @category formats
 */
export const guessFormat = (path: string | undefined, firstLine: string | undefined): Format => {
  if (path !== undefined && /\.csv$/i.test(path)) return "csv"
  if (path !== undefined && /\.(ndjson|jsonl|json)$/i.test(path)) return "ndjson"
  return firstLine !== undefined && firstLine.trimStart().startsWith("{") ? "ndjson" : "csv"
}

const none = Option.none<Row>()
const some = (row: Row) => Option.some(row)

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const ndjsonRow = (text: string, line: number): Row => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { line, fields: [], error: "not JSON" }
  }
  return isObject(parsed)
    ? { line, fields: Object.entries(parsed), error: undefined }
    : { line, fields: [], error: "not a JSON object" }
}

/**
 * The rows of `lines`. For CSV the first line is the header (`header`
 * receives its column names, lower-cased and trimmed); blank lines are
 * skipped. `"auto"` decides by the first non-blank line.
 *
 * @since 0.1.0
 * @category parsing
 */
export const rows = <E, R>(
  lines: Stream.Stream<Line, E, R>,
  given: Format | "auto",
  header: (columns: ReadonlyArray<string>) => void = () => undefined
): Stream.Stream<Row, E, R> =>
  Stream.suspend(() => {
    let lineNumber = 0
    let columns: ReadonlyArray<string> | undefined
    let format: Format | "auto" = given
    return Stream.filterMap(lines, (line): Option.Option<Row> => {
      lineNumber++
      const at = lineNumber
      if (!isTooLong(line) && line.trim().length === 0) return none
      if (format === "auto") format = guessFormat(undefined, isTooLong(line) ? undefined : line)
      if (format === "csv" && columns === undefined) {
        if (isTooLong(line)) {
          columns = []
          header(columns)
          return some({ line: at, fields: [], error: "the header line is too long" })
        }
        const parsed = parseLine(line.trim())
        columns = Either.isRight(parsed) ? parsed.right.map((c) => c.trim().toLowerCase()) : []
        header(columns)
        return Either.isRight(parsed) ? none : some({ line: at, fields: [], error: `header: ${parsed.left}` })
      }
      if (isTooLong(line)) return some({ line: at, fields: [], error: `line of ${line.length} characters is too long` })
      if (format === "ndjson") return some(ndjsonRow(line, at))
      const cells = parseLine(line)
      if (Either.isLeft(cells)) return some({ line: at, fields: [], error: cells.left })
      const names = columns!
      if (cells.right.length !== names.length) {
        return some({
          line: at,
          fields: [],
          error: `${cells.right.length} fields where the header has ${names.length}`
        })
      }
      return some({ line: at, fields: names.map((name, i) => [name, cells.right[i]!] as const), error: undefined })
    })
  })

/**
 * The value of the first of `names` a row has, when it is a non-empty
 * string; several such fields are an error.
 *
 * @since 0.1.0
 * @category fields
 */
export const pick = (
  row: Row,
  names: ReadonlyArray<string>
): Either.Either<readonly [name: string, value: string], string> => {
  const present = row.fields.filter(([name, value]) =>
    names.includes(name.toLowerCase()) && value !== null && value !== undefined && value !== ""
  )
  if (present.length === 0) return Either.left(`no ${names.join(", ")} field`)
  if (present.length > 1) return Either.left(`more than one of ${names.join(", ")}`)
  const [name, value] = present[0]!
  return typeof value === "string"
    ? Either.right([name.toLowerCase(), value] as const)
    : Either.left(`${name} is not a string`)
}
