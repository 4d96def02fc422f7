/**
 * The flags of the batch commands (`map`, `optout`): the input file, its
 * format, the output format.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"

/**
 * `FILE`: the rows to read (`-` or nothing: stdin).
 *
 * @since 0.1.0
 * @category options
 */
export const file = Args.text({ name: "FILE" }).pipe(
  Args.withDescription("CSV with a header line, or NDJSON (one JSON object per line); - or nothing reads stdin."),
  Args.optional
)

/**
 * `--input csv|ndjson|auto`.
 *
 * @since 0.1.0
 * @category options
 */
export const input = Options.choice("input", ["auto", "csv", "ndjson"] as const).pipe(
  Options.withDefault("auto" as const),
  Options.withDescription("The input format. Default: by the file's extension, else by its first line.")
)

/**
 * `--output ndjson|csv`.
 *
 * @since 0.1.0
 * @category options
 */
export const output = Options.choice("output", ["ndjson", "csv"] as const).pipe(
  Options.withDefault("ndjson" as const),
  Options.withDescription(
    "The output format on stdout: ndjson (default) or csv (the input's columns, then the results)."
  )
)
