/**
 * The byte-level pieces both sides of the v2 envelope share: the plaintext
 * layout, keys, Base64 text and the UTF-8 JSON check. The client side lives
 * in the public `Envelope` module, the operator side in `operatorEnvelope`.
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { CryptoShape, KeyHandle } from "../Crypto.js"
import type { Encoded, SecretKey } from "../Envelope.js"
import { EnvelopeError } from "../TransportError.js"
import * as Base64 from "./base64.js"
import { writeInt64 } from "./bytes.js"

/** Length of the request nonce that the response must echo. */
export const NONCE_LENGTH = 8

/** Length of timestamp ‖ nonce, the prefix of every request and response plaintext. */
export const PREFIX = 8 + NONCE_LENGTH

/** Length of a client secret or a refresh response key. */
export const SECRET_LENGTH = 32

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** UTF-8 encoder for JSON payloads. */
export const utf8 = new TextEncoder()

/**
 * Whether `key` is something the envelope functions can use: a client secret
 * (a `Redacted` of 32 bytes) or a pre-imported key, told apart by being
 * `Redacted` or not.
 */
export const isSecretKey = (key: unknown): key is SecretKey => {
  if (Redacted.isRedacted(key)) {
    const bytes = Redacted.value(key)
    return bytes instanceof Uint8Array && bytes.length === SECRET_LENGTH
  }
  return typeof key === "object" && key !== null && (key as { readonly _tag?: unknown })._tag === "EnvelopeKey"
}

/** Runs `f` with the key's handle: a pre-imported one, or a client secret imported for the call and released after. */
export const withKey = <A>(crypto: CryptoShape, key: SecretKey, f: (handle: KeyHandle) => A): A => {
  if (!Redacted.isRedacted(key)) return f(key.handle)
  const handle = crypto.importKey(Redacted.value(key))
  try {
    return f(handle)
  } finally {
    crypto.releaseKey(handle)
  }
}

/**
 * The plaintext (timestamp ‖ nonce ‖ payload) of a request envelope (version
 * byte, then IV ‖ ciphertext ‖ tag), or `undefined` when it does not open with `key`.
 */
export const openRequest = (crypto: CryptoShape, key: SecretKey, envelope: Uint8Array): Uint8Array | undefined =>
  withKey(crypto, key, (handle) => crypto.gcmDecrypt(handle, envelope, 1, envelope.length))

/** The 32 bytes of a `refresh_response_key` (standard Base64), or `undefined` when it is not one. */
export const refreshResponseKeyBytes = (text: unknown): Uint8Array | undefined => {
  if (typeof text !== "string") return undefined
  const bytes = Base64.decode(text, "standard")
  return bytes !== undefined && bytes.length === SECRET_LENGTH ? bytes : undefined
}

/** An {@link Encoded} over `bytes`, its Base64 text computed on first access. */
export const encoded = (bytes: Uint8Array): Encoded => {
  let text: string | undefined
  return {
    bytes,
    get text() {
      return text ??= Base64.encode(bytes)
    }
  }
}

/** Throws a `RangeError` (a programming error) unless `value` has `length` bytes. */
export const checkLength = (name: string, value: Uint8Array, length: number): void => {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`)
}

/** Throws a `RangeError` (a programming error) unless `nowMs` is a safe integer. */
export const checkTime = (nowMs: number): void => {
  if (!Number.isSafeInteger(nowMs)) throw new RangeError(`timestamp must be a safe integer, got ${nowMs}`)
}

/** timestamp ‖ nonce ‖ payload. */
export const plaintext = (timestampMs: number, nonce: Uint8Array, payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(PREFIX + payload.length)
  writeInt64(out, 0, timestampMs)
  out.set(nonce, 8)
  out.set(payload, PREFIX)
  return out
}

const isWhitespace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13

/** Bytes as ASCII/Latin-1 text, for Base64 bodies that arrived as bytes. */
export const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")

/** `text` without surrounding spaces, tabs and line breaks. */
export const trimmed = (text: string): string => {
  let start = 0
  let end = text.length
  while (start < end && isWhitespace(text.charCodeAt(start))) start++
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--
  return start === 0 && end === text.length ? text : text.slice(start, end)
}

/** Whether `text` parses as JSON (`JSON.parse` does not recurse, so any depth is safe here). */
export const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const decodeText = (bytes: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** The UTF-8 JSON text of `bytes`, or an `EnvelopeError("Json")`. */
export const jsonText = (bytes: Uint8Array): Either.Either<string, EnvelopeError> => {
  const text = decodeText(bytes)
  if (text === undefined) {
    return Either.left(new EnvelopeError({ reason: "Json", detail: "payload is not valid UTF-8" }))
  }
  if (!isJson(text)) return Either.left(new EnvelopeError({ reason: "Json", detail: "payload is not valid JSON" }))
  return Either.right(text)
}
