/**
 * `uid2 generate`: exchanges an email or phone (normalized and hashed
 * locally), or its hash, for an identity with `POST /v2/token/generate`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Dii from "../Dii.js"
import * as Publisher from "../Publisher.js"
import * as TokenGenerateInput from "../TokenGenerateInput.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import * as Flags from "./options.js"
import { layer, printResponse, toCliError } from "./publisher.js"

const identity = {
  email: Options.text("email").pipe(
    Options.withPseudoName("EMAIL"),
    Options.optional,
    Options.withDescription("The user's email (normalized and hashed here).")
  ),
  phone: Options.text("phone").pipe(
    Options.withPseudoName("PHONE"),
    Options.optional,
    Options.withDescription("The user's phone, E.164 (+12345678901).")
  ),
  emailHash: Options.text("email-hash").pipe(
    Options.withPseudoName("HASH"),
    Options.optional,
    Options.withDescription("Base64 SHA-256 of the normalized email.")
  ),
  phoneHash: Options.text("phone-hash").pipe(
    Options.withPseudoName("HASH"),
    Options.optional,
    Options.withDescription("Base64 SHA-256 of the normalized phone.")
  )
}

type IdentityFlags = { readonly [K in keyof typeof identity]: Option.Option<string> }

/**
 * The request input from exactly one identity flag.
 *
 * @since 0.1.0
 * @category input
 */
export const inputOf = (
  flags: IdentityFlags
): Effect.Effect<TokenGenerateInput.TokenGenerateInput, Errors.CliError> => {
  type Parsed = Either.Either<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii>
  const given: Array<Parsed> = []
  if (Option.isSome(flags.email)) given.push(TokenGenerateInput.fromEmail(flags.email.value))
  if (Option.isSome(flags.phone)) given.push(TokenGenerateInput.fromPhone(flags.phone.value))
  if (Option.isSome(flags.emailHash)) given.push(TokenGenerateInput.fromHashedEmail(flags.emailHash.value))
  if (Option.isSome(flags.phoneHash)) given.push(TokenGenerateInput.fromHashedPhone(flags.phoneHash.value))
  if (given.length !== 1) {
    return Effect.fail(Errors.usage("give exactly one of --email, --phone, --email-hash, --phone-hash"))
  }
  return Either.match(given[0]!, {
    onLeft: (error) => Effect.fail(Errors.input(error._tag, error.message, error)),
    onRight: Effect.succeed
  })
}

/**
 * The `generate` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "generate",
  {
    ...Flags.output,
    ...Flags.credentials,
    ...identity,
    tcf: Options.text("tcf").pipe(
      Options.withPseudoName("STRING"),
      Options.optional,
      Options.withDescription("A TCF consent string (EUID operators require one with consent).")
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const base = yield* inputOf(flags)
        const input = Option.match(flags.tcf, {
          onNone: () => base,
          onSome: (tcf) => TokenGenerateInput.withTransparencyAndConsentString(base, tcf)
        })
        const response = yield* Publisher.PublisherClient.generateToken(input).pipe(Effect.mapError(toCliError))
        return yield* printResponse(response, flags.json, Date.now())
      }).pipe(Effect.provide(layer(flags)))
    )
).pipe(Command.withDescription(page(
  "Generate a token for a user (publishers): POST /v2/token/generate.",
  [
    "Prints the new identity and its times, then the identity JSON to keep in the user's session (with --json:" +
    " {\"status\":\"success\",\"identity\":{…}}). An opted-out user gets no token: {\"status\":\"optout\"}, exit 1.",
    EXIT_CODES
  ],
  [
    ["for an email, against a local `uid2 operator` (credentials in UID2_*)", "uid2 generate --email user@example.com"],
    ["an opted-out test user", "uid2 generate --email optout@example.com --json"],
    ["then refresh it", "uid2 generate --email user@example.com --json | uid2 refresh"]
  ]
)))
