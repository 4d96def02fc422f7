/**
 * The operator side of the v2 envelope: validating and decrypting requests,
 * encrypting responses. Only the test operator needs it, so it is not part of
 * the public `Envelope` module.
 */
import * as Either from "effect/Either"
import type { CryptoShape } from "../Crypto.js"
import {
  type Encoded,
  IV_LENGTH,
  MAX_DRIFT_MINUTES,
  MIN_REQUEST_LENGTH,
  NONCE_LENGTH,
  type SecretKey,
  VERSION
} from "../Envelope.js"
import { EnvelopeError } from "../TransportError.js"
import * as Base64 from "./base64.js"
import { readInt64 } from "./bytes.js"
import {
  checkLength,
  checkTime,
  encoded,
  isJson,
  jsonText,
  latin1,
  openRequest,
  plaintext,
  PREFIX,
  SECRET_LENGTH,
  trimmed,
  utf8,
  withKey
} from "./envelopeBytes.js"

/**
 * A request as the operator sees it after validation.
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
 * failing with the first problem in the operator's order: `"Missing"`,
 * `"Base64"` / `"UnencryptedJson"`, `"TooShort"`, `"Version"`, `"Decrypt"`,
 * `"Timestamp"`, `"Json"`. Never throws.
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
  const plain = openRequest(crypto, key, bytes)
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
 */
export interface ResponseInput {
  readonly nowMs: number
  readonly nonce: Uint8Array
  readonly iv: Uint8Array
  readonly json: string
}

/**
 * Builds a response envelope: `iv ‖ GCM(timestamp ‖ nonce ‖ json) ‖ tag`,
 * with no version byte. Throws a `RangeError` only on a
 * nonce or IV of the wrong length or a timestamp that is not a safe integer.
 */
export const encodeResponse = (crypto: CryptoShape, key: SecretKey, input: ResponseInput): Encoded => {
  checkLength("nonce", input.nonce, NONCE_LENGTH)
  checkLength("iv", input.iv, IV_LENGTH)
  checkTime(input.nowMs)
  return encoded(
    withKey(
      crypto,
      key,
      (handle) => crypto.gcmEncrypt(handle, input.iv, plaintext(input.nowMs, input.nonce, utf8.encode(input.json)))
    )
  )
}

/**
 * Builds a `/v2/token/refresh` response: `iv ‖ GCM(json) ‖ tag` under the
 * identity's `refresh_response_key` (32 raw bytes), with no prefix.
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
