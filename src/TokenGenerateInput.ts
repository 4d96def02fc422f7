/**
 * The input of `POST /v2/token/generate`: one
 * identity (an email or phone, hashed locally) plus an optional TCF consent
 * string for EUID, and the compact request JSON built from it.
 *
 * The SDK never sends raw DII: {@link fromEmail} and {@link fromPhone}
 * normalize/validate and hash locally, so an invalid value is rejected before
 * any request is made. Every constructor returns an `Either` and never throws,
 * whatever value an untyped caller passes: a value that is not a string is
 * rejected with the reason `NotAString`, and over-long input is rejected
 * before it is read.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { TokenGenerateInput } from "effect-uid2"
 *
 * const input = TokenGenerateInput.fromEmail("Jane.Doe@example.com") // normalized and hashed here
 * if (Either.isRight(input)) console.log(TokenGenerateInput.toRequestJson(input.right)) // {"email_hash":"…"}
 *
 * // EUID: with the user's IAB TCF consent string.
 * declare const tcfConsentString: string
 * const euid = TokenGenerateInput.fromPhone("+12345678901").pipe(
 *   Either.map(TokenGenerateInput.withTransparencyAndConsentString(tcfConsentString))
 * )
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Dii from "./Dii.js"

/**
 * The request JSON member that carries the identity.
 *
 * @since 0.1.0
 * @category models
 */
export type IdentityField = "email_hash" | "phone_hash" | "email" | "phone"

/**
 * A validated token generate input. Build it with {@link fromEmail},
 * {@link fromPhone}, {@link fromHashedEmail} or {@link fromHashedPhone}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenGenerateInput {
  readonly _tag: "TokenGenerateInput"
  /** Which request member carries {@link TokenGenerateInput.value}. */
  readonly field: IdentityField
  /** A Base64 SHA-256 hash, except for the test-only unhashed constructors. */
  readonly value: string
  /** IAB TCF v2 consent string, sent as `tcf_consent_string` (evaluated by EUID operators only). */
  readonly tcfConsentString?: string
}

const make = (field: IdentityField, value: string): TokenGenerateInput =>
  Data.struct({ _tag: "TokenGenerateInput" as const, field, value })

/**
 * Normalizes and hashes an email; the request carries
 * `{"email_hash": Base64(SHA-256(normalized))}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEmail = (email: string): Either.Either<TokenGenerateInput, Dii.InvalidEmail> =>
  Either.map(Dii.normalizeAndHashEmail(email), (hash) => make("email_hash", hash))

/**
 * Validates (does not normalize) a phone number and hashes it; the request
 * carries `{"phone_hash": Base64(SHA-256(phone))}`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPhone = (phone: string): Either.Either<TokenGenerateInput, Dii.InvalidPhone> =>
  Either.map(Dii.normalizeAndHashPhone(phone), (hash) => make("phone_hash", hash))

/**
 * An email hash computed elsewhere (Base64 of the SHA-256 of the normalized
 * email). It is sent verbatim but must be canonical Base64 of 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHashedEmail = (hash: string): Either.Either<TokenGenerateInput, Dii.InvalidHash> =>
  Either.map(Dii.validateHash(hash), (h) => make("email_hash", h))

/**
 * A phone hash computed elsewhere (Base64 of the SHA-256 of the normalized
 * phone). It is sent verbatim but must be canonical Base64 of 32 bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHashedPhone = (hash: string): Either.Either<TokenGenerateInput, Dii.InvalidHash> =>
  Either.map(Dii.validateHash(hash), (h) => make("phone_hash", h))

/**
 * **For tests and diagnostics only** (the Java SDK's internal `doNotHash()`):
 * sends the email unhashed as `{"email": email}`. The email must normalize,
 * but is sent exactly as given (the operator normalizes it). Production code
 * should use {@link fromEmail}, which never sends raw DII.
 *
 * @since 0.1.0
 * @category testing
 */
export const fromEmailUnhashed = (email: string): Either.Either<TokenGenerateInput, Dii.InvalidEmail> =>
  Either.map(Dii.normalizeEmail(email), () => make("email", email))

/**
 * **For tests and diagnostics only**: sends the phone unhashed as
 * `{"phone": phone}`. The phone must be normalized. Production code should use
 * {@link fromPhone}, which never sends raw DII.
 *
 * @since 0.1.0
 * @category testing
 */
export const fromPhoneUnhashed = (phone: string): Either.Either<TokenGenerateInput, Dii.InvalidPhone> =>
  Either.map(Dii.validatePhone(phone), (p) => make("phone", p))

/**
 * Adds the IAB TCF v2 consent string (EUID). It is sent as
 * `tcf_consent_string` after the identity member; UID2 operators ignore it.
 * A value that is not a string (from an untyped caller) adds nothing, so the
 * request JSON can always be built.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTransparencyAndConsentString: {
  (tcfConsentString: string): (self: TokenGenerateInput) => TokenGenerateInput
  (self: TokenGenerateInput, tcfConsentString: string): TokenGenerateInput
} = dual(
  2,
  (self: TokenGenerateInput, tcfConsentString: string): TokenGenerateInput =>
    typeof tcfConsentString === "string"
      ? Data.struct({ _tag: self._tag, field: self.field, value: self.value, tcfConsentString })
      : self
)

/**
 * A no-op kept for parity with the other SDKs. Older SDKs sent `"policy": 1`;
 * the operator now always refuses to generate tokens for opted-out users, and
 * the request JSON never has a `policy` member.
 *
 * @deprecated The operator always behaves this way; calling this changes nothing.
 * @since 0.1.0
 * @category combinators
 */
export const doNotGenerateTokensForOptedOut = (self: TokenGenerateInput): TokenGenerateInput => self

/**
 * The plain (not yet enveloped) request JSON: compact, the identity member
 * first and `tcf_consent_string` second, e.g. `{"email_hash":"…"}` or
 * `{"email_hash":"…","tcf_consent_string":"…"}`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toRequestJson = (self: TokenGenerateInput): string => {
  const json: Record<string, string> = { [self.field]: self.value }
  if (self.tcfConsentString !== undefined) json["tcf_consent_string"] = self.tcfConsentString
  return JSON.stringify(json)
}
