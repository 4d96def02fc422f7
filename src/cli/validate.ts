/**
 * `uid2 validate TOKEN`: asks the operator (`POST /v2/token/validate`)
 * whether an advertising token the caller generated belongs to an email,
 * phone or hash, sent exactly as given: how a publisher checks its own
 * normalization and hashing.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Publisher from "../Publisher.js"
import { positional } from "./decrypt.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { layer, toCliError } from "./publisher.js"
import { printJson, printLine } from "./terminal.js"

const dii = {
  email: Options.text("email").pipe(
    Options.withPseudoName("EMAIL"),
    Options.optional,
    Options.withDescription("An email, normalized or not.")
  ),
  phone: Options.text("phone").pipe(
    Options.withPseudoName("PHONE"),
    Options.optional,
    Options.withDescription("A phone, E.164.")
  ),
  emailHash: Options.text("email-hash").pipe(
    Options.withPseudoName("HASH"),
    Options.optional,
    Options.withDescription("Base64 SHA-256 of a normalized email.")
  ),
  phoneHash: Options.text("phone-hash").pipe(
    Options.withPseudoName("HASH"),
    Options.optional,
    Options.withDescription("Base64 SHA-256 of a normalized phone.")
  )
}

type DiiFlags = { readonly [K in keyof typeof dii]: Option.Option<string> }

/**
 * The DII from exactly one flag, as given.
 *
 * @since 0.1.0
 * @category input
 */
export const diiOf = (flags: DiiFlags): Effect.Effect<Publisher.ValidateDii, Errors.CliError> => {
  const given: Array<Publisher.ValidateDii> = []
  if (Option.isSome(flags.email)) given.push({ email: flags.email.value })
  if (Option.isSome(flags.phone)) given.push({ phone: flags.phone.value })
  if (Option.isSome(flags.emailHash)) given.push({ emailHash: flags.emailHash.value })
  if (Option.isSome(flags.phoneHash)) given.push({ phoneHash: flags.phoneHash.value })
  return given.length === 1
    ? Effect.succeed(given[0]!)
    : Effect.fail(Errors.usage("give exactly one of --email, --phone, --email-hash, --phone-hash"))
}

/**
 * The `validate` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "validate",
  {
    ...Flags.output,
    ...Flags.credentials,
    ...dii,
    token: Args.text({ name: "TOKEN" }).pipe(Args.withDescription("An advertising token you generated."))
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const token = Option.getOrElse(yield* positional(Option.some(flags.token)), () => "")
        const value = yield* diiOf(flags)
        const client = yield* Publisher.PublisherClient
        const valid = yield* client.validateToken(token, value).pipe(Effect.mapError(toCliError))
        if (flags.json) yield* printJson({ status: "success", valid })
        else {
          yield* printLine(
            valid
              ? "valid: the token was generated from this identity"
              : "not valid: the token was not generated from this identity as sent (check its normalization and hashing)"
          )
        }
        return valid ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      }).pipe(Effect.provide(layer(flags)))
    )
).pipe(Command.withDescription(page(
  "Check that a token you generated belongs to an email, phone or hash (publishers): POST /v2/token/validate.",
  [
    "The identity is sent exactly as given, so `not valid` for a hash points at its normalization or hashing. With" +
    " --json: {\"status\":\"success\",\"valid\":true|false}. Exits 1 when not valid. For testing an integration, not" +
    " for production traffic.",
    EXIT_CODES
  ],
  [
    ["a token against the email it was made from", "uid2 validate --email validate@example.com A4AAAA…"],
    ["against your own hash of it", "uid2 validate --email-hash ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c= A4AAAA…"]
  ]
)))
