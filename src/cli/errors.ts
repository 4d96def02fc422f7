/**
 * The `uid2` command's failures and exit codes. Every failure a command can
 * report is a {@link CliError} carrying its exit code and a one-line message
 * that never holds a credential or key material.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { InvalidClientSecret } from "../Envelope.js"
import type * as KeyRefresher from "../KeyRefresher.js"
import type { TransportError } from "../TransportError.js"

/**
 * The documented exit codes: 0 success, 1 a token or an input failed,
 * 2 usage (a bad flag or argument), 3 operator, configuration or internal error.
 *
 * @since 0.1.0
 * @category models
 */
export const ExitCode = { Success: 0, Failed: 1, Usage: 2, Operator: 3 } as const

/**
 * One of {@link ExitCode}'s values.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * A command failed. `status` names the failure in `--json` output (e.g.
 * `"UsageError"`, `"OperatorRejected"`); `message` is one line for people.
 *
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Data.TaggedError("CliError")<{
  readonly exitCode: 1 | 2 | 3
  readonly status: string
  readonly message: string
  /** The underlying failure, shown only with `--verbose`. */
  readonly cause?: unknown
}> {}

/**
 * A bad flag, argument or flag value (exit 2).
 *
 * @since 0.1.0
 * @category constructors
 */
export const usage = (message: string): CliError =>
  new CliError({ exitCode: ExitCode.Usage, status: "UsageError", message })

/**
 * An input that could not be used: a token, a file of rows, an identity (exit 1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const input = (status: string, message: string, cause?: unknown): CliError =>
  new CliError({ exitCode: ExitCode.Failed, status, message, cause })

/**
 * Missing or invalid configuration: credentials, a keys file (exit 3).
 *
 * @since 0.1.0
 * @category constructors
 */
export const config = (message: string, cause?: unknown): CliError =>
  new CliError({ exitCode: ExitCode.Operator, status: "ConfigError", message, cause })

/**
 * A command ended with a non-zero code after it printed its own output (a
 * token that failed, a demo step that failed): nothing more is printed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Reported extends Data.TaggedError("Reported")<{ readonly exitCode: 1 | 2 | 3 }> {}

/**
 * What went wrong talking to the operator, with what to check: the
 * transport's own messages never carry credentials, and the hints name the
 * likely cause of the permanent rejections (exit 3).
 *
 * @since 0.1.0
 * @category constructors
 */
export const operator = (
  error: TransportError | InvalidClientSecret | KeyRefresher.KeysUnavailable | KeyRefresher.RefreshError
): CliError => {
  const message = (() => {
    switch (error._tag) {
      case "OperatorRejected":
        return error.httpStatus === 401
          ? `${error.message}: check the API key`
          : error.httpStatus === 403
          ? `${error.message}: check the API key's roles`
          : error.httpStatus === 404
          ? `${error.message}: check the base URL`
          : error.message
      case "EnvelopeError":
        return error.reason === "Decrypt"
          ? `${error.message}: the response did not decrypt; check the client secret`
          : error.message
      default:
        return error.message
    }
  })()
  return new CliError({ exitCode: ExitCode.Operator, status: error._tag, message, cause: error })
}
