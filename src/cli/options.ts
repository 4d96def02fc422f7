/**
 * The flags several commands share: output (`--json`, `--verbose`),
 * operator credentials (flags or `UID2_*` variables), and the offline key
 * options (`--keys`, `--now`, `--client`, `--domain`).
 *
 * @since 0.1.0
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { parseInstant } from "./time.js"

/**
 * `--json`: machine-readable output, one JSON object per line.
 *
 * @since 0.1.0
 * @category options
 */
export const json = Options.boolean("json").pipe(
  Options.withDescription("Print JSON (one object per line) instead of text.")
)

/**
 * `--verbose`: the full cause of a failure, and the SDK's own log lines, on stderr.
 *
 * @since 0.1.0
 * @category options
 */
export const verbose = Options.boolean("verbose").pipe(
  Options.withDescription("On failure print the whole cause (with stack traces), and log more, on stderr.")
)

/**
 * The output flags every command has.
 *
 * @since 0.1.0
 * @category options
 */
export const output = { json, verbose }

/**
 * `--base-url`, `--api-key`, `--secret-key`, each falling back to its
 * `UID2_*` variable. Secrets are read as `Redacted` and never printed.
 *
 * @since 0.1.0
 * @category options
 */
export const credentials = {
  baseUrl: Options.text("base-url").pipe(
    Options.withPseudoName("URL"),
    Options.withFallbackConfig(Config.string("UID2_BASE_URL")),
    Options.optional,
    Options.withDescription("The operator's URL, e.g. https://operator-integ.uidapi.com (default: $UID2_BASE_URL).")
  ),
  apiKey: Options.redacted("api-key").pipe(
    Options.withPseudoName("KEY"),
    Options.withFallbackConfig(Config.redacted("UID2_API_KEY")),
    Options.optional,
    Options.withDescription("Your API key (default: $UID2_API_KEY; prefer the variable, flags show in `ps`).")
  ),
  secretKey: Options.redacted("secret-key").pipe(
    Options.withPseudoName("SECRET"),
    Options.withFallbackConfig(Config.redacted("UID2_SECRET_KEY")),
    Options.optional,
    Options.withDescription("Your client secret, Base64 (default: $UID2_SECRET_KEY; prefer the variable).")
  )
}

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/**
 * `--now`: the time to decrypt or encrypt at, ISO-8601 or epoch milliseconds
 * (default: the clock).
 *
 * @since 0.1.0
 * @category options
 */
export const now = Options.text("now").pipe(
  Options.withPseudoName("TIME"),
  Options.mapEffect((text) =>
    Either.match(parseInstant(text), { onLeft: (m) => Effect.fail(invalid(m)), onRight: Effect.succeed })
  ),
  Options.optional,
  Options.withDescription(
    "Decide as of this time: ISO-8601 (2024-05-01T12:00:00Z) or epoch milliseconds. Default: now."
  )
)

/**
 * `--keys FILE`: work offline from a saved key response.
 *
 * @since 0.1.0
 * @category options
 */
export const keys = Options.text("keys").pipe(
  Options.withPseudoName("FILE"),
  Options.optional,
  Options.withDescription(
    "Work offline from a saved /v2/key/sharing or /v2/key/bidstream response body (with or without its" +
      " {\"body\": …} wrapper), e.g. one written by `uid2 keys --save FILE`."
  )
)

/**
 * Which client's rules apply.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientKind = "bidstream" | "sharing"

/**
 * `--client bidstream|sharing` with a default.
 *
 * @since 0.1.0
 * @category options
 */
export const client = (fallback: ClientKind) =>
  Options.choice("client", ["bidstream", "sharing"] as const).pipe(
    Options.withDefault(fallback),
    Options.withDescription(
      "Whose rules and keys: bidstream (DSPs, /v2/key/bidstream: bidstream lifetime, domain check) or" +
        ` sharing (sharers, /v2/key/sharing: sharing lifetime). Default: ${fallback}.`
    )
  )

/**
 * `--domain NAME`: the bid request's domain or app name, checked for
 * client-side generated tokens.
 *
 * @since 0.1.0
 * @category options
 */
export const domain = Options.text("domain").pipe(
  Options.withPseudoName("NAME"),
  Options.optional,
  Options.withDescription(
    "The bid request's domain (no subdomain) or app name; client-side generated tokens are accepted only for" +
      " the domains their site allows (bidstream client)."
  )
)
