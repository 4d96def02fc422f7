import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck, pipe } from "effect"
import { createHash } from "node:crypto"
import * as Dii from "../src/Dii.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"
import { left, right } from "./either.js"

const json = <E>(e: Either.Either<TokenGenerateInput.TokenGenerateInput, E>): string =>
  TokenGenerateInput.toRequestJson(right(e))

const TCF = "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"
const USER_HASH = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="
const PHONE_HASH = "EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="

// The plain JSON payloads of the reference request vectors P-1…P-6
const P1 = `{"email":"test@example.com"}`
const P2 = `{"phone":"+12345678901"}`
const P3 = `{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="}`
const P4 = `{"email_hash":"1hFzBkhe0OUK+rOshx6Y+BaZFR8wKBUn1j/18jNlbGk="}`
const P5 =
  `{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=","tcf_consent_string":"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"}`
const P6 = `{"phone_hash":"EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="}`

describe("TokenGenerateInput", () => {
  describe("request JSON (vectors P-1…P-7)", () => {
    it("P-1 email, not hashed", () => {
      expect(json(TokenGenerateInput.fromEmailUnhashed("test@example.com"))).toBe(P1)
    })

    it("P-2 phone, not hashed", () => {
      expect(json(TokenGenerateInput.fromPhoneUnhashed("+12345678901"))).toBe(P2)
    })

    it("P-3 email user@example.com (and its un-normalized spelling), hashed", () => {
      expect(json(TokenGenerateInput.fromEmail("user@example.com"))).toBe(P3)
      expect(json(TokenGenerateInput.fromEmail("   USER@EXAMPLE.COM   "))).toBe(P3)
    })

    it("P-4 gmail, hashed", () => {
      expect(json(TokenGenerateInput.fromEmail("janedoe@gmail.com"))).toBe(P4)
      expect(json(TokenGenerateInput.fromEmail("   jane.doe+home@gmail.com   "))).toBe(P4)
    })

    it("P-5 P-3 plus TCF consent string, identity first", () => {
      const input = right(TokenGenerateInput.fromEmail("user@example.com"))
      expect(TokenGenerateInput.toRequestJson(TokenGenerateInput.withTransparencyAndConsentString(input, TCF))).toBe(P5)
      // data-last form, and the original input is left untouched
      expect(pipe(input, TokenGenerateInput.withTransparencyAndConsentString(TCF), TokenGenerateInput.toRequestJson))
        .toBe(P5)
      expect(TokenGenerateInput.toRequestJson(input)).toBe(P3)
    })

    it("P-6 phone, hashed", () => {
      expect(json(TokenGenerateInput.fromPhone("+12345678901"))).toBe(P6)
    })

    it("P-7 already-hashed inputs give the same payload as P-3 / P-6", () => {
      expect(json(TokenGenerateInput.fromHashedEmail(USER_HASH))).toBe(P3)
      expect(json(TokenGenerateInput.fromHashedPhone(PHONE_HASH))).toBe(P6)
      expect(right(TokenGenerateInput.fromHashedEmail(USER_HASH))).toEqual(
        right(TokenGenerateInput.fromEmail("user@example.com"))
      )
    })

    it("hashed inputs keep the email/phone distinction", () => {
      expect(json(TokenGenerateInput.fromHashedPhone(USER_HASH))).toBe(`{"phone_hash":"${USER_HASH}"}`)
      expect(right(TokenGenerateInput.fromHashedEmail(USER_HASH))).not.toEqual(
        right(TokenGenerateInput.fromHashedPhone(USER_HASH))
      )
    })

    it("P-17 doNotGenerateTokensForOptedOut is a no-op: no policy member", () => {
      const input = right(TokenGenerateInput.fromEmail("user@example.com"))
      const same = TokenGenerateInput.doNotGenerateTokensForOptedOut(input)
      expect(same).toBe(input)
      const text = TokenGenerateInput.toRequestJson(same)
      expect(text).toBe(P3)
      expect(JSON.parse(text)).not.toHaveProperty("policy")
      const withTcf = TokenGenerateInput.withTransparencyAndConsentString(same, TCF)
      expect(TokenGenerateInput.toRequestJson(TokenGenerateInput.doNotGenerateTokensForOptedOut(withTcf))).toBe(P5)
    })

    it("JSON escaping is correct for unusual TCF strings", () => {
      const input = TokenGenerateInput.withTransparencyAndConsentString(
        right(TokenGenerateInput.fromHashedEmail(USER_HASH)),
        "a\"b\\c"
      )
      const text = TokenGenerateInput.toRequestJson(input)
      expect(text).toBe(`{"email_hash":"${USER_HASH}","tcf_consent_string":"a\\"b\\\\c"}`)
      expect(JSON.parse(text).tcf_consent_string).toBe("a\"b\\c")
    })
  })

  describe("invalid inputs are rejected before any request (P-15)", () => {
    it("emails", () => {
      for (const e of ["this is not an email address", "neither.is@this@"]) {
        expect(left(TokenGenerateInput.fromEmail(e))).toBeInstanceOf(Dii.InvalidEmail)
        expect(left(TokenGenerateInput.fromEmailUnhashed(e))).toBeInstanceOf(Dii.InvalidEmail)
      }
    })

    it("phones (never normalized)", () => {
      for (const p of ["+123 44 555-66-77", "1 (123) 456-7890", "this is not a phone number", "+1 2345678901"]) {
        expect(left(TokenGenerateInput.fromPhone(p))).toBeInstanceOf(Dii.InvalidPhone)
        expect(left(TokenGenerateInput.fromPhoneUnhashed(p))).toBeInstanceOf(Dii.InvalidPhone)
      }
    })

    it("hashes must be canonical Base64 of 32 bytes", () => {
      for (const h of ["", "user@example.com", USER_HASH.slice(0, 43), USER_HASH.replace("/", "_")]) {
        expect(left(TokenGenerateInput.fromHashedEmail(h))).toBeInstanceOf(Dii.InvalidHash)
        expect(left(TokenGenerateInput.fromHashedPhone(h))).toBeInstanceOf(Dii.InvalidHash)
      }
    })

    it("null from untyped callers is a Left, not a throw", () => {
      const nul = null as unknown as string
      expect(left(TokenGenerateInput.fromEmail(nul))._tag).toBe("InvalidEmail")
      expect(left(TokenGenerateInput.fromPhone(nul))._tag).toBe("InvalidPhone")
      expect(left(TokenGenerateInput.fromHashedEmail(nul))._tag).toBe("InvalidHash")
      expect(left(TokenGenerateInput.fromHashedPhone(nul))._tag).toBe("InvalidHash")
    })
  })

  describe("properties", () => {
    const emailLike = FastCheck.oneof(
      FastCheck.tuple(
        FastCheck.array(FastCheck.constantFrom("a", "B", ".", "+", " ", "é", "😊"), { maxLength: 10 }),
        FastCheck.constantFrom("gmail.com", "GMAIL.COM ", "example.com", " x y ", "")
      ).map(([l, d]) => `${l.join("")}@${d}`),
      FastCheck.string16bits({ maxLength: 24 })
    )

    it.prop("fromEmail(e) sends the same JSON as fromHashedEmail(hash of normalized e)", [emailLike], ([e]) => {
      const normalized = Dii.normalizeEmail(e)
      const input = TokenGenerateInput.fromEmail(e)
      if (Either.isLeft(normalized)) {
        expect(left(input)).toBeInstanceOf(Dii.InvalidEmail)
        return
      }
      const hash = createHash("sha256").update(normalized.right, "utf8").digest("base64")
      expect(json(input)).toBe(json(TokenGenerateInput.fromHashedEmail(hash)))
      expect(JSON.parse(json(input))).toEqual({ email_hash: hash })
    }, { fastCheck: { numRuns: 500 } })

    it.prop("fromPhone(p) sends the same JSON as fromHashedPhone(hash of p)", [
      FastCheck.stringMatching(/^\+[0-9]{10,15}$/)
    ], ([p]) => {
      const hash = createHash("sha256").update(p, "utf8").digest("base64")
      expect(json(TokenGenerateInput.fromPhone(p))).toBe(json(TokenGenerateInput.fromHashedPhone(hash)))
      expect(json(TokenGenerateInput.fromPhone(p))).toBe(`{"phone_hash":"${hash}"}`)
    })

    it.prop("request JSON is compact, identity first, tcf second, and parses back", [
      FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
      FastCheck.boolean(),
      FastCheck.option(FastCheck.string16bits({ maxLength: 40 }), { nil: undefined })
    ], ([bytes, isEmail, tcf]) => {
      const hash = Buffer.from(bytes).toString("base64")
      const base = right(isEmail ? TokenGenerateInput.fromHashedEmail(hash) : TokenGenerateInput.fromHashedPhone(hash))
      const input = tcf === undefined ? base : TokenGenerateInput.withTransparencyAndConsentString(base, tcf)
      const text = TokenGenerateInput.toRequestJson(input)
      const field = isEmail ? "email_hash" : "phone_hash"
      expect(text.startsWith(`{"${field}":"${hash}"`)).toBe(true)
      expect(text).toBe(JSON.stringify(JSON.parse(text)))
      expect(Object.keys(JSON.parse(text))).toEqual(tcf === undefined ? [field] : [field, "tcf_consent_string"])
      if (tcf !== undefined) expect(JSON.parse(text).tcf_consent_string).toBe(tcf)
    })

    const anyString = FastCheck.string16bits({ maxLength: 50 })
    it.prop("constructors never throw: invalid input is always a typed Left", [anyString], ([s]) => {
      const results: ReadonlyArray<
        readonly [Either.Either<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii>, Dii.InvalidDii["_tag"]]
      > = [
        [TokenGenerateInput.fromEmail(s), "InvalidEmail"],
        [TokenGenerateInput.fromEmailUnhashed(s), "InvalidEmail"],
        [TokenGenerateInput.fromPhone(s), "InvalidPhone"],
        [TokenGenerateInput.fromPhoneUnhashed(s), "InvalidPhone"],
        [TokenGenerateInput.fromHashedEmail(s), "InvalidHash"],
        [TokenGenerateInput.fromHashedPhone(s), "InvalidHash"]
      ]
      for (const [r, tag] of results) {
        if (Either.isLeft(r)) expect(r.left._tag).toBe(tag)
        else expect(JSON.parse(TokenGenerateInput.toRequestJson(r.right))).toBeTypeOf("object")
      }
      expect(Either.isRight(TokenGenerateInput.fromPhone(s))).toBe(/^\+[0-9]{10,15}$/.test(s))
    }, { fastCheck: { numRuns: 1000 } })
  })

  describe("untyped and over-long input", () => {
    it("every constructor accepts input at its bound and rejects one character more", () => {
      const email = `${"a".repeat(64)}@${"d".repeat(185)}.com` // 254 octets
      expect(right(TokenGenerateInput.fromEmail(email)).value).toBe(createHash("sha256").update(email).digest("base64"))
      expect(right(TokenGenerateInput.fromEmailUnhashed(email)).value).toBe(email)
      expect(left(TokenGenerateInput.fromEmail(`a${email}`)).reason).toBe("TooLong")
      expect(left(TokenGenerateInput.fromEmailUnhashed(`a${email}`)).reason).toBe("TooLong")
      const phone = "+123456789012345"
      expect(right(TokenGenerateInput.fromPhone(phone)).field).toBe("phone_hash")
      expect(right(TokenGenerateInput.fromPhoneUnhashed(phone)).value).toBe(phone)
      expect(left(TokenGenerateInput.fromPhone(`${phone}6`)).reason).toBe("DigitCount")
      expect(left(TokenGenerateInput.fromPhoneUnhashed(`${phone}6`)).reason).toBe("DigitCount")
      expect(right(TokenGenerateInput.fromHashedEmail(USER_HASH)).value).toBe(USER_HASH)
      expect(left(TokenGenerateInput.fromHashedEmail(`${USER_HASH}A`)).reason).toBe("Length")
      expect(left(TokenGenerateInput.fromHashedPhone(`${PHONE_HASH}A`)).reason).toBe("Length")
    })

    it("a consent string that is not a string adds nothing, so the request JSON can always be built", () => {
      const input = right(TokenGenerateInput.fromHashedEmail(USER_HASH))
      const withTcf = TokenGenerateInput.withTransparencyAndConsentString(input, TCF)
      for (
        const odd of [undefined, null, 42, 10n, Symbol("tcf"), {
          toJSON: () => {
            throw new Error("no")
          }
        }] as ReadonlyArray<unknown>
      ) {
        expect(
          TokenGenerateInput.toRequestJson(TokenGenerateInput.withTransparencyAndConsentString(input, odd as string))
        ).toBe(P3)
        expect(
          TokenGenerateInput.toRequestJson(TokenGenerateInput.withTransparencyAndConsentString(withTcf, odd as string))
        ).toBe(P5)
      }
    })
  })
})
