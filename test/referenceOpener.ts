// A TokenOpener written with the primitives it replaces (Base64.decode and two gcmDecrypts of a
// CryptoShape, keys in a Map): the reference the native opener and the token core are compared to.
import type { CryptoShape, KeyHandle, TokenOpener } from "../src/Crypto.js"
import * as Base64 from "../src/internal/base64.js"
import { readInt32 } from "../src/internal/bytes.js"

/** Master plaintext: 33 bytes of fields, then a site blob of at least 12 + 36 + 16 bytes. */
const MIN_MASTER_PLAINTEXT = 33 + 12 + 36 + 16

export const referenceOpener = (crypto: CryptoShape): TokenOpener => ({
  importKeys: (keys) => {
    const table = new Map<number, KeyHandle>()
    for (const key of keys) {
      if (table.has(key.id)) throw new RangeError("duplicate key id")
      table.set(key.id, crypto.importKey(key.secret))
    }
    return table
  },
  open: (text, alphabet, keys, fields) => {
    const table = keys as Map<number, KeyHandle>
    const bytes = Base64.decode(text, alphabet)
    if (bytes === undefined || bytes.length < 6 + 28 + MIN_MASTER_PLAINTEXT) return undefined
    const masterKey = table.get(readInt32(bytes, 2))
    if (masterKey === undefined) return undefined
    const master = crypto.gcmDecrypt(masterKey, bytes, 6, bytes.length)
    if (master === undefined) return undefined
    const siteKey = table.get(readInt32(master, 29))
    if (siteKey === undefined) return undefined
    const site = crypto.gcmDecrypt(siteKey, master, 33, master.length)
    if (site === undefined) return undefined
    fields.set(bytes.subarray(0, 6), 0)
    fields.set(master.subarray(0, 33), 6)
    fields.set(site.subarray(0, 36), 39)
    return Base64.encodeRange(site, 36, site.length)
  }
})

/** `crypto` with the reference opener: the token core's fast path on node's primitives. */
export const withReferenceOpener = (crypto: CryptoShape, name: string): CryptoShape => ({
  ...crypto,
  name,
  tokenOpener: referenceOpener(crypto)
})
