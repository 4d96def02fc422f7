/**
 * The token decrypt and sharing encrypt algorithms, as plain total
 * functions over a key ring snapshot, a `now` and a `Crypto`. They never
 * throw: a decrypt returns either a {@link DecryptedToken} or the typed error,
 * so the hot path allocates no wrapper and runs no Effect. The clients run
 * these functions on the ring they keep fresh; call them directly to decrypt
 * with a ring you hold yourself (offline tools, tests).
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Crypto, Decryption, KeyRing } from "effect-uid2"
 *
 * declare const keyResponse: string // the JSON of a /v2/key/bidstream answer, saved earlier
 *
 * const ring = Either.getOrThrow(KeyRing.fromJson(keyResponse))
 * const prepared = Decryption.prepare(ring, Crypto.makeNode(Crypto.secureRandom)) // once per ring
 * const result = Decryption.decrypt(prepared, "A4AAAACk…", Date.now(), {
 *   clientType: "bidstream",
 *   domainOrAppName: "example.com"
 * })
 * console.log(result._tag === "DecryptedToken" ? result.uid : result._tag) // e.g. "ExpiredToken"
 * prepared.release()
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Redacted from "effect/Redacted"
import { type CryptoShape, type KeyHandle, OPENED_FIELDS_LENGTH, type TokenOpener } from "./Crypto.js"
import {
  type DecryptError,
  DomainOrAppNameCheckFailed,
  type EncryptError,
  EncryptionFailure,
  ExpiredToken,
  InvalidIdentityScope,
  InvalidPayload,
  InvalidTokenLifetime,
  KeysNotSynced,
  NotAuthorizedForKey,
  NotAuthorizedForMasterKey,
  NotInitialized,
  UserOptedOut,
  VersionNotSupported
} from "./DecryptError.js"
import { scopeFromBit, typeFromBits } from "./Identity.js"
import * as Base64 from "./internal/base64.js"
import { readInt32, readInt64 } from "./internal/bytes.js"
import type { Key, KeyRing } from "./KeyRing.js"
import {
  type DecryptedToken,
  detectVersion,
  encode,
  identityTypeOfRawUid,
  isClientSideGenerated,
  isOptedOut,
  MAX_RAW_UID_LENGTH,
  MAX_TOKEN_LENGTH,
  type TokenVersion
} from "./Token.js"

/**
 * Who is decrypting, which decides the lifetime and domain checks: a
 * `bidstream` decrypt checks the token's lifetime against the ring's bidstream
 * limit and, for client-side generated tokens, the domain or app name; a
 * `sharing` decrypt checks the lifetime against the sharing limit only; a
 * `legacy` decrypt checks neither.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientType = "bidstream" | "sharing" | "legacy"

/**
 * @since 0.1.0
 * @category models
 */
export interface DecryptOptions {
  readonly clientType: ClientType
  /** The bid request's domain or app name; checked only for client-side generated bidstream tokens. */
  readonly domainOrAppName?: string | null | undefined
}

/**
 * The outcome of a decrypt: the token, or why not.
 *
 * @since 0.1.0
 * @category models
 */
export type DecryptResult = DecryptedToken | DecryptError

// Shared instances: these errors carry no data, so one of each serves every call.
const notInitialized = new NotInitialized({})
const keysNotSynced = new KeysNotSynced()
const versionNotSupported = new VersionNotSupported()
const invalidScope = new InvalidIdentityScope()
const tooShort = new InvalidPayload({ detail: "token too short" })
const badBase64 = new InvalidPayload({ detail: "token is not valid Base64" })
const badMaster = new InvalidPayload({ detail: "master layer failed to decrypt" })
const badSite = new InvalidPayload({ detail: "site layer failed to decrypt" })
const badLength = new InvalidPayload({ detail: "token layout is inconsistent" })
const notAString = new InvalidPayload({ detail: "token is not a string" })
const tooLong = new InvalidPayload({ detail: "token too long" })
const rawUidNotAString = new EncryptionFailure({ detail: "raw UID is not a string" })
const rawUidTooLong = new EncryptionFailure({ detail: "raw UID too long" })

// What a bidstream decrypt runs with when the caller's domain or app name is not a string: none at all.
// (Not frozen: the same shape as a client's own options keeps the checks' property reads monomorphic.)
const BIDSTREAM_WITHOUT_DOMAIN: DecryptOptions = { clientType: "bidstream", domainOrAppName: undefined }

/**
 * A key ring prepared for one `Crypto`: the key handles and the token
 * opener's key table, made on first use and freed by {@link PreparedRing.release}.
 * The ring itself stays immutable; each client holds its own prepared ring, so
 * the scratch buffer the fast path reuses is never shared between clients.
 *
 * @since 0.1.0
 * @category models
 */
export class PreparedRing {
  private readonly handles = new Map<Key, KeyHandle>()
  private tableState: "none" | "made" | "failed" = "none"
  private tableHandle: KeyHandle = undefined
  /** @internal where the token opener writes a token's fixed fields */
  readonly fields = new Uint8Array(OPENED_FIELDS_LENGTH)

  constructor(
    /** The keys and settings. */
    readonly ring: KeyRing,
    /** The implementation the handles belong to. */
    readonly crypto: CryptoShape
  ) {}

  /** The handle of one of the ring's keys, imported once. */
  handle(key: Key): KeyHandle {
    let handle = this.handles.get(key)
    if (handle === undefined && !this.handles.has(key)) {
      handle = this.crypto.importKey(Redacted.value(key.secret))
      this.handles.set(key, handle)
    }
    return handle
  }

  /**
   * The token opener's table of every key (one per id), made on first use;
   * `undefined` when the crypto has no opener or could not make one (the
   * token core then takes its general path).
   */
  table(): KeyHandle | undefined {
    if (this.tableState === "none") {
      const opener = this.crypto.tokenOpener
      this.tableState = "failed"
      if (opener !== undefined) {
        const ring = this.ring
        const entries = ring.keys.filter((key) => ring.keyById(key.id) === key)
          .map((key) => ({ id: key.id, secret: Redacted.value(key.secret) }))
        try {
          this.tableHandle = opener.importKeys(entries)
          this.tableState = "made"
        } catch {
          // Remembered as "no table", so a failing import is not retried per token.
        }
      }
    }
    return this.tableState === "made" ? this.tableHandle : undefined
  }

  /**
   * Frees every handle and the table. Call it once no decrypt can still run on
   * this ring (decrypts are synchronous, so right after a swap is safe); a later
   * use imports again.
   */
  release(): void {
    for (const handle of this.handles.values()) this.crypto.releaseKey(handle)
    this.handles.clear()
    if (this.tableState === "made") this.crypto.releaseKey(this.tableHandle)
    this.tableHandle = undefined
    this.tableState = "none"
  }
}

/**
 * Prepares `ring` for decrypts and encrypts on `crypto`. Prepare once per
 * ring, not per token, and release the result when the ring is replaced.
 *
 * @since 0.1.0
 * @category constructors
 */
export const prepare = (ring: KeyRing, crypto: CryptoShape): PreparedRing => new PreparedRing(ring, crypto)

/** Smallest V3/V4 token: header 6 + GCM blob of a 33-byte master payload holding an empty site blob. */
const MIN_GCM_TOKEN = 6 + 12 + 33 + 12 + 36 + 16 + 16
/** Smallest master plaintext: 33 bytes of fields, then a site GCM blob of at least 36 bytes. */
const MIN_MASTER_PLAINTEXT = 33 + 12 + 36 + 16
/** Smallest V2 token: header 5 + IV 16 + two CBC blocks. */
const MIN_CBC_TOKEN = 5 + 16 + 32

/**
 * Decrypts an advertising or sharing token, checking everything the
 * reference SDKs check, in the Java order.
 *
 * Values of the wrong type from untyped callers never throw:
 *
 * - a token that is not a string fails `InvalidPayload` ("token is not a
 *   string"), and one longer than {@link MAX_TOKEN_LENGTH} characters fails
 *   `InvalidPayload` ("token too long") before any of it is decoded;
 * - a domain or app name that is neither a string nor `null`/`undefined` is
 *   treated as absent, so a client-side generated token then fails
 *   `DomainOrAppNameCheckFailed` (other tokens do not use it);
 * - a `nowMs` that is not a number is no time at which the keys are valid:
 *   `KeysNotSynced`, as for `NaN`.
 *
 * @since 0.1.0
 * @category decrypt
 */
export const decrypt = (
  prepared: PreparedRing | undefined,
  text: string,
  nowMs: number,
  options: DecryptOptions
): DecryptResult => {
  if (prepared === undefined) return notInitialized
  const { crypto, ring } = prepared
  if (typeof nowMs !== "number" || !ring.isValid(nowMs)) return keysNotSynced
  if (typeof text !== "string") return notAString
  if (text.length > MAX_TOKEN_LENGTH) return tooLong
  if (options.clientType === "bidstream") {
    // Read once, typeof only: a non-string's own methods (a `toString`, a Proxy trap) never run.
    const domain = options.domainOrAppName
    if (typeof domain !== "string" && domain !== undefined && domain !== null) options = BIDSTREAM_WITHOUT_DOMAIN
  }
  const version = detectVersion(text)
  if (version === "invalid") return text.length < 4 ? tooShort : badBase64
  if (version === "unsupported") return versionNotSupported
  if (version !== 2 && crypto.tokenOpener !== undefined) {
    const fast = openFast(prepared, crypto.tokenOpener, text, version, nowMs, options)
    if (fast !== undefined) return fast
  }
  const bytes = Base64.decode(text, version === 4 ? "either" : "standard")
  if (bytes === undefined) return badBase64
  return version === 2
    ? decryptV2(prepared, bytes, nowMs, options)
    : decryptGcm(prepared, bytes, version, nowMs, options)
}

const decryptGcm = (
  prepared: PreparedRing,
  bytes: Uint8Array,
  version: TokenVersion,
  nowMs: number,
  options: DecryptOptions
): DecryptResult => {
  if (bytes.length < MIN_GCM_TOKEN) return tooShort
  const { crypto, ring } = prepared
  const prefix = bytes[0]!
  if (scopeFromBit(prefix >> 4) !== ring.identityScope) return invalidScope
  const masterKeyId = readInt32(bytes, 2)
  const masterKey = ring.keyById(masterKeyId)
  if (masterKey === undefined) return new NotAuthorizedForMasterKey({ keyId: masterKeyId })
  const master = crypto.gcmDecrypt(prepared.handle(masterKey), bytes, 6, bytes.length)
  if (master === undefined) return badMaster
  if (master.length < MIN_MASTER_PLAINTEXT) return badLength
  const siteKeyId = readInt32(master, 29)
  const siteKey = ring.keyById(siteKeyId)
  if (siteKey === undefined) return new NotAuthorizedForKey({ keyId: siteKeyId })
  const site = crypto.gcmDecrypt(prepared.handle(siteKey), master, 33, master.length)
  if (site === undefined) return badSite
  if (site.length < 36) return badLength
  const uid = Base64.encodeRange(site, 36, site.length)
  return opened(ring, version, prefix, masterKeyId, siteKey, master, 0, site, 0, uid, nowMs, options)
}

// Fields of a token the token opener has opened (in `PreparedRing.fields`): header ‖ master fields ‖ site fields.
const MASTER_FIELDS_AT = 6
const SITE_FIELDS_AT = 6 + 33

// The one-call path of implementations that offer it; `undefined` sends the token down the general path.
const openFast = (
  prepared: PreparedRing,
  opener: TokenOpener,
  text: string,
  version: 3 | 4,
  nowMs: number,
  options: DecryptOptions
): DecryptResult | undefined => {
  const table = prepared.table()
  if (table === undefined) return undefined
  const { fields, ring } = prepared
  const uid = opener.open(text, version === 4 ? "either" : "standard", table, fields)
  if (uid === undefined) return undefined
  const prefix = fields[0]!
  if (scopeFromBit(prefix >> 4) !== ring.identityScope) return undefined
  const siteKey = ring.keyById(readInt32(fields, MASTER_FIELDS_AT + 29))
  if (siteKey === undefined) return undefined
  return opened(
    ring,
    version,
    prefix,
    readInt32(fields, 2),
    siteKey,
    fields,
    MASTER_FIELDS_AT,
    fields,
    SITE_FIELDS_AT,
    uid,
    nowMs,
    options
  )
}

// Reads a decrypted V3/V4 token (master fields at `m` in `master`, site fields at `s` in `site`) and
// runs the checks that follow decryption.
const opened = (
  ring: KeyRing,
  version: TokenVersion,
  prefix: number,
  masterKeyId: number,
  siteKey: Key,
  master: Uint8Array,
  m: number,
  site: Uint8Array,
  s: number,
  uid: string,
  nowMs: number,
  options: DecryptOptions
): DecryptResult => {
  const expiry = readInt64(master, m)
  const generated = readInt64(master, m + 8)
  const privacy = readInt32(site, s + 16)
  const siteId = readInt32(site, s)
  // Every field is read before the checks: they may run caller code (a getter on the options) that
  // decrypts another token on the same prepared ring, which would overwrite its fields buffer.
  const token: DecryptedToken = {
    _tag: "DecryptedToken",
    uid,
    version,
    identityScope: scopeFromBit(prefix >> 4),
    identityType: typeFromBits((prefix & 0x0f) >> 2),
    masterKeyId,
    siteKeyId: siteKey.id,
    siteKeySiteId: siteKeySiteId(siteKey),
    expiry,
    generated,
    established: readInt64(site, s + 20),
    refreshed: readInt64(site, s + 28),
    siteId,
    publisherId: readInt64(site, s + 4),
    clientKeyId: readInt32(site, s + 12),
    privacyBits: privacy,
    isClientSideGenerated: isClientSideGenerated(privacy),
    operator: {
      siteId: readInt32(master, m + 16),
      type: master[m + 20]!,
      version: readInt32(master, m + 21),
      keyId: readInt32(master, m + 25)
    }
  }
  const failure = check(ring, expiry, generated, privacy, siteId, nowMs, options)
  return failure === CheckPassed ? token : failed(failure, token)
}

const decryptV2 = (
  prepared: PreparedRing,
  bytes: Uint8Array,
  nowMs: number,
  options: DecryptOptions
): DecryptResult => {
  if (bytes.length < MIN_CBC_TOKEN) return tooShort
  const { crypto, ring } = prepared
  const masterKeyId = readInt32(bytes, 1)
  const masterKey = ring.keyById(masterKeyId)
  if (masterKey === undefined) return new NotAuthorizedForMasterKey({ keyId: masterKeyId })
  const master = crypto.cbcDecrypt(prepared.handle(masterKey), bytes, 5, bytes.length)
  if (master === undefined) return badMaster
  if (master.length < 12 + 16 + 16) return badLength
  const expiry = readInt64(master, 0)
  const siteKeyId = readInt32(master, 8)
  const siteKey = ring.keyById(siteKeyId)
  if (siteKey === undefined) return new NotAuthorizedForKey({ keyId: siteKeyId })
  const identity = crypto.cbcDecrypt(prepared.handle(siteKey), master, 12, master.length)
  if (identity === undefined) return badSite
  if (identity.length < 8) return badLength
  const idLength = readInt32(identity, 4)
  if (idLength < 0 || identity.length !== 20 + idLength) return badLength
  const privacy = readInt32(identity, 8 + idLength)
  const siteId = readInt32(identity, 0)
  // V2 has no "generated": the lifetime check limits the remaining lifetime only.
  const failure = check(ring, expiry, nowMs, privacy, siteId, nowMs, options)
  const token: DecryptedToken = {
    _tag: "DecryptedToken",
    uid: failure === CheckPassed ? utf8.decode(identity.subarray(8, 8 + idLength)) : "",
    version: 2,
    identityScope: ring.identityScope,
    identityType: undefined,
    masterKeyId,
    siteKeyId,
    siteKeySiteId: siteKeySiteId(siteKey),
    expiry,
    generated: undefined,
    established: readInt64(identity, 12 + idLength),
    refreshed: undefined,
    siteId,
    publisherId: 0,
    clientKeyId: 0,
    privacyBits: privacy,
    isClientSideGenerated: isClientSideGenerated(privacy),
    operator: undefined
  }
  return failure === CheckPassed ? token : failed(failure, token)
}

const utf8 = new TextDecoder("utf-8")

const siteKeySiteId = (key: Key): number => key.siteId ?? 0

// Outcomes of the checks that follow decryption.
const CheckPassed = 0
const Expired = 1
const OptedOut = 2
const DomainRejected = 3
const BadLifetime = 4
type CheckOutcome = 0 | 1 | 2 | 3 | 4

// Steps after decryption, in order: expiry, opted-out bit, domain/app name, lifetime.
const check = (
  ring: KeyRing,
  expiry: number,
  generatedOrNow: number,
  privacy: number,
  siteId: number,
  nowMs: number,
  options: DecryptOptions
): CheckOutcome => {
  if (nowMs > expiry) return Expired
  if (isOptedOut(privacy)) return OptedOut
  if (
    options.clientType === "bidstream" && isClientSideGenerated(privacy) &&
    !ring.isDomainOrAppNameAllowed(siteId, options.domainOrAppName)
  ) return DomainRejected
  if (options.clientType !== "legacy") {
    const maxLifetime = options.clientType === "bidstream"
      ? ring.maxBidstreamLifetimeSeconds
      : ring.maxSharingLifetimeSeconds
    if (maxLifetime !== undefined && expiry - generatedOrNow > maxLifetime * 1000) return BadLifetime
    if (generatedOrNow - nowMs > ring.allowClockSkewSeconds * 1000) return BadLifetime
  }
  return CheckPassed
}

// A failed check reports every decrypted field but the raw UID.
const failed = (outcome: Exclude<CheckOutcome, 0>, decrypted: DecryptedToken): DecryptError => {
  const { _tag: _, uid: __, ...token } = decrypted
  switch (outcome) {
    case Expired:
      return new ExpiredToken({ token })
    case OptedOut:
      return new UserOptedOut({ token })
    case DomainRejected:
      return new DomainOrAppNameCheckFailed({ token })
    case BadLifetime:
      return new InvalidTokenLifetime({ token })
  }
}

/**
 * Encrypts a raw UID into a V4 sharing token: master key = active key of the
 * master keyset, site key = active key of the default keyset, fresh nonces
 * from `crypto.randomBytes`.
 *
 * The raw UID is checked only as far as the reference SDKs check it (it must
 * be Base64), after the key checks; a raw UID that is not a string, is empty,
 * is longer than {@link MAX_RAW_UID_LENGTH} characters or is not Base64 fails
 * `EncryptionFailure` and never throws. A `nowMs` that is not a number fails
 * `KeysNotSynced`, as for `NaN`.
 *
 * @since 0.1.0
 * @category encrypt
 */
export const encryptRawUid = (
  prepared: PreparedRing | undefined,
  rawUid: string,
  nowMs: number
): string | EncryptError => {
  if (prepared === undefined) return notInitialized
  const { crypto, ring } = prepared
  if (typeof nowMs !== "number" || !ring.isValid(nowMs)) return keysNotSynced
  const masterKey = ring.activeMasterKey(nowMs)
  if (masterKey === undefined) return new NotAuthorizedForMasterKey({})
  const siteKey = ring.activeDefaultKey(nowMs)
  if (siteKey === undefined) return new NotAuthorizedForKey({})
  if (typeof rawUid !== "string") return rawUidNotAString
  if (rawUid.length > MAX_RAW_UID_LENGTH) return rawUidTooLong
  if (rawUid.length === 0) return new EncryptionFailure({ detail: "raw UID is empty" })
  const token = encode(
    crypto,
    {
      version: 4,
      uid: rawUid,
      identityScope: ring.identityScope,
      identityType: identityTypeOfRawUid(rawUid),
      masterKeyId: masterKey.id,
      siteKeyId: siteKey.id,
      siteId: ring.callerSiteId ?? 0,
      expiry: nowMs + ring.tokenExpirySeconds * 1000,
      generated: nowMs,
      established: nowMs,
      refreshed: nowMs,
      privacyBits: 0
    },
    prepared.handle(masterKey),
    prepared.handle(siteKey),
    {
      master: crypto.randomBytes(12),
      site: crypto.randomBytes(12)
    }
  )
  return token ?? new EncryptionFailure({ detail: "raw UID is not valid Base64" })
}
