/**
 * Strict Base64 (RFC 4648 §4) and Base64URL (RFC 4648 §5) codecs. Node's own decoder
 * silently skips characters outside the alphabet, so every decoder here
 * validates the text first and returns `undefined` instead of throwing.
 * Non-canonical encodings (non-zero padding bits) are rejected: the operator
 * and every SDK only ever produce canonical text, and accepting two spellings
 * of the same bytes would let a flipped bit go unnoticed.
 */

const VALUE = new Uint8Array(128)
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((ch, i) => {
  VALUE[ch.charCodeAt(0)] = i
})
VALUE[45] = 62
VALUE[95] = 63

/** Which alphabets a decode accepts. */
export type Alphabet = "standard" | "url" | "either"

// One anchored test per alphabet is several times faster than a per-character loop.
const ALPHABET: Record<Alphabet, RegExp> = {
  standard: /^[A-Za-z0-9+/]*$/,
  url: /^[A-Za-z0-9_-]*$/,
  either: /^[A-Za-z0-9+/_-]*$/
}

/**
 * Decodes Base64 text. `=` padding is optional but, when present, must make the
 * length a multiple of four. Returns `undefined` for any invalid input.
 */
export const decode = (text: string, alphabet: Alphabet = "standard"): Uint8Array | undefined => {
  let end = text.length
  if (end > 0 && text.charCodeAt(end - 1) === 61) {
    end--
    if (end > 0 && text.charCodeAt(end - 1) === 61) end--
    if (text.length % 4 !== 0) return undefined
  }
  const rem = end % 4
  if (rem === 1) return undefined
  const data = end === text.length ? text : text.slice(0, end)
  if (!ALPHABET[alphabet].test(data)) return undefined
  // Canonical form: the unused low bits of the last character must be zero.
  if (rem !== 0) {
    const last = VALUE[text.charCodeAt(end - 1)]!
    if ((rem === 2 ? last & 0x0f : last & 0x03) !== 0) return undefined
  }
  // Node's base64url decoder reads both alphabets (validated above) and is the faster of the two.
  const buf = Buffer.from(data, "base64url")
  // A plain Uint8Array view keeps the byte readers monomorphic.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
}

/** Standard Base64 with padding. */
export const encode = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64")

/** Standard Base64 of `bytes[start, end)`. */
export const encodeRange = (bytes: Uint8Array, start: number, end: number): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("base64")

/** Base64URL without padding. */
export const encodeUrl = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url")
