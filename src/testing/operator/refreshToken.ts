/**
 * The test operator's refresh tokens, shaped as the real operator's. Private to the test kit.
 *
 * Wrapper: standard Base64 of `scopeByte(1) ‖ refreshKeyId(int32) ‖ GCM blob`
 * whose plaintext is `{"refresh_response_key": "<B64 32 bytes>",
 * "refresh_token": "<inner>"}` under an operator refresh key. The inner token
 * is `prefix(1) ‖ 112 ‖ refreshKeyId(int32) ‖ GCM blob` of a 90-byte payload,
 * as Base64URL without padding (166 characters), which makes the wrapper
 * exactly 388 characters, the length the real operator requires.
 */
import type { CryptoShape, KeyHandle } from "../../Crypto.js"
import { type IdentityScope, type IdentityType, scopeBit, typeBits, typeFromBits } from "../../Identity.js"
import * as Base64 from "../../internal/base64.js"
import { readInt32, readInt64, writeInt32, writeInt64 } from "../../internal/bytes.js"

/** Length of every wrapper this module produces. */
export const REFRESH_TOKEN_LENGTH = 388

const PAYLOAD_LENGTH = 90
const VERSION = 112

/** What a refresh token carries. Times are epoch milliseconds. */
export interface RefreshPayload {
  /** When the refresh token expires. */
  readonly expiry: number
  /** When this refresh token was created. */
  readonly created: number
  /** The publisher site the identity was generated for. */
  readonly siteId: number
  readonly privacyBits: number
  /** First generation of the identity; survives refreshes. */
  readonly established: number
  readonly identityType: IdentityType
  /** The first-level hash of the identity (32 bytes). */
  readonly firstLevelHash: Uint8Array
}

/** A decoded refresh token. */
export interface DecodedRefreshToken {
  readonly payload: RefreshPayload
  readonly identityScope: IdentityScope
  /** The key that the refresh response must be encrypted with (32 bytes). */
  readonly refreshResponseKey: Uint8Array
}

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** Builds the 388-character wrapper. `nonces` are two fresh 12-byte GCM nonces. */
export const encode = (
  crypto: CryptoShape,
  scope: IdentityScope,
  key: { readonly id: number; readonly handle: KeyHandle },
  payload: RefreshPayload,
  refreshResponseKey: Uint8Array,
  nonces: { readonly inner: Uint8Array; readonly outer: Uint8Array }
): string => {
  const plain = new Uint8Array(PAYLOAD_LENGTH)
  writeInt64(plain, 0, payload.expiry)
  writeInt64(plain, 8, payload.created)
  // operator identity: site id 0, type 1 (service), version 0, key id 0
  writeInt32(plain, 16, 0)
  plain[20] = 1
  writeInt32(plain, 21, 0)
  writeInt32(plain, 25, 0)
  // publisher identity: site id, publisher id 0, client key id 0
  writeInt32(plain, 29, payload.siteId)
  writeInt64(plain, 33, 0)
  writeInt32(plain, 41, 0)
  writeInt32(plain, 45, payload.privacyBits)
  writeInt64(plain, 49, payload.established)
  plain[57] = typeBits(payload.identityType)
  plain.set(payload.firstLevelHash.subarray(0, 32), 58)
  const sealed = crypto.gcmEncrypt(key.handle, nonces.inner, plain)
  const inner = new Uint8Array(6 + sealed.length)
  inner[0] = (scopeBit(scope) << 4) | (typeBits(payload.identityType) << 2) | 3
  inner[1] = VERSION
  writeInt32(inner, 2, key.id)
  inner.set(sealed, 6)
  const json = JSON.stringify({
    refresh_response_key: Base64.encode(refreshResponseKey),
    refresh_token: Base64.encodeUrl(inner)
  })
  const outerSealed = crypto.gcmEncrypt(key.handle, nonces.outer, utf8.encode(json))
  const outer = new Uint8Array(5 + outerSealed.length)
  outer[0] = scopeBit(scope) << 4
  writeInt32(outer, 1, key.id)
  outer.set(outerSealed, 5)
  return Base64.encode(outer)
}

/**
 * Decodes a wrapper; `undefined` when it is not one of ours (wrong length,
 * unknown key, failed authentication, bad layout).
 */
export const decode = (
  crypto: CryptoShape,
  text: string,
  keyById: (id: number) => KeyHandle | undefined
): DecodedRefreshToken | undefined => {
  if (text.length !== REFRESH_TOKEN_LENGTH) return undefined
  const outer = Base64.decode(text, "standard")
  if (outer === undefined || outer.length < 5 + 28) return undefined
  const identityScope: IdentityScope = (outer[0]! >> 4) & 1 ? "EUID" : "UID2"
  const key = keyById(readInt32(outer, 1))
  if (key === undefined) return undefined
  const plain = crypto.gcmDecrypt(key, outer, 5, outer.length)
  if (plain === undefined) return undefined
  let json: unknown
  try {
    json = JSON.parse(strictUtf8.decode(plain))
  } catch {
    return undefined
  }
  if (typeof json !== "object" || json === null) return undefined
  const { refresh_response_key: responseKeyText, refresh_token: innerText } = json as Record<string, unknown>
  if (typeof responseKeyText !== "string" || typeof innerText !== "string") return undefined
  const refreshResponseKey = Base64.decode(responseKeyText, "standard")
  const inner = Base64.decode(innerText, "url")
  if (refreshResponseKey?.length !== 32 || inner === undefined || inner.length !== 6 + 12 + PAYLOAD_LENGTH + 16) {
    return undefined
  }
  if (inner[1] !== VERSION) return undefined
  const innerKey = keyById(readInt32(inner, 2))
  if (innerKey === undefined) return undefined
  const payload = crypto.gcmDecrypt(innerKey, inner, 6, inner.length)
  if (payload === undefined || payload.length !== PAYLOAD_LENGTH) return undefined
  return {
    identityScope,
    refreshResponseKey,
    payload: {
      expiry: readInt64(payload, 0),
      created: readInt64(payload, 8),
      siteId: readInt32(payload, 29),
      privacyBits: readInt32(payload, 45),
      established: readInt64(payload, 49),
      identityType: typeFromBits(payload[57]!),
      firstLevelHash: payload.slice(58, 90)
    }
  }
}
