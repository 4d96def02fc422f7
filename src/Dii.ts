/**
 * Directly identifying information (DII): email normalization, phone
 * validation and the SHA-256 / Base64 hashing the operator expects. Every
 * validating function here is pure, synchronous and total: it returns an
 * `Either` (or a boolean) and never throws, whatever value it is given
 * (`null`, numbers, objects with throwing getters, Proxies, Symbols…), and
 * every input has a bound checked before the input is read.
 *
 * Error messages name the rule that failed and never echo the input, which is
 * personal data.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { Dii } from "effect-uid2"
 *
 * Dii.normalizeEmail("  Jane.Doe+home@GMail.com ") // Either.right("janedoe@gmail.com")
 * Dii.normalizeAndHashEmail("user@example.com") // Either.right(Base64 of the SHA-256 of the normalized email)
 * Dii.validatePhone("+12345678901") // Either.right("+12345678901"): E.164, no normalization
 *
 * const phone = Dii.validatePhone("12345678901")
 * if (Either.isLeft(phone)) console.log(phone.left.reason) // "MissingPlus"
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import { createHash } from "node:crypto"
import * as Base64 from "./internal/base64.js"

// ---------------------------------------------------------------------------
// Errors

/**
 * Why an email address was rejected.
 *
 * - `NotAString`: the value is not a string (e.g. `null` from untyped code).
 * - `MultipleAt`: an `@` appears after the first one.
 * - `EmptyDomain`: no `@` at all, or nothing but spaces after it.
 * - `EmptyLocalPart`: nothing left before the `@` after normalization
 *   (e.g. `@b.com`, `+@gmail.com`).
 * - `TooLong`: longer than an address can be: over
 *   {@link MAX_EMAIL_INPUT_LENGTH} characters as given, or, once normalized,
 *   a local part over {@link MAX_EMAIL_LOCAL_PART_LENGTH} octets or an address
 *   over {@link MAX_EMAIL_LENGTH} octets.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidEmailReason = "NotAString" | "MultipleAt" | "EmptyDomain" | "EmptyLocalPart" | "TooLong"

/**
 * The input does not normalize to an email address.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidEmail extends Data.TaggedError("InvalidEmail")<{ readonly reason: InvalidEmailReason }> {
  override get message() {
    switch (this.reason) {
      case "NotAString":
        return "invalid email address: not a string"
      case "MultipleAt":
        return "invalid email address: more than one '@'"
      case "EmptyDomain":
        return "invalid email address: empty or missing domain"
      case "EmptyLocalPart":
        return "invalid email address: empty local part"
      case "TooLong":
        return "invalid email address: too long (over 64 octets before the '@', 254 in all, or 1024 characters as given)"
    }
  }
}

/**
 * Why a phone number was rejected.
 *
 * - `NotAString`: the value is not a string.
 * - `MissingPlus`: empty, or the first character is not `+`.
 * - `NonDigit`: a character after the `+` is not an ASCII digit.
 * - `DigitCount`: fewer than 10 or more than 15 digits (also any value
 *   longer than {@link MAX_PHONE_LENGTH} characters, `+` or not, decided
 *   before any character is read).
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidPhoneReason = "NotAString" | "MissingPlus" | "NonDigit" | "DigitCount"

/**
 * The phone number is not in normalized E.164 form. The
 * SDK never normalizes phone numbers; it only validates them.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPhone extends Data.TaggedError("InvalidPhone")<{ readonly reason: InvalidPhoneReason }> {
  override get message() {
    switch (this.reason) {
      case "NotAString":
        return "phone number is not normalized: not a string"
      case "MissingPlus":
        return "phone number is not normalized: must start with '+'"
      case "NonDigit":
        return "phone number is not normalized: only ASCII digits may follow '+'"
      case "DigitCount":
        return "phone number is not normalized: must have 10 to 15 digits"
    }
  }
}

/**
 * Why an already-hashed value was rejected.
 *
 * - `NotAString`: the value is not a string.
 * - `Length`: not {@link HASH_LENGTH} (44) characters long.
 * - `NotCanonicalBase64`: 44 characters, but not the canonical standard Base64
 *   (with `=` padding) of 32 bytes.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidHashReason = "NotAString" | "Length" | "NotCanonicalBase64"

/**
 * The value is not the Base64 of a SHA-256 digest (32 bytes, 44 characters).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidHash extends Data.TaggedError("InvalidHash")<{ readonly reason: InvalidHashReason }> {
  override get message() {
    switch (this.reason) {
      case "NotAString":
        return "invalid hash: not a string"
      case "Length":
        return "invalid hash: expected 44 characters of Base64 (a 32-byte SHA-256 digest)"
      case "NotCanonicalBase64":
        return "invalid hash: not canonical standard Base64 of 32 bytes"
    }
  }
}

/**
 * Any of the DII validation errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidDii = InvalidEmail | InvalidPhone | InvalidHash

// ---------------------------------------------------------------------------
// Email

/**
 * The longest local part (before the `@`) of a normalized email, in UTF-8
 * octets: the SMTP limit.
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_EMAIL_LOCAL_PART_LENGTH = 64

/**
 * The longest normalized email address, in UTF-8 octets: the SMTP limit on a
 * path (256 octets) less its angle brackets. It also keeps the domain within
 * its own limit of 255 octets.
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_EMAIL_LENGTH = 254

/**
 * The longest email input read at all, in UTF-16 code units (JavaScript
 * string length). Longer input is rejected as `TooLong` before any of it is
 * read. The SMTP limits apply to the normalized address, so the spaces and
 * the Gmail dots and `+extension` that normalization drops do not count
 * against them; this cap only bounds the work on input no address can come
 * from, and leaves room for a valid address padded with spaces.
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_EMAIL_INPUT_LENGTH = 1024

const SPACE = 0x20
const AT = 0x40
const DOT = 0x2e
const PLUS = 0x2b
const UPPER_A = 0x41
const UPPER_Z = 0x5a
const ASCII_UPPER = /[A-Z]/
const NON_ASCII = /[\u0080-\uffff]/

/**
 * Normalizes an email address exactly like the operator:
 *
 * - every ASCII space before the `@` is dropped; in the domain, leading and
 *   inner spaces are kept and trailing ones dropped;
 * - only ASCII `A`–`Z` are lowercased; everything else (non-ASCII letters,
 *   emoji, tabs…) passes through unchanged;
 * - for the domain `gmail.com` (exactly, after lowercasing) dots and a
 *   `+extension` are removed from the local part;
 * - a second `@`, an empty domain or an empty local part is invalid;
 * - so is an address too long for SMTP: a normalized local part over 64
 *   octets or a normalized address over 254 (UTF-8, the bytes that are
 *   hashed), and any input over {@link MAX_EMAIL_INPUT_LENGTH} characters.
 *
 * The input is read as UTF-16 code units, like the Java operator.
 *
 * @example
 * ```ts
 * Dii.normalizeEmail("  Jane.Doe+home@GMail.com ") // Either.right("janedoe@gmail.com")
 * ```
 *
 * @since 0.1.0
 * @category normalization
 */
export const normalizeEmail = (input: string): Either.Either<string, InvalidEmail> => {
  if (typeof input !== "string") return Either.left(new InvalidEmail({ reason: "NotAString" }))
  if (input.length > MAX_EMAIL_INPUT_LENGTH) return Either.left(new InvalidEmail({ reason: "TooLong" }))
  // The slice path needs no spaces to drop and no lowercasing beyond what `toLowerCase` does on
  // ASCII text; on other text it would also lowercase non-ASCII letters, which must stay.
  if (input.indexOf(" ") >= 0) return normalizeCodeUnits(input)
  if (!ASCII_UPPER.test(input)) return normalizeWithoutSpaces(input)
  return NON_ASCII.test(input) ? normalizeCodeUnits(input) : normalizeWithoutSpaces(input.toLowerCase())
}

/** The Gmail local part: everything from the first `+` on, and every dot, removed. */
const gmailLocal = (local: string): string => {
  const plus = local.indexOf("+")
  const base = plus < 0 ? local : local.slice(0, plus)
  return base.includes(".") ? base.replaceAll(".", "") : base
}

/**
 * The common case, an address without spaces and already lowercased, with
 * slices instead of a string built per character: an address already
 * normalized comes back as the input itself.
 */
const normalizeWithoutSpaces = (text: string): Either.Either<string, InvalidEmail> => {
  const at = text.indexOf("@")
  if (at >= 0 && text.indexOf("@", at + 1) >= 0) return Either.left(new InvalidEmail({ reason: "MultipleAt" }))
  const local = at < 0 ? text : text.slice(0, at)
  const domain = at < 0 ? "" : text.slice(at + 1)
  return checked(domain === "gmail.com" ? gmailLocal(local) : local, domain, local, text)
}

/** Any address, one UTF-16 code unit at a time, like the Java operator. */
const normalizeCodeUnits = (input: string): Either.Either<string, InvalidEmail> => {
  let local = ""
  let localGmail = ""
  let domain = ""
  let pendingSpaces = ""
  let inExtension = false
  let inDomain = false
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i)
    const ch = code >= UPPER_A && code <= UPPER_Z ? String.fromCharCode(code + 32) : input[i]!
    if (!inDomain) {
      if (code === SPACE) continue
      if (code === AT) {
        inDomain = true
      } else if (code === DOT) {
        local += ch
      } else if (code === PLUS) {
        local += ch
        inExtension = true
      } else {
        local += ch
        if (!inExtension) localGmail += ch
      }
    } else {
      if (code === AT) return Either.left(new InvalidEmail({ reason: "MultipleAt" }))
      if (code === SPACE) {
        pendingSpaces += ch
      } else {
        domain += pendingSpaces + ch
        pendingSpaces = ""
      }
    }
  }
  return checked(domain === "gmail.com" ? localGmail : local, domain, undefined, undefined)
}

/**
 * The bounds every normalized address must meet. `whole` is `local@domain`
 * already built, returned as it is when `chosen` is `local`.
 */
const checked = (
  chosen: string,
  domain: string,
  local: string | undefined,
  whole: string | undefined
): Either.Either<string, InvalidEmail> => {
  if (domain.length === 0) return Either.left(new InvalidEmail({ reason: "EmptyDomain" }))
  if (chosen.length === 0) return Either.left(new InvalidEmail({ reason: "EmptyLocalPart" }))
  const localOctets = Buffer.byteLength(chosen, "utf8")
  if (
    localOctets > MAX_EMAIL_LOCAL_PART_LENGTH ||
    localOctets + 1 + Buffer.byteLength(domain, "utf8") > MAX_EMAIL_LENGTH
  ) return Either.left(new InvalidEmail({ reason: "TooLong" }))
  return Either.right(whole !== undefined && chosen === local ? whole : `${chosen}@${domain}`)
}

// ---------------------------------------------------------------------------
// Phone

/**
 * The longest normalized phone number, in characters: E.164 allows at most 15
 * digits, after the `+`. Longer input is rejected before it is read.
 *
 * @since 0.1.0
 * @category bounds
 */
export const MAX_PHONE_LENGTH = 16

const DIGIT_0 = 0x30
const DIGIT_9 = 0x39

const phoneProblem = (phone: string): InvalidPhoneReason | undefined => {
  if (typeof phone !== "string") return "NotAString"
  // Before any character is read: reading one flattens a concatenated (rope) string, which is O(length).
  if (phone.length > MAX_PHONE_LENGTH) return "DigitCount"
  if (phone.length === 0 || phone.charCodeAt(0) !== PLUS) return "MissingPlus"
  for (let i = 1; i < phone.length; i++) {
    const code = phone.charCodeAt(i)
    if (code < DIGIT_0 || code > DIGIT_9) return "NonDigit"
  }
  const digits = phone.length - 1
  return digits < 10 || digits > 15 ? "DigitCount" : undefined
}

/**
 * `true` iff the phone number is normalized: a `+`
 * followed by 10 to 15 ASCII digits and nothing else. Non-ASCII digits are
 * rejected (unlike Python's `str.isdigit()`).
 *
 * @since 0.1.0
 * @category validation
 */
export const isPhoneNormalized = (phone: string): boolean => phoneProblem(phone) === undefined

/**
 * Returns the phone number unchanged if it is normalized, else the rule it
 * breaks.
 *
 * @since 0.1.0
 * @category validation
 */
export const validatePhone = (phone: string): Either.Either<string, InvalidPhone> => {
  const reason = phoneProblem(phone)
  return reason === undefined ? Either.right(phone) : Either.left(new InvalidPhone({ reason }))
}

// ---------------------------------------------------------------------------
// Hashing

/**
 * `Base64(SHA-256(UTF-8(value)))`: standard Base64 with padding, always 44
 * characters. The value must already be normalized; use
 * {@link normalizeAndHashEmail} / {@link normalizeAndHashPhone} for raw input.
 * Unlike the validating functions it trusts its argument: it must be a string.
 *
 * @since 0.1.0
 * @category hashing
 */
export const hashNormalized = (value: string): string =>
  Base64.encode(createHash("sha256").update(value, "utf8").digest())

/**
 * Normalizes an email (see {@link normalizeEmail}) and hashes it.
 *
 * @since 0.1.0
 * @category hashing
 */
export const normalizeAndHashEmail = (email: string): Either.Either<string, InvalidEmail> =>
  Either.map(normalizeEmail(email), hashNormalized)

/**
 * Validates a phone number (see {@link isPhoneNormalized}) and hashes it.
 * Phone numbers are never normalized.
 *
 * @since 0.1.0
 * @category hashing
 */
export const normalizeAndHashPhone = (phone: string): Either.Either<string, InvalidPhone> =>
  Either.map(validatePhone(phone), hashNormalized)

/**
 * The length of a valid hash: the standard Base64, with padding, of a 32-byte
 * SHA-256 digest. Any other length is rejected before the text is read.
 *
 * @since 0.1.0
 * @category bounds
 */
export const HASH_LENGTH = 44

const DIGEST_BYTES = 32

const hashProblem = (hash: string): InvalidHashReason | undefined => {
  if (typeof hash !== "string") return "NotAString"
  if (hash.length !== HASH_LENGTH) return "Length"
  const bytes = Base64.decode(hash, "standard")
  // 44 characters that decode to 32 bytes necessarily end with exactly one "=".
  return bytes !== undefined && bytes.length === DIGEST_BYTES ? undefined : "NotCanonicalBase64"
}

/**
 * `true` iff the value is the canonical standard Base64 (with padding) of
 * exactly 32 bytes, i.e. what {@link hashNormalized} produces. Hex digests are
 * not accepted.
 *
 * @since 0.1.0
 * @category validation
 */
export const isValidHash = (hash: string): boolean => hashProblem(hash) === undefined

/**
 * Returns the hash unchanged if {@link isValidHash} holds, else the rule it
 * breaks.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateHash = (hash: string): Either.Either<string, InvalidHash> => {
  const reason = hashProblem(hash)
  return reason === undefined ? Either.right(hash) : Either.left(new InvalidHash({ reason }))
}
