/**
 * Where a Schema decode failed, found by walking the issue tree in a loop.
 * Effect's formatters print the offending value (a secret, or something deep
 * enough to overflow the stack when printed); this walk never looks at values,
 * only at the path and at fixed texts attached to the schema with
 * {@link detail}.
 */
import type * as ParseResult from "effect/ParseResult"
import type * as AST from "effect/SchemaAST"

/** Annotation key of the fixed text {@link locate} reports for a schema node. */
export const DetailId: unique symbol = Symbol.for("effect-uid2/internal/parseIssue/detail")

/**
 * Annotations giving a schema node a fixed failure text, for {@link locate}
 * and for Effect's formatters alike (so a formatted error never quotes the
 * value). With `override: false`, failures inside a struct or array still
 * report their own texts to the formatters.
 */
export const detail = (text: string, options?: { readonly override?: boolean }) => ({
  [DetailId]: text,
  message: () => ({ message: text, override: options?.override ?? true })
})

/** The first failure of a decode: its path, whether a value was missing, and its fixed text if any. */
export interface Located {
  readonly path: ReadonlyArray<PropertyKey>
  readonly missing: boolean
  readonly detail: string | undefined
}

const detailOf = (ast: AST.AST): string | undefined => {
  const text = ast.annotations[DetailId]
  return typeof text === "string" ? text : undefined
}

const first = <A>(items: A | ReadonlyArray<A>): A => (Array.isArray(items) ? items[0] : items) as A

/**
 * Follows the first failure down to its leaf. A refinement, transformation or
 * union that carries a {@link detail} is reported as a whole (its parts are
 * how it is implemented, not what the caller sent); structs and arrays are
 * entered, so the path names the field.
 */
export const locate = (root: ParseResult.ParseIssue): Located => {
  const path: Array<PropertyKey> = []
  let issue = root
  for (;;) {
    switch (issue._tag) {
      case "Pointer": {
        const segment = issue.path
        if (Array.isArray(segment)) path.push(...(segment as ReadonlyArray<PropertyKey>))
        else path.push(segment as PropertyKey)
        issue = issue.issue
        break
      }
      case "Composite": {
        if (issue.ast._tag === "Union") {
          const text = detailOf(issue.ast)
          if (text !== undefined) return { path, missing: false, detail: text }
          // `Schema.optional(X)` is `X | undefined`: report what X said.
          const issues: ReadonlyArray<ParseResult.ParseIssue> = Array.isArray(issue.issues)
            ? issue.issues
            : [issue.issues as ParseResult.ParseIssue]
          const inner = issues.find((i) => !(i._tag === "Type" && i.ast._tag === "UndefinedKeyword"))
          if (inner === undefined) return { path, missing: false, detail: undefined }
          issue = inner
          break
        }
        issue = first(issue.issues)
        break
      }
      case "Refinement":
      case "Transformation": {
        const text = detailOf(issue.ast)
        if (text !== undefined) return { path, missing: false, detail: text }
        issue = issue.issue
        break
      }
      case "Missing":
        return { path, missing: true, detail: undefined }
      case "Type":
      case "Forbidden":
        return { path, missing: false, detail: detailOf(issue.ast) ?? issue.message }
      case "Unexpected":
        return { path, missing: false, detail: undefined }
    }
  }
}
