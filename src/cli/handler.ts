/**
 * The frame every command's handler runs in: the SDK's log lines go to
 * stderr only with `--verbose`; a failure is printed once, as one line (or
 * one JSON object with `--json`), with its full cause only under
 * `--verbose`; and the exit code travels up to `main` as {@link Reported}.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { CliError, type ExitCode, Reported } from "./errors.js"
import { printError, printJson } from "./terminal.js"

/**
 * The output flags of a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputFlags {
  readonly json: boolean
  readonly verbose: boolean
}

const stderrLogger = Logger.withConsoleError(Logger.logfmtLogger)

const causeText = (cause: unknown): string | undefined => {
  if (cause === undefined) return undefined
  return Cause.pretty(Cause.fail(cause), { renderErrorCause: true })
}

const report = (flags: OutputFlags, error: CliError): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (flags.json) yield* printJson({ status: error.status, message: error.message, exitCode: error.exitCode })
    else yield* printError(`uid2: ${error.message}`)
    if (flags.verbose) {
      const detail = causeText(error.cause)
      if (detail !== undefined) yield* printError(detail)
    }
  })

const reportDefect = (flags: OutputFlags, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const squashed = Cause.squash(cause)
    const message = squashed instanceof Error ? squashed.message : String(squashed)
    const line = `internal error: ${message.split("\n")[0]}`
    if (flags.json) yield* printJson({ status: "InternalError", message: line, exitCode: 3 })
    else yield* printError(`uid2: ${line}${flags.verbose ? "" : " (run with --verbose for details)"}`)
    if (flags.verbose) yield* printError(Cause.pretty(cause, { renderErrorCause: true }))
  })

/**
 * Runs a command's body: its exit code on success, its {@link CliError}
 * printed, any defect printed as an internal error (exit 3).
 *
 * @since 0.1.0
 * @category handlers
 */
export const run = <R>(
  flags: OutputFlags,
  body: Effect.Effect<ExitCode, CliError | Reported, R>
): Effect.Effect<void, Reported, R> =>
  body.pipe(
    Effect.catchAllCause((cause): Effect.Effect<ExitCode> => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause) as never
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") {
        const error = failure.value
        if (error instanceof Reported) return Effect.succeed(error.exitCode)
        if (error instanceof CliError) return Effect.as(report(flags, error), error.exitCode)
      }
      return Effect.as(reportDefect(flags, cause), 3 as const)
    }),
    Effect.flatMap((code) => code === 0 ? Effect.void : Effect.fail(new Reported({ exitCode: code }))),
    Logger.withMinimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.None),
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger))
  )
