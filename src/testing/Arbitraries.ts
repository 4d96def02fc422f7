/**
 * fast-check arbitraries for property tests of code built on this SDK: raw
 * UIDs, identity scopes and types, emails and phone numbers, key rings with
 * rotations, tokens of every version built with the {@link token} builder, and
 * mutations of token text (bit flips, truncation, appended or random bytes,
 * random strings, wrong-alphabet swaps).
 *
 * Every arbitrary is built on the fast-check that `effect` bundles
 * (`effect/FastCheck`), so it plugs straight into `it.prop` and
 * `it.effect.prop` of `@effect/vitest`. Times are epoch milliseconds, always
 * safe integers.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import { Crypto, Decryption, type KeyRing } from "effect-uid2"
 * import { Arbitraries } from "effect-uid2/testing"
 *
 * const crypto = Crypto.makeNode(Crypto.secureRandom)
 * const decrypt = (ring: KeyRing.KeyRing, text: string, now: number) =>
 *   Decryption.decrypt(Decryption.prepare(ring, crypto), text, now, { clientType: "sharing" })
 *
 * it.prop("a token built on a ring decrypts to its raw UID", [Arbitraries.tokenSample({ clientType: "sharing" })], ([s]) => {
 *   const result = decrypt(s.ring, s.text, s.now)
 *   expect(result._tag === "DecryptedToken" ? result.uid : result._tag).toBe(s.tokenSpec.uid)
 * })
 *
 * it.prop("random text is a typed error", [Arbitraries.keyRing(), Arbitraries.randomString], ([r, text]) => {
 *   expect(decrypt(r.ring, text, r.now)._tag).not.toBe("DecryptedToken")
 * })
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { normalizeEmail } from "../Dii.js"
import { type IdentityScope, type IdentityType, scopeBit, typeBits } from "../Identity.js"
import * as Base64 from "../internal/base64.js"
import type { Key, KeyRing } from "../KeyRing.js"
import { detectVersion, type OperatorIdentity, type TokenVersion } from "../Token.js"
import {
  keyRing as buildKeyRing,
  type KeyRingSpec,
  type KeySpec,
  secretFor,
  token,
  type TokenSpec
} from "./Builders.js"

const SECOND = 1_000
const HOUR = 3_600_000
const DAY = 86_400_000
const YEAR = 365 * DAY
const INT32_MAX = 2_147_483_647
const INT32_MIN = -2_147_483_648

// ---------------------------------------------------------------------------
// Times

/**
 * Smallest time {@link timestamp} produces: 2015-01-01T00:00:00Z.
 *
 * @since 0.1.0
 * @category times
 */
export const MIN_TIMESTAMP = Date.UTC(2015, 0, 1)

/**
 * Largest time {@link timestamp} produces: 2100-01-01T00:00:00Z.
 *
 * @since 0.1.0
 * @category times
 */
export const MAX_TIMESTAMP = Date.UTC(2100, 0, 1)

/**
 * A realistic "now": epoch milliseconds between 2015 and 2100.
 *
 * @since 0.1.0
 * @category times
 */
export const timestamp: FastCheck.Arbitrary<number> = FastCheck.integer({ min: MIN_TIMESTAMP, max: MAX_TIMESTAMP })

// ---------------------------------------------------------------------------
// Identity

/**
 * `"UID2"` or `"EUID"`.
 *
 * @since 0.1.0
 * @category identity
 */
export const identityScope: FastCheck.Arbitrary<IdentityScope> = FastCheck.constantFrom("UID2", "EUID")

/**
 * `"Email"` or `"Phone"`.
 *
 * @since 0.1.0
 * @category identity
 */
export const identityType: FastCheck.Arbitrary<IdentityType> = FastCheck.constantFrom("Email", "Phone")

const bytesOf = (length: number): FastCheck.Arbitrary<Uint8Array> =>
  FastCheck.uint8Array({ minLength: length, maxLength: length })

const concat = (head: ReadonlyArray<number>, tail: Uint8Array): Uint8Array => {
  const out = new Uint8Array(head.length + tail.length)
  out.set(head, 0)
  out.set(tail, head.length)
  return out
}

// A first byte of 0x04–0x07 / 0x14–0x17 makes the Base64 text start with `B` / `F`.
const v2FirstByte = FastCheck.oneof(
  { arbitrary: FastCheck.integer({ min: 0, max: 255 }), weight: 3 },
  { arbitrary: FastCheck.constantFrom(0x04, 0x05, 0x06, 0x07, 0x14, 0x15, 0x16, 0x17), weight: 1 }
)

/**
 * Bytes of a v2 raw UID: 32 bytes with no metadata (a SHA-256 output).
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV2Bytes: FastCheck.Arbitrary<Uint8Array> = FastCheck.tuple(v2FirstByte, bytesOf(31)).map((
  [first, rest]
) => concat([first], rest))

/**
 * Bytes of a v3 raw UID: a metadata byte (scope bit 4, type bits 2–3, the
 * other bits clear) followed by 32 bytes.
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV3Bytes: FastCheck.Arbitrary<Uint8Array> = FastCheck.tuple(identityScope, identityType, bytesOf(32))
  .map(([scope, type, rest]) => concat([(scopeBit(scope) << 4) | (typeBits(type) << 2)], rest))

/**
 * Bytes of a v4 raw UID: metadata byte (environment in bits 6–7, bit 5 set),
 * 3-byte key id, 12-byte IV, 16 encrypted bytes and the XOR checksum of the
 * 32 bytes before it.
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV4Bytes: FastCheck.Arbitrary<Uint8Array> = FastCheck.tuple(
  FastCheck.integer({ min: 0, max: 2 }),
  identityScope,
  identityType,
  bytesOf(31)
).map(([environment, scope, type, body]) => {
  const out = concat([(environment << 6) | 0x20 | (scopeBit(scope) << 4) | (typeBits(type) << 2)], body)
  const withChecksum = new Uint8Array(33)
  withChecksum.set(out, 0)
  let checksum = 0
  for (let i = 0; i < 32; i++) checksum ^= out[i]!
  withChecksum[32] = checksum
  return withChecksum
})

/**
 * A v2 raw UID as canonical standard Base64: 44 characters ending in one `=`;
 * the first character may be `B` or `F` (which the sharing heuristic reads as phone).
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV2: FastCheck.Arbitrary<string> = rawUidV2Bytes.map(Base64.encode)

/**
 * A v3 raw UID as standard Base64: 44 characters, no padding, starting with
 * `A`, `B`, `E` or `F`.
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV3: FastCheck.Arbitrary<string> = rawUidV3Bytes.map(Base64.encode)

/**
 * A v4 raw UID as standard Base64: 44 characters, no padding.
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUidV4: FastCheck.Arbitrary<string> = rawUidV4Bytes.map(Base64.encode)

/**
 * Any raw UID (v2, v3 or v4) as canonical standard Base64.
 *
 * @since 0.1.0
 * @category raw uids
 */
export const rawUid: FastCheck.Arbitrary<string> = FastCheck.oneof(rawUidV2, rawUidV3, rawUidV4)

// ---------------------------------------------------------------------------
// DII

const LOWER = "abcdefghijklmnopqrstuvwxyz"
// Any Unicode code point but a lone surrogate. (fast-check's own `unit: "binary"` builds a reverse
// mapping of the whole Unicode range when first used, which costs about a second.)
const codePoint: FastCheck.Arbitrary<string> = FastCheck.oneof(
  { arbitrary: FastCheck.integer({ min: 0, max: 0x7f }), weight: 2 },
  { arbitrary: FastCheck.integer({ min: 0x80, max: 0xffff }), weight: 2 },
  { arbitrary: FastCheck.integer({ min: 0x10000, max: 0x10ffff }), weight: 1 }
).map((c) => String.fromCodePoint(c >= 0xd800 && c <= 0xdfff ? c - 0x800 : c))
// Any UTF-16 code unit, lone surrogates included.
const codeUnit: FastCheck.Arbitrary<string> = FastCheck.integer({ min: 0, max: 0xffff }).map((c) =>
  String.fromCharCode(c)
)
const DIGITS = "0123456789"
const localChar = FastCheck.constantFrom(...`${LOWER}${LOWER.toUpperCase()}${DIGITS}._-+`.split(""))
const labelChar = FastCheck.constantFrom(...`${LOWER}${DIGITS}`.split(""))
const joined = (chars: FastCheck.Arbitrary<string>, minLength: number, maxLength: number) =>
  FastCheck.array(chars, { minLength, maxLength }).map((cs) => cs.join(""))

/**
 * An email address that {@link normalizeEmail} accepts: fast-check's RFC 5322
 * addresses, and hand-made ones with upper case, dots, `+extension`s and
 * `gmail.com`.
 *
 * @since 0.1.0
 * @category dii
 */
export const email: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.emailAddress(),
  FastCheck.tuple(
    joined(localChar, 1, 24),
    FastCheck.oneof(
      FastCheck.constantFrom("gmail.com", "GMail.com", "example.com", "yahoo.co.uk"),
      FastCheck.tuple(joined(labelChar, 1, 12), FastCheck.constantFrom("com", "org", "de", "io")).map(([l, t]) =>
        `${l}.${t}`
      )
    )
  ).map(([local, domain]) => `${local}@${domain}`)
).filter((address) => Either.isRight(normalizeEmail(address)))

/**
 * A normalized E.164 phone number: `+`, a non-zero digit, then 9 to 14 digits.
 *
 * @since 0.1.0
 * @category dii
 */
export const phone: FastCheck.Arbitrary<string> = FastCheck.tuple(
  FastCheck.integer({ min: 1, max: 9 }),
  joined(FastCheck.constantFrom(...DIGITS.split("")), 9, 14)
).map(([first, rest]) => `+${first}${rest}`)

// ---------------------------------------------------------------------------
// Keys and key rings

/**
 * Options of {@link keySpec}.
 *
 * @since 0.1.0
 * @category keys
 */
export interface KeySpecOptions {
  /** The time the key's window is placed around; arbitrary if absent. */
  readonly now?: number
  /** Keyset id to give the key (none if absent). */
  readonly keysetId?: number
  /** Legacy site id to give the key (none if absent). */
  readonly siteId?: number
}

/**
 * One key around `now`: positive int32 id (mostly below 2^24), whole-second times, activation from
 * 120 days before to 10 days after `now`, lifetime 1 hour to 90 days (so it
 * may be expired, active or not yet active), 32 random secret bytes.
 *
 * @since 0.1.0
 * @category keys
 */
export const keySpec = (options: KeySpecOptions = {}): FastCheck.Arbitrary<KeySpec> =>
  FastCheck.tuple(
    options.now === undefined ? timestamp : FastCheck.constant(options.now),
    keyId,
    FastCheck.integer({ min: -120 * DAY, max: 10 * DAY }),
    FastCheck.integer({ min: HOUR, max: 90 * DAY }),
    FastCheck.integer({ min: 0, max: 7 * DAY }),
    bytesOf(32)
  ).map(([now, id, start, lifetime, lead, secret]) => {
    const activates = seconds(now + start)
    return {
      id,
      ...(options.keysetId === undefined ? {} : { keysetId: options.keysetId }),
      ...(options.siteId === undefined ? {} : { siteId: options.siteId }),
      created: activates - seconds(lead),
      activates,
      expires: activates + seconds(lifetime),
      secret
    }
  })

const seconds = (ms: number): number => Math.floor(ms / SECOND) * SECOND

/**
 * The response format a ring came from: sharing (keysets, master and
 * default keyset, caller site), bidstream (no keysets) or legacy
 * `/v2/key/latest` (site ids on keys, master keys with site −1).
 *
 * @since 0.1.0
 * @category keys
 */
export type KeyRingKind = "sharing" | "bidstream" | "legacy"

/**
 * Options of {@link keyRing}.
 *
 * @since 0.1.0
 * @category keys
 */
export interface KeyRingOptions {
  /** Formats to draw from (default: all three). */
  readonly kinds?: ReadonlyArray<KeyRingKind>
  /** The ring's "now"; arbitrary ({@link timestamp}) if absent. */
  readonly now?: number
  /** The ring's scope; arbitrary if absent. */
  readonly identityScope?: IdentityScope
  /**
   * When `true` (the default) the ring is valid at `now` and for at least two
   * more hours, and a sharing ring has an active key in its master keyset and
   * in its default keyset at `now`, so it can encrypt.
   */
  readonly activeKeys?: boolean
  /**
   * Whether the lifetime limits are set: always, never or either (the
   * default). Bidstream and sharing rings get `maxBidstreamLifetimeSeconds`,
   * sharing rings also `maxSharingLifetimeSeconds` (at least their token
   * expiry); legacy rings carry no settings at all.
   */
  readonly lifetimeLimits?: "always" | "never" | "sometimes"
}

/**
 * A generated ring together with what it was built from.
 *
 * @since 0.1.0
 * @category keys
 */
export interface KeyRingSample {
  /** Format the ring imitates. */
  readonly kind: KeyRingKind
  /** The time the ring was generated around. */
  readonly now: number
  /** What {@link buildKeyRing} was given (every key a {@link KeySpec}). */
  readonly ringSpec: Omit<KeyRingSpec, "keys"> & { readonly keys: ReadonlyArray<KeySpec> }
  /** The ring. */
  readonly ring: KeyRing
  /** Active key of the master keyset at `now` (sharing rings). */
  readonly activeMasterKey: Key | undefined
  /** Active key of the default keyset at `now` (sharing rings). */
  readonly activeDefaultKey: Key | undefined
}

interface Window {
  readonly created: number
  readonly activates: number
  readonly expires: number
}

// One key rotation: 1–4 keys, each activating `period` after the previous and living 1–3 periods.
const rotation = (now: number): FastCheck.Arbitrary<ReadonlyArray<Window>> =>
  FastCheck.tuple(
    FastCheck.integer({ min: -120 * DAY, max: 10 * DAY }),
    FastCheck.integer({ min: HOUR, max: 30 * DAY }),
    FastCheck.integer({ min: 1, max: 4 }),
    FastCheck.integer({ min: 100, max: 300 }),
    FastCheck.integer({ min: 0, max: 7 * DAY })
  ).map(([start, period, count, overlapPercent, lead]) =>
    Array.from({ length: count }, (_, i) => {
      const activates = seconds(now + start + i * period)
      return {
        created: activates - seconds(lead),
        activates,
        expires: activates + Math.max(SECOND, seconds(Math.round((period * overlapPercent) / 100)))
      }
    })
  )

// A key that is active from `back` before `now` until `ahead` after it (more than two hours).
const activeWindow = FastCheck.tuple(
  FastCheck.integer({ min: 0, max: 10 * DAY }),
  FastCheck.integer({ min: 3 * HOUR, max: 60 * DAY })
)

/**
 * A name as it appears in `site_data`: domains (any case), reverse-DNS app
 * names, app store ids, and arbitrary text.
 *
 * @since 0.1.0
 * @category domains
 */
export const domainOrAppName: FastCheck.Arbitrary<string> = FastCheck.oneof(
  { arbitrary: FastCheck.domain(), weight: 3 },
  {
    arbitrary: FastCheck.mixedCase(FastCheck.domain(), { toggleCase: toggleAsciiCase }),
    weight: 2
  },
  {
    arbitrary: FastCheck.array(FastCheck.stringMatching(/^[A-Za-z0-9]{1,8}$/), { minLength: 2, maxLength: 5 }).map((
      parts
    ) => parts.join(".")),
    weight: 2
  },
  { arbitrary: FastCheck.stringMatching(/^[1-9][0-9]{5,10}$/), weight: 1 },
  { arbitrary: FastCheck.string({ minLength: 1, maxLength: 20, unit: codePoint }), weight: 1 }
)

function toggleAsciiCase(c: string): string {
  const code = c.charCodeAt(0)
  if (c.length !== 1) return c
  if (code >= 65 && code <= 90) return String.fromCharCode(code + 32)
  if (code >= 97 && code <= 122) return String.fromCharCode(code - 32)
  return c
}

// Key ids: mostly small (so a flipped bit may hit another key of the ring), sometimes any positive int32.
const keyId: FastCheck.Arbitrary<number> = FastCheck.oneof(
  { arbitrary: FastCheck.integer({ min: 1, max: 0xffffff }), weight: 4 },
  { arbitrary: FastCheck.integer({ min: 1, max: INT32_MAX }), weight: 1 }
)

const siteId: FastCheck.Arbitrary<number> = FastCheck.oneof(
  FastCheck.integer({ min: 1, max: 100_000 }),
  FastCheck.integer({ min: 1, max: INT32_MAX })
)

const sitesArb = (minSites: number): FastCheck.Arbitrary<Readonly<Record<number, ReadonlyArray<string>>>> =>
  FastCheck.uniqueArray(
    FastCheck.tuple(siteId, FastCheck.array(domainOrAppName, { minLength: 1, maxLength: 5 })),
    { minLength: minSites, maxLength: 4, selector: ([id]) => id }
  ).map((entries) => Object.fromEntries(entries))

/**
 * A key ring of one of the three formats, with several keys per keyset (key
 * rotations), expired and not-yet-active keys, unique key ids and distinct
 * secrets, realistic settings (token expiry, lifetime limits, clock skew),
 * and `site_data` for bidstream rings. See {@link KeyRingOptions.activeKeys}
 * for what is guaranteed to be usable at `now`.
 *
 * @since 0.1.0
 * @category keys
 */
export const keyRing = (options: KeyRingOptions = {}): FastCheck.Arbitrary<KeyRingSample> => {
  const kinds = options.kinds ?? ["sharing", "bidstream", "legacy"]
  const limits = options.lifetimeLimits ?? "sometimes"
  const limit = (arb: FastCheck.Arbitrary<number>): FastCheck.Arbitrary<number | undefined> =>
    limits === "always"
      ? arb
      : limits === "never"
      ? FastCheck.constant(undefined)
      : FastCheck.option(arb, { nil: undefined })
  return FastCheck.tuple(
    FastCheck.constantFrom(...kinds),
    options.now === undefined ? timestamp : FastCheck.constant(options.now),
    options.identityScope === undefined ? identityScope : FastCheck.constant(options.identityScope)
  ).chain(([kind, now, scope]) =>
    FastCheck.record({
      groups: FastCheck.array(rotation(now), { minLength: kind === "bidstream" ? 1 : 2, maxLength: 4 }),
      ids: FastCheck.uniqueArray(keyId, { minLength: 20, maxLength: 20 }),
      secretSalt: FastCheck.integer({ min: 0, max: 1 << 20 }),
      keysetIds: FastCheck.uniqueArray(FastCheck.integer({ min: 2, max: 999_999 }), { minLength: 3, maxLength: 3 }),
      masterKeysetId: FastCheck.constantFrom(1, 9_999_999),
      legacySiteIds: FastCheck.uniqueArray(FastCheck.integer({ min: 1, max: 100_000 }), {
        minLength: 3,
        maxLength: 3
      }),
      callerSiteId: siteId,
      tokenExpirySeconds: FastCheck.oneof(
        FastCheck.constant(2_592_000),
        FastCheck.integer({ min: 1, max: 90 * 86_400 })
      ),
      extraSharingLifetime: limit(FastCheck.integer({ min: 0, max: 30 * 86_400 })),
      maxBidstreamLifetimeSeconds: limit(
        FastCheck.oneof(FastCheck.constant(3 * 86_400), FastCheck.integer({ min: 3_600, max: 30 * 86_400 }))
      ),
      allowClockSkewSeconds: FastCheck.oneof(FastCheck.constant(1_800), FastCheck.integer({ min: 0, max: 3_600 })),
      sites: kind === "bidstream" ? sitesArb(1) : FastCheck.constant({}),
      extra: FastCheck.tuple(activeWindow, activeWindow, activeWindow)
    }).map((g): KeyRingSample => {
      const ids = [...g.ids]
      const nextId = () => ids.pop()!
      const secret = (id: number) => secretFor(g.secretSalt * 0x1000000 + id)
      const [defaultKeysetId, ...otherKeysets] = g.keysetIds as [number, number, number]
      // Which keyset (sharing) or legacy site (legacy) each rotation group belongs to.
      const groupTag = (i: number): { keysetId?: number; siteId?: number } => {
        if (kind === "sharing") {
          return { keysetId: i === 0 ? g.masterKeysetId : i === 1 ? defaultKeysetId : otherKeysets[(i - 2) % 2]! }
        }
        if (kind === "legacy") return { siteId: i === 0 ? -1 : g.legacySiteIds[(i - 1) % 3]! }
        return {}
      }
      const keys: Array<KeySpec> = []
      g.groups.forEach((windows, i) => {
        for (const w of windows) {
          const id = nextId()
          keys.push({ id, ...groupTag(i), ...w, secret: secret(id) })
        }
      })
      const addActive = (tag: { keysetId?: number; siteId?: number }, [back, ahead]: [number, number]) => {
        const id = nextId()
        const activates = seconds(now - back)
        keys.push({ id, ...tag, created: activates, activates, expires: seconds(now + ahead), secret: secret(id) })
      }
      // A legacy `/v2/key/latest` array carries keys only: every setting keeps its default.
      const settings = kind === "legacy" ? { identityScope: scope } : {
        identityScope: scope,
        allowClockSkewSeconds: g.allowClockSkewSeconds,
        ...(g.maxBidstreamLifetimeSeconds === undefined
          ? {}
          : { maxBidstreamLifetimeSeconds: g.maxBidstreamLifetimeSeconds }),
        ...(kind === "bidstream" ? { sites: g.sites } : {}),
        ...(kind === "sharing"
          ? {
            callerSiteId: g.callerSiteId,
            masterKeysetId: g.masterKeysetId,
            defaultKeysetId,
            tokenExpirySeconds: g.tokenExpirySeconds,
            ...(g.extraSharingLifetime === undefined
              ? {}
              : { maxSharingLifetimeSeconds: g.tokenExpirySeconds + g.extraSharingLifetime })
          }
          : {})
      }
      if (options.activeKeys ?? true) {
        const probe = buildKeyRing({ ...settings, keys })
        if (kind === "sharing") {
          if (probe.activeMasterKey(now) === undefined) addActive({ keysetId: g.masterKeysetId }, g.extra[0])
          if (probe.activeDefaultKey(now) === undefined) addActive({ keysetId: defaultKeysetId }, g.extra[1])
        }
        if (!keys.some((k) => k.expires > now + 2 * HOUR)) addActive(groupTag(1 % g.groups.length), g.extra[2])
      }
      const ringSpec = { ...settings, keys }
      const ring = buildKeyRing(ringSpec)
      return {
        kind,
        now,
        ringSpec,
        ring,
        activeMasterKey: ring.activeMasterKey(now),
        activeDefaultKey: ring.activeDefaultKey(now)
      }
    })
  )
}

// ---------------------------------------------------------------------------
// Tokens

/**
 * A {@link TokenSpec} with every field set, as {@link tokenSpec} produces.
 *
 * @since 0.1.0
 * @category tokens
 */
export interface FullTokenSpec extends TokenSpec {
  readonly version: TokenVersion
  readonly uid: string
  readonly identityScope: IdentityScope
  readonly identityType: IdentityType
  readonly siteId: number
  readonly privacyBits: number
  readonly expiry: number
  readonly generated: number
  readonly established: number
  readonly refreshed: number
  readonly publisherId: number
  readonly clientKeyId: number
  readonly operator: OperatorIdentity
  readonly nonces: { readonly master: Uint8Array; readonly site: Uint8Array }
}

/**
 * Options of {@link tokenSpec}.
 *
 * @since 0.1.0
 * @category tokens
 */
export interface TokenSpecOptions {
  readonly masterKey: Key
  readonly siteKey: Key
  /** The decrypt time at which the token is valid. */
  readonly now: number
  /** The token's scope; arbitrary if absent. */
  readonly identityScope?: IdentityScope
  /** Versions to draw from (default 2, 3 and 4). */
  readonly versions?: ReadonlyArray<TokenVersion>
  /** Privacy bits to draw from (default {@link privacyBits}: never the opted-out bit). */
  readonly privacyBits?: FastCheck.Arbitrary<number>
  /** Longest allowed `expiry − generated` (and, for V2, `expiry − now`); 90 days if absent. */
  readonly maxLifetimeSeconds?: number | undefined
  /** How far past `now` "generated" may be (default 1800). */
  readonly allowClockSkewSeconds?: number
  /** Expiry stays below this time (e.g. the ring's last key expiry). */
  readonly expiryBefore?: number
  /** Site ids to prefer for the token's site id (e.g. those with `site_data`). */
  readonly siteIds?: ReadonlyArray<number>
}

/**
 * Privacy bits of a token that is not opted out: the usual 0–3, or any int32
 * with bit 2 clear.
 *
 * @since 0.1.0
 * @category tokens
 */
export const privacyBits: FastCheck.Arbitrary<number> = FastCheck.oneof(
  FastCheck.constantFrom(0, 1, 2, 3),
  FastCheck.integer({ min: INT32_MIN, max: INT32_MAX }).map((bits) => bits & ~4)
)

/**
 * Privacy bits of a client-side generated token (bit 1 set, bit 2 clear).
 *
 * @since 0.1.0
 * @category tokens
 */
export const clientSideGeneratedPrivacyBits: FastCheck.Arbitrary<number> = privacyBits.map((bits) => (bits | 2) & ~4)

/**
 * Privacy bits of a token that is neither client-side generated nor opted out.
 *
 * @since 0.1.0
 * @category tokens
 */
export const serverSideGeneratedPrivacyBits: FastCheck.Arbitrary<number> = privacyBits.map((bits) => bits & ~6)

const operatorIdentity: FastCheck.Arbitrary<OperatorIdentity> = FastCheck.oneof(
  FastCheck.constant({ siteId: 0, type: 1, version: 0, keyId: 0 }),
  FastCheck.record({
    siteId: FastCheck.integer({ min: 0, max: INT32_MAX }),
    type: FastCheck.constantFrom(1, 17),
    version: FastCheck.integer({ min: INT32_MIN, max: INT32_MAX }),
    keyId: FastCheck.integer({ min: 0, max: INT32_MAX })
  })
)

// A V3/V4 prefix byte with random ignored bits (0–1, 5–7); never 0x02, which would read as a V2 token.
const prefixByteFor = (scope: IdentityScope, type: IdentityType): FastCheck.Arbitrary<number | undefined> =>
  FastCheck.option(
    FastCheck.tuple(FastCheck.integer({ min: 0, max: 7 }), FastCheck.integer({ min: 0, max: 3 }))
      .map(([high, low]) => (high << 5) | (scopeBit(scope) << 4) | (typeBits(type) << 2) | low)
      .filter((byte) => byte !== 2),
    { nil: undefined, freq: 3 }
  )

/**
 * A token to build with {@link token}, valid at `now` for the given limits:
 * expiry in `[max(now, generated), min(now, generated) + maxLifetime]`,
 * generated within `[now − maxLifetime, now + skew]`, established up to 5
 * years before generated, refreshed between them, realistic ids, operator
 * fields and nonces (so the text is reproducible).
 *
 * @since 0.1.0
 * @category tokens
 */
export const tokenSpec = (options: TokenSpecOptions): FastCheck.Arbitrary<FullTokenSpec> => {
  const now = options.now
  const lifetime = (options.maxLifetimeSeconds ?? 90 * 86_400) * SECOND
  const skew = Math.min((options.allowClockSkewSeconds ?? 1_800) * SECOND, lifetime)
  const versions = options.versions ?? [2, 3, 4]
  const siteIds = options.siteIds ?? []
  return FastCheck.record({
    version: FastCheck.constantFrom(...versions),
    uid: rawUid,
    identityScope: options.identityScope === undefined ? identityScope : FastCheck.constant(options.identityScope),
    identityType,
    siteId: siteIds.length === 0 ? siteId : FastCheck.oneof(
      { arbitrary: FastCheck.constantFrom(...siteIds), weight: 3 },
      { arbitrary: siteId, weight: 1 }
    ),
    privacyBits: options.privacyBits ?? privacyBits,
    generatedOffset: FastCheck.integer({ min: -lifetime, max: skew }),
    expiryFraction: FastCheck.double({ min: 0, max: 1, noNaN: true }),
    establishedBefore: FastCheck.integer({ min: 0, max: 5 * YEAR }),
    refreshedFraction: FastCheck.option(FastCheck.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    publisherId: FastCheck.oneof(FastCheck.constant(0), FastCheck.integer({ min: 0, max: INT32_MAX })),
    clientKeyId: FastCheck.oneof(FastCheck.constant(0), FastCheck.integer({ min: 0, max: INT32_MAX })),
    operator: operatorIdentity,
    seed: FastCheck.integer()
  }).chain((r) =>
    FastCheck.tuple(
      prefixByteFor(r.identityScope, r.identityType),
      bytesOf(r.version === 2 ? 16 : 12),
      bytesOf(r.version === 2 ? 16 : 12)
    ).map(([prefix, master, site]): FullTokenSpec => {
      const generated = now + r.generatedOffset
      const low = Math.max(now, generated)
      const high = Math.max(low, Math.min(Math.min(now, generated) + lifetime, (options.expiryBefore ?? Infinity) - 2))
      const expiry = low + Math.floor((high - low) * r.expiryFraction)
      const established = generated - r.establishedBefore
      const refreshed = r.refreshedFraction === undefined
        ? generated
        : established + Math.floor((generated - established) * r.refreshedFraction)
      return {
        masterKey: options.masterKey,
        siteKey: options.siteKey,
        now,
        version: r.version,
        uid: r.uid,
        identityScope: r.identityScope,
        identityType: r.identityType,
        siteId: r.siteId,
        privacyBits: r.privacyBits,
        expiry,
        generated,
        established,
        refreshed,
        publisherId: r.publisherId,
        clientKeyId: r.clientKeyId,
        operator: r.operator,
        ...(prefix === undefined ? {} : { prefixByte: prefix }),
        nonces: { master, site }
      }
    })
  )
}

/**
 * Options of {@link tokenSample}: the ring's, and the token's.
 *
 * @since 0.1.0
 * @category tokens
 */
export interface TokenSampleOptions extends KeyRingOptions {
  /** Versions to draw from (default 2, 3 and 4). */
  readonly versions?: ReadonlyArray<TokenVersion>
  /** Privacy bits to draw from (default {@link privacyBits}). */
  readonly privacyBits?: FastCheck.Arbitrary<number>
  /**
   * The client whose lifetime limit the token respects: bidstream, sharing,
   * or legacy (none). Default: both the bidstream and the sharing limits.
   */
  readonly clientType?: "bidstream" | "sharing" | "legacy"
}

/**
 * A ring and a token built with two of its keys, valid at the ring's `now`
 * for the chosen client type (the domain check of client-side generated
 * tokens aside).
 *
 * @since 0.1.0
 * @category tokens
 */
export interface TokenSample extends KeyRingSample {
  /** What the token was built from. */
  readonly tokenSpec: FullTokenSpec
  /** The token text. */
  readonly text: string
}

const lifetimeLimit = (ring: KeyRing, clientType: TokenSampleOptions["clientType"]): number | undefined => {
  if (clientType === "legacy") return undefined
  if (clientType === "bidstream") return ring.maxBidstreamLifetimeSeconds
  if (clientType === "sharing") return ring.maxSharingLifetimeSeconds
  const both = [ring.maxBidstreamLifetimeSeconds, ring.maxSharingLifetimeSeconds].filter((s) => s !== undefined)
  return both.length === 0 ? undefined : Math.min(...both)
}

/**
 * A {@link KeyRingSample} plus a token built from any two of its keys (master
 * and site key may coincide), in the ring's scope, valid at the ring's `now`.
 *
 * @since 0.1.0
 * @category tokens
 */
export const tokenSample = (options: TokenSampleOptions = {}): FastCheck.Arbitrary<TokenSample> =>
  keyRing(options).chain((sample) =>
    FastCheck.tuple(FastCheck.constantFrom(...sample.ring.keys), FastCheck.constantFrom(...sample.ring.keys)).chain((
      [masterKey, siteKey]
    ) =>
      tokenSpec({
        masterKey,
        siteKey,
        now: sample.now,
        identityScope: sample.ring.identityScope,
        ...(options.versions === undefined ? {} : { versions: options.versions }),
        ...(options.privacyBits === undefined ? {} : { privacyBits: options.privacyBits }),
        maxLifetimeSeconds: lifetimeLimit(sample.ring, options.clientType),
        allowClockSkewSeconds: sample.ring.allowClockSkewSeconds,
        expiryBefore: sample.ring.latestKeyExpiry,
        siteIds: Object.keys(sample.ringSpec.sites ?? {}).map(Number)
      }).map((spec): TokenSample => ({ ...sample, tokenSpec: spec, text: token(spec) }))
    )
  )

/**
 * Token text of any version, built with the builders (see {@link tokenSample}).
 *
 * @since 0.1.0
 * @category tokens
 */
export const tokenText = (options: TokenSampleOptions = {}): FastCheck.Arbitrary<string> =>
  tokenSample(options).map((sample) => sample.text)

// ---------------------------------------------------------------------------
// Mutations

/**
 * The alphabet a token text is written in: standard Base64 (V2, V3, or a
 * re-encoded V4) or Base64URL (V4).
 *
 * @since 0.1.0
 * @category mutations
 */
export type TokenAlphabet = "standard" | "url"

/**
 * The bytes of a token text and its alphabet, as version detection and
 * decoding see them; `undefined` if it is not a token of a known version.
 *
 * @since 0.1.0
 * @category mutations
 */
export const tokenBytes = (
  text: string
): { readonly version: TokenVersion; readonly bytes: Uint8Array; readonly alphabet: TokenAlphabet } | undefined => {
  const version = detectVersion(text)
  if (typeof version !== "number") return undefined
  const bytes = Base64.decode(text, version === 4 ? "either" : "standard")
  if (bytes === undefined) return undefined
  return { version, bytes, alphabet: version === 4 && !/[+/=]/.test(text) ? "url" : "standard" }
}

/**
 * Encodes bytes in an alphabet (standard with padding, URL without).
 *
 * @since 0.1.0
 * @category mutations
 */
export const encodeBytes = (bytes: Uint8Array, alphabet: TokenAlphabet): string =>
  alphabet === "url" ? Base64.encodeUrl(bytes) : Base64.encode(bytes)

/**
 * One way of damaging a token. Byte-level mutations decode the token, change
 * the bytes and re-encode them in the token's own alphabet.
 *
 * - `FlipBit`: XOR bit `bit` (0 = least significant) of byte `byte`.
 * - `TruncateBytes` / `TruncateText`: keep the first `length` bytes / characters.
 * - `AppendBytes`: add bytes at the end.
 * - `ReplaceBody`: keep the first `keep` bytes (the header) and replace the rest.
 * - `RandomBytes`: ignore the token; Base64 of random bytes.
 * - `RandomString`: ignore the token; any string.
 * - `SwapAlphabet`: write the characters at `positions` in the other Base64
 *   alphabet (`+`↔`-`, `/`↔`_`), and add or strip `=` padding.
 *
 * @since 0.1.0
 * @category mutations
 */
export type Mutation =
  | { readonly _tag: "FlipBit"; readonly byte: number; readonly bit: number }
  | { readonly _tag: "TruncateBytes"; readonly length: number }
  | { readonly _tag: "TruncateText"; readonly length: number }
  | { readonly _tag: "AppendBytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "ReplaceBody"; readonly keep: number; readonly bytes: Uint8Array }
  | { readonly _tag: "RandomBytes"; readonly bytes: Uint8Array; readonly alphabet: TokenAlphabet }
  | { readonly _tag: "RandomString"; readonly text: string }
  | {
    readonly _tag: "SwapAlphabet"
    readonly positions: ReadonlyArray<number>
    readonly padding: "add" | "strip" | "keep"
  }

const BASE64URL = `${LOWER.toUpperCase()}${LOWER}${DIGITS}-_`

/**
 * Strings that are not tokens: printable ASCII, any Unicode, UTF-16 code
 * units (lone surrogates included), Base64 and Base64URL text of any length,
 * and text starting with a real token's first characters.
 *
 * @since 0.1.0
 * @category mutations
 */
export const randomString: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.string({ maxLength: 64 }),
  FastCheck.string({ maxLength: 32, unit: codePoint }),
  FastCheck.string({ maxLength: 32, unit: codeUnit }),
  FastCheck.base64String({ maxLength: 320 }),
  joined(FastCheck.constantFrom(...BASE64URL.split("")), 0, 320),
  FastCheck.tuple(
    FastCheck.constantFrom("Ag", "A3", "B3", "E3", "F3", "A4", "B4", "E4", "F4"),
    joined(FastCheck.constantFrom(...BASE64URL.split("")), 0, 300)
  ).map(([head, tail]) => head + tail)
)

/**
 * Base64 (either alphabet) of random bytes, of any length up to 300.
 *
 * @since 0.1.0
 * @category mutations
 */
export const randomBytesText: FastCheck.Arbitrary<string> = FastCheck.tuple(
  FastCheck.uint8Array({ maxLength: 300 }),
  FastCheck.constantFrom<TokenAlphabet>("standard", "url")
).map(([bytes, alphabet]) => encodeBytes(bytes, alphabet))

/**
 * Mutations of a given token text, every kind weighted towards bit flips.
 *
 * @since 0.1.0
 * @category mutations
 */
export const mutation = (text: string): FastCheck.Arbitrary<Mutation> => {
  const decoded = tokenBytes(text)
  const size = decoded?.bytes.length ?? 0
  const arbitraries: Array<FastCheck.WeightedArbitrary<Mutation>> = [
    {
      arbitrary: FastCheck.tuple(
        FastCheck.uint8Array({ maxLength: 300 }),
        FastCheck.constantFrom<TokenAlphabet>("standard", "url")
      ).map(([bytes, alphabet]) => ({ _tag: "RandomBytes", bytes, alphabet })),
      weight: 1
    },
    { arbitrary: randomString.map((s) => ({ _tag: "RandomString", text: s })), weight: 1 },
    {
      arbitrary: FastCheck.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((length) => ({
        _tag: "TruncateText",
        length
      })),
      weight: 1
    }
  ]
  if (size > 0) {
    arbitraries.push(
      {
        arbitrary: FastCheck.record({
          _tag: FastCheck.constant("FlipBit" as const),
          byte: FastCheck.oneof(
            FastCheck.integer({ min: 0, max: Math.min(size - 1, 6) }),
            FastCheck.integer({ min: 0, max: size - 1 })
          ),
          bit: FastCheck.integer({ min: 0, max: 7 })
        }),
        weight: 6
      },
      {
        arbitrary: FastCheck.integer({ min: 0, max: size - 1 }).map((length) => ({ _tag: "TruncateBytes", length })),
        weight: 1
      },
      {
        arbitrary: FastCheck.uint8Array({ minLength: 1, maxLength: 48 }).map((bytes) => ({
          _tag: "AppendBytes",
          bytes
        })),
        weight: 1
      },
      {
        arbitrary: FastCheck.tuple(
          FastCheck.integer({ min: 0, max: Math.min(size, 21) }),
          FastCheck.uint8Array({ maxLength: 300 })
        ).map(([keep, bytes]) => ({ _tag: "ReplaceBody", keep, bytes })),
        weight: 1
      }
    )
  }
  const swappable: Array<number> = []
  for (let i = 0; i < text.length; i++) if ("+/-_".includes(text[i]!)) swappable.push(i)
  arbitraries.push({
    arbitrary: FastCheck.tuple(
      FastCheck.oneof(FastCheck.constant(swappable), FastCheck.subarray(swappable)),
      FastCheck.constantFrom("add" as const, "strip" as const, "keep" as const)
    ).map(([positions, padding]) => ({ _tag: "SwapAlphabet", positions, padding })),
    weight: 1
  })
  return FastCheck.oneof(...arbitraries)
}

const SWAP: Readonly<Record<string, string>> = { "+": "-", "/": "_", "-": "+", "_": "/" }

/**
 * Applies a mutation to token text. Byte-level mutations of text that is not
 * a token apply to the empty byte string.
 *
 * @since 0.1.0
 * @category mutations
 */
export const applyMutation = (text: string, m: Mutation): string => {
  const decoded = tokenBytes(text)
  const bytes = decoded?.bytes ?? new Uint8Array(0)
  const alphabet = decoded?.alphabet ?? "standard"
  switch (m._tag) {
    case "FlipBit": {
      const out = Uint8Array.from(bytes)
      if (m.byte < out.length) out[m.byte] = out[m.byte]! ^ (1 << m.bit)
      return encodeBytes(out, alphabet)
    }
    case "TruncateBytes":
      return encodeBytes(bytes.subarray(0, m.length), alphabet)
    case "TruncateText":
      return text.slice(0, m.length)
    case "AppendBytes":
      return encodeBytes(concat(Array.from(bytes), m.bytes), alphabet)
    case "ReplaceBody":
      return encodeBytes(concat(Array.from(bytes.subarray(0, m.keep)), m.bytes), alphabet)
    case "RandomBytes":
      return encodeBytes(m.bytes, m.alphabet)
    case "RandomString":
      return m.text
    case "SwapAlphabet": {
      const chars = text.split("")
      for (const i of m.positions) if (i < chars.length) chars[i] = SWAP[chars[i]!] ?? chars[i]!
      const body = chars.join("").replace(/=+$/, "")
      return m.padding === "strip"
        ? body
        : m.padding === "add"
        ? body.padEnd(Math.ceil(body.length / 4) * 4, "=")
        : body + text.slice(text.replace(/=+$/, "").length)
    }
  }
}

/**
 * A mutation of a token together with the text it gives.
 *
 * @since 0.1.0
 * @category mutations
 */
export interface MutatedToken {
  readonly mutation: Mutation
  readonly text: string
}

/**
 * Mutated versions of a token text (see {@link Mutation}).
 *
 * @since 0.1.0
 * @category mutations
 */
export const mutatedToken = (text: string): FastCheck.Arbitrary<MutatedToken> =>
  mutation(text).map((m) => ({ mutation: m, text: applyMutation(text, m) }))

// ---------------------------------------------------------------------------
// Domains and app names

/**
 * Every spelling of `name` that differs from it only in the case of ASCII
 * letters (`A`–`Z` / `a`–`z`); other characters are kept as they are.
 *
 * @since 0.1.0
 * @category domains
 */
export const asciiCaseVariant = (name: string): FastCheck.Arbitrary<string> =>
  FastCheck.mixedCase(FastCheck.constant(name), { toggleCase: toggleAsciiCase })

/**
 * `true` iff `a` and `b` are equal ignoring the case of ASCII letters only.
 *
 * @since 0.1.0
 * @category domains
 */
export const equalsIgnoringAsciiCase = (a: string, b: string): boolean =>
  a.length === b.length && asciiLower(a) === asciiLower(b)

const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())

// Characters whose Unicode case mapping lands on an ASCII letter, and other lookalikes.
const LOOKALIKES: ReadonlyArray<readonly [string, string]> = [
  ["k", "\u212a"], // KELVIN SIGN: lower-cases to k
  ["s", "\u017f"], // LATIN SMALL LETTER LONG S: upper-cases to S
  ["i", "\u0131"], // dotless i: upper-cases to I
  ["I", "\u0130"], // dotted capital I: lower-cases to i + combining dot
  ["a", "\u0430"], // Cyrillic a
  ["e", "\u00e9"],
  ["o", "\u00f6"],
  [".", "\u3002"]
]

/**
 * Strings close to `names` that a strict comparison must reject (unless one
 * happens to equal a name): edits by one character, prefixes and suffixes,
 * added spaces, wildcards and subdomains, Unicode lookalikes and case
 * mappings that land on ASCII letters, plus arbitrary text. Filter the
 * result with {@link equalsIgnoringAsciiCase} before asserting.
 *
 * @since 0.1.0
 * @category domains
 */
export const nearMissName = (names: ReadonlyArray<string>): FastCheck.Arbitrary<string> => {
  const base = names.length === 0 ? FastCheck.constant("example.com") : FastCheck.constantFrom(...names)
  const anyChar = FastCheck.string({ minLength: 1, maxLength: 1, unit: codePoint })
  return FastCheck.oneof(
    base.chain((name) => asciiCaseVariant(name)).chain((name) =>
      FastCheck.oneof(
        FastCheck.tuple(FastCheck.nat({ max: name.length }), anyChar).map(([i, c]) =>
          name.slice(0, i) + c + name.slice(i)
        ),
        FastCheck.tuple(FastCheck.nat({ max: Math.max(0, name.length - 1) }), anyChar).map(([i, c]) =>
          name.slice(0, i) + c + name.slice(i + 1)
        ),
        FastCheck.nat({ max: Math.max(0, name.length - 1) }).map((i) => name.slice(0, i) + name.slice(i + 1)),
        FastCheck.constantFrom(` ${name}`, `${name} `, `*.${name}`, `${name}*`, `www.${name}`, `${name}.`, "*", ""),
        FastCheck.constant(name.toUpperCase()),
        FastCheck.constant(name.toLowerCase()),
        FastCheck.constantFrom(...LOOKALIKES).map(([from, to]) => name.split(from).join(to))
      )
    ),
    domainOrAppName,
    FastCheck.string({ maxLength: 24, unit: codePoint })
  )
}
