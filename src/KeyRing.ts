/**
 * The key ring: an immutable snapshot of the keys and settings a DSP or a
 * sharer received from `/v2/key/bidstream`, `/v2/key/sharing` or the legacy
 * `/v2/key/latest`. A refresh builds a new ring and swaps it in whole;
 * decrypt reads one ring and never waits. The parsers accept what the
 * operator sends (numbers or numeric strings, absent settings) and fail with
 * a {@link KeyRingParseError} that names the offending field.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { KeyRing } from "effect-uid2"
 *
 * declare const responseJson: string // what a /v2/key/sharing envelope decrypts to
 *
 * const parsed = KeyRing.fromJson(responseJson)
 * if (Either.isRight(parsed)) {
 *   const ring = parsed.right
 *   console.log(ring.keys.length, ring.identityScope, ring.isValid(Date.now()))
 *   const saved = KeyRing.toBodyJson(ring) // read back with KeyRing.fromBodyJson(saved)
 * } else {
 *   console.log(parsed.left.path, parsed.left.detail) // e.g. "body.keys[2].secret"
 * }
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { IdentityScope } from "./Identity.js"
import * as Base64 from "./internal/base64.js"
import * as Json from "./internal/jsonBounds.js"
import { detail, locate } from "./internal/parseIssue.js"

/**
 * A key response body did not have the shape of a key endpoint's answer
 * (`{ body: { keys: [...], ... } }`, or the legacy `{ body: [...] }`). `path` names
 * the offending field (e.g. `body.keys[2].secret`); the message never echoes
 * a secret's value.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyRingParseError extends Data.TaggedError("KeyRingParseError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message() {
    return `invalid key response at ${this.path}: ${this.detail}`
  }
}

/** Default lifetime of sharing tokens when the response has none (30 days). */
const DEFAULT_TOKEN_EXPIRY_SECONDS = 2_592_000
/** Default tolerated clock skew of "token generated" (30 minutes). */
const DEFAULT_CLOCK_SKEW_SECONDS = 1_800

/**
 * One AES-256 key. Times are epoch milliseconds (the JSON carries seconds).
 * The secret is `Redacted`: it prints as `<redacted>`.
 *
 * @since 0.1.0
 * @category models
 */
export class Key {
  constructor(
    /** Key id, as embedded in tokens. */
    readonly id: number,
    /** Keyset id, present only for the caller's own keysets and the master keyset. */
    readonly keysetId: number | undefined,
    /** Site id, present only in the legacy `/v2/key/latest` format (−1 for master keys). */
    readonly siteId: number | undefined,
    /** When the key was created (ms). */
    readonly created: number,
    /** From when the key may encrypt (ms, inclusive). */
    readonly activates: number,
    /** Until when the key may encrypt (ms, exclusive). */
    readonly expires: number,
    /** The 32 key bytes. */
    readonly secret: Redacted.Redacted<Uint8Array>
  ) {}

  /** `activates <= now < expires`. */
  isActive(nowMs: number): boolean {
    return this.activates <= nowMs && nowMs < this.expires
  }
}

/**
 * Settings that came with the keys. A field absent from the response takes
 * its default: no caller site, master or default keyset (`undefined`), a
 * 30-day (2,592,000 s) sharing token lifetime (also when the response says 0),
 * UID2 scope (any value but `"EUID"`), unlimited bidstream and sharing
 * lifetimes, and 1,800 s of allowed clock skew.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyRingSettings {
  /** Site id of the API key that fetched the ring; written into sharing tokens. */
  readonly callerSiteId: number | undefined
  /** Keyset of the master keys (the operator sends 9999999). */
  readonly masterKeysetId: number | undefined
  /** Keyset whose active key encrypts this caller's sharing tokens. */
  readonly defaultKeysetId: number | undefined
  /** Lifetime of sharing tokens this caller produces. */
  readonly tokenExpirySeconds: number
  /** UID2 or EUID. */
  readonly identityScope: IdentityScope
  /** Longest allowed `expiry − generated` of bidstream tokens; `undefined` = unlimited. */
  readonly maxBidstreamLifetimeSeconds: number | undefined
  /** Longest allowed `expiry − generated` of sharing tokens; `undefined` = unlimited. */
  readonly maxSharingLifetimeSeconds: number | undefined
  /** How far in the future "token generated" may lie. */
  readonly allowClockSkewSeconds: number
}

/**
 * An immutable key snapshot with O(1) lookups.
 *
 * @since 0.1.0
 * @category models
 */
export class KeyRing implements KeyRingSettings {
  readonly callerSiteId: number | undefined
  readonly masterKeysetId: number | undefined
  readonly defaultKeysetId: number | undefined
  readonly tokenExpirySeconds: number
  readonly identityScope: IdentityScope
  readonly maxBidstreamLifetimeSeconds: number | undefined
  readonly maxSharingLifetimeSeconds: number | undefined
  readonly allowClockSkewSeconds: number
  /** The largest `expires` of any key (ms); the ring can decrypt until then. */
  readonly latestKeyExpiry: number
  /** Whether the ring came from the legacy array format. */
  readonly legacy: boolean
  private readonly byId: Map<number, Key>
  private readonly byKeyset: Map<number, ReadonlyArray<Key>>
  private readonly bySite: Map<number, ReadonlyArray<Key>>

  constructor(
    /** Every key, in the order received. */
    readonly keys: ReadonlyArray<Key>,
    settings: KeyRingSettings,
    /** Allowed domains and app names per site id, lower-cased. */
    readonly sites: ReadonlyMap<number, ReadonlySet<string>>,
    legacy = false
  ) {
    // Field by field, so the compiler catches a setting that is not copied.
    this.callerSiteId = settings.callerSiteId
    this.masterKeysetId = settings.masterKeysetId
    this.defaultKeysetId = settings.defaultKeysetId
    this.tokenExpirySeconds = settings.tokenExpirySeconds
    this.identityScope = settings.identityScope
    this.maxBidstreamLifetimeSeconds = settings.maxBidstreamLifetimeSeconds
    this.maxSharingLifetimeSeconds = settings.maxSharingLifetimeSeconds
    this.allowClockSkewSeconds = settings.allowClockSkewSeconds
    this.legacy = legacy
    this.byId = new Map()
    let latest = -Infinity
    for (const key of keys) {
      this.byId.set(key.id, key)
      if (key.expires > latest) latest = key.expires
    }
    this.latestKeyExpiry = latest
    this.byKeyset = groupByActivation(keys, (k) => k.keysetId)
    this.bySite = groupByActivation(keys, (k) => k.siteId)
  }

  /** The key with this id, whatever its keyset or activity. */
  keyById(id: number): Key | undefined {
    return this.byId.get(id)
  }

  /** Has at least one key and `now` is before the latest key expiry. */
  isValid(nowMs: number): boolean {
    return this.keys.length > 0 && nowMs < this.latestKeyExpiry
  }

  /**
   * The active key of a keyset at `now`: the most recently activated key that
   * has not expired; a key that activates later is never chosen.
   */
  activeKeyOfKeyset(keysetId: number, nowMs: number): Key | undefined {
    return activeKey(this.byKeyset.get(keysetId), nowMs)
  }

  /** The active key of a site at `now`, from the legacy `site_id` index. */
  activeKeyOfSite(siteId: number, nowMs: number): Key | undefined {
    return activeKey(this.bySite.get(siteId), nowMs)
  }

  /** Active master key at `now`. */
  activeMasterKey(nowMs: number): Key | undefined {
    return this.masterKeysetId === undefined ? undefined : this.activeKeyOfKeyset(this.masterKeysetId, nowMs)
  }

  /** Active key of the default keyset at `now`. */
  activeDefaultKey(nowMs: number): Key | undefined {
    return this.defaultKeysetId === undefined ? undefined : this.activeKeyOfKeyset(this.defaultKeysetId, nowMs)
  }

  /**
   * Whether `site_data` allows `domainOrAppName` for `siteId`: ASCII
   * case-insensitive, exact otherwise (no wildcards, subdomains or trimming).
   */
  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string | undefined | null): boolean {
    if (domainOrAppName === undefined || domainOrAppName === null) return false
    const names = this.sites.get(siteId)
    return names !== undefined && names.has(asciiLower(domainOrAppName))
  }
}

/** Only ASCII A–Z are folded: the reference SDKs compare ordinally ignoring ASCII case. */
const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())

// Groups keys by a positive id, each group sorted by activation (stable, so ties keep input order).
const groupByActivation = (
  keys: ReadonlyArray<Key>,
  groupOf: (key: Key) => number | undefined
): Map<number, ReadonlyArray<Key>> => {
  const groups = new Map<number, Array<Key>>()
  for (const key of keys) {
    const group = groupOf(key)
    if (group === undefined || group <= 0) continue
    const list = groups.get(group)
    if (list === undefined) groups.set(group, [key])
    else list.push(key)
  }
  for (const list of groups.values()) list.sort((a, b) => a.activates - b.activates)
  return groups
}

// Past the last key activated by now, walk back to the first not yet expired: the newest
// active key wins, and an expired newer key falls back to an older one still valid.
const activeKey = (sorted: ReadonlyArray<Key> | undefined, nowMs: number): Key | undefined => {
  if (sorted === undefined) return undefined
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]!.activates <= nowMs) lo = mid + 1
    else hi = mid
  }
  for (let i = lo - 1; i >= 0; i--) {
    const key = sorted[i]!
    if (key.expires > nowMs) return key
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Parsing and serialization: the operator's JSON, one Schema for both ways

/**
 * The deepest nesting of arrays and objects accepted in key JSON (a key
 * response itself needs five levels at most). Checked in one pass without
 * recursion before anything is decoded, so no input can exhaust the stack.
 *
 * @since 0.1.0
 * @category parsing
 */
export const MAX_JSON_DEPTH: number = Json.MAX_DEPTH

/**
 * The longest key JSON accepted, in UTF-16 code units: 16 MiB (a ring of
 * 10,000 keys with its site data is a few MB). For a body that is already
 * parsed, the bound applies to the length its JSON would have.
 *
 * @since 0.1.0
 * @category parsing
 */
export const MAX_JSON_LENGTH: number = 16 * 1024 * 1024

/**
 * An integer as the operator writes it: a JSON number or, from current
 * operators, a string of decimal digits (e.g. `"2592000"`).
 *
 * @since 0.1.0
 * @category serialization
 */
export type WireInteger = number | string

/**
 * An integer that may be absent: missing, `null` and `""` all mean "not set".
 *
 * @since 0.1.0
 * @category serialization
 */
export type OptionalWireInteger = WireInteger | null | undefined

/**
 * A key as the operator writes it. Times are seconds since the epoch;
 * `secret` is the standard Base64 of the 32 key bytes; `site_id` appears only
 * in the legacy array format (−1 for master keys).
 *
 * @since 0.1.0
 * @category serialization
 */
export interface KeyJson {
  readonly id: WireInteger
  readonly keyset_id?: OptionalWireInteger
  readonly site_id?: OptionalWireInteger
  readonly created?: OptionalWireInteger
  readonly activates: WireInteger
  readonly expires: WireInteger
  readonly secret: string
}

/**
 * The `body` of a sharing or bidstream key response. `identity_scope` is
 * `"UID2"` or `"EUID"` (anything else reads as UID2); `site_data` is an array
 * of `{ id, domain_names }` (anything else, or a malformed entry, gives no
 * site). Unknown fields are ignored.
 *
 * @since 0.1.0
 * @category serialization
 */
export interface KeyRingHeaderJson {
  readonly caller_site_id?: OptionalWireInteger
  readonly master_keyset_id?: OptionalWireInteger
  readonly default_keyset_id?: OptionalWireInteger
  readonly token_expiry_seconds?: OptionalWireInteger
  readonly max_sharing_lifetime_seconds?: OptionalWireInteger
  readonly max_bidstream_lifetime_seconds?: OptionalWireInteger
  readonly allow_clock_skew_seconds?: OptionalWireInteger
  readonly identity_scope?: unknown
  readonly keys: ReadonlyArray<KeyJson>
  readonly site_data?: unknown
}

/**
 * A key response `body`: the object format of `/v2/key/sharing` and
 * `/v2/key/bidstream`, or the legacy `/v2/key/latest` array of keys.
 *
 * @since 0.1.0
 * @category serialization
 */
export type KeyRingBody = KeyRingHeaderJson | ReadonlyArray<KeyJson>

const MAX_EPOCH_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000)
const NATURAL_DIGITS = /^(?:0|[1-9][0-9]*)$/
const SIGNED_DIGITS = /^(?:0|-?[1-9][0-9]*)$/
// Longer digit strings are beyond the safe-integer range anyway.
const MAX_DIGITS = 17

/**
 * An integer field. The operator writes JSON integers or strings of decimal
 * digits; nothing else is accepted (no hex, exponent, sign, spaces or
 * fraction, no `-0`). Only `signed` fields may be negative. `max` bounds the
 * magnitude (a safe integer; for seconds, one whose milliseconds are safe).
 */
const wireInteger = (
  options: { readonly identifier: string; readonly signed: boolean; readonly max: number; readonly expected: string }
) => {
  const { expected, identifier, max, signed } = options
  const valid = (n: number): boolean =>
    Number.isSafeInteger(n) && !Object.is(n, -0) && n <= max && n >= (signed ? -max : 0)
  const digits = signed ? SIGNED_DIGITS : NATURAL_DIGITS
  return Schema.transformOrFail(
    Schema.Union(Schema.Number, Schema.String),
    Schema.Number.pipe(Schema.filter(valid, detail(expected))),
    {
      strict: true,
      decode: (input, _, ast) => {
        const n = typeof input === "number"
          ? input
          : input.length <= MAX_DIGITS + 1 && digits.test(input)
          ? Number(input)
          : Number.NaN
        return valid(n) ? ParseResult.succeed(n) : ParseResult.fail(new ParseResult.Type(ast, input, expected))
      },
      encode: ParseResult.succeed
    }
  ).annotations({ identifier, ...detail(expected) })
}

const NATURAL = "expected a non-negative integer or a string of decimal digits"
const SIGNED = "expected an integer or a string of decimal digits"
const SECONDS = "expected seconds since the epoch (a non-negative integer or a string of decimal digits)"
const Natural = wireInteger({
  identifier: "NaturalWireInteger",
  signed: false,
  max: Number.MAX_SAFE_INTEGER,
  expected: NATURAL
})
const Signed = wireInteger({ identifier: "WireInteger", signed: true, max: Number.MAX_SAFE_INTEGER, expected: SIGNED })
const EpochSeconds = wireInteger({
  identifier: "EpochSeconds",
  signed: false,
  max: MAX_EPOCH_SECONDS,
  expected: SECONDS
})

// Optional integers: missing, undefined, null and "" all mean "absent". One annotated union (rather than
// `Schema.optional`, which adds its own) so a formatted error never quotes the value.
const optionalInteger = (integer: typeof Natural, expected: string) =>
  Schema.optionalWith(
    Schema.Union(Schema.Undefined, Schema.Null, Schema.Literal(""), integer).annotations(
      detail(`${expected}, or null`)
    ),
    { exact: true }
  )

const OptionalNatural = optionalInteger(Natural, NATURAL)
const OptionalSigned = optionalInteger(Signed, SIGNED)
const OptionalEpochSeconds = optionalInteger(EpochSeconds, SECONDS)

const isKeyBytes = (bytes: unknown): bytes is Uint8Array => bytes instanceof Uint8Array && bytes.length === 32

const SecretBytes = Schema.declare(
  (u: unknown): u is Redacted.Redacted<Uint8Array> => Redacted.isRedacted(u) && isKeyBytes(Redacted.value(u)),
  { identifier: "SecretBytes", ...detail("expected 32 secret bytes") }
)

const SECRET_EXPECTED = "expected standard Base64 of 32 bytes"

// Our own texts only: Schema's defaults quote the actual value, which here is a secret.
const Secret = Schema.transformOrFail(Schema.String, SecretBytes, {
  strict: true,
  decode: (text, _, ast) => {
    const bytes = Base64.decode(text, "standard")
    return isKeyBytes(bytes)
      ? ParseResult.succeed(Redacted.make(bytes))
      : ParseResult.fail(new ParseResult.Type(ast, text, SECRET_EXPECTED))
  },
  encode: (secret) => ParseResult.succeed(Base64.encode(Redacted.value(secret)))
}).annotations({ identifier: "KeySecret", ...detail(SECRET_EXPECTED) })

const KeyFields = Schema.Struct({
  id: Natural,
  keyset_id: OptionalNatural,
  site_id: OptionalSigned,
  created: OptionalEpochSeconds,
  activates: EpochSeconds,
  expires: EpochSeconds,
  secret: Secret
}).annotations({ identifier: "KeyJson", ...detail("expected a key object", { override: false }) })

const KeyList = Schema.Array(KeyFields).annotations({
  identifier: "KeyJsonArray",
  ...detail("expected an array of keys", { override: false })
})

const Header = Schema.Struct({
  caller_site_id: OptionalNatural,
  master_keyset_id: OptionalNatural,
  default_keyset_id: OptionalNatural,
  token_expiry_seconds: OptionalNatural,
  max_sharing_lifetime_seconds: OptionalNatural,
  max_bidstream_lifetime_seconds: OptionalNatural,
  allow_clock_skew_seconds: OptionalNatural,
  identity_scope: Schema.optional(Schema.Unknown),
  keys: KeyList,
  site_data: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "KeyRingHeaderJson", ...detail("expected a key response object", { override: false }) })

type KeyFields = typeof KeyFields.Type
type Wire = typeof Header.Type | ReadonlyArray<KeyFields>

const isKeyList = (wire: Wire): wire is ReadonlyArray<KeyFields> => Array.isArray(wire)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const TOO_DEEP = `nests arrays and objects more than ${MAX_JSON_DEPTH} deep`
const TOO_LONG = `is longer than ${MAX_JSON_LENGTH} characters`

// The body's two formats, told apart by shape, after the size and depth check.
const WireBody = Schema.declare<Wire, KeyRingBody, readonly [typeof KeyList, typeof Header]>(
  [KeyList, Header],
  {
    decode: (keyList, header) => (input, options, ast) => {
      let violation: Json.Violation | "Unreadable" | undefined
      try {
        violation = Json.checkValue(input, MAX_JSON_DEPTH, MAX_JSON_LENGTH)
      } catch {
        violation = "Unreadable"
      }
      if (violation !== undefined) {
        const text = violation === "TooDeep" ? TOO_DEEP : violation === "TooLarge" ? TOO_LONG : "could not be read"
        return ParseResult.fail(new ParseResult.Type(ast, input, text))
      }
      if (Array.isArray(input)) return ParseResult.decodeUnknown(keyList)(input, options)
      if (isRecord(input)) return ParseResult.decodeUnknown(header)(input, options)
      return ParseResult.fail(new ParseResult.Type(ast, input, "expected a key response object or array"))
    },
    encode: (keyList, header) => (input, options) =>
      Array.isArray(input)
        ? ParseResult.encodeUnknown(keyList)(input, options)
        : ParseResult.encodeUnknown(header)(input, options)
  },
  { identifier: "KeyRingBody" }
)

/**
 * A {@link KeyRing} value, as the type side of {@link KeyRingFromBody}.
 *
 * @since 0.1.0
 * @category serialization
 */
export const KeyRingFromSelf: Schema.Schema<KeyRing> = Schema.declare(
  (u: unknown): u is KeyRing => u instanceof KeyRing,
  { identifier: "KeyRing" }
)

const present = (value: number | string | null | undefined): number | undefined =>
  typeof value === "number" ? value : undefined

const keyOf = (k: KeyFields): Key =>
  new Key(
    k.id,
    present(k.keyset_id),
    present(k.site_id),
    (present(k.created) ?? k.activates) * 1000,
    k.activates * 1000,
    k.expires * 1000,
    k.secret
  )

const SiteFields = Schema.Struct({ id: Natural, domain_names: Schema.Array(Schema.String) })
const decodeSite = Schema.decodeUnknownOption(SiteFields)

// site_data that is absent, not an array, or holds malformed entries yields no sites for those entries.
const sitesOf = (siteData: unknown): Map<number, ReadonlySet<string>> => {
  const sites = new Map<number, Set<string>>()
  if (!Array.isArray(siteData)) return sites
  for (const entry of siteData) {
    const site = decodeSite(entry)
    if (site._tag === "None" || site.value.id === 0) continue
    const names = sites.get(site.value.id) ?? new Set<string>()
    for (const name of site.value.domain_names) names.add(asciiLower(name))
    sites.set(site.value.id, names)
  }
  return sites
}

// A legacy array carries keys only: every setting has its default.
const LEGACY_SETTINGS: KeyRingSettings = {
  callerSiteId: undefined,
  masterKeysetId: undefined,
  defaultKeysetId: undefined,
  tokenExpirySeconds: DEFAULT_TOKEN_EXPIRY_SECONDS,
  identityScope: "UID2",
  maxBidstreamLifetimeSeconds: undefined,
  maxSharingLifetimeSeconds: undefined,
  allowClockSkewSeconds: DEFAULT_CLOCK_SKEW_SECONDS
}

const ringOf = (wire: Wire): KeyRing => {
  if (isKeyList(wire)) return new KeyRing(wire.map(keyOf), LEGACY_SETTINGS, new Map(), true)
  return new KeyRing(wire.keys.map(keyOf), {
    callerSiteId: present(wire.caller_site_id),
    masterKeysetId: present(wire.master_keyset_id),
    defaultKeysetId: present(wire.default_keyset_id),
    tokenExpirySeconds: present(wire.token_expiry_seconds) || DEFAULT_TOKEN_EXPIRY_SECONDS,
    identityScope: wire.identity_scope === "EUID" ? "EUID" : "UID2",
    maxBidstreamLifetimeSeconds: present(wire.max_bidstream_lifetime_seconds),
    maxSharingLifetimeSeconds: present(wire.max_sharing_lifetime_seconds),
    allowClockSkewSeconds: present(wire.allow_clock_skew_seconds) ?? DEFAULT_CLOCK_SKEW_SECONDS
  }, sitesOf(wire.site_data))
}

// The wire carries whole seconds.
const seconds = (ms: number): number => Math.floor(ms / 1000)

const keyFieldsOf = (key: Key): KeyFields => ({
  id: key.id,
  ...(key.keysetId === undefined ? {} : { keyset_id: key.keysetId }),
  ...(key.siteId === undefined ? {} : { site_id: key.siteId }),
  created: seconds(key.created),
  activates: seconds(key.activates),
  expires: seconds(key.expires),
  secret: key.secret
})

const wireOf = (ring: KeyRing): Wire => {
  const keys = ring.keys.map(keyFieldsOf)
  if (ring.legacy) return keys
  const optional = <K extends string>(name: K, value: number | undefined) =>
    (value === undefined ? {} : { [name]: value }) as { readonly [P in K]?: number }
  return {
    ...optional("caller_site_id", ring.callerSiteId),
    ...optional("master_keyset_id", ring.masterKeysetId),
    ...optional("default_keyset_id", ring.defaultKeysetId),
    token_expiry_seconds: ring.tokenExpirySeconds,
    ...optional("max_sharing_lifetime_seconds", ring.maxSharingLifetimeSeconds),
    ...optional("max_bidstream_lifetime_seconds", ring.maxBidstreamLifetimeSeconds),
    identity_scope: ring.identityScope,
    allow_clock_skew_seconds: ring.allowClockSkewSeconds,
    keys,
    site_data: Array.from(ring.sites, ([id, names]) => ({ id, domain_names: Array.from(names) }))
  }
}

/**
 * The ring's wire format, both ways: decodes a key response `body` (either
 * format) into a {@link KeyRing} and encodes a ring into the operator's
 * format — snake_case, times in whole seconds (sub-second parts are dropped),
 * secrets as standard Base64, `identity_scope`, every header field and
 * `site_data`, or the legacy array when `ring.legacy`. Decoding what it
 * encodes gives the same ring back.
 *
 * Decoding first checks {@link MAX_JSON_DEPTH} and {@link MAX_JSON_LENGTH}.
 * Encoding fails only for a ring the format cannot carry (an id or setting
 * that is negative or not a safe integer, a secret that is not 32 bytes),
 * which no decoded ring is. A decode failure's `ParseIssue`s hold the input,
 * secrets included: report {@link KeyRingParseError} (see {@link fromBody})
 * rather than the raw issue. Encoding reveals the secrets: persist the
 * result only where key material may live.
 *
 * @since 0.1.0
 * @category serialization
 */
export const KeyRingFromBody: Schema.Schema<KeyRing, KeyRingBody> = Schema.transformOrFail(
  WireBody,
  KeyRingFromSelf,
  {
    strict: true,
    decode: (wire) => ParseResult.succeed(ringOf(wire)),
    encode: (ring) => ParseResult.succeed(wireOf(ring))
  }
)

const textDetail = (violation: Json.TextViolation): string =>
  violation === "TooLong" ? TOO_LONG : violation === "TooDeep" ? TOO_DEEP : "not valid JSON"

// JSON text ↔ value, with the length and depth checked before parsing.
const BoundedJson = Schema.transformOrFail(Schema.String, Schema.Unknown, {
  strict: true,
  decode: (text, _, ast) => {
    const parsed = Json.parseText(text, MAX_JSON_LENGTH, MAX_JSON_DEPTH)
    return parsed.ok
      ? ParseResult.succeed(parsed.value)
      : ParseResult.fail(new ParseResult.Type(ast, text, textDetail(parsed.violation)))
  },
  encode: (value, _, ast) => {
    try {
      return ParseResult.succeed(JSON.stringify(value))
    } catch {
      return ParseResult.fail(new ParseResult.Type(ast, value, "cannot be written as JSON"))
    }
  }
}).annotations({ identifier: "BoundedJsonText" })

/**
 * {@link KeyRingFromBody} over the body's JSON text: what a file or Redis
 * key store persists.
 *
 * @since 0.1.0
 * @category serialization
 */
export const KeyRingFromBodyJson: Schema.Schema<KeyRing, string> = Schema.compose(BoundedJson, KeyRingFromBody, {
  strict: false
})

const decodeBody = Schema.decodeUnknownEither(KeyRingFromBody)
const encodeBody = Schema.encodeSync(KeyRingFromBody)

const toParseError = (prefix: string, issue: ParseResult.ParseIssue): KeyRingParseError => {
  const located = locate(issue)
  const path = located.path.reduce<string>(
    (acc, segment) => typeof segment === "number" ? `${acc}[${segment}]` : `${acc}.${String(segment)}`,
    prefix
  )
  return new KeyRingParseError({
    path,
    detail: located.missing ? "is missing" : located.detail ?? "has the wrong type or shape"
  })
}

// Last resort for inputs that throw when read (proxies, getters): still the typed error.
const guarded = (parse: () => Either.Either<KeyRing, KeyRingParseError>): Either.Either<KeyRing, KeyRingParseError> => {
  try {
    return parse()
  } catch {
    return Either.left(new KeyRingParseError({ path: "body", detail: "could not be read" }))
  }
}

/**
 * Builds a ring from the `body` of a key response: an object (sharing or
 * bidstream format) or an array (legacy `/v2/key/latest`), decoded with
 * {@link KeyRingFromBody}. Unknown fields are ignored; a malformed body gives
 * a {@link KeyRingParseError} naming the field, and never echoes a value.
 * Total: any value, however deep, large or hostile, gives a ring or the
 * error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromBody = (body: unknown): Either.Either<KeyRing, KeyRingParseError> =>
  guarded(() => Either.mapLeft(decodeBody(body), (error) => toParseError("body", error.issue)))

/**
 * Builds a ring from a whole decrypted key response: `{"body": …, "status": …}`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromResponse = (response: unknown): Either.Either<KeyRing, KeyRingParseError> =>
  guarded(() =>
    isRecord(response) && "body" in response
      ? fromBody(response.body)
      : Either.left(new KeyRingParseError({ path: "body", detail: "is missing" }))
  )

const parseText = (json: string): Either.Either<unknown, KeyRingParseError> => {
  if (typeof json !== "string") return Either.left(new KeyRingParseError({ path: "$", detail: "is not a string" }))
  const parsed = Json.parseText(json, MAX_JSON_LENGTH, MAX_JSON_DEPTH)
  return parsed.ok
    ? Either.right(parsed.value)
    : Either.left(new KeyRingParseError({ path: "$", detail: textDetail(parsed.violation) }))
}

/**
 * Parses key response JSON text (what the operator's envelope decrypts to).
 * Text longer than {@link MAX_JSON_LENGTH} or nested deeper than
 * {@link MAX_JSON_DEPTH} is rejected before it is parsed.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromJson = (json: string): Either.Either<KeyRing, KeyRingParseError> =>
  Either.flatMap(parseText(json), fromResponse)

/**
 * Parses the JSON text of a `body` alone, as {@link toBodyJson} writes it.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromBodyJson = (json: string): Either.Either<KeyRing, KeyRingParseError> =>
  Either.flatMap(parseText(json), fromBody)

/**
 * The ring as a response `body`, encoded with {@link KeyRingFromBody}:
 * {@link fromBody} gives an equal ring back. Secrets are revealed: persist
 * the result only where key material may live. Throws a `ParseError` only for
 * a ring the format cannot carry (see {@link KeyRingFromBody}), a programming
 * error no decoded ring can make.
 *
 * @since 0.1.0
 * @category serialization
 */
export const toBody = (ring: KeyRing): KeyRingBody => encodeBody(ring)

/**
 * {@link toBody} as compact JSON text.
 *
 * @since 0.1.0
 * @category serialization
 */
export const toBodyJson = (ring: KeyRing): string => JSON.stringify(toBody(ring))
