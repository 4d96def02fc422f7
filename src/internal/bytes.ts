/**
 * Big-endian integer reads and writes over plain byte arrays. Every reader
 * assumes the caller has already checked bounds: the token core checks the
 * length of each buffer once, up front, rather than once per field.
 */

/** Signed 32-bit big-endian integer at `offset`. */
export const readInt32 = (
  b: Uint8Array,
  offset: number
): number => ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!)

/** Unsigned 32-bit big-endian integer at `offset`. */
export const readUint32 = (b: Uint8Array, offset: number): number => readInt32(b, offset) >>> 0

/**
 * Signed 64-bit big-endian integer at `offset`, as a JavaScript number. Token
 * timestamps are milliseconds, far below 2^53, so this is exact for them; values
 * beyond the safe range lose precision but never throw.
 */
export const readInt64 = (b: Uint8Array, offset: number): number =>
  readInt32(b, offset) * 4294967296 + readUint32(b, offset + 4)

/** Writes a 32-bit big-endian integer (low 32 bits of `value`). */
export const writeInt32 = (b: Uint8Array, offset: number, value: number): void => {
  b[offset] = value >>> 24
  b[offset + 1] = value >>> 16
  b[offset + 2] = value >>> 8
  b[offset + 3] = value
}

/** Writes a 64-bit big-endian integer; `value` must be a safe integer. */
export const writeInt64 = (b: Uint8Array, offset: number, value: number): void => {
  const hi = Math.floor(value / 4294967296)
  writeInt32(b, offset, hi)
  writeInt32(b, offset + 4, value - hi * 4294967296)
}

/** Constant-time equality of two byte ranges of the same length. */
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** Lower-case hex of a byte array. */
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex")

/** Bytes of a hex string; the caller guarantees an even-length hex string. */
export const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"))
