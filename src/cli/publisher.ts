/**
 * What the publisher commands share: the client built from the
 * credentials, the printing of an identity, and the exit code of each way a
 * generate or refresh can fail.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as IdentityTokens from "../IdentityTokens.js"
import * as Publisher from "../Publisher.js"
import { type CredentialFlags, transportOptions } from "./connection.js"
import * as Errors from "./errors.js"
import { printJson, printLine } from "./terminal.js"
import { table } from "./text.js"
import { abbreviate } from "./text.js"
import { describeInstant } from "./time.js"

/**
 * The publisher client over the credentials.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (flags: CredentialFlags): Layer.Layer<Publisher.PublisherClient, Errors.CliError> =>
  Layer.unwrapEffect(
    Effect.map(transportOptions(flags), (options) => Publisher.layer(options).pipe(Layer.mapError(Errors.operator)))
  )

/**
 * A generate, refresh or validate failure as a command failure: what the operator
 * refused about the input (a rejected identifier or refresh token, missing
 * consent) is exit 1; credentials and the operator itself, exit 3.
 *
 * @since 0.1.0
 * @category errors
 */
export const toCliError = (
  error: Publisher.GenerateTokenError | Publisher.RefreshTokenError | Publisher.ValidateTokenError
): Errors.CliError => {
  switch (error._tag) {
    case "InvalidValidateInput":
    case "ClientError":
    case "UnexpectedStatus":
    case "InvalidRefreshToken":
    case "ExpiredRefreshToken":
    case "IdentityNotRefreshable":
      return Errors.input(error._tag, error.message, error)
    case "Unauthorized":
      return new Errors.CliError({ exitCode: 3, status: error._tag, message: error.message, cause: error })
    case "InvalidResponse":
      return new Errors.CliError({ exitCode: 3, status: error._tag, message: error.message, cause: error })
    default:
      return Errors.operator(error)
  }
}

/**
 * Prints a generate or refresh outcome; the exit code is 1 for an opt-out
 * (no token was issued).
 *
 * @since 0.1.0
 * @category output
 */
export const printResponse = (
  response: Publisher.TokenResponse,
  json: boolean,
  nowMs: number
): Effect.Effect<Errors.ExitCode> =>
  Effect.gen(function*() {
    if (response._tag === "OptOut") {
      if (json) yield* printJson({ status: "optout" })
      else yield* printLine("optout: the user has opted out; no token was issued (store nothing)")
      return Errors.ExitCode.Failed
    }
    const identity = response.identity
    const text = IdentityTokens.toJsonString(identity)
    if (json) {
      yield* printJson({ status: "success", identity: JSON.parse(text) })
      return Errors.ExitCode.Success
    }
    for (
      const line of table([
        ["status", "success"],
        ["advertising token", abbreviate(identity.advertisingToken, 20)],
        ["identity expires", describeInstant(identity.identityExpires, nowMs)],
        ["refresh from", describeInstant(identity.refreshFrom, nowMs)],
        ["refresh expires", describeInstant(identity.refreshExpires, nowMs)]
      ])
    ) yield* printLine(line)
    yield* printLine("")
    yield* printLine("identity JSON (keep it in the user's session; `uid2 refresh` reads it from stdin):")
    yield* printLine(text)
    return Errors.ExitCode.Success
  })
