/**
 * A `CryptoShape` that does no cryptography: decrypt returns the plaintext
 * recorded for that key once (every benchmark token of a version decrypts
 * to the same-shaped plaintext), encrypt returns a preallocated blob of the
 * right length and random bytes are a constant. Running the SDK on it
 * measures the SDK's own per-token overhead (Base64, layout, checks, result
 * objects, Effect) without the AES noise. For bench/breakdown.ts only.
 */
import type { CryptoShape, KeyHandle } from "../src/Crypto.js"

export const makeNullCrypto = (
  /** Plaintext of the master layer and of the site layer of a sample token, keyed by key secret (Base64). */
  plaintexts: ReadonlyMap<string, Uint8Array>
): CryptoShape => {
  const blobs = new Map<number, Uint8Array>()
  const blob = (length: number): Uint8Array => {
    let b = blobs.get(length)
    if (b === undefined) {
      b = new Uint8Array(length)
      blobs.set(length, b)
    }
    return b
  }
  const nonce = new Uint8Array(16)
  const decryptAs = (key: KeyHandle): Uint8Array | undefined => plaintexts.get(key as string)
  return {
    name: "null",
    importKey: (secret) => Buffer.from(secret).toString("base64"),
    releaseKey: () => {},
    gcmDecrypt: (key) => decryptAs(key),
    cbcDecrypt: (key) => decryptAs(key),
    gcmEncrypt: (_key, _nonce, plaintext) => blob(12 + plaintext.length + 16),
    cbcEncrypt: (_key, _iv, plaintext) => blob(16 + (plaintext.length & ~15) + 16),
    sha256: () => blob(32),
    randomBytes: (length) => length <= 16 ? nonce.subarray(0, length) : new Uint8Array(length)
  }
}
