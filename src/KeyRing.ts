/**
 * The key ring: an immutable snapshot of the keys and settings a DSP or a
 * sharer received from `/v2/key/bidstream`, `/v2/key/sharing` or the legacy
 * `/v2/key/latest` (keys.md). A refresh builds a new ring and swaps it in
 * whole; decrypt reads one ring and never waits.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { IdentityScope } from "./Identity.js"
import * as Base64 from "./internal/base64.js"

/**
 * A key response body did not have the shape keys.md describes. `path` names
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
 * Settings that came with the keys. Absent values mean what keys.md §5 says.
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

  /** The active key of a keyset at `now` (keys.md §6.3). */
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

// keys.md §6.3: past the last key activated by now, walk back to the first not yet expired.
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
// Parsing (keys.md §2–§5)

// Our own messages only: Schema's defaults quote the actual value, which could be a secret.
const knownMessages = new Set<string>()
const invalid = (message: string) => {
  knownMessages.add(message)
  return { message: () => ({ message, override: true }) }
}

// Integers arrive as JSON numbers or, from the current operator, as numeric strings.
const IntLike = Schema.Union(Schema.Int, Schema.compose(Schema.NumberFromString, Schema.Int)).annotations(
  invalid("expected an integer or a numeric string")
)
// Optional header integers: missing, null and "" all mean "absent".
const OptionalInt = Schema.optional(
  Schema.Union(Schema.Null, Schema.Literal(""), IntLike).annotations(
    invalid("expected an integer, a numeric string or null")
  )
)
const Secret = Schema.String.pipe(
  Schema.filter((s) => Base64.decode(s)?.length === 32)
).annotations(invalid("expected standard Base64 of 32 bytes"))

const KeyJson = Schema.Struct({
  id: IntLike,
  keyset_id: OptionalInt,
  site_id: OptionalInt,
  created: OptionalInt,
  activates: IntLike,
  expires: IntLike,
  secret: Secret
})

const KeyArray = Schema.Array(KeyJson)

const Header = Schema.Struct({
  caller_site_id: OptionalInt,
  master_keyset_id: OptionalInt,
  default_keyset_id: OptionalInt,
  token_expiry_seconds: OptionalInt,
  max_sharing_lifetime_seconds: OptionalInt,
  max_bidstream_lifetime_seconds: OptionalInt,
  allow_clock_skew_seconds: OptionalInt,
  identity_scope: Schema.optional(Schema.Unknown),
  keys: KeyArray,
  site_data: Schema.optional(Schema.Unknown)
})

const SiteJson = Schema.Struct({ id: IntLike, domain_names: Schema.Array(Schema.String) })
const decodeSite = Schema.decodeUnknownOption(SiteJson)

const opt = (value: number | string | null | undefined): number | undefined =>
  typeof value === "number" ? value : undefined

const toKey = (k: typeof KeyJson.Type): Key =>
  new Key(
    k.id,
    opt(k.keyset_id),
    opt(k.site_id),
    (opt(k.created) ?? k.activates) * 1000,
    k.activates * 1000,
    k.expires * 1000,
    Redacted.make(Base64.decode(k.secret)!)
  )

// site_data that is absent, not an array, or holds malformed entries yields no sites for those entries (keys.md §5).
const toSites = (siteData: unknown): Map<number, ReadonlySet<string>> => {
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

const toParseError = (prefix: string, error: ParseResult.ParseError): KeyRingParseError => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue === undefined ? prefix : issue.path.reduce<string>(
    (acc, segment) => typeof segment === "number" ? `${acc}[${segment}]` : `${acc}.${String(segment)}`,
    prefix
  )
  const detail = issue === undefined
    ? "is invalid"
    : issue._tag === "Missing"
    ? "is missing"
    : knownMessages.has(issue.message)
    ? issue.message
    : "has the wrong type or shape"
  return new KeyRingParseError({ path, detail })
}

/**
 * Builds a ring from the `body` of a key response: an object (sharing or
 * bidstream format) or an array (legacy `/v2/key/latest`). Unknown fields are
 * ignored; a malformed body gives a {@link KeyRingParseError} naming the field.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromBody = (body: unknown): Either.Either<KeyRing, KeyRingParseError> => {
  if (Array.isArray(body)) {
    return Either.mapBoth(Schema.decodeUnknownEither(KeyArray)(body), {
      onLeft: (e) => toParseError("body", e),
      onRight: (keys) =>
        new KeyRing(keys.map(toKey), {
          callerSiteId: undefined,
          masterKeysetId: undefined,
          defaultKeysetId: undefined,
          tokenExpirySeconds: DEFAULT_TOKEN_EXPIRY_SECONDS,
          identityScope: "UID2",
          maxBidstreamLifetimeSeconds: undefined,
          maxSharingLifetimeSeconds: undefined,
          allowClockSkewSeconds: DEFAULT_CLOCK_SKEW_SECONDS
        }, new Map(), true)
    })
  }
  if (typeof body !== "object" || body === null) {
    return Either.left(new KeyRingParseError({ path: "body", detail: "expected a key response object or array" }))
  }
  return Either.mapBoth(Schema.decodeUnknownEither(Header)(body), {
    onLeft: (e) => toParseError("body", e),
    onRight: (h) =>
      new KeyRing(h.keys.map(toKey), {
        callerSiteId: opt(h.caller_site_id),
        masterKeysetId: opt(h.master_keyset_id),
        defaultKeysetId: opt(h.default_keyset_id),
        tokenExpirySeconds: opt(h.token_expiry_seconds) || DEFAULT_TOKEN_EXPIRY_SECONDS,
        identityScope: h.identity_scope === "EUID" ? "EUID" : "UID2",
        maxBidstreamLifetimeSeconds: opt(h.max_bidstream_lifetime_seconds),
        maxSharingLifetimeSeconds: opt(h.max_sharing_lifetime_seconds),
        allowClockSkewSeconds: opt(h.allow_clock_skew_seconds) ?? DEFAULT_CLOCK_SKEW_SECONDS
      }, toSites(h.site_data))
  })
}

/**
 * Builds a ring from a whole decrypted key response: `{"body": …, "status": …}`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromResponse = (response: unknown): Either.Either<KeyRing, KeyRingParseError> =>
  typeof response === "object" && response !== null && !Array.isArray(response) && "body" in response
    ? fromBody(response.body)
    : Either.left(new KeyRingParseError({ path: "body", detail: "is missing" }))

/**
 * Parses key response JSON text (what the operator's envelope decrypts to).
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromJson = (json: string): Either.Either<KeyRing, KeyRingParseError> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return Either.left(new KeyRingParseError({ path: "$", detail: "not valid JSON" }))
  }
  return fromResponse(parsed)
}

/**
 * The ring as a response `body` in the sharing/bidstream object format (or
 * the legacy array), such that {@link fromBody} gives an equal ring back.
 * Secrets are revealed: persist the result only where key material may live
 * (the file and Redis adapters encrypt it).
 *
 * @since 0.1.0
 * @category serialization
 */
export const toBody = (ring: KeyRing): unknown => {
  const keys = ring.keys.map((k) => ({
    id: k.id,
    ...(k.keysetId === undefined ? {} : { keyset_id: k.keysetId }),
    ...(k.siteId === undefined ? {} : { site_id: k.siteId }),
    created: Math.floor(k.created / 1000),
    activates: Math.floor(k.activates / 1000),
    expires: Math.floor(k.expires / 1000),
    secret: Base64.encode(Redacted.value(k.secret))
  }))
  if (ring.legacy) return keys
  const optional = (name: string, value: number | undefined) => value === undefined ? {} : { [name]: value }
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
