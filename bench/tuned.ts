/**
 * EXPERIMENTS, not SDK code: variants of src/Crypto.ts `makeNode`, of the
 * Base64 decode, of the V4 encoder and of the token core, used by
 * bench/breakdown.ts to measure what a change in src/ would buy. Same
 * node:crypto calls, fewer JS allocations, copies and scans:
 *
 * - results are returned as the `Buffer`s node:crypto produces (a `Buffer`
 *   is a `Uint8Array`) instead of being wrapped in a new `Uint8Array` view;
 * - inputs are sliced with `Buffer#subarray` on one `Buffer` view of the
 *   input instead of `Uint8Array#subarray` (V8's generic species path);
 * - encrypt output is assembled with `Buffer.concat` (pooled
 *   `allocUnsafe`) instead of `new Uint8Array(n)` (zero-filled, and for
 *   n > 64 an off-heap backing store that V8 must track);
 * - random bytes for nonces come from a 4 KiB pool refilled with one
 *   `randomFillSync` (as the `uuid` package does), copied out per call.
 */
import { createCipheriv, createDecipheriv, type KeyObject, randomFillSync } from "node:crypto"
import { type CryptoShape, makeNode } from "../src/Crypto.js"
import { decrypt, type DecryptOptions, type DecryptResult, encryptRawUid } from "../src/Decryption.js"
import type { EncryptError } from "../src/Errors.js"
import { scopeFromBit, typeFromBits } from "../src/Identity.js"
import * as Base64 from "../src/internal/base64.js"
import { readInt32, readInt64, writeInt32, writeInt64 } from "../src/internal/bytes.js"
import { handleOf, type KeyRing } from "../src/KeyRing.js"
import { detectVersion, identityTypeOfRawUid, isClientSideGenerated, isOptedOut, prefixByte } from "../src/Token.js"

const GCM_NONCE = 12
const GCM_TAG = 16

const asBuffer = (u: Uint8Array): Buffer => u instanceof Buffer ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/** Secure random bytes from a pool: one `randomFillSync` per 4 KiB, a 12-byte copy per nonce. */
export const pooledRandom = (poolSize = 4096): (length: number) => Uint8Array => {
  const pool = Buffer.allocUnsafe(poolSize)
  let offset = poolSize
  return (length) => {
    if (length > poolSize) return randomFillSync(new Uint8Array(length))
    if (offset + length > poolSize) {
      randomFillSync(pool)
      offset = 0
    }
    const out = pool.slice(offset, offset + length) // a view; copied below
    offset += length
    return Uint8Array.prototype.slice.call(out)
  }
}

/** `makeNode` with the decrypt/encrypt changes above (random source as given). */
export const makeNodeTuned = (random: (length: number) => Uint8Array, name = "node-tuned"): CryptoShape => {
  const base = makeNode(random, name)
  return {
    ...base,
    gcmDecrypt: (key, data, start, end) => {
      if (end - start < GCM_NONCE + GCM_TAG) return undefined
      const buf = asBuffer(data)
      try {
        const decipher = createDecipheriv("aes-256-gcm", key as KeyObject, buf.subarray(start, start + GCM_NONCE))
        decipher.setAuthTag(buf.subarray(end - GCM_TAG, end))
        const body = decipher.update(buf.subarray(start + GCM_NONCE, end - GCM_TAG))
        const tail = decipher.final()
        return tail.length === 0 ? body : Buffer.concat([body, tail])
      } catch {
        return undefined
      }
    },
    gcmEncrypt: (key, nonce, plaintext) => {
      const cipher = createCipheriv("aes-256-gcm", key as KeyObject, nonce)
      const body = cipher.update(plaintext)
      cipher.final()
      return Buffer.concat([nonce, body, cipher.getAuthTag()], GCM_NONCE + body.length + GCM_TAG)
    },
    cbcDecrypt: (key, data, start, end) => {
      const length = end - start - 16
      if (length <= 0 || length % 16 !== 0) return undefined
      const buf = asBuffer(data)
      try {
        const decipher = createDecipheriv("aes-256-cbc", key as KeyObject, buf.subarray(start, start + 16))
        return Buffer.concat([decipher.update(buf.subarray(start + 16, end)), decipher.final()])
      } catch {
        return undefined
      }
    }
  }
}

/**
 * The V4 branch of `Token.encode` with the two plaintexts built in pooled
 * `Buffer.allocUnsafe` memory (every byte is written) and the master
 * plaintext taking the site blob's pieces straight from the cipher (no
 * intermediate site blob), then Base64URL. Same bytes as `Token.encode`.
 */
export const encodeV4Tuned = (
  masterKey: KeyObject,
  siteKey: KeyObject,
  masterKeyId: number,
  siteKeyId: number,
  prefix: number,
  siteId: number,
  rawUid: Uint8Array,
  nowMs: number,
  expiry: number,
  random: (length: number) => Uint8Array
): string => {
  const site = Buffer.allocUnsafe(36 + rawUid.length)
  writeInt32(site, 0, siteId)
  writeInt64(site, 4, 0)
  writeInt32(site, 12, 0)
  writeInt32(site, 16, 0)
  writeInt64(site, 20, nowMs)
  writeInt64(site, 28, nowMs)
  site.set(rawUid, 36)
  // Same draw order as encryptRawUid (master nonce, then site nonce), so seeded runs match byte for byte.
  const masterNonce = random(GCM_NONCE)
  const siteNonce = random(GCM_NONCE)
  const c1 = createCipheriv("aes-256-gcm", siteKey, siteNonce)
  const siteCt = c1.update(site)
  c1.final()
  const master = Buffer.allocUnsafe(33 + GCM_NONCE + siteCt.length + GCM_TAG)
  writeInt64(master, 0, expiry)
  writeInt64(master, 8, nowMs)
  writeInt32(master, 16, 0)
  master[20] = 1
  writeInt32(master, 21, 0)
  writeInt32(master, 25, 0)
  writeInt32(master, 29, siteKeyId)
  master.set(siteNonce, 33)
  master.set(siteCt, 45)
  master.set(c1.getAuthTag(), 45 + siteCt.length)
  const c2 = createCipheriv("aes-256-gcm", masterKey, masterNonce)
  const masterCt = c2.update(master)
  c2.final()
  const header = Buffer.allocUnsafe(6 + GCM_NONCE)
  header[0] = prefix
  header[1] = 128
  writeInt32(header, 2, masterKeyId)
  header.set(masterNonce, 6)
  return Buffer.concat([header, masterCt, c2.getAuthTag()]).toString("base64url")
}

// ---------------------------------------------------------------------------
// Base64 decode variants (same contract as src/internal/base64.ts `decode`).

const VALUE = new Uint8Array(128)
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((ch, i) => {
  VALUE[ch.charCodeAt(0)] = i
})
VALUE[45] = 62
VALUE[95] = 63

const ALPHABET_RE = {
  standard: /^[A-Za-z0-9+/]*$/,
  url: /^[A-Za-z0-9_-]*$/,
  either: /^[A-Za-z0-9+/_-]*$/
} as const

/** Padding and length rules of `decode`; the end of the data characters, or -1. */
const dataEnd = (text: string): number => {
  let end = text.length
  if (end > 0 && text.charCodeAt(end - 1) === 61) {
    end--
    if (end > 0 && text.charCodeAt(end - 1) === 61) end--
    if (text.length % 4 !== 0) return -1
  }
  return end % 4 === 1 ? -1 : end
}

const canonicalTail = (text: string, end: number): boolean => {
  const rem = end % 4
  if (rem === 0) return true
  const last = VALUE[text.charCodeAt(end - 1)]!
  return (rem === 2 ? last & 0x0f : last & 0x03) === 0
}

/**
 * `decode` with the per-character loop replaced by one anchored regular
 * expression test, decoding with Node's `base64url` decoder (it accepts
 * both alphabets and is about twice as fast as `base64` on Node 20), and the
 * `Buffer` returned as is.
 */
export const decodeRegex = (text: string, alphabet: "standard" | "url" | "either" = "standard"): Uint8Array | undefined => {
  const end = dataEnd(text)
  if (end < 0) return undefined
  const data = end === text.length ? text : text.slice(0, end)
  if (!ALPHABET_RE[alphabet].test(data) || !canonicalTail(text, end)) return undefined
  const buf = Buffer.from(data, "base64url")
  // A plain Uint8Array view, as Base64.decode returns: keeps the byte readers monomorphic.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
}

/**
 * `decode` without any pre-scan: Node's decoder skips characters outside
 * both alphabets (and stops at `=`), so a decoded length short of
 * `floor(6 · n / 8)` reveals any of them; only the other alphabet's two
 * characters need a check for `standard`/`url`. Relies on that (undocumented)
 * decoder behaviour of Node 18–22.
 */
export const decodeLengthCheck = (
  text: string,
  alphabet: "standard" | "url" | "either" = "standard"
): Uint8Array | undefined => {
  const end = dataEnd(text)
  if (end < 0) return undefined
  const data = end === text.length ? text : text.slice(0, end)
  const buf = Buffer.from(data, "base64url")
  if (buf.length !== Math.floor((end * 3) / 4) || !canonicalTail(text, end)) return undefined
  if (alphabet === "standard" && (data.indexOf("-") >= 0 || data.indexOf("_") >= 0)) return undefined
  if (alphabet === "url" && (data.indexOf("+") >= 0 || data.indexOf("/") >= 0)) return undefined
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
}

// ---------------------------------------------------------------------------
// The token core with the proposed changes, for V3/V4 decrypt and V4 encrypt
// on the success path. Anything else (other versions, any failure) is handed
// to the real `decrypt`/`encryptRawUid`, so results are identical.

const MIN_GCM_TOKEN = 6 + 12 + 33 + 12 + 36 + 16 + 16

const checksPass = (
  ring: KeyRing,
  expiry: number,
  generated: number,
  privacy: number,
  siteId: number,
  nowMs: number,
  options: DecryptOptions
): boolean => {
  if (nowMs > expiry || isOptedOut(privacy)) return false
  if (
    options.clientType === "bidstream" && isClientSideGenerated(privacy) &&
    !ring.isDomainOrAppNameAllowed(siteId, options.domainOrAppName)
  ) return false
  if (options.clientType !== "legacy") {
    const max = options.clientType === "bidstream" ? ring.maxBidstreamLifetimeSeconds : ring.maxSharingLifetimeSeconds
    if (max !== undefined && expiry - generated > max * 1000) return false
    if (generated - nowMs > ring.allowClockSkewSeconds * 1000) return false
  }
  return true
}

/** `Decryption.decrypt` with `decodeRegex` instead of `Base64.decode` (the only change). */
export const decryptTuned = (
  ring: KeyRing | undefined,
  crypto: CryptoShape,
  text: string,
  nowMs: number,
  options: DecryptOptions
): DecryptResult => {
  if (ring === undefined || !ring.isValid(nowMs)) return decrypt(ring, crypto, text, nowMs, options)
  const version = detectVersion(text)
  if (version !== 3 && version !== 4) return decrypt(ring, crypto, text, nowMs, options)
  const bytes = decodeRegex(text, version === 4 ? "either" : "standard")
  if (bytes === undefined || bytes.length < MIN_GCM_TOKEN) return decrypt(ring, crypto, text, nowMs, options)
  const prefix = bytes[0]!
  const identityScope = scopeFromBit(prefix >> 4)
  if (identityScope !== ring.identityScope) return decrypt(ring, crypto, text, nowMs, options)
  const masterKeyId = readInt32(bytes, 2)
  const masterKey = ring.keyById(masterKeyId)
  if (masterKey === undefined) return decrypt(ring, crypto, text, nowMs, options)
  const master = crypto.gcmDecrypt(handleOf(masterKey, crypto), bytes, 6, bytes.length)
  if (master === undefined || master.length < 33 + 12 + 16 + 36) return decrypt(ring, crypto, text, nowMs, options)
  const expiry = readInt64(master, 0)
  const generated = readInt64(master, 8)
  const siteKeyId = readInt32(master, 29)
  const siteKey = ring.keyById(siteKeyId)
  if (siteKey === undefined) return decrypt(ring, crypto, text, nowMs, options)
  const site = crypto.gcmDecrypt(handleOf(siteKey, crypto), master, 33, master.length)
  if (site === undefined || site.length < 36) return decrypt(ring, crypto, text, nowMs, options)
  const privacy = readInt32(site, 16)
  const siteId = readInt32(site, 0)
  if (!checksPass(ring, expiry, generated, privacy, siteId, nowMs, options)) {
    return decrypt(ring, crypto, text, nowMs, options)
  }
  return {
    _tag: "DecryptedToken",
    uid: Base64.encode(site.subarray(36)),
    version,
    identityScope,
    identityType: typeFromBits((prefix & 0x0f) >> 2),
    masterKeyId,
    siteKeyId,
    siteKeySiteId: siteKey.siteId ?? 0,
    expiry,
    generated,
    established: readInt64(site, 20),
    refreshed: readInt64(site, 28),
    siteId,
    publisherId: readInt64(site, 4),
    clientKeyId: readInt32(site, 12),
    privacyBits: privacy,
    isClientSideGenerated: isClientSideGenerated(privacy),
    operator: {
      siteId: readInt32(master, 16),
      type: master[20]!,
      version: readInt32(master, 21),
      keyId: readInt32(master, 25)
    }
  }
}

/**
 * `Decryption.encryptRawUid` with `decodeRegex` for the raw UID and
 * {@link encodeV4Tuned} (pooled `Buffer`s, pooled random nonces). Needs a
 * node:crypto-style Crypto (handles are `KeyObject`s).
 */
export const encryptTuned = (random: (length: number) => Uint8Array) =>
(
  ring: KeyRing | undefined,
  crypto: CryptoShape,
  rawUid: string,
  nowMs: number
): string | EncryptError => {
  const slow = () => encryptRawUid(ring, crypto, rawUid, nowMs)
  if (ring === undefined || !ring.isValid(nowMs) || rawUid.length === 0) return slow()
  const masterKey = ring.activeMasterKey(nowMs)
  const siteKey = ring.activeDefaultKey(nowMs)
  if (masterKey === undefined || siteKey === undefined) return slow()
  const uid = decodeRegex(rawUid)
  if (uid === undefined) return slow()
  return encodeV4Tuned(
    handleOf(masterKey, crypto) as KeyObject,
    handleOf(siteKey, crypto) as KeyObject,
    masterKey.id,
    siteKey.id,
    prefixByte(ring.identityScope, identityTypeOfRawUid(rawUid)),
    ring.callerSiteId ?? 0,
    uid,
    nowMs,
    nowMs + ring.tokenExpirySeconds * 1000,
    random
  )
}
