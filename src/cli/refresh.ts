/**
 * `uid2 refresh [FILE]`: refreshes a stored identity with
 * `POST /v2/token/refresh`. The identity JSON comes from FILE or stdin: the
 * identity itself, the `{"identity": …}` that `uid2 generate --json`
 * prints, or an operator response `{"body": …}`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createReadStream } from "node:fs"
import * as IdentityTokens from "../IdentityTokens.js"
import * as Publisher from "../Publisher.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import { isTooLong, readableLines } from "./lines.js"
import * as Flags from "./options.js"
import { layer, printResponse, toCliError } from "./publisher.js"

/**
 * The identity in a JSON text: the body itself, or under `identity` or `body`.
 *
 * @since 0.1.0
 * @category input
 */
export const parseIdentity = (text: string): Either.Either<IdentityTokens.IdentityTokens, Errors.CliError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left(Errors.input("InvalidIdentityJson", "the identity is not JSON"))
  }
  const isObject = (u: unknown): u is Record<string, unknown> =>
    typeof u === "object" && u !== null && !Array.isArray(u)
  const body = isObject(parsed) && isObject(parsed["identity"])
    ? parsed["identity"]
    : isObject(parsed) && isObject(parsed["body"])
    ? parsed["body"]
    : parsed
  return Either.mapLeft(IdentityTokens.fromBody(body), (error) => Errors.input(error._tag, error.message, error))
}

/** An identity is a few KB; the input is read whole, in bounded memory. */
const readAll = (path: Option.Option<string>): Effect.Effect<string, Errors.CliError> => {
  const file = Option.filter(path, (p) => p !== "-")
  const what = Option.getOrElse(file, () => "stdin")
  return readableLines(
    () => Option.match(file, { onNone: () => process.stdin, onSome: (p) => createReadStream(p) }),
    what
  ).pipe(
    Stream.runCollect,
    Effect.flatMap((chunk) => {
      const lines = Array.from(chunk)
      return lines.some(isTooLong)
        ? Effect.fail(Errors.input("InvalidIdentityJson", `${what} holds a line too long to be an identity`))
        : Effect.succeed(lines.join("\n"))
    })
  )
}

/**
 * The `refresh` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "refresh",
  {
    ...Flags.output,
    ...Flags.credentials,
    file: Args.text({ name: "FILE" }).pipe(
      Args.withDescription("A file holding the identity JSON; - or nothing reads stdin."),
      Args.optional
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const text = yield* readAll(flags.file)
        const identity = yield* Either.match(parseIdentity(text), { onLeft: Effect.fail, onRight: Effect.succeed })
        const response = yield* Publisher.PublisherClient.refreshToken(identity).pipe(Effect.mapError(toCliError))
        return yield* printResponse(response, flags.json, Date.now())
      }).pipe(Effect.provide(layer(flags)))
    )
).pipe(Command.withDescription(page(
  "Refresh a stored identity (publishers): POST /v2/token/refresh.",
  [
    "Reads the identity JSON from FILE or stdin: the identity itself, what `uid2 generate --json` prints, or an" +
    " operator response {\"body\": …}. Prints the new identity like `uid2 generate`. A user who opted out since" +
    " gets {\"status\":\"optout\"} (drop the identity), exit 1; so does a refresh token that expired or is refused.",
    EXIT_CODES
  ],
  [
    ["generate, then refresh", "uid2 generate --email user@example.com --json | uid2 refresh"],
    ["a stored identity", "uid2 refresh identity.json --json"]
  ]
)))
