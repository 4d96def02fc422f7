/**
 * Why a decrypt or a sharing encrypt failed: one tagged class per reason the
 * reference SDKs report, so `Effect.catchTag` selects exactly the case a
 * caller cares about. Messages never carry key material. The errors found
 * after the token was opened (`ExpiredToken`, `UserOptedOut`,
 * `DomainOrAppNameCheckFailed`, `InvalidTokenLifetime`) carry the token's
 * fields in `token`, without the raw UID.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bidstream, type DecryptError } from "effect-uid2"
 *
 * const outcome = (token: string, domain: string) =>
 *   Bidstream.BidstreamClient.decrypt(token, domain).pipe(
 *     Effect.map((decrypted) => `raw UID ${decrypted.uid}`),
 *     Effect.catchTags({
 *       ExpiredToken: (error) => Effect.succeed(`expired at ${new Date(error.token.expiry).toISOString()}`),
 *       UserOptedOut: () => Effect.succeed("opted out: do not use"),
 *       DomainOrAppNameCheckFailed: () => Effect.succeed(`not issued for ${domain}`)
 *     })
 *   )
 *
 * // Outside Effect the same errors are values, told apart by `_tag`.
 * const isRetryable = (error: DecryptError.DecryptError) =>
 *   error._tag === "NotInitialized" || error._tag === "KeysNotSynced"
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Data from "effect/Data"
import type { TokenDetails } from "./Token.js"

/**
 * No key ring was ever loaded. `lastFailure` says why the client's last key
 * refresh failed, when one did.
 *
 * @since 0.1.0
 * @category decrypt
 */
export class NotInitialized extends Data.TaggedError("NotInitialized")<{
  readonly lastFailure?: string | undefined
}> {
  override get message() {
    const base = "keys not initialized: no key ring has been loaded yet"
    return this.lastFailure === undefined ? base : `${base} (last refresh failed: ${this.lastFailure})`
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
