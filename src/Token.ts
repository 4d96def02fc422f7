/**
 * Advertising token codecs: version detection, the V2 (AES-CBC)
 * and V3/V4 (AES-GCM) byte layouts, the prefix byte, privacy bits and raw UID
 * helpers. Everything here is a plain, total, synchronous function; none of
 * it needs keys except {@link encode}.
 *
 * @example
 * ```ts
 * import { Token } from "effect-uid2"
 *
 * declare const token: string
 *
 * Token.detectVersion(token) // 2, 3 or 4 from the text alone; else "invalid" or "unsupported"
 * Token.rawUidInfo("BFOsW2SkK0egqbfyiALtpti5G/cG+PcEvjkoHl56rEV8")
 * // { generation: 3, identityScope: "UID2", identityType: "Phone", environment: 0 }
 *
 * const bits = Token.privacyBits({ clientSideGenerated: true })
 * Token.isClientSideGenerated(bits) // true
 * Token.isOptedOut(bits) // false
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type { CryptoShape, KeyHandle } from "./Crypto.js"
import { type IdentityScope, type IdentityType, scopeBit, typeBits } from "./Identity.js"
import * as Base64 from "./internal/base64.js"
import { writeInt32, writeInt64 } from "./internal/bytes.js"

/**
 * Advertising token version, numbered as Java and .NET report it.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenVersion = 2 | 3 | 4

/**
 * Everything a token carries except the raw UID. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenDetails {
  /** 2, 3 or 4. */
  readonly version: TokenVersion
  /** The token's scope (V3/V4), or the key ring's for V2, which carries none. */
  readonly identityScope: IdentityScope
  /** Email or phone for V3/V4; `undefined` for V2. */
  readonly identityType: IdentityType | undefined
  /** Id of the master key that encrypted the outer layer. */
  readonly masterKeyId: number
  /** Id of the site key that encrypted the inner layer. */
  readonly siteKeyId: number
  /** `site_id` of the site key (legacy key format only; 0 otherwise). */
  readonly siteKeySiteId: number
  /** When the token expires. */
  readonly expiry: number
  /** When the token was generated or last refreshed (V3/V4). */
  readonly generated: number | undefined
  /** When the identity was first established. */
  readonly established: number
  /** When the identity was last refreshed (V3/V4). */
  readonly refreshed: number | undefined
  /** The publisher site that generated the token, or the sharer that encrypted it. */
  readonly siteId: number
  /** Publisher id (currently always 0). */
  readonly publisherId: number
  /** Client key id (currently always 0). */
  readonly clientKeyId: number
  /** The raw privacy bits. */
  readonly privacyBits: number
  /** Privacy bit 1: the token came from client-side token generation. */
  readonly isClientSideGenerated: boolean
  /** Operator site id, type, version and key id (V3/V4; informational). */
  readonly operator: OperatorIdentity | undefined
}

/**
 * The operator fields of a V3/V4 master payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorIdentity {
  /** Operator site id. */
  readonly siteId: number
  /** 1 = service (public/private operator), 17 = Snowflake. */
  readonly type: number
  /** Operator version. */
  readonly version: number
  /** Operator key id. */
  readonly keyId: number
}

/**
 * A successfully decrypted token.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecryptedToken extends TokenDetails {
  readonly _tag: "DecryptedToken"
  /** The raw UID2/EUID as standard Base64 text. */
  readonly uid: string
}

// ---------------------------------------------------------------------------
// Privacy bits (an int32; bit 0 is the least significant)

/**
 * Privacy bit values.
 *
 * @since 0.1.0
 * @category privacy bits
 */
export const PrivacyBits = {
  /** Bit 0: legacy; set by the operator on every token. */
  legacy: 1,
  /** Bit 1: client-side generated. */
  clientSideGenerated: 2,
  /** Bit 2: client-side generated and opted out (deprecated). */
  optedOut: 4
} as const

/**
 * Builds a privacy-bits value from flags.
 *
 * @since 0.1.0
 * @category privacy bits
 */
export const privacyBits = (flags: {
  readonly legacy?: boolean
  readonly clientSideGenerated?: boolean
  readonly optedOut?: boolean
}): number =>
  (flags.legacy ? PrivacyBits.legacy : 0) |
  (flags.clientSideGenerated ? PrivacyBits.clientSideGenerated : 0) |
  (flags.optedOut ? PrivacyBits.optedOut : 0)

/**
 * Privacy bit 1 (Java/.NET semantics; not Python's big-endian misreading).
 *
 * @since 0.1.0
 * @category privacy bits
 */
export const isClientSideGenerated = (bits: number): boolean => ((bits >> 1) & 1) === 1

/**
 * Privacy bit 2.
 *
 * @since 0.1.0
 * @category privacy bits
 */
export const isOptedOut = (bits: number): boolean => ((bits >> 2) & 1) === 1

// ---------------------------------------------------------------------------
// Prefix byte and version detection

/**
 * The V3/V4 prefix byte: `(scope << 4) | (type << 2) | 0b11`.
 *
 * @since 0.1.0
 * @category layout
 */
export const prefixByte = (scope: IdentityScope, type: IdentityType): number =>
  (scopeBit(scope) << 4) | (typeBits(type) << 2) | 3

/**
 * Version bytes: V2 is marked by byte 0, V3 and V4 by byte 1.
 *
 * @since 0.1.0
 * @category layout
 */
export const VersionByte = { v2: 2, v3: 112, v4: 128 } as const

const SIX_BITS = new Int8Array(128).fill(-1)
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((ch, i) => {
  SIX_BITS[ch.charCodeAt(0)] = i
})
SIX_BITS[45] = 62 // -
SIX_BITS[95] = 63 // _

/**
 * The longest token text a decrypt accepts, in characters; longer text fails
 * as an invalid payload before any of it is decoded.
 *
 * Real tokens are far shorter: a V2 token is 180 characters, a V3 token 220
 * and a V4 token 218 or 219 (220 as padded standard Base64), for advertising
 * and sharing tokens, UID2 and EUID alike. The bound leaves room for more than
 * four times that, and every token this SDK encrypts fits in it (see
 * {@link MAX_RAW_UID_LENGTH}).
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_TOKEN_LENGTH = 1024

/**
 * Version detection from the first four characters: `"invalid"` when they are
 * not Base64 (or the value is not a string at all), `"unsupported"` for an
 * unknown version. Reads at most four characters, whatever the length.
 *
 * @since 0.1.0
 * @category layout
 */
export const detectVersion = (text: string): TokenVersion | "invalid" | "unsupported" => {
  // `typeof` first: untyped callers may pass anything, and reading `length` of it could run their code.
  if (typeof text !== "string" || text.length < 4) return "invalid"
  let urlChars = false
  let stdChars = false
  let bits = 0
  for (let i = 0; i < 4; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? SIX_BITS[c]! : -1
    if (v < 0) return "invalid"
    if (c === 45 || c === 95) urlChars = true
    else if (c === 43 || c === 47) stdChars = true
    bits = (bits << 6) | v
  }
  // A four-character group decodes in one alphabet or the other, never both.
  if (urlChars && stdChars) return "invalid"
  const byte0 = bits >>> 16
  const byte1 = (bits >>> 8) & 0xff
  if (byte0 === VersionByte.v2) return 2
  if (byte1 === VersionByte.v3) return 3
  if (byte1 === VersionByte.v4) return 4
  return "unsupported"
}

// ---------------------------------------------------------------------------
// Encoding: the V2 and V3/V4 layouts, as sharing encrypt and the test kit write them

/**
 * The fields of a token to build. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category encoding
 */
export interface TokenFields {
  readonly version: TokenVersion
  /** Raw UID as standard Base64 text (V2 stores the text itself, V3/V4 its bytes). */
  readonly uid: string
  readonly identityScope: IdentityScope
  readonly identityType: IdentityType
  readonly masterKeyId: number
  readonly siteKeyId: number
  readonly siteId: number
  readonly expiry: number
  readonly generated: number
  readonly established: number
  readonly refreshed: number
  readonly privacyBits: number
  readonly publisherId?: number
  readonly clientKeyId?: number
  readonly operator?: OperatorIdentity
  /** Overrides the V3/V4 prefix byte (e.g. `0x00` as in the cross-platform test token). */
  readonly prefixByte?: number
}

/**
 * The nonces/IVs of the two layers: 16 bytes each for V2 (CBC), 12 for V3/V4 (GCM).
 *
 * @since 0.1.0
 * @category encoding
 */
export interface LayerNonces {
  readonly master: Uint8Array
  readonly site: Uint8Array
}

// Every byte of each buffer below is written, so uninitialised (pooled, cheaper) memory is safe.
const alloc = (length: number): Uint8Array => Buffer.allocUnsafe(length)

const DEFAULT_OPERATOR: OperatorIdentity = { siteId: 0, type: 1, version: 0, keyId: 0 }

/**
 * Encrypts `fields` into token text (Base64 for V2/V3, Base64URL for V4).
 * Returns `undefined` if the raw UID is not valid Base64 or a nonce has the wrong length.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = (
  crypto: CryptoShape,
  fields: TokenFields,
  masterKey: KeyHandle,
  siteKey: KeyHandle,
  nonces: LayerNonces
): string | undefined => {
  if (fields.version === 2) {
    if (nonces.master.length !== 16 || nonces.site.length !== 16) return undefined
    const id = new TextEncoder().encode(fields.uid)
    const identity = alloc(20 + id.length)
    writeInt32(identity, 0, fields.siteId)
    writeInt32(identity, 4, id.length)
    identity.set(id, 8)
    writeInt32(identity, 8 + id.length, fields.privacyBits)
    writeInt64(identity, 12 + id.length, fields.established)
    const identityBlob = crypto.cbcEncrypt(siteKey, nonces.site, identity)
    const master = alloc(12 + identityBlob.length)
    writeInt64(master, 0, fields.expiry)
    writeInt32(master, 8, fields.siteKeyId)
    master.set(identityBlob, 12)
    const masterBlob = crypto.cbcEncrypt(masterKey, nonces.master, master)
    const token = alloc(5 + masterBlob.length)
    token[0] = VersionByte.v2
    writeInt32(token, 1, fields.masterKeyId)
    token.set(masterBlob, 5)
    return Base64.encode(token)
  }
  if (nonces.master.length !== 12 || nonces.site.length !== 12) return undefined
  const rawUid = Base64.decode(fields.uid)
  if (rawUid === undefined) return undefined
  const site = alloc(36 + rawUid.length)
  writeInt32(site, 0, fields.siteId)
  writeInt64(site, 4, fields.publisherId ?? 0)
  writeInt32(site, 12, fields.clientKeyId ?? 0)
  writeInt32(site, 16, fields.privacyBits)
  writeInt64(site, 20, fields.established)
  writeInt64(site, 28, fields.refreshed)
  site.set(rawUid, 36)
  const siteBlob = crypto.gcmEncrypt(siteKey, nonces.site, site)
  const operator = fields.operator ?? DEFAULT_OPERATOR
  const master = alloc(33 + siteBlob.length)
  writeInt64(master, 0, fields.expiry)
  writeInt64(master, 8, fields.generated)
  writeInt32(master, 16, operator.siteId)
  master[20] = operator.type
  writeInt32(master, 21, operator.version)
  writeInt32(master, 25, operator.keyId)
  writeInt32(master, 29, fields.siteKeyId)
  master.set(siteBlob, 33)
  const masterBlob = crypto.gcmEncrypt(masterKey, nonces.master, master)
  const token = alloc(6 + masterBlob.length)
  token[0] = fields.prefixByte ?? prefixByte(fields.identityScope, fields.identityType)
  token[1] = fields.version === 3 ? VersionByte.v3 : VersionByte.v4
  writeInt32(token, 2, fields.masterKeyId)
  token.set(masterBlob, 6)
  return fields.version === 3 ? Base64.encode(token) : Base64.encodeUrl(token)
}

// ---------------------------------------------------------------------------
// Raw UIDs: v2 ones are Base64 of 32 bytes, v3/v4 ones of 33 (a metadata byte first)

/**
 * The longest raw UID text a sharing encrypt accepts, in characters; longer
 * text fails before it is decoded. Raw UIDs are 44 characters. The operator
 * does not validate raw UIDs beyond Base64, and neither does the encrypt, but
 * 512 characters (at most 384 bytes) keep every token it builds well inside
 * {@link MAX_TOKEN_LENGTH}, so whatever this SDK encrypts, it can decrypt.
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_RAW_UID_LENGTH = 512

/**
 * The identity type a sharing token gets for a raw UID: `B`/`F` as first
 * character → phone, anything else (including a value that is not a string)
 * → email. Exact for v3 raw UIDs; kept for byte compatibility with every
 * reference SDK.
 *
 * @since 0.1.0
 * @category raw uid
 */
export const identityTypeOfRawUid = (rawUid: string): IdentityType => {
  if (typeof rawUid !== "string") return "Email"
  const c = rawUid.charCodeAt(0)
  return c === 66 || c === 70 ? "Phone" : "Email"
}

/**
 * What a raw UID's bytes say about it: v2 (32 bytes, no metadata) or v3/v4
 * (33 bytes with a metadata byte carrying scope and type).
 *
 * @since 0.1.0
 * @category raw uid
 */
export type RawUidInfo =
  | { readonly generation: 2 }
  | {
    readonly generation: 3 | 4
    readonly identityScope: IdentityScope
    readonly identityType: IdentityType
    /** v4 only: 0 = test, 1 = integ, 2 = prod. */
    readonly environment: number
  }

// Base64 of 33 bytes is 44 characters; of 32 bytes, 43 or (padded) 44.
const RAW_UID_TEXT_LENGTH = 44

/**
 * Inspects a raw UID; `undefined` when it is not Base64 of 32 or 33 bytes
 * (text longer than 44 characters, or not a string, is never read).
 *
 * @since 0.1.0
 * @category raw uid
 */
export const rawUidInfo = (rawUid: string): RawUidInfo | undefined => {
  if (typeof rawUid !== "string" || rawUid.length > RAW_UID_TEXT_LENGTH) return undefined
  const bytes = Base64.decode(rawUid)
  if (bytes === undefined) return undefined
  if (bytes.length === 32) return { generation: 2 }
  if (bytes.length !== 33) return undefined
  const meta = bytes[0]!
  const v4 = (meta & 0x20) !== 0
  return {
    generation: v4 ? 4 : 3,
    identityScope: (meta & 0x10) !== 0 ? "EUID" : "UID2",
    identityType: (meta & 0x0c) !== 0 ? "Phone" : "Email",
    environment: v4 ? meta >>> 6 : 0
  }
}
