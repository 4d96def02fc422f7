/**
 * The v2 request/response envelope (envelope.md): every call to the operator
 * except `POST /v2/token/refresh` sends its JSON payload AES-256-GCM encrypted
 * under the client secret, behind a timestamp and a nonce that the response
 * must echo.
 *
 * Everything here is a plain, total, synchronous function over a
 * {@link CryptoShape}: decoders never throw on bad input, they return an
 * `Either` whose left side is a typed error. Besides the client side
 * ({@link encodeRequest}, {@link decodeResponse}, {@link decodeRefreshResponse})
 * the module carries the operator side ({@link decodeRequest},
 * {@link encodeResponse}) for test operators, validating in the order the real
 * operator does (envelope.md §5).
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { CryptoShape, KeyHandle } from "./Crypto.js"
import { EnvelopeError } from "./TransportError.js"
import * as Base64 from "./internal/base64.js"
import { equalBytes, readInt64, writeInt64 } from "./internal/bytes.js"

// ---------------------------------------------------------------------------
// Layout constants (envelope.md §3)

/**
 * The envelope format version byte that starts every request envelope.
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = 1

/**
 * Length of the request nonce that the response must echo.
 *
 * @since 0.1.0
 * @category constants
 */
export const NONCE_LENGTH = 8

/**
 * Length of the AES-GCM IV (the "GCM nonce").
 *
 * @since 0.1.0
 * @category constants
 */
export const IV_LENGTH = 12

/**
 * Length of the AES-GCM authentication tag.
 *
 * @since 0.1.0
 * @category constants
 */
export const TAG_LENGTH = 16

/**
 * Minimum length of a request envelope: version ‖ IV ‖ timestamp ‖ nonce ‖ tag.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_REQUEST_LENGTH = 1 + IV_LENGTH + 8 + NONCE_LENGTH + TAG_LENGTH

/**
 * Minimum length of a response envelope: IV ‖ timestamp ‖ nonce ‖ tag.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_RESPONSE_LENGTH = IV_LENGTH + 8 + NONCE_LENGTH + TAG_LENGTH

/**
 * The largest request–server clock difference the operator accepts, in whole
 * minutes after truncation (envelope.md §5 step 6).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_DRIFT_MINUTES = 1

const PREFIX = 8 + NONCE_LENGTH
const SECRET_LENGTH = 32
const EMPTY = new Uint8Array(0)
const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

// ---------------------------------------------------------------------------
// Client secret

/**
 * The client secret is not standard Base64 of 32 bytes. The message never
 * echoes the secret.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidClientSecret extends Data.TaggedError("InvalidClientSecret")<{ readonly detail: string }> {
  override get message() {
    return `invalid client secret: ${this.detail}`
  }
}

/**
 * The 32 bytes of a client secret, kept wrapped: `String`, `JSON.stringify`
 * and `util.inspect` show `<redacted>`. Obtain one with
 * {@link parseClientSecret} or {@link clientSecretFromBytes}.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientSecret = Redacted.Redacted<Uint8Array> & Brand.Brand<"effect-uid2/ClientSecret">

/**
 * Parses a client secret: standard Base64 (surrounding whitespace ignored) of
 * exactly 32 bytes. The error never echoes the secret.
 *
 * @since 0.1.0
 * @category client secret
 */
export const parseClientSecret = (
  secret: string | Redacted.Redacted<string>
): Either.Either<ClientSecret, InvalidClientSecret> => {
  const text = (Redacted.isRedacted(secret) ? Redacted.value(secret) : secret).trim()
  if (text.length === 0) return Either.left(new InvalidClientSecret({ detail: "the client secret is empty" }))
  const bytes = Base64.decode(text, "standard")
  if (bytes === undefined) {
    return Either.left(new InvalidClientSecret({ detail: "the client secret is not valid standard Base64" }))
  }
  return clientSecretFromBytes(bytes)
}

/**
 * Wraps 32 raw bytes (copied) as a {@link ClientSecret}.
 *
 * @since 0.1.0
 * @category client secret
 */
export const clientSecretFromBytes = (bytes: Uint8Array): Either.Either<ClientSecret, InvalidClientSecret> =>
  bytes.length === SECRET_LENGTH
    ? Either.right(Redacted.make(Uint8Array.from(bytes)) as ClientSecret)
    : Either.left(
      new InvalidClientSecret({
        detail: `the client secret must decode to ${SECRET_LENGTH} bytes, got ${bytes.length}`
      })
    )

/**
 * A client secret already imported into a {@link CryptoShape} (see
 * {@link importKey}): long-lived callers import once instead of once per call.
 * Printing or serializing it never shows the key.
 *
 * @since 0.1.0
 * @category models
 */
export class EnvelopeKey {
  /** Discriminator. */
  readonly _tag = "EnvelopeKey" as const
  /**
   * @param handle whatever {@link CryptoShape.importKey} returned
   */
  constructor(readonly handle: KeyHandle) {}
  /** Never reveals the key. */
  toString(): string {
    return "EnvelopeKey(<redacted>)"
  }
  /** Never reveals the key. */
  toJSON(): unknown {
    return { _tag: "EnvelopeKey" }
  }
  /** Never reveals the key. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString()
  }
}

/**
 * Imports a client secret for repeated use; release it with
 * {@link releaseKey} when done.
 *
 * @since 0.1.0
 * @category client secret
 */
export const importKey = (crypto: CryptoShape, secret: ClientSecret): EnvelopeKey =>
  new EnvelopeKey(crypto.importKey(Redacted.value(secret)))

/**
 * Frees what {@link importKey} allocated.
 *
 * @since 0.1.0
 * @category client secret
 */
export const releaseKey = (crypto: CryptoShape, key: EnvelopeKey): void => crypto.releaseKey(key.handle)

/**
 * A key for the envelope functions: a parsed secret (imported for the call
 * and released after) or a pre-imported {@link EnvelopeKey}.
 *
 * @since 0.1.0
 * @category models
 */
export type SecretKey = ClientSecret | EnvelopeKey

const withKey = <A>(crypto: CryptoShape, key: SecretKey, f: (handle: KeyHandle) => A): A => {
  if (key instanceof EnvelopeKey) return f(key.handle)
  const handle = crypto.importKey(Redacted.value(key))
  try {
    return f(handle)
  } finally {
    crypto.releaseKey(handle)
  }
}

// ---------------------------------------------------------------------------
// Shared pieces

/**
 * An encoded envelope: its raw bytes (the binary form, section 4) and,
 * computed on first access, its standard Base64 text (the text form).
 *
 * @since 0.1.0
 * @category models
 */
export interface Encoded {
  readonly bytes: Uint8Array
  readonly text: string
}

/**
 * An encoded request, with the nonce the response must echo.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncodedRequest extends Encoded {
  readonly nonce: Uint8Array
}

const encoded = (bytes: Uint8Array): Encoded => {
  let text: string | undefined
  return {
    bytes,
    get text() {
      return text ??= Base64.encode(bytes)
    }
  }
}

const checkLength = (name: string, value: Uint8Array, length: number): void => {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`)
}

const checkTime = (nowMs: number): void => {
  if (!Number.isSafeInteger(nowMs)) throw new RangeError(`timestamp must be a safe integer, got ${nowMs}`)
}

const plaintext = (timestampMs: number, nonce: Uint8Array, payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(PREFIX + payload.length)
  writeInt64(out, 0, timestampMs)
  out.set(nonce, 8)
  out.set(payload, PREFIX)
  return out
}

const isWhitespace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13

/** Bytes as ASCII/Latin-1 text, for Base64 bodies that arrived as bytes. */
const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")

const trimmed = (text: string): string => {
  let start = 0
  let end = text.length
  while (start < end && isWhitespace(text.charCodeAt(start))) start++
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--
  return start === 0 && end === text.length ? text : text.slice(start, end)
}

const decodeText = (bytes: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** The UTF-8 JSON text of `bytes`, or an `EnvelopeError("Json")`. */
const jsonText = (bytes: Uint8Array): Either.Either<string, EnvelopeError> => {
  const text = decodeText(bytes)
  if (text === undefined) {
    return Either.left(new EnvelopeError({ reason: "Json", detail: "payload is not valid UTF-8" }))
  }
  if (!isJson(text)) return Either.left(new EnvelopeError({ reason: "Json", detail: "payload is not valid JSON" }))
  return Either.right(text)
}

/** A response body as envelope bytes: raw bytes in binary mode, else Base64 text. */
const responseBytes = (
  body: string | Uint8Array,
  binary: boolean
): Either.Either<Uint8Array, EnvelopeError> => {
  if (typeof body !== "string" && binary) return Either.right(body)
  const text = trimmed(typeof body === "string" ? body : latin1(body))
  if (text.length === 0) return Either.left(new EnvelopeError({ reason: "Missing", detail: "response body is empty" }))
  const bytes = Base64.decode(text, "standard")
  return bytes === undefined
    ? Either.left(new EnvelopeError({ reason: "Base64", detail: "response body is not valid Base64" }))
    : Either.right(bytes)
}

// ---------------------------------------------------------------------------
// Client side

/**
 * What goes into a request envelope. `nonce` (8 bytes) and `iv` (12 bytes)
 * must be fresh random bytes in production; fixed values reproduce test
 * vectors. `payload` is the request JSON as UTF-8, empty for key refreshes.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInput {
  readonly nowMs: number
  readonly nonce: Uint8Array
  readonly iv: Uint8Array
  readonly payload: Uint8Array
}

/**
 * Builds a request envelope: `0x01 ‖ iv ‖ GCM(timestamp ‖ nonce ‖ payload) ‖ tag`
 * (envelope.md §3.2). Throws a `RangeError` only on programming errors: a nonce
 * or IV of the wrong length, or a timestamp that is not a safe integer.
 *
 * @since 0.1.0
 * @category client
 */
export const encodeRequest = (crypto: CryptoShape, key: SecretKey, input: RequestInput): EncodedRequest => {
  checkLength("nonce", input.nonce, NONCE_LENGTH)
  checkLength("iv", input.iv, IV_LENGTH)
  checkTime(input.nowMs)
  const sealed = withKey(crypto, key, (handle) =>
    crypto.gcmEncrypt(handle, input.iv, plaintext(input.nowMs, input.nonce, input.payload)))
  const bytes = new Uint8Array(1 + sealed.length)
  bytes[0] = VERSION
  bytes.set(sealed, 1)
  const out = encoded(bytes)
  const nonce = Uint8Array.from(input.nonce)
  return {
    bytes,
    nonce,
    get text() {
      return out.text
    }
  }
}

/**
 * {@link encodeRequest} with a fresh nonce and IV drawn from
 * `crypto.randomBytes`. Keep the returned `nonce` to check the response.
 *
 * @since 0.1.0
 * @category client
 */
export const encodeRequestRandom = (
  crypto: CryptoShape,
  key: SecretKey,
  input: { readonly nowMs: number; readonly payload?: Uint8Array | undefined }
): EncodedRequest =>
  encodeRequest(crypto, key, {
    nowMs: input.nowMs,
    nonce: crypto.randomBytes(NONCE_LENGTH),
    iv: crypto.randomBytes(IV_LENGTH),
    payload: input.payload ?? EMPTY
  })

/**
 * A decrypted response: the operator's timestamp (informational; SDKs ignore
 * it) and the response JSON text, checked to be valid UTF-8 JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedResponse {
  readonly timestampMs: number
  readonly json: string
}

/**
 * Options for {@link decodeResponse}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeResponseOptions {
  /**
   * When `true` and the body is a `Uint8Array`, the body is the raw envelope
   * (envelope.md §4). Otherwise the body is Base64 text (a `Uint8Array` body
   * is read as ASCII).
   */
  readonly binary?: boolean | undefined
}

/**
 * Decrypts an HTTP 200 response body (envelope.md §3.3, §3.4): Base64 (unless
 * binary) → GCM under the client secret → the echoed nonce must equal
 * `requestNonce` → UTF-8 JSON. Surrounding whitespace in the text form is
 * ignored. Never throws.
 *
 * @since 0.1.0
 * @category client
 */
export const decodeResponse = (
  crypto: CryptoShape,
  key: SecretKey,
  body: string | Uint8Array,
  requestNonce: Uint8Array,
  options?: DecodeResponseOptions
): Either.Either<DecodedResponse, EnvelopeError> =>
  Either.flatMap(responseBytes(body, options?.binary === true), (bytes) => {
    if (bytes.length < MIN_RESPONSE_LENGTH) {
      return Either.left(
        new EnvelopeError({
          reason: "TooShort",
          detail: `response envelope is ${bytes.length} bytes, at least ${MIN_RESPONSE_LENGTH} expected`
        })
      )
    }
    const plain = withKey(crypto, key, (handle) => crypto.gcmDecrypt(handle, bytes, 0, bytes.length))
    if (plain === undefined) {
      return Either.left(
        new EnvelopeError({
          reason: "Decrypt",
          detail: "response failed to decrypt (wrong client secret or corrupted)"
        })
      )
    }
    if (!equalBytes(plain.subarray(8, PREFIX), requestNonce)) {
      return Either.left(
        new EnvelopeError({ reason: "NonceMismatch", detail: "the response nonce does not match the request nonce" })
      )
    }
    return Either.map(jsonText(plain.subarray(PREFIX)), (json) => ({ timestampMs: readInt64(plain, 0), json }))
  })

/**
 * Decrypts the HTTP 200 body of `POST /v2/token/refresh` (envelope.md §6):
 * Base64 of `iv ‖ GCM(json) ‖ tag` under the identity's
 * `refresh_response_key` (standard Base64 of 32 bytes), with no timestamp or
 * nonce prefix. An unusable key fails with reason `"Key"`. Never throws.
 *
 * @since 0.1.0
 * @category client
 */
export const decodeRefreshResponse = (
  crypto: CryptoShape,
  refreshResponseKey: string | Redacted.Redacted<string>,
  body: string | Uint8Array
): Either.Either<string, EnvelopeError> => {
  const keyText = Redacted.isRedacted(refreshResponseKey) ? Redacted.value(refreshResponseKey) : refreshResponseKey
  const keyBytes = Base64.decode(keyText, "standard")
  if (keyBytes === undefined || keyBytes.length !== SECRET_LENGTH) {
    return Either.left(
      new EnvelopeError({ reason: "Key", detail: "refresh_response_key is not standard Base64 of 32 bytes" })
    )
  }
  return Either.flatMap(responseBytes(body, false), (bytes) => {
    if (bytes.length < IV_LENGTH + TAG_LENGTH) {
      return Either.left(
        new EnvelopeError({
          reason: "TooShort",
          detail: `refresh response is ${bytes.length} bytes, at least ${IV_LENGTH + TAG_LENGTH} expected`
        })
      )
    }
    const handle = crypto.importKey(keyBytes)
    let plain: Uint8Array | undefined
    try {
      plain = crypto.gcmDecrypt(handle, bytes, 0, bytes.length)
    } finally {
      crypto.releaseKey(handle)
    }
    if (plain === undefined) {
      return Either.left(
        new EnvelopeError({
          reason: "Decrypt",
          detail: "refresh response failed to decrypt (wrong refresh_response_key or corrupted)"
        })
      )
    }
    return jsonText(plain)
  })
}

// ---------------------------------------------------------------------------
// Operator side

/**
 * A request as the operator sees it after validation.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodedRequest {
  /** The client's timestamp, ms since the epoch. */
  readonly timestampMs: number
  /** The 8-byte nonce to echo in the response. */
  readonly nonce: Uint8Array
  /** The raw payload bytes (empty for key refreshes). */
  readonly payload: Uint8Array
  /** The payload as JSON text, or `undefined` when the payload is empty. */
  readonly json: string | undefined
  /** Whether the body arrived in the binary form. */
  readonly binary: boolean
}

/**
 * Options for {@link decodeRequest}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeRequestOptions {
  /** The operator's clock, ms since the epoch, for the timestamp check. */
  readonly nowMs: number
  /**
   * The request declared `Content-Type: application/octet-stream` and the body
   * is a `Uint8Array`: read it as the raw envelope, falling back to Base64 when
   * it does not start with the version byte but is Base64 text (as the
   * operator does).
   */
  readonly binary?: boolean | undefined
  /** Largest accepted drift in whole (truncated) minutes; default {@link MAX_DRIFT_MINUTES}. */
  readonly maxDriftMinutes?: number | undefined
}

const looksLikeJson = (text: string): boolean => {
  const t = trimmed(text)
  const first = t.charCodeAt(0)
  return (first === 123 || first === 91) && isJson(t)
}

/**
 * Validates and decrypts a request envelope the way the operator does,
 * failing with the first problem in the order of envelope.md §5: `"Missing"`,
 * `"Base64"` / `"UnencryptedJson"`, `"TooShort"`, `"Version"`, `"Decrypt"`,
 * `"Timestamp"`, `"Json"`. Never throws.
 *
 * @since 0.1.0
 * @category operator
 */
export const decodeRequest = (
  crypto: CryptoShape,
  key: SecretKey,
  body: string | Uint8Array,
  options: DecodeRequestOptions
): Either.Either<DecodedRequest, EnvelopeError> => {
  // 1. body present
  if (body.length === 0) return Either.left(new EnvelopeError({ reason: "Missing", detail: "Body is missing." }))
  // 2. Base64 (or raw bytes in binary mode)
  let bytes: Uint8Array | undefined
  let binary = false
  if (typeof body !== "string" && options.binary === true && body[0] === VERSION) {
    bytes = body
    binary = true
  } else {
    const text = typeof body === "string" ? body : latin1(body)
    bytes = Base64.decode(text, "standard")
    if (bytes === undefined) {
      if (typeof body !== "string" && options.binary === true) {
        bytes = body
        binary = true
      } else {
        return Either.left(
          looksLikeJson(text)
            ? new EnvelopeError({ reason: "UnencryptedJson", detail: "The request body is unencrypted JSON." })
            : new EnvelopeError({ reason: "Base64", detail: "Body is not valid base64." })
        )
      }
    }
  }
  // 3. length
  if (bytes.length < MIN_REQUEST_LENGTH) {
    return Either.left(new EnvelopeError({ reason: "TooShort", detail: "Body too short. Check encryption method." }))
  }
  // 4. version
  if (bytes[0] !== VERSION) {
    return Either.left(
      new EnvelopeError({
        reason: "Version",
        detail: `Invalid request envelope format version: received ${bytes[0]}, must be ${VERSION}.`
      })
    )
  }
  // 5. GCM
  const envelope = bytes
  const plain = withKey(crypto, key, (handle) => crypto.gcmDecrypt(handle, envelope, 1, envelope.length))
  if (plain === undefined) {
    return Either.left(new EnvelopeError({ reason: "Decrypt", detail: "Check encryption key (ClientSecret)." }))
  }
  // 6. timestamp: difference truncated to whole minutes, |minutes| ≤ max
  const timestampMs = readInt64(plain, 0)
  const minutes = Math.trunc((options.nowMs - timestampMs) / 60_000)
  if (Math.abs(minutes) > (options.maxDriftMinutes ?? MAX_DRIFT_MINUTES)) {
    return Either.left(
      new EnvelopeError({ reason: "Timestamp", detail: "Request too old or client time drift." })
    )
  }
  // 7. payload JSON
  const nonce = plain.slice(8, PREFIX)
  const payload = plain.subarray(PREFIX)
  if (payload.length === 0) return Either.right({ timestampMs, nonce, payload, json: undefined, binary })
  return Either.map(jsonText(payload), (json) => ({ timestampMs, nonce, payload, json, binary }))
}

/**
 * What goes into a response envelope: the operator's timestamp, the request's
 * nonce, a fresh 12-byte IV and the response JSON text.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseInput {
  readonly nowMs: number
  readonly nonce: Uint8Array
  readonly iv: Uint8Array
  readonly json: string
}

/**
 * Builds a response envelope: `iv ‖ GCM(timestamp ‖ nonce ‖ json) ‖ tag`
 * (envelope.md §3.3), with no version byte. Throws a `RangeError` only on a
 * nonce or IV of the wrong length or a timestamp that is not a safe integer.
 *
 * @since 0.1.0
 * @category operator
 */
export const encodeResponse = (crypto: CryptoShape, key: SecretKey, input: ResponseInput): Encoded => {
  checkLength("nonce", input.nonce, NONCE_LENGTH)
  checkLength("iv", input.iv, IV_LENGTH)
  checkTime(input.nowMs)
  return encoded(
    withKey(crypto, key, (handle) =>
      crypto.gcmEncrypt(handle, input.iv, plaintext(input.nowMs, input.nonce, utf8.encode(input.json))))
  )
}

/**
 * Builds a `/v2/token/refresh` response: `iv ‖ GCM(json) ‖ tag` under the
 * identity's `refresh_response_key` (32 raw bytes), with no prefix.
 *
 * @since 0.1.0
 * @category operator
 */
export const encodeRefreshResponse = (
  crypto: CryptoShape,
  refreshResponseKey: Uint8Array,
  input: { readonly iv: Uint8Array; readonly json: string }
): Encoded => {
  checkLength("refresh_response_key", refreshResponseKey, SECRET_LENGTH)
  checkLength("iv", input.iv, IV_LENGTH)
  const handle = crypto.importKey(refreshResponseKey)
  try {
    return encoded(crypto.gcmEncrypt(handle, input.iv, utf8.encode(input.json)))
  } finally {
    crypto.releaseKey(handle)
  }
}
