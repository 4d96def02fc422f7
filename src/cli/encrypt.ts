/**
 * `uid2 encrypt [RAW_UID]`: makes V4 sharing tokens from raw UID2s with the
 * sharing keys, offline from a saved `/v2/key/sharing` response or online.
 * With no RAW_UID it reads one raw UID per line from stdin and prints one
 * JSON line per input line, in order.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type EncryptError, EncryptionFailure } from "../DecryptError.js"
import { encryptRawUid, type PreparedRing } from "../Decryption.js"
import { identityTypeOfRawUid, rawUidInfo } from "../Token.js"
import { answerStdin } from "./batch.js"
import { positional } from "./decrypt.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import { loadRing, prepared } from "./keySource.js"
import * as Flags from "./options.js"
import { printJson, printLine } from "./terminal.js"
import { isoOrMs } from "./time.js"
import { failureJson } from "./tokenReport.js"

const notRawUid = new EncryptionFailure({ detail: "not a raw UID2 (standard Base64 of 32 or 33 bytes)" })

/**
 * Encrypts one raw UID at `nowMs`: the token, or why not.
 *
 * @since 0.1.0
 * @category encrypt
 */
export const encryptOne = (ring: PreparedRing, rawUid: string, nowMs: number): string | EncryptError =>
  rawUidInfo(rawUid) === undefined ? notRawUid : encryptRawUid(ring, rawUid, nowMs)

/**
 * The JSON of an encrypt result.
 *
 * @since 0.1.0
 * @category json
 */
export const encryptJson = (ring: PreparedRing, rawUid: string, nowMs: number, result: string | EncryptError) =>
  typeof result === "string"
    ? {
      status: "success",
      token: result,
      scope: ring.ring.identityScope,
      identityType: identityTypeOfRawUid(rawUid),
      siteId: ring.ring.callerSiteId ?? 0,
      expires: isoOrMs(nowMs + ring.ring.tokenExpirySeconds * 1000)
    }
    : failureJson(result)

const tooLong = (length: number, limit: number) => ({
  json: failureJson(
    new EncryptionFailure({ detail: `input of ${length} characters is longer than the ${limit} limit` })
  ),
  ok: false
})

/**
 * The `encrypt` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "encrypt",
  {
    ...Flags.output,
    ...Flags.credentials,
    rawUid: Args.text({ name: "RAW_UID" }).pipe(
      Args.withDescription("The raw UID2 (Base64). Without it, raw UIDs are read from stdin, one per line."),
      Args.optional
    ),
    keys: Flags.keys,
    now: Flags.now,
    client: Options.choice("client", ["sharing"] as const).pipe(
      Options.withDefault("sharing" as const),
      Options.withDescription("Sharing tokens are made with the sharing keys (/v2/key/sharing): the only choice.")
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const rawUid = yield* positional(flags.rawUid)
        const loaded = yield* loadRing({ keys: flags.keys, credentials: flags, client: flags.client })
        const ring = yield* prepared(loaded.ring)
        const now = () => Option.getOrElse(flags.now, () => Date.now())
        if (Option.isNone(rawUid)) {
          const tally = yield* answerStdin("raw UIDs", (line) => {
            const nowMs = now()
            const result = encryptOne(ring, line, nowMs)
            return { json: encryptJson(ring, line, nowMs, result), ok: typeof result === "string" }
          }, tooLong)
          return tally.failed === 0 ? Errors.ExitCode.Success : Errors.ExitCode.Failed
        }
        const nowMs = now()
        const result = encryptOne(ring, rawUid.value, nowMs)
        if (flags.json) yield* printJson(encryptJson(ring, rawUid.value, nowMs, result))
        else yield* printLine(typeof result === "string" ? result : `${result._tag}: ${result.message}`)
        return typeof result === "string" ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "Make a sharing token (V4) from a raw UID2, with your sharing keys.",
  [
    "Offline with --keys FILE (a saved /v2/key/sharing response), otherwise with the operator's sharing keys." +
    " Prints the token alone (or, with --json, {\"status\":\"success\",\"token\",\"scope\",\"identityType\",\"siteId\",\"expires\"}).",
    "Without RAW_UID, reads one raw UID per line from stdin and prints one JSON line per input line, in order.",
    EXIT_CODES
  ],
  [
    ["one raw UID, offline", "uid2 encrypt --keys sharing.json BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"],
    ["a file of raw UIDs, online", "uid2 encrypt < raw-uids.txt > tokens.ndjson"],
    ["round trip", "uid2 encrypt --keys sharing.json UID | uid2 decrypt --keys sharing.json --client sharing"]
  ]
)))
