/**
 * Typed errors: one tagged class per failure reason, so `Effect.catchTag`
 * selects exactly the case a caller cares about. Messages name what went
 * wrong and never carry key material, API keys or client secrets.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type { TokenDetails } from "./Token.js"

// ---------------------------------------------------------------------------
// Decrypt / encrypt (decrypt-rules.md §5, §6.1)

/**
 * No key ring was ever loaded.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class NotInitialized extends Data.TaggedError("NotInitialized")<{}> {
  override get message() {
    return "keys not initialized: no key ring has been loaded yet"
  }
}

/**
 * The key ring holds no key that expires after now: refresh it.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class KeysNotSynced extends Data.TaggedError("KeysNotSynced")<{}> {
  override get message() {
    return "no keys available or all keys have expired; refresh the latest keys from the UID2 service"
  }
}

/**
 * The token is too short, undecodable, or failed authentication or parsing.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class InvalidPayload extends Data.TaggedError("InvalidPayload")<{ readonly detail: string }> {
  override get message() {
    return `invalid payload: ${this.detail}`
  }
}

/**
 * The token's version byte is not 2, 3 or 4.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class VersionNotSupported extends Data.TaggedError("VersionNotSupported")<{}> {
  override get message() {
    return "token version not supported"
  }
}

/**
 * The token's identity scope (UID2/EUID) differs from the key ring's.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class InvalidIdentityScope extends Data.TaggedError("InvalidIdentityScope")<{}> {
  override get message() {
    return "token identity scope does not match the client's identity scope"
  }
}

/**
 * Decrypt: the token's master key id is not in the key ring. Encrypt: no
 * active key in the master keyset.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class NotAuthorizedForMasterKey extends Data.TaggedError("NotAuthorizedForMasterKey")<{
  readonly keyId?: number
}> {
  override get message() {
    return this.keyId === undefined ? "no active master key" : `not authorized for master key ${this.keyId}`
  }
}

/**
 * Decrypt: the token's site key id is not in the key ring. Encrypt: no
 * default keyset, or no active key in it.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class NotAuthorizedForKey extends Data.TaggedError("NotAuthorizedForKey")<{ readonly keyId?: number }> {
  override get message() {
    return this.keyId === undefined ? "no active key in the default keyset" : `not authorized for key ${this.keyId}`
  }
}

/**
 * The token expired (`now > expiry`). Carries the decrypted fields except the raw UID.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class ExpiredToken extends Data.TaggedError("ExpiredToken")<{ readonly token: TokenDetails }> {
  override get message() {
    return `token expired at ${new Date(this.token.expiry).toISOString()}`
  }
}

/**
 * The token carries the (deprecated) client-side opted-out privacy bit. The
 * current operator never sets it; only the .NET SDK checks it.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class UserOptedOut extends Data.TaggedError("UserOptedOut")<{ readonly token: TokenDetails }> {
  override get message() {
    return "the user opted out"
  }
}

/**
 * A client-side generated token was presented for a domain or app name its
 * site does not allow.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class DomainOrAppNameCheckFailed extends Data.TaggedError("DomainOrAppNameCheckFailed")<{
  readonly token: TokenDetails
}> {
  override get message() {
    return `domain or app name not allowed for site ${this.token.siteId}`
  }
}

/**
 * The token lives longer than the key ring allows, or was generated too far in the future.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class InvalidTokenLifetime extends Data.TaggedError("InvalidTokenLifetime")<{ readonly token: TokenDetails }> {
  override get message() {
    return "invalid token lifetime"
  }
}

/**
 * Encrypt: the raw UID could not be encoded into a token (e.g. it is not Base64).
 *
 * @since 0.1.0
 * @category encrypt
 */
export class EncryptionFailure extends Data.TaggedError("EncryptionFailure")<{ readonly detail: string }> {
  override get message() {
    return `encryption failure: ${this.detail}`
  }
}

/**
 * A supplied key is not active at the time of use.
 *
 * @since 0.1.0
 * @category encrypt
 */
export class KeyInactive extends Data.TaggedError("KeyInactive")<{ readonly keyId: number }> {
  override get message() {
    return `key ${this.keyId} is not active`
  }
}

/**
 * Every way a decrypt can fail.
 *
 * @since 0.1.0
 * @category decrypt
 */
export type DecryptError =
  | NotInitialized
  | KeysNotSynced
  | InvalidPayload
  | VersionNotSupported
  | InvalidIdentityScope
  | NotAuthorizedForMasterKey
  | NotAuthorizedForKey
  | ExpiredToken
  | UserOptedOut
  | DomainOrAppNameCheckFailed
  | InvalidTokenLifetime

/**
 * Every way a sharing encrypt can fail.
 *
 * @since 0.1.0
 * @category encrypt
 */
export type EncryptError =
  | NotInitialized
  | KeysNotSynced
  | NotAuthorizedForMasterKey
  | NotAuthorizedForKey
  | EncryptionFailure

// ---------------------------------------------------------------------------
// Key JSON

/**
 * A key response body did not have the shape keys.md describes. `path` names
 * the offending field (e.g. `body.keys[2].secret`); the message never echoes
 * a secret's value.
 *
 * @since 0.1.0
 * @category keys
 */
export class KeyRingParseError extends Data.TaggedError("KeyRingParseError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message() {
    return `invalid key response at ${this.path}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------
// Transport (envelope.md; HttpTransport). Nothing here ever carries the API
// key, the client secret or a request body.

/**
 * The operator could not be reached: connection refused or reset, DNS
 * failure, an invalid URL, or the body could not be read. `detail`
 * describes the cause without credentials.
 *
 * @since 0.1.0
 * @category transport
 */
export class OperatorUnreachable extends Data.TaggedError("OperatorUnreachable")<{
  readonly path: string
  readonly detail: string
}> {
  override get message() {
    return `operator unreachable (${this.path}): ${this.detail}`
  }
}

/**
 * The operator answered with an HTTP status other than 200. `status` and
 * `operatorMessage` come from its plain `{"status","message"}` JSON body when
 * present; `retryAfterMillis` from a `Retry-After` header.
 *
 * @since 0.1.0
 * @category transport
 */
export class OperatorRejected extends Data.TaggedError("OperatorRejected")<{
  readonly path: string
  readonly httpStatus: number
  readonly status?: string | undefined
  readonly operatorMessage?: string | undefined
  readonly retryAfterMillis?: number | undefined
}> {
  override get message() {
    const status = this.status === undefined ? "" : ` ${this.status}`
    const text = this.operatorMessage === undefined ? "" : `: ${this.operatorMessage}`
    return `operator rejected ${this.path} with HTTP ${this.httpStatus}${status}${text}`
  }
}

/**
 * Why an envelope was rejected (envelope.md §5 for requests, §3.3–§3.4 and §6
 * for responses).
 *
 * @since 0.1.0
 * @category transport
 */
export type EnvelopeErrorReason =
  | "Missing"
  | "Base64"
  | "UnencryptedJson"
  | "TooShort"
  | "Version"
  | "Decrypt"
  | "Timestamp"
  | "NonceMismatch"
  | "Json"
  | "Key"

/**
 * An envelope could not be decoded: bad Base64, too short, GCM failure
 * (wrong secret or corrupted data), a nonce that does not match the
 * request's, invalid JSON, and, on the operator side, a wrong version byte or
 * timestamp.
 *
 * @since 0.1.0
 * @category transport
 */
export class EnvelopeError extends Data.TaggedError("EnvelopeError")<{
  readonly reason: EnvelopeErrorReason
  readonly detail?: string | undefined
}> {
  override get message() {
    return this.detail === undefined ? `invalid envelope: ${this.reason}` : `invalid envelope: ${this.detail}`
  }
}

/**
 * The last attempt of a request did not complete within the per-attempt timeout.
 *
 * @since 0.1.0
 * @category transport
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly path: string
  readonly timeoutMillis: number
}> {
  override get message() {
    return `operator request ${this.path} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * The client secret is not standard Base64 of 32 bytes. The message never
 * echoes the secret.
 *
 * @since 0.1.0
 * @category transport
 */
export class InvalidClientSecret extends Data.TaggedError("InvalidClientSecret")<{ readonly detail: string }> {
  override get message() {
    return `invalid client secret: ${this.detail}`
  }
}

/**
 * Every way a call to the operator can fail once the transport is built
 * ({@link InvalidClientSecret} can only happen while building it).
 *
 * @since 0.1.0
 * @category transport
 */
export type TransportError = OperatorUnreachable | OperatorRejected | EnvelopeError | Timeout
