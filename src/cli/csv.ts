/**
 * CSV lines as the batch commands read and write them: comma-separated,
 * fields optionally in double quotes with `""` for a quote. A record is one
 * line (a quoted field cannot hold a line break).
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/**
 * The fields of one CSV line, or why it is not one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLine = (line: string): Either.Either<Array<string>, string> => {
  const fields: Array<string> = []
  let i = 0
  for (;;) {
    if (line[i] === "\"") {
      let value = ""
      i++
      for (;;) {
        const quote = line.indexOf("\"", i)
        if (quote < 0) return Either.left("a quoted field is not closed")
        value += line.slice(i, quote)
        if (line[quote + 1] === "\"") {
          value += "\""
          i = quote + 2
        } else {
          i = quote + 1
          break
        }
      }
      if (i < line.length && line[i] !== ",") return Either.left("text after a quoted field")
      fields.push(value)
    } else {
      const comma = line.indexOf(",", i)
      const end = comma < 0 ? line.length : comma
      const value = line.slice(i, end)
      if (value.includes("\"")) return Either.left("a quote inside an unquoted field")
      fields.push(value)
      i = end
    }
    if (i >= line.length) return Either.right(fields)
    i++ // the comma
  }
}

/**
 * One CSV line of `fields`, quoting those that need it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatLine = (fields: ReadonlyArray<string>): string =>
  fields.map((field) => /[",\r\n]|^\s|\s$/.test(field) ? `"${field.replace(/"/g, "\"\"")}"` : field).join(",")
