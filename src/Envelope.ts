/**
 * The v2 request/response envelope, client side: every call to the operator
 * except `POST /v2/token/refresh` sends its JSON payload AES-256-GCM encrypted
 * under the client secret, behind a timestamp and a nonce that the response
 * must echo; the refresh response is encrypted under the identity's
 * `refresh_response_key`.
 *
 * Everything here is a plain, total, synchronous function over a
 * {@link CryptoShape}: decoders never throw on any input (including values of
 * the wrong type from untyped callers), they return an `Either` whose left
 * side is a typed error. The transport uses these functions for every call;
 * use them directly only for an operator endpoint the SDK does not wrap.
 *
 * @example
 * ```ts
 * import { Either, Redacted } from "effect"
 * import { Crypto, Envelope } from "effect-uid2"
 *
 * const crypto = Crypto.makeNode(Crypto.secureRandom)
 * const secret = Either.getOrThrow(Envelope.parseClientSecret(Redacted.make(process.env.UID2_SECRET_KEY ?? "")))
 *
 * // A key refresh request: an empty payload in the envelope; `text` is the Base64 body to POST.
 * const request = Envelope.encodeRequestRandom(crypto, secret, { nowMs: Date.now() })
 *
 * declare const responseBody: string // the operator's HTTP 200 body
 * const response = Envelope.decodeResponse(crypto, secret, responseBody, request.nonce)
 * console.log(Either.isRight(response) ? response.right.json : response.left.reason) // e.g. "NonceMismatch"
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as Brand from "effect/Brand"
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { CryptoShape, KeyHandle } from "./Crypto.js"
import * as Base64 from "./internal/base64.js"
import { equalBytes, readInt64 } from "./internal/bytes.js"
import {
  checkLength,
  checkTime,
  encoded,
  isSecretKey,
  jsonText,
  latin1,
  NONCE_LENGTH as NONCE_BYTES,
  plaintext,
  PREFIX,
  refreshResponseKeyBytes,
  SECRET_LENGTH,
  trimmed,
  withKey
} from "./internal/envelopeBytes.js"
import { EnvelopeError } from "./TransportError.js"

// ---------------------------------------------------------------------------
// Layout constants

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
export const NONCE_LENGTH = NONCE_BYTES

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
 * minutes after truncation.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_DRIFT_MINUTES = 1

const EMPTY = new Uint8Array(0)

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
  const value: unknown = Redacted.isRedacted(secret) ? Redacted.value(secret) : secret
  if (typeof value !== "string") {
    return Either.left(new InvalidClientSecret({ detail: "the client secret is not a string" }))
  }
  const text = value.trim()
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
  !(bytes instanceof Uint8Array)
    ? Either.left(new InvalidClientSecret({ detail: "the client secret is not bytes" }))
    : bytes.length === SECRET_LENGTH
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

// ---------------------------------------------------------------------------
// Shared pieces

/**
 * An encoded envelope: its raw bytes (the binary form, sent as
 * `application/octet-stream`) and, computed on first access, its standard
 * Base64 text (the text form).
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

/** A response body as envelope bytes: raw bytes in binary mode, else Base64 text. */
const responseBytes = (
  body: string | Uint8Array,
  binary: boolean
): Either.Either<Uint8Array, EnvelopeError> => {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    return Either.left(new EnvelopeError({ reason: "Missing", detail: "response body is neither text nor bytes" }))
  }
  if (typeof body !== "string" && binary) return Either.right(body)
  const text = trimmed(typeof body === "string" ? body : latin1(body))
  if (text.length === 0) return Either.left(new EnvelopeError({ reason: "Missing", detail: "response body is empty" }))
  const bytes = Base64.decode(text, "standard")
  return bytes === undefined
    ? Either.left(new EnvelopeError({ reason: "Base64", detail: "response body is not valid Base64" }))
    : Either.right(bytes)
}

/**
 * Runs a decoder; whatever it throws (a crypto layer failing on a handle it
 * did not make, a getter on a hostile options object) becomes `Decrypt`.
 */
const guarded = <A>(what: string, decode: () => Either.Either<A, EnvelopeError>): Either.Either<A, EnvelopeError> => {
  try {
    return decode()
  } catch {
    return Either.left(new EnvelopeError({ reason: "Decrypt", detail: `${what} could not be decrypted` }))
  }
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
 * Builds a request envelope: `0x01 ‖ iv ‖ GCM(timestamp ‖ nonce ‖ payload) ‖ tag`.
 * Throws a `RangeError` only on programming errors: a nonce or IV of the
 * wrong length, or a timestamp that is not a safe integer.
 *
 * @since 0.1.0
 * @category client
 */
export const encodeRequest = (crypto: CryptoShape, key: SecretKey, input: RequestInput): EncodedRequest => {
  checkLength("nonce", input.nonce, NONCE_LENGTH)
  checkLength("iv", input.iv, IV_LENGTH)
  checkTime(input.nowMs)
  const sealed = withKey(
    crypto,
    key,
    (handle) => crypto.gcmEncrypt(handle, input.iv, plaintext(input.nowMs, input.nonce, input.payload))
  )
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
   * (the binary form). Otherwise the body is Base64 text (a `Uint8Array`
   * body is read as ASCII).
   */
  readonly binary?: boolean | undefined
}

/**
 * Decrypts an HTTP 200 response body: Base64 (unless binary) → GCM under the
 * client secret → the echoed nonce must equal `requestNonce` → UTF-8 JSON.
 * Surrounding whitespace in the text form is ignored. Never throws: a key
 * that is not a client secret fails with reason `"Key"`, a body that is
 * neither text nor bytes with `"Missing"`, a request nonce that is not 8
 * bytes with `"NonceMismatch"`.
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
  guarded("response", () => {
    if (!isSecretKey(key)) {
      return Either.left(new EnvelopeError({ reason: "Key", detail: "the key is not a client secret" }))
    }
    if (!(requestNonce instanceof Uint8Array) || requestNonce.length !== NONCE_LENGTH) {
      return Either.left(
        new EnvelopeError({ reason: "NonceMismatch", detail: `the request nonce is not ${NONCE_LENGTH} bytes` })
      )
    }
    return Either.flatMap(responseBytes(body, options?.binary === true), (bytes) => {
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
  })

/**
 * Decrypts the HTTP 200 body of `POST /v2/token/refresh`: Base64 of
 * `iv ‖ GCM(json) ‖ tag` under the identity's `refresh_response_key`
 * (standard Base64 of 32 bytes), with no timestamp or nonce prefix. Never
 * throws: a key that is not one fails with reason `"Key"`, a body that is
 * neither text nor bytes with `"Missing"`.
 *
 * @since 0.1.0
 * @category client
 */
export const decodeRefreshResponse = (
  crypto: CryptoShape,
  refreshResponseKey: string | Redacted.Redacted<string>,
  body: string | Uint8Array
): Either.Either<string, EnvelopeError> =>
  guarded("refresh response", () => {
    const keyBytes = refreshResponseKeyBytes(
      Redacted.isRedacted(refreshResponseKey) ? Redacted.value(refreshResponseKey) : refreshResponseKey
    )
    if (keyBytes === undefined) {
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
  })
