import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"

const NONCE_BYTES = 12
const TAG_BYTES = 16
// Fixed labels: the derived key is used for this one purpose, so it never equals a key used elsewhere.
const SALT = Buffer.from("effect-uid2 redis key store", "utf8")
const INFO = Buffer.from("key ring at rest, AES-256-GCM, v1", "utf8")

/** The AES-256 key rings are sealed under, derived from the client secret with HKDF-SHA256. */
export const deriveKey = (clientSecret: string): Buffer =>
  Buffer.from(hkdfSync("sha256", Buffer.from(clientSecret, "utf8"), SALT, INFO, 32))

/** `nonce ‖ ciphertext ‖ tag` of `plaintext`, bound to `associated` (the Redis key name), as Base64. */
export const seal = (key: Buffer, plaintext: string, associated: string): string => {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv("aes-256-gcm", key, nonce)
  cipher.setAAD(Buffer.from(associated, "utf8"))
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64")
}

/**
 * The plaintext of a sealed value, or `undefined` when it does not open: not
 * Base64, too short, tampered with, sealed under another client secret or
 * under another key name.
 */
export const open = (key: Buffer, sealed: string, associated: string): string | undefined => {
  const bytes = Buffer.from(sealed, "base64")
  if (bytes.length < NONCE_BYTES + TAG_BYTES || bytes.toString("base64") !== sealed) return undefined
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
    decipher.setAAD(Buffer.from(associated, "utf8"))
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
    return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()])
      .toString("utf8")
  } catch {
    return undefined
  }
}
