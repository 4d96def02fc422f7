/**
 * `uid2 decrypt [TOKEN]`: decrypts advertising or sharing tokens, offline
 * from a saved key response or online with the operator's keys. With no
 * TOKEN it reads one token per line from stdin and prints one JSON line per
 * input line, in order.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidPayload } from "../DecryptError.js"
import { decrypt, type DecryptOptions, type DecryptResult, type PreparedRing } from "../Decryption.js"
import { answerStdin } from "./batch.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import { loadRing, prepared } from "./keySource.js"
import * as Flags from "./options.js"
import { printJson, printLine } from "./terminal.js"
import { table } from "./text.js"
import { decryptJson, isoText } from "./tokenReport.js"

/**
 * The text of a positional token argument, refusing what looks like a
 * mistyped flag (no token starts with `-`).
 *
 * @since 0.1.0
 * @category arguments
 */
export const positional = (value: Option.Option<string>): Effect.Effect<Option.Option<string>, Errors.CliError> =>
  Option.isSome(value) && value.value.startsWith("-")
    ? Effect.fail(Errors.usage(`unknown option ${value.value.split("=")[0]} (see --help)`))
    : Effect.succeed(Option.map(value, (text) => text.trim()))

/**
 * The human-readable lines of a decrypt result.
 *
 * @since 0.1.0
 * @category text
 */
export const decryptText = (result: DecryptResult): Array<string> =>
  result._tag === "DecryptedToken"
    ? table([
      ["uid", result.uid],
      ["version", String(result.version)],
      ["scope", result.identityScope],
      ["identity type", result.identityType ?? "— (V2 tokens carry none)"],
      ["site id", String(result.siteId)],
      ["established", isoText(result.established)],
      ["refreshed", isoText(result.refreshed)],
      ["generated", isoText(result.generated)],
      ["expires", isoText(result.expiry)],
      ["client-side generated", result.isClientSideGenerated ? "yes" : "no"]
    ])
    : [`${result._tag}: ${result.message}`]

/**
 * Decrypts one line, for the stdin mode.
 *
 * @since 0.1.0
 * @category batch
 */
export const decryptLine = (ring: PreparedRing, options: DecryptOptions, now: () => number) => (line: string) => {
  const result = decrypt(ring, line, now(), options)
  return { json: decryptJson(result), ok: result._tag === "DecryptedToken" }
}

/**
 * The answer to a line over the length limit.
 *
 * @since 0.1.0
 * @category batch
 */
export const tooLongToken = (length: number, limit: number) => ({
  json: decryptJson(new InvalidPayload({ detail: `token of ${length} characters is longer than the ${limit} limit` })),
  ok: false
})

/**
 * The `decrypt` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "decrypt",
  {
    ...Flags.output,
    ...Flags.credentials,
    token: Args.text({ name: "TOKEN" }).pipe(
      Args.withDescription("The token. Without it, tokens are read from stdin, one per line."),
      Args.optional
    ),
    keys: Flags.keys,
    now: Flags.now,
    client: Flags.client("bidstream"),
    domain: Flags.domain
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const token = yield* positional(flags.token)
        const loaded = yield* loadRing({ keys: flags.keys, credentials: flags, client: flags.client })
        const ring = yield* prepared(loaded.ring)
        const options: DecryptOptions = {
          clientType: flags.client,
          domainOrAppName: Option.getOrUndefined(flags.domain)
        }
        const now = () => Option.getOrElse(flags.now, () => Date.now())
        if (Option.isNone(token)) {
          const tally = yield* answerStdin("tokens", decryptLine(ring, options, now), tooLongToken)
          return tally.failed === 0 ? Errors.ExitCode.Success : Errors.ExitCode.Failed
        }
        const result = decrypt(ring, token.value, now(), options)
        if (flags.json) yield* printJson(decryptJson(result))
        else for (const line of decryptText(result)) yield* printLine(line)
        return result._tag === "DecryptedToken" ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "Decrypt advertising tokens (DSP, bidstream) or sharing tokens into raw UID2s, with the exact reason when one fails.",
  [
    "Offline with --keys FILE (a saved /v2/key/bidstream or /v2/key/sharing response); otherwise online with the" +
    " keys of the operator (--base-url, --api-key, --secret-key or UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY).",
    "Without TOKEN, reads one token per line from stdin and prints exactly one JSON line per input line, in order:" +
    " {\"status\":\"success\",\"uid\",\"version\",\"scope\",\"identityType\",\"siteId\",\"established\",\"expires\",…}" +
    " or {\"status\":\"<error tag>\",\"message\"}.",
    EXIT_CODES
  ],
  [
    [
      "a token from a bid request, offline, checking the domain",
      "uid2 decrypt --keys bidstream.json --domain example.com AgAAAA…"
    ],
    [
      "a file of sharing tokens, as of a fixed time",
      "uid2 decrypt --keys sharing.json --client sharing --now 2024-05-01T00:00:00Z < tokens.txt"
    ],
    ["online, with credentials from UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY", "uid2 decrypt --json A4AAAAB…"]
  ]
)))
