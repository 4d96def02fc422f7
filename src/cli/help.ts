/**
 * Help pages: a summary, paragraphs of detail and examples, the same shape
 * on every command.
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"

/**
 * The description of a command: what it does, any further blocks, then its examples.
 *
 * @since 0.1.0
 * @category help
 */
export const page = (
  summary: string,
  details: ReadonlyArray<string>,
  examples: ReadonlyArray<readonly [comment: string, command: string]>,
  more: ReadonlyArray<HelpDoc.HelpDoc> = []
): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(summary),
    ...details.map((text) => HelpDoc.p(text)),
    ...more,
    HelpDoc.h2("EXAMPLES"),
    ...examples.flatMap((
      [comment, command]
    ) => [HelpDoc.p(Span.weak(`# ${comment}`)), HelpDoc.p(Span.code(`  ${command}`))])
  ])

/**
 * The exit codes, as every help page states them.
 *
 * @since 0.1.0
 * @category help
 */
export const EXIT_CODES =
  "Exit codes: 0 success; 1 a token or an input failed; 2 usage error; 3 operator, configuration or internal error."

/**
 * A list of names and what each is for.
 *
 * @since 0.1.0
 * @category help
 */
export const list = (title: string, rows: ReadonlyArray<readonly [string, string]>): ReadonlyArray<HelpDoc.HelpDoc> => {
  const [first, ...rest] = rows.map(([name, text]) =>
    [Span.code(name), HelpDoc.p(text)] as [Span.Span, HelpDoc.HelpDoc]
  )
  return first === undefined ? [] : [HelpDoc.h2(title), HelpDoc.descriptionList([first, ...rest])]
}
