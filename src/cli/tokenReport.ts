/**
 * What `decrypt` and `inspect` say about a token: the stable JSON contract
 * of a decrypt result, what a token's header tells without keys, and the
 * full report with keys.
 *
 * The decrypt JSON is a documented contract: on success
 * `{"status":"success","uid","version","scope","identityType","siteId",
 * "established","refreshed","generated","expires","isClientSideGenerated",
 * "privacyBits","masterKeyId","siteKeyId"}` (times ISO-8601, `null` where a
 * V2 token has no such field); on failure `{"status":"<error tag>","message"}`.
 *
 * @since 0.1.0
 */
import type { DecryptError } from "../DecryptError.js"
import { InvalidPayload, VersionNotSupported } from "../DecryptError.js"
import type { DecryptResult } from "../Decryption.js"
import { type IdentityScope, type IdentityType, scopeFromBit, typeFromBits } from "../Identity.js"
import * as Base64 from "../internal/base64.js"
import { readInt32 } from "../internal/bytes.js"
import {
  detectVersion,
  isOptedOut,
  PrivacyBits,
  type RawUidInfo,
  rawUidInfo,
  type TokenDetails,
  type TokenVersion
} from "../Token.js"
import { iso, isoOrMs } from "./time.js"

/**
 * The JSON line of one decrypt result (the documented contract).
 *
 * @since 0.1.0
 * @category json
 */
export const decryptJson = (result: DecryptResult): Record<string, unknown> =>
  result._tag === "DecryptedToken"
    ? {
      status: "success",
      uid: result.uid,
      version: result.version,
      scope: result.identityScope,
      identityType: result.identityType ?? null,
      siteId: result.siteId,
      established: isoOrMs(result.established),
      refreshed: result.refreshed === undefined ? null : isoOrMs(result.refreshed),
      generated: result.generated === undefined ? null : isoOrMs(result.generated),
      expires: isoOrMs(result.expiry),
      isClientSideGenerated: result.isClientSideGenerated,
      privacyBits: result.privacyBits,
      masterKeyId: result.masterKeyId,
      siteKeyId: result.siteKeyId
    }
    : failureJson(result)

/**
 * The JSON of a failure: its tag and message.
 *
 * @since 0.1.0
 * @category json
 */
export const failureJson = (error: { readonly _tag: string; readonly message: string }): Record<string, unknown> => ({
  status: error._tag,
  message: error.message
})

/**
 * What a token's first bytes say, without keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenHeader {
  readonly version: TokenVersion
  /** V3/V4 only: V2 carries no scope in its header. */
  readonly scope: IdentityScope | undefined
  /** V3/V4 only. */
  readonly identityType: IdentityType | undefined
  readonly masterKeyId: number
  /** V3 and V2 are standard Base64; V4 is Base64URL (or padded standard, which also decrypts). */
  readonly encoding: "base64" | "base64url"
  readonly length: number
}

const badBase64 = new InvalidPayload({ detail: "token is not valid Base64" })
const tooShort = new InvalidPayload({ detail: "token too short" })

/**
 * Reads a token's header: version, and for V3/V4 the scope and identity
 * type of its prefix byte, and the master key id. Fails as a decrypt would
 * on text that is not a token.
 *
 * @since 0.1.0
 * @category header
 */
export const readHeader = (token: string): TokenHeader | DecryptError => {
  const version = detectVersion(token)
  if (version === "invalid") return token.length < 4 ? tooShort : badBase64
  if (version === "unsupported") return new VersionNotSupported()
  const head = Base64.decode(token.slice(0, 8), version === 4 ? "either" : "standard")
  if (head === undefined || head.length < 6) return token.length < 8 ? tooShort : badBase64
  const encoding = /[-_]/.test(token) || (version === 4 && !/[+/=]/.test(token)) ? "base64url" : "base64"
  if (version === 2) {
    return {
      version,
      scope: undefined,
      identityType: undefined,
      masterKeyId: readInt32(head, 1),
      encoding,
      length: token.length
    }
  }
  const prefix = head[0]!
  return {
    version,
    scope: scopeFromBit(prefix >> 4),
    identityType: typeFromBits((prefix & 0x0f) >> 2),
    masterKeyId: readInt32(head, 2),
    encoding,
    length: token.length
  }
}

/**
 * Whether a header read failed.
 *
 * @since 0.1.0
 * @category header
 */
export const isHeaderError = (header: TokenHeader | DecryptError): header is DecryptError => "_tag" in header

/**
 * The raw UID a text is, when it is one rather than a token (Base64 of 32
 * or 33 bytes that no token starts like).
 *
 * @since 0.1.0
 * @category header
 */
export const asRawUid = (text: string): RawUidInfo | undefined => {
  const version = detectVersion(text)
  if (version !== "invalid" && version !== "unsupported") return undefined
  return text.length === 44 ? rawUidInfo(text) : undefined
}

/**
 * The privacy bits spelled out.
 *
 * @since 0.1.0
 * @category json
 */
export const privacyFlags = (bits: number) => ({
  legacy: (bits & PrivacyBits.legacy) !== 0,
  clientSideGenerated: (bits & PrivacyBits.clientSideGenerated) !== 0,
  optedOut: isOptedOut(bits)
})

/**
 * The decrypted fields of a token (all but the raw UID) as JSON.
 *
 * @since 0.1.0
 * @category json
 */
export const detailsJson = (details: TokenDetails): Record<string, unknown> => ({
  siteKeyId: details.siteKeyId,
  siteId: details.siteId,
  established: isoOrMs(details.established),
  refreshed: details.refreshed === undefined ? null : isoOrMs(details.refreshed),
  generated: details.generated === undefined ? null : isoOrMs(details.generated),
  expires: isoOrMs(details.expiry),
  privacyBits: details.privacyBits,
  privacy: privacyFlags(details.privacyBits),
  isClientSideGenerated: details.isClientSideGenerated,
  operator: details.operator === undefined ? null : { ...details.operator }
})

/**
 * The header as JSON.
 *
 * @since 0.1.0
 * @category json
 */
export const headerJson = (header: TokenHeader): Record<string, unknown> => ({
  version: header.version,
  scope: header.scope ?? null,
  identityType: header.identityType ?? null,
  masterKeyId: header.masterKeyId,
  encoding: header.encoding,
  length: header.length
})

/**
 * The raw UID explanation as JSON.
 *
 * @since 0.1.0
 * @category json
 */
export const rawUidJson = (info: RawUidInfo): Record<string, unknown> =>
  info.generation === 2
    ? { kind: "rawUid", generation: 2, scope: null, identityType: null }
    : {
      kind: "rawUid",
      generation: info.generation,
      scope: info.identityScope,
      identityType: info.identityType,
      ...(info.generation === 4 ? { environment: ["test", "integ", "prod"][info.environment] ?? info.environment } : {})
    }

/**
 * The decrypted details a failed decrypt still carries (expired, opted out,
 * domain rejected, bad lifetime), if any.
 *
 * @since 0.1.0
 * @category header
 */
export const failureDetails = (error: DecryptError): TokenDetails | undefined =>
  "token" in error ? error.token : undefined

/**
 * Epoch ms for people: ISO-8601, or a note that it is not a date.
 *
 * @since 0.1.0
 * @category text
 */
export const isoText = (ms: number | undefined): string =>
  ms === undefined ? "—" : iso(ms) ?? `${ms} (not a valid date)`
