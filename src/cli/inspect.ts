/**
 * `uid2 inspect [TOKEN]`: explains a token. Without keys, what its header
 * says (version, scope, identity type, master key id); with keys
 * (`--keys FILE`, or the operator's when a base URL is configured), every
 * field and the exact reason a decrypt fails. With no TOKEN it reads one
 * token per line from stdin and prints one JSON line per input line.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type DecryptError, InvalidPayload } from "../DecryptError.js"
import { decrypt, type DecryptOptions, type PreparedRing } from "../Decryption.js"
import type { RawUidInfo, TokenDetails } from "../Token.js"
import { answerStdin } from "./batch.js"
import { positional } from "./decrypt.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import { loadRing, prepared } from "./keySource.js"
import * as Flags from "./options.js"
import { colorsOn, palette, printJson, printLine, stdout } from "./terminal.js"
import { abbreviate, table } from "./text.js"
import { describeInstant } from "./time.js"
import {
  asRawUid,
  detailsJson,
  failureDetails,
  failureJson,
  headerJson,
  isHeaderError,
  rawUidJson,
  readHeader,
  type TokenHeader
} from "./tokenReport.js"

/**
 * What inspect found out about one input.
 *
 * @since 0.1.0
 * @category models
 */
export type Report =
  | { readonly _tag: "RawUid"; readonly text: string; readonly info: RawUidInfo }
  | { readonly _tag: "Unreadable"; readonly text: string; readonly error: DecryptError }
  | { readonly _tag: "Header"; readonly text: string; readonly header: TokenHeader }
  | {
    readonly _tag: "Decrypted"
    readonly text: string
    readonly header: TokenHeader
    readonly details: TokenDetails
    readonly uid: string
    /** Set when `--ignore-expiry` looked past the expiry: when the token expired. */
    readonly expiredAt: number | undefined
  }
  | {
    readonly _tag: "Failed"
    readonly text: string
    readonly header: TokenHeader
    readonly error: DecryptError
    readonly details: TokenDetails | undefined
  }

/**
 * The keys inspect decrypts with, when it has some.
 *
 * @since 0.1.0
 * @category models
 */
export interface WithKeys {
  readonly ring: PreparedRing
  readonly options: DecryptOptions
  readonly ignoreExpiry: boolean
}

/**
 * Inspects one token (or raw UID) at `nowMs`.
 *
 * @since 0.1.0
 * @category inspect
 */
export const inspect = (text: string, nowMs: number, keys: WithKeys | undefined): Report => {
  const raw = asRawUid(text)
  if (raw !== undefined) return { _tag: "RawUid", text, info: raw }
  const header = readHeader(text)
  if (isHeaderError(header)) return { _tag: "Unreadable", text, error: header }
  if (keys === undefined) return { _tag: "Header", text, header }
  let result = decrypt(keys.ring, text, nowMs, keys.options)
  let expiredAt: number | undefined
  if (result._tag === "ExpiredToken" && keys.ignoreExpiry) {
    // Decided as of the moment it expired: every other check still applies.
    expiredAt = result.token.expiry
    result = decrypt(keys.ring, text, expiredAt, keys.options)
  }
  return result._tag === "DecryptedToken"
    ? { _tag: "Decrypted", text, header, details: result, uid: result.uid, expiredAt }
    : { _tag: "Failed", text, header, error: result, details: failureDetails(result) }
}

/**
 * Whether the report is a success (exit code 0).
 *
 * @since 0.1.0
 * @category inspect
 */
export const succeeded = (report: Report): boolean => report._tag !== "Unreadable" && report._tag !== "Failed"

const tokenFields = (details: TokenDetails) => ({
  version: details.version,
  scope: details.identityScope,
  identityType: details.identityType ?? null,
  masterKeyId: details.masterKeyId,
  ...detailsJson(details)
})

/**
 * The JSON of a report.
 *
 * @since 0.1.0
 * @category json
 */
export const reportJson = (report: Report): Record<string, unknown> => {
  switch (report._tag) {
    case "RawUid":
      return { status: "success", ...rawUidJson(report.info) }
    case "Unreadable":
      return { ...failureJson(report.error), kind: "unknown" }
    case "Header":
      return { status: "success", kind: "token", decrypted: false, ...headerJson(report.header) }
    case "Decrypted":
      return {
        status: "success",
        kind: "token",
        decrypted: true,
        ...headerJson(report.header),
        ...tokenFields(report.details),
        uid: report.uid,
        ...(report.expiredAt === undefined ? {} : { expiryIgnored: true })
      }
    case "Failed":
      return {
        ...failureJson(report.error),
        kind: "token",
        decrypted: report.details !== undefined,
        ...headerJson(report.header),
        ...(report.details === undefined ? {} : tokenFields(report.details))
      }
  }
}

const yesNo = (value: boolean) => value ? "yes" : "no"

const privacyText = (bits: number): string => {
  const flags = [
    (bits & 1) !== 0 ? "legacy" : undefined,
    (bits & 2) !== 0 ? "client-side generated" : undefined,
    (bits & 4) !== 0 ? "opted out" : undefined
  ].filter((flag) => flag !== undefined)
  return `${bits}${flags.length === 0 ? "" : ` (${flags.join(", ")})`}`
}

const headerRows = (header: TokenHeader): Array<readonly [string, string]> => [
  [
    "version",
    `${header.version} (${header.encoding === "base64url" ? "Base64URL" : "Base64"}, ${header.length} characters)`
  ],
  ["scope", header.scope ?? "— (a V2 header carries none)"],
  ["identity type", header.identityType ?? "— (a V2 header carries none)"],
  ["master key", String(header.masterKeyId)]
]

const detailRows = (details: TokenDetails, nowMs: number): Array<readonly [string, string]> => [
  ["scope", details.identityScope],
  ["identity type", details.identityType ?? "— (V2 tokens carry none)"],
  ["master key", String(details.masterKeyId)],
  ["site key", String(details.siteKeyId)],
  ["site id", String(details.siteId)],
  ["established", describeInstant(details.established, nowMs)],
  ...(details.generated === undefined ? [] : [["generated", describeInstant(details.generated, nowMs)] as const]),
  ...(details.refreshed === undefined ? [] : [["refreshed", describeInstant(details.refreshed, nowMs)] as const]),
  ["expires", describeInstant(details.expiry, nowMs)],
  ["privacy bits", privacyText(details.privacyBits)],
  ["client-side generated", yesNo(details.isClientSideGenerated)],
  ...(details.operator === undefined
    ? []
    : [
      [
        "operator",
        `site ${details.operator.siteId}, type ${details.operator.type}, version ${details.operator.version}, key ${details.operator.keyId}`
      ] as const
    ])
]

/**
 * The text of a report, for people.
 *
 * @since 0.1.0
 * @category text
 */
export const reportText = (report: Report, nowMs: number, origin: string | undefined): Array<string> => {
  const c = palette(colorsOn(stdout))
  const token: readonly [string, string] = ["token", abbreviate(report.text, 24)]
  switch (report._tag) {
    case "RawUid": {
      const info = report.info
      return [
        ...table([
          ["input", report.text],
          ["kind", "a raw UID, not a token (encrypt it with `uid2 encrypt`)"],
          ["generation", String(info.generation)],
          ...(info.generation === 2
            ? []
            : [["scope", info.identityScope] as const, ["identity type", info.identityType] as const])
        ])
      ]
    }
    case "Unreadable":
      return [...table([token]), c.red(`✗ ${report.error._tag}: ${report.error.message}`)]
    case "Header":
      return [
        ...table([token, ...headerRows(report.header)]),
        c.dim("Decrypt it for every field: add --keys FILE, or operator credentials (--base-url, or UID2_BASE_URL …).")
      ]
    case "Decrypted":
      return [
        ...table([
          token,
          ...headerRows(report.header).slice(0, 1),
          ...detailRows(report.details, nowMs),
          ["raw UID", report.uid],
          ["keys", origin ?? "—"]
        ]),
        report.expiredAt === undefined
          ? c.green("✓ success")
          : c.yellow(
            `✓ success as of its expiry (it expired ${describeInstant(report.expiredAt, nowMs)}; --ignore-expiry)`
          )
      ]
    case "Failed":
      return [
        ...table([
          token,
          ...(report.details === undefined
            ? headerRows(report.header)
            : [...headerRows(report.header).slice(0, 1), ...detailRows(report.details, nowMs)]),
          ["keys", origin ?? "—"]
        ]),
        c.red(`✗ ${report.error._tag}: ${report.error.message}`),
        ...(report.error._tag === "ExpiredToken" ? [c.dim("Add --ignore-expiry to decrypt it as of its expiry.")] : [])
      ]
  }
}

const tooLong = (length: number, limit: number) => ({
  json: {
    ...failureJson(new InvalidPayload({ detail: `token of ${length} characters is longer than the ${limit} limit` })),
    kind: "unknown"
  },
  ok: false
})

/**
 * The `inspect` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "inspect",
  {
    ...Flags.output,
    ...Flags.credentials,
    token: Args.text({ name: "TOKEN" }).pipe(
      Args.withDescription("The token (or raw UID). Without it, tokens are read from stdin, one per line."),
      Args.optional
    ),
    keys: Flags.keys,
    now: Flags.now,
    client: Flags.client("bidstream"),
    domain: Flags.domain,
    ignoreExpiry: Options.boolean("ignore-expiry").pipe(
      Options.withDescription("Decrypt an expired token as of its expiry, to see its fields and raw UID.")
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const token = yield* positional(flags.token)
        const useKeys = Option.isSome(flags.keys) || Option.isSome(flags.baseUrl)
        const loaded = useKeys
          ? yield* loadRing({ keys: flags.keys, credentials: flags, client: flags.client })
          : undefined
        const keys: WithKeys | undefined = loaded === undefined ? undefined : {
          ring: yield* prepared(loaded.ring),
          options: { clientType: flags.client, domainOrAppName: Option.getOrUndefined(flags.domain) },
          ignoreExpiry: flags.ignoreExpiry
        }
        const now = () => Option.getOrElse(flags.now, () => Date.now())
        if (Option.isNone(token)) {
          const tally = yield* answerStdin("tokens", (line) => {
            const report = inspect(line, now(), keys)
            return { json: reportJson(report), ok: succeeded(report) }
          }, tooLong)
          return tally.failed === 0 ? Errors.ExitCode.Success : Errors.ExitCode.Failed
        }
        const nowMs = now()
        const report = inspect(token.value, nowMs, keys)
        if (flags.json) yield* printJson(reportJson(report))
        else for (const line of reportText(report, nowMs, loaded?.origin)) yield* printLine(line)
        return succeeded(report) ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      }).pipe(Effect.scoped)
    )
).pipe(Command.withDescription(page(
  "Explain a token: what its header says, and with keys every field and the exact reason a decrypt fails.",
  [
    "Without keys: version, scope, identity type and master key id, read from the header. With keys (--keys FILE," +
    " or online when a base URL is configured): site key, site id, established / generated / refreshed / expires as" +
    " ISO times, privacy flags, client-side generation, the operator fields, the raw UID, and the result.",
    "Without TOKEN, reads one token per line from stdin and prints one JSON line per input line, in order.",
    EXIT_CODES
  ],
  [
    ["what the header says", "uid2 inspect AgAAAAN6QZRC…"],
    [
      "every field, and why it fails, with a saved bidstream key response",
      "uid2 inspect --keys bidstream.json A4AAAACk…"
    ],
    ["an expired token's fields", "uid2 inspect --keys sharing.json --client sharing --ignore-expiry A4AAAACk…"]
  ]
)))
