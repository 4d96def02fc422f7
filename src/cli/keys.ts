/**
 * `uid2 keys`: fetches a key ring (`/v2/key/bidstream` or `/v2/key/sharing`)
 * and summarises it without printing key material; `--save FILE` writes the
 * response body for offline use (mode 0600). With `--keys FILE` it
 * summarises a saved ring instead.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { KeyRing } from "../KeyRing.js"
import * as Errors from "./errors.js"
import * as Handler from "./handler.js"
import { EXIT_CODES, page } from "./help.js"
import { loadRing, saveBody } from "./keySource.js"
import * as Flags from "./options.js"
import { printJson, printLine } from "./terminal.js"
import { table } from "./text.js"
import { describeInstant, duration, isoOrMs } from "./time.js"

/**
 * A ring's summary: settings, key ids and activity, never a secret.
 *
 * @since 0.1.0
 * @category summary
 */
export const summary = (ring: KeyRing, nowMs: number) => ({
  scope: ring.identityScope,
  format: ring.legacy ? "legacy" : "current",
  callerSiteId: ring.callerSiteId ?? null,
  masterKeysetId: ring.masterKeysetId ?? null,
  defaultKeysetId: ring.defaultKeysetId ?? null,
  keyCount: ring.keys.length,
  keyIds: ring.keys.map((key) => key.id),
  activeKeyCount: ring.keys.filter((key) => key.isActive(nowMs)).length,
  activeMasterKeyId: ring.activeMasterKey(nowMs)?.id ?? null,
  activeDefaultKeyId: ring.activeDefaultKey(nowMs)?.id ?? null,
  usable: ring.isValid(nowMs),
  usableUntil: ring.keys.length === 0 ? null : isoOrMs(ring.latestKeyExpiry),
  tokenExpirySeconds: ring.tokenExpirySeconds,
  maxBidstreamLifetimeSeconds: ring.maxBidstreamLifetimeSeconds ?? null,
  maxSharingLifetimeSeconds: ring.maxSharingLifetimeSeconds ?? null,
  allowClockSkewSeconds: ring.allowClockSkewSeconds,
  sites: Array.from(ring.sites, ([id, names]) => ({ id, domainNames: Array.from(names) }))
})

const seconds = (value: number | null): string => value === null ? "unlimited" : duration(value * 1000)

const text = (ring: KeyRing, nowMs: number, origin: string): Array<string> => {
  const s = summary(ring, nowMs)
  const ids = s.keyIds.length <= 12 ? s.keyIds.join(", ") : `${s.keyIds.slice(0, 12).join(", ")}, …`
  return table([
    ["keys from", origin],
    ["scope", s.scope],
    ["caller site", s.callerSiteId === null ? "—" : String(s.callerSiteId)],
    [
      "master keyset",
      s.masterKeysetId === null ? "—" : `${s.masterKeysetId} (active key ${s.activeMasterKeyId ?? "none"})`
    ],
    [
      "default keyset",
      s.defaultKeysetId === null ? "—" : `${s.defaultKeysetId} (active key ${s.activeDefaultKeyId ?? "none"})`
    ],
    ["keys", `${s.keyCount} (${s.activeKeyCount} active now): ${ids}`],
    [
      "usable until",
      ring.keys.length === 0
        ? "never (no keys)"
        : `${describeInstant(ring.latestKeyExpiry, nowMs)}${s.usable ? "" : " — the ring can no longer decrypt"}`
    ],
    ["sharing token life", seconds(s.tokenExpirySeconds)],
    ["max bidstream life", seconds(s.maxBidstreamLifetimeSeconds)],
    ["max sharing life", seconds(s.maxSharingLifetimeSeconds)],
    ["allowed clock skew", seconds(s.allowClockSkewSeconds)],
    [
      "sites with domains",
      s.sites.length === 0 ? "none" : s.sites.map((site) => `${site.id} (${site.domainNames.length})`).join(", ")
    ]
  ])
}

/**
 * The `keys` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "keys",
  {
    ...Flags.output,
    ...Flags.credentials,
    client: Flags.client("bidstream"),
    keys: Flags.keys,
    now: Flags.now,
    save: Options.text("save").pipe(
      Options.withPseudoName("FILE"),
      Options.optional,
      Options.withDescription("Write the response body to FILE (mode 0600: it holds key material) for --keys.")
    )
  },
  (flags) =>
    Handler.run(
      flags,
      Effect.gen(function*() {
        const loaded = yield* loadRing({ keys: flags.keys, credentials: flags, client: flags.client })
        const nowMs = Option.getOrElse(flags.now, () => Date.now())
        if (Option.isSome(flags.save)) yield* saveBody(flags.save.value, loaded.body)
        const saved = Option.getOrNull(flags.save)
        if (flags.json) {
          yield* printJson({ status: "success", origin: loaded.origin, ...summary(loaded.ring, nowMs), saved })
        } else {
          for (const line of text(loaded.ring, nowMs, loaded.origin)) yield* printLine(line)
          if (saved !== null) yield* printLine(`saved to ${saved} (mode 0600: it holds key material)`)
        }
        return loaded.ring.isValid(nowMs) ? Errors.ExitCode.Success : Errors.ExitCode.Failed
      })
    )
).pipe(Command.withDescription(page(
  "Fetch a key ring from the operator and summarise it (no key material is printed).",
  [
    "--client bidstream fetches /v2/key/bidstream (DSPs), --client sharing /v2/key/sharing (sharers). --save FILE" +
    " keeps the body for offline `decrypt`, `inspect` and `encrypt --keys FILE`. With --keys FILE, summarises a" +
    " saved ring. Exits 1 when the ring holds no key that can still decrypt.",
    EXIT_CODES
  ],
  [
    ["the bidstream ring, saved for offline use", "uid2 keys --save bidstream.json"],
    ["the sharing ring as JSON", "uid2 keys --client sharing --json"],
    ["a saved ring", "uid2 keys --keys bidstream.json"]
  ]
)))
