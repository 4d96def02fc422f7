import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { createHash } from "node:crypto"
import * as Dii from "../src/Dii.js"
import { left, right } from "./either.js"

// Independent oracle for the hash (hex digest -> bytes -> Base64), so the tests
// do not just replay the implementation.
const sha256Base64 = (s: string): string =>
  Buffer.from(createHash("sha256").update(Buffer.from(s, "utf8")).digest("hex"), "hex").toString("base64")

// Valid emails from the reference SDKs' test suites: input(s) -> normalized -> hash
const VALID_EMAILS: ReadonlyArray<readonly [ReadonlyArray<string>, string, string]> = [
  [["TEst.TEST@Test.com "], "test.test@test.com", "dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M="],
  [["test.test@test.com"], "test.test@test.com", "dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M="],
  [["test.test@gmail.com"], "testtest@gmail.com", "LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw="],
  [["test+test@test.com"], "test+test@test.com", "rQ4yzdOz4uG8N54326QyZD6/JwqrXn4lmy34cVCojB8="],
  [["+test@test.com"], "+test@test.com", "weFizOVVWKlLfyorbBU8oxYDv4HJtTZCPMyZ4THzUQE="],
  [["test+test@gmail.com"], "test@gmail.com", "h5JGBrQTGorO7q6IaFMfu5cSqqB6XTp1aybOD11spnQ="],
  [
    ["testtest@test.com", " testtest@test.com", "testtest@test.com ", " testtest@test.com ", "  testtest@test.com  "],
    "testtest@test.com",
    "d1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg="
  ],
  [
    [
      " test.test@gmail.com",
      "test.test@gmail.com ",
      " test.test@gmail.com ",
      "  test.test@gmail.com  ",
      "TEstTEst@gmail.com  ",
      "TEstTEst@GMail.Com  ",
      " TEstTEst@GMail.Com  ",
      "TEstTEst@GMail.Com",
      "TEst.TEst@GMail.Com",
      "TEst.TEst+123@GMail.Com"
    ],
    "testtest@gmail.com",
    "LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw="
  ],
  [["😊testtest@test.com"], "😊testtest@test.com", "fAFEUqApQ0V/M9mLj/IO54CgKgtQuARKsOMqtFklD4k="],
  [["testtest@😊test.com"], "testtest@😊test.com", "tcng5pttf7Y2z4ylZTROvIMw1+IVrMpR4D1KeXSrdiM="],
  [["testtest@test.com😊"], "testtest@test.com😊", "0qI21FPLkuez/8RswfmircHPYz9Dtf7/Nch1rSWEQf0="],
  // Spaces inside an address, dropped from the local part as the operator does (not from a reference suite)
  [["te st@example.com"], "test@example.com", "lz3+Rj7IV4X1+Vr1ujkG7tstkxwk5pgkqJ6mXbpOgTs="],
  [[" a b@x.com "], "ab@x.com", sha256Base64("ab@x.com")],
  [["a@ exa mple.com "], "a@ exa mple.com", sha256Base64("a@ exa mple.com")],
  // Addresses of the publisher vectors and the operator's test identities (not from a reference suite)
  [["test@example.com"], "test@example.com", "lz3+Rj7IV4X1+Vr1ujkG7tstkxwk5pgkqJ6mXbpOgTs="],
  [
    ["janedoe@gmail.com", "   jane.doe+home@gmail.com   "],
    "janedoe@gmail.com",
    "1hFzBkhe0OUK+rOshx6Y+BaZFR8wKBUn1j/18jNlbGk="
  ],
  [["optout@example.com"], "optout@example.com", "DYsnJ8r5+cjRDHue98gIGDKvLIMuqAm/RRLODrjqK50="],
  [["validate@example.com"], "validate@example.com", "ntI244ZRTXwAwpki6/M5cyBYW7h/Wq576lnN3l9+W/c="],
  [["user@example.com", "   USER@EXAMPLE.COM   "], "user@example.com", "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="]
]

// Emails of the UID2 documentation and the Java SDK's tests: input(s) -> hash
const DOCS_EMAILS: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
  [["MyEmail@example.com", "MYEMAIL@example.com"], "FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U="],
  [["My.Email@example.com"], "4itTvG+HEnTzpiqzejyu1yFPwU1nYhWpaiQvz62hyB8="],
  [["JANESAOIRSE@example.com", "JaneSaoirse@example.com"], "1mcOepIAfxtf94Xx/IHlOqbT170GvfXEc83HKGwoS20="],
  [["jane.saoirse@example.com", "Jane.Saoirse@example.com"], "sZZDLHuYmiypHIN5mVfFFdpT5sE6vyC3j+qU8RfpC/g="],
  [["JaneSaoirse+Work@example.com"], "KKruSBUjDNO069iMUVImVQZm6RrAGZKeOtrD9mwogYA="],
  [["JaneSaoirse+UID2@example.com"], "bhQ2aMIGWT1ey4p7JyavdNlIQ4pe11/rrcv0u1jrxCc="],
  [
    [
      "JANE.SAOIRSE@gmail.com",
      "Jane.Saoirse@gmail.com",
      "JaneSaoirse+UID2@gmail.com",
      "JaneSaoirse+Work@gmail.com",
      "janesaoirse@gmail.com"
    ],
    "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="
  ],
  [["user@example.com"], "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="]
]

// Invalid emails from the reference SDKs' test suites and vector P-15, with the rule each one breaks
const INVALID_EMAILS: ReadonlyArray<readonly [string, Dii.InvalidEmailReason]> = [
  ["", "EmptyDomain"],
  [" @", "EmptyDomain"],
  ["@", "EmptyDomain"],
  ["a@", "EmptyDomain"],
  ["@b", "EmptyLocalPart"],
  ["@b.com", "EmptyLocalPart"],
  ["+", "EmptyDomain"],
  [" ", "EmptyDomain"],
  ["+@gmail.com", "EmptyLocalPart"],
  [".+@gmail.com", "EmptyLocalPart"],
  ["a@ba@z.com", "MultipleAt"],
  ["this is not an email address", "EmptyDomain"],
  ["neither.is@this@", "MultipleAt"]
]

const VALID_PHONES = [
  "+1234567890",
  "+12345678901",
  "+123456789012",
  "+1234567890123",
  "+12345678901234",
  "+123456789012345"
]

// Invalid phones from the reference SDKs' test suites (null is tested separately)
const INVALID_PHONES = [
  "",
  "asdaksjdakfj",
  "DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs",
  "QFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs",
  "06a418f467a14e1631a317b107548a1039d26f12ea45301ab14e7684b36ede58",
  "0C7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B",
  "+",
  "12345678",
  "123456789",
  "1234567890",
  "+12345678",
  "+123456789",
  "+ 12345678",
  "+ 123456789",
  "+ 1234 5678",
  "+ 1234 56789",
  "+1234567890123456",
  "+1234567890A",
  "+1234567890 ",
  "+1234567890+",
  "+12345+67890",
  "555-555-5555",
  "(555) 555-5555",
  " +123 44 55-66-77",
  "+123 44 555-66-77",
  "1 (123) 456-7890",
  "this is not a phone number",
  "+１２３４５６７８９０" // full-width digits: Python's isdigit() would accept them
]

// Reference normalizer written independently of the state machine (split on
// the first "@", regexes), used as a differential oracle.
const referenceNormalize = (s: string): string | undefined => {
  const at = s.indexOf("@")
  if (at < 0) return undefined
  const rest = s.slice(at + 1)
  if (rest.includes("@")) return undefined
  const lower = (x: string) => x.replace(/[A-Z]/g, (c) => c.toLowerCase())
  const domain = lower(rest.replace(/ +$/, ""))
  if (domain === "") return undefined
  let local = lower(s.slice(0, at).replace(/ /g, ""))
  if (domain === "gmail.com") local = local.split("+")[0]!.replace(/\./g, "")
  return local === "" ? undefined : `${local}@${domain}`
}

// Email-shaped strings that hit every branch of the state machine.
const emailChars = FastCheck.constantFrom(
  "a",
  "Z",
  "q",
  "0",
  ".",
  "+",
  " ",
  "@",
  "\t",
  "é",
  "É",
  "İ",
  "😊",
  "\uD800",
  "-",
  "_"
)
const emailPart = FastCheck.array(emailChars, { maxLength: 12 }).map((cs) => cs.join(""))
const emailDomain = FastCheck.oneof(
  FastCheck.constantFrom("gmail.com", "GMail.Com", " gmail.com", "gmail.com  ", "googlemail.com", "example.com", ""),
  emailPart
)
const emailLike = FastCheck.oneof(
  FastCheck.tuple(emailPart, emailDomain).map(([l, d]) => `${l}@${d}`),
  emailPart,
  FastCheck.string16bits({ maxLength: 30 }),
  FastCheck.fullUnicodeString({ maxLength: 30 })
)

describe("Dii", () => {
  describe("normalizeEmail / normalizeAndHashEmail", () => {
    for (const [inputs, normalized, hash] of VALID_EMAILS) {
      for (const input of inputs) {
        it(`${JSON.stringify(input)} -> ${normalized}`, () => {
          expect(right(Dii.normalizeEmail(input))).toBe(normalized)
          expect(right(Dii.normalizeAndHashEmail(input))).toBe(hash)
          expect(Dii.hashNormalized(normalized)).toBe(hash)
        })
      }
    }

    for (const [inputs, hash] of DOCS_EMAILS) {
      for (const input of inputs) {
        it(`docs: ${input} -> ${hash}`, () => {
          expect(right(Dii.normalizeAndHashEmail(input))).toBe(hash)
        })
      }
    }

    it("docs: hashing the un-normalized email gives a different (wrong) hash", () => {
      expect(Dii.hashNormalized("JANESaoirse@gmail.com")).toBe("VpLXEp5N1bj/V1WzjgZsC+FfuYdntAOywSVIO00FD/E=")
      expect(right(Dii.normalizeAndHashEmail("JANESaoirse@gmail.com"))).toBe(
        "ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8="
      )
    })

    it("only ASCII A-Z are lowercased, only ASCII space is whitespace", () => {
      expect(right(Dii.normalizeEmail("ÉLAN\tX@ÉXAMPLE.COM"))).toBe("Élan\tx@Éxample.com")
      expect(right(Dii.normalizeEmail("İ@x.com"))).toBe("İ@x.com")
    })

    it("an address without spaces (the slice path) normalizes as it does with spaces added (the per-character path)", () => {
      // Spaces before the @ and after the domain are dropped, so adding them changes nothing; the
      // input without spaces takes the fast path and the one with them the general one.
      const pieces = [
        "a",
        "Q",
        "Z",
        ".",
        "+",
        "@",
        "gmail.com",
        "GMail.COM",
        "x.y",
        "é",
        "İ",
        "😀",
        "\t",
        "0",
        "x".repeat(40)
      ]
      const texts = FastCheck.array(FastCheck.constantFrom(...pieces), { maxLength: 12 }).map((p) => p.join(""))
      FastCheck.assert(
        FastCheck.property(texts, (text) => {
          const expected = Dii.normalizeEmail(` ${text} `)
          expect(Dii.normalizeEmail(text)).toEqual(expected)
          expect(Dii.normalizeEmail(`${text} `)).toEqual(expected)
        }),
        { numRuns: 2_000 }
      )
      expect(Dii.normalizeEmail("user@example.com")).toEqual(Either.right("user@example.com"))
      expect(Dii.normalizeEmail("A.B+C@GMail.com")).toEqual(Either.right("ab@gmail.com"))
      expect(left(Dii.normalizeEmail("a@b@c"))).toMatchObject({ reason: "MultipleAt" })
      expect(left(Dii.normalizeEmail("no-at"))).toMatchObject({ reason: "EmptyDomain" })
      expect(left(Dii.normalizeEmail("+x@gmail.com"))).toMatchObject({ reason: "EmptyLocalPart" })
    })

    it("only gmail.com (exactly) gets the gmail rules", () => {
      expect(right(Dii.normalizeEmail("a.b+c@googlemail.com"))).toBe("a.b+c@googlemail.com")
      expect(right(Dii.normalizeEmail("a.b+c@gmail.com.au"))).toBe("a.b+c@gmail.com.au")
      expect(right(Dii.normalizeEmail("a.b+c@ gmail.com"))).toBe("a.b+c@ gmail.com")
      expect(right(Dii.normalizeEmail("a.b+c.d@GMAIL.COM   "))).toBe("ab@gmail.com")
    })

    it("a@b is valid (no further syntax checks)", () => {
      expect(right(Dii.normalizeEmail("a@b"))).toBe("a@b")
    })

    it("emoji and lone surrogates pass through code unit by code unit", () => {
      expect(right(Dii.normalizeEmail("A😊B@X😊"))).toBe("a😊b@x😊")
      expect(right(Dii.normalizeEmail("\uD83DA@x"))).toBe("\uD83Da@x")
    })
  })

  describe("invalid emails (P-15)", () => {
    for (const [input, reason] of INVALID_EMAILS) {
      it(`${JSON.stringify(input)} -> InvalidEmail(${reason})`, () => {
        const e = left(Dii.normalizeEmail(input))
        expect(e).toBeInstanceOf(Dii.InvalidEmail)
        expect(e._tag).toBe("InvalidEmail")
        expect(e.reason).toBe(reason)
        expect(left(Dii.normalizeAndHashEmail(input)).reason).toBe(reason)
      })
    }

    it("null from untyped callers is a Left, not a throw", () => {
      expect(left(Dii.normalizeEmail(null as unknown as string)).reason).toBe("NotAString")
      expect(left(Dii.normalizeAndHashEmail(undefined as unknown as string)).reason).toBe("NotAString")
    })

    it("the message names the rule but never echoes the input", () => {
      const input = "secret.person@x@y.com"
      const e = left(Dii.normalizeEmail(input))
      expect(e.message).toBe("invalid email address: more than one '@'")
      expect(e.message).not.toContain("secret")
      expect(String(e)).not.toContain("secret")
      expect(JSON.stringify(e)).not.toContain("secret")
    })
  })

  describe("phones", () => {
    for (const phone of VALID_PHONES) {
      it(`valid: ${phone}`, () => {
        expect(Dii.isPhoneNormalized(phone)).toBe(true)
        expect(right(Dii.validatePhone(phone))).toBe(phone)
        expect(right(Dii.normalizeAndHashPhone(phone))).toBe(sha256Base64(phone))
      })
    }

    for (const phone of INVALID_PHONES) {
      it(`invalid: ${JSON.stringify(phone)}`, () => {
        expect(Dii.isPhoneNormalized(phone)).toBe(false)
        const e = left(Dii.normalizeAndHashPhone(phone))
        expect(e).toBeInstanceOf(Dii.InvalidPhone)
        expect(e.message).toMatch(/^phone number is not normalized: /)
        if (phone.length > 0) expect(e.message).not.toContain(phone)
      })
    }

    it("invalid: null", () => {
      expect(Dii.isPhoneNormalized(null as unknown as string)).toBe(false)
      expect(left(Dii.normalizeAndHashPhone(null as unknown as string)).reason).toBe("NotAString")
    })

    it("reasons", () => {
      expect(left(Dii.validatePhone("")).reason).toBe("MissingPlus")
      expect(left(Dii.validatePhone("12345678901")).reason).toBe("MissingPlus")
      expect(left(Dii.validatePhone("+1234567890A")).reason).toBe("NonDigit")
      expect(left(Dii.validatePhone("+123456789")).reason).toBe("DigitCount")
      expect(left(Dii.validatePhone("+1234567890123456")).reason).toBe("DigitCount")
    })

    it("hash of +12345678901 (ref/docs)", () => {
      const hash = right(Dii.normalizeAndHashPhone("+12345678901"))
      expect(hash).toBe("EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=")
      expect(Buffer.from(hash, "base64").toString("hex")).toBe(
        "10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee"
      )
    })
  })

  describe("length bounds", () => {
    const tooLong = (input: string) => {
      expect(left(Dii.normalizeEmail(input)).reason).toBe("TooLong")
      expect(left(Dii.normalizeAndHashEmail(input)).reason).toBe("TooLong")
    }
    const domainOf = (length: number) => `${"d".repeat(length - 4)}.com`

    it("the SMTP limits: 64 octets before the '@', 254 in all", () => {
      expect([Dii.MAX_EMAIL_LOCAL_PART_LENGTH, Dii.MAX_EMAIL_LENGTH, Dii.MAX_EMAIL_INPUT_LENGTH]).toEqual([
        64,
        254,
        1024
      ])
    })

    it("local part: exactly 64 octets is valid, 65 is TooLong (UTF-8 octets, not characters)", () => {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["a".repeat(64), "a"], // ASCII: one octet each
        ["é".repeat(32), "é"], // two octets each
        ["😊".repeat(16), "a"], // four octets per surrogate pair
        ["\uD800".repeat(21) + "a", "b"] // a lone surrogate is hashed as U+FFFD, three octets
      ]
      for (const [local, more] of cases) {
        expect(Buffer.byteLength(local, "utf8")).toBe(64)
        const email = `${local}@example.com`
        expect(right(Dii.normalizeAndHashEmail(email))).toBe(sha256Base64(email))
        tooLong(`${local}${more}@example.com`)
      }
    })

    it("address: exactly 254 octets is valid, 255 is TooLong (which keeps the domain under 255 too)", () => {
      const atLimit = `${"a".repeat(64)}@${domainOf(254 - 65)}`
      expect(atLimit).toHaveLength(254)
      expect(right(Dii.normalizeEmail(atLimit))).toBe(atLimit)
      tooLong(`${"a".repeat(64)}@${domainOf(255 - 65)}`)
      tooLong(`a@${domainOf(253)}`)
      expect(right(Dii.normalizeEmail(`a@${domainOf(252)}`))).toHaveLength(254)
      const twoOctets = `${"a".repeat(60)}@${"é".repeat(94)}.com` // 60 + 1 + 188 + 4 = 253 octets
      expect(right(Dii.normalizeEmail(twoOctets))).toBe(twoOctets)
      tooLong(`${"a".repeat(60)}@${"é".repeat(95)}.com`) // 255 octets in 161 characters
    })

    it("the limits apply to the normalized address: dropped spaces, Gmail dots and extensions do not count", () => {
      const spaced = ` ${"a b ".repeat(30)}@${domainOf(190)}${" ".repeat(100)}` // 121 + 1 + 190 + 100 characters as given
      expect(right(Dii.normalizeEmail(spaced))).toBe(`${"ab".repeat(30)}@${domainOf(190)}`) // 251 octets
      const gmail = `${"a.".repeat(60)}+${"x".repeat(100)}@gmail.com` // local part of 221 characters as given
      expect(right(Dii.normalizeEmail(gmail))).toBe(`${"a".repeat(60)}@gmail.com`)
      tooLong(`${"a.".repeat(60)}+${"x".repeat(100)}@example.com`) // the same local part kept whole
    })

    it("input: exactly 1,024 characters is read, 1,025 is TooLong before it is read", () => {
      const padded = (length: number) => `a@b.com${" ".repeat(length - 7)}`
      expect(right(Dii.normalizeEmail(padded(Dii.MAX_EMAIL_INPUT_LENGTH)))).toBe("a@b.com")
      tooLong(padded(Dii.MAX_EMAIL_INPUT_LENGTH + 1))
      // Two '@' would be MultipleAt if the input were read.
      tooLong(`a@b@c${" ".repeat(Dii.MAX_EMAIL_INPUT_LENGTH)}`)
    })

    it("the TooLong message echoes nothing", () => {
      const e = left(Dii.normalizeEmail(`${"secret".repeat(20)}@example.com`))
      expect(e.message).toMatch(/^invalid email address: too long/)
      expect(e.message).not.toContain("secret")
    })

    it("phone: '+' and 15 digits is the longest valid; longer is DigitCount before it is read", () => {
      expect(Dii.MAX_PHONE_LENGTH).toBe(16)
      expect(right(Dii.validatePhone("+123456789012345"))).toHaveLength(Dii.MAX_PHONE_LENGTH)
      expect(left(Dii.validatePhone("+1234567890123456")).reason).toBe("DigitCount")
      expect(left(Dii.validatePhone("+12345678901234x")).reason).toBe("NonDigit") // 16 characters are read
      expect(left(Dii.validatePhone("+123456789012345x")).reason).toBe("DigitCount") // 17 are not
      expect(left(Dii.validatePhone("12345678901234567")).reason).toBe("DigitCount") // not even the '+'
      expect(left(Dii.validatePhone("1234567890123456")).reason).toBe("MissingPlus")
    })

    it("hash: exactly 44 characters, anything longer is Length before it is read", () => {
      const hash = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="
      expect(hash).toHaveLength(Dii.HASH_LENGTH)
      expect(right(Dii.validateHash(hash))).toBe(hash)
      expect(left(Dii.validateHash(`${hash}A`)).reason).toBe("Length")
      expect(left(Dii.validateHash(hash.slice(1))).reason).toBe("Length")
    })
  })

  describe("hashes", () => {
    it("hashNormalized: the documented example user@example.com, UTF-8 bytes", () => {
      expect(Dii.hashNormalized("user@example.com")).toBe("tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=")
      expect(Dii.hashNormalized("é")).toBe(sha256Base64("é"))
      expect(Dii.hashNormalized("é")).not.toBe(
        createHash("sha256").update(Buffer.from("é", "latin1")).digest("base64")
      )
    })

    it("isValidHash accepts canonical Base64 of 32 bytes only", () => {
      expect(Dii.isValidHash("tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=")).toBe(true)
      expect(Dii.isValidHash("EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=")).toBe(true)
      const cases: ReadonlyArray<readonly [string, Dii.InvalidHashReason]> = [
        ["", "Length"],
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ", "Length"], // unpadded
        ["10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee", "Length"], // hex
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRR=", "NotCanonicalBase64"], // non-zero padding bits
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf_F5HVRQ=", "NotCanonicalBase64"], // Base64URL
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVR==", "NotCanonicalBase64"], // 31 bytes
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQA", "NotCanonicalBase64"], // 33 bytes
        ["tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf F5HVRQ=", "NotCanonicalBase64"],
        ["user@example.com user@example.com 123456789=", "NotCanonicalBase64"]
      ]
      for (const [h, reason] of cases) {
        expect(Dii.isValidHash(h), h).toBe(false)
        expect(left(Dii.validateHash(h)).reason, h).toBe(reason)
      }
      expect(left(Dii.validateHash(null as unknown as string)).reason).toBe("NotAString")
    })
  })

  describe("properties", () => {
    it.prop("normalizeEmail agrees with an independent reference normalizer", [emailLike], ([s]) => {
      const actual = Dii.normalizeEmail(s)
      const expected = referenceNormalize(s)
      if (expected === undefined) expect(Either.isLeft(actual)).toBe(true)
      else expect(right(actual)).toBe(expected)
    }, { fastCheck: { numRuns: 2000 } })

    it.prop("normalization is idempotent", [emailLike], ([s]) => {
      const once = Dii.normalizeEmail(s)
      if (Either.isRight(once)) expect(right(Dii.normalizeEmail(once.right))).toBe(once.right)
    }, { fastCheck: { numRuns: 1000 } })

    it.prop("hashing the normalized email equals normalizeAndHashEmail", [emailLike], ([s]) => {
      const normalized = Dii.normalizeEmail(s)
      const hashed = Dii.normalizeAndHashEmail(s)
      if (Either.isRight(normalized)) {
        expect(right(hashed)).toBe(sha256Base64(normalized.right))
        expect(Dii.isValidHash(hashed.pipe(Either.getOrThrow))).toBe(true)
      } else {
        expect(left(hashed)).toEqual(normalized.left)
      }
    }, { fastCheck: { numRuns: 500 } })

    it.prop("never throws: every invalid email is a typed Left", [emailLike], ([s]) => {
      const r = Dii.normalizeEmail(s)
      if (Either.isLeft(r)) {
        expect(r.left).toBeInstanceOf(Dii.InvalidEmail)
        expect(["MultipleAt", "EmptyDomain", "EmptyLocalPart"]).toContain(r.left.reason)
      }
    }, { fastCheck: { numRuns: 1000 } })

    it.prop("strings without '@' or with two '@' are always invalid", [
      FastCheck.string16bits({ maxLength: 20 }).map((s) => s.replace(/@/g, "")),
      FastCheck.string16bits({ maxLength: 20 })
    ], ([noAt, other]) => {
      expect(left(Dii.normalizeEmail(noAt)).reason).toBe("EmptyDomain")
      expect(left(Dii.normalizeEmail(`${other}@${noAt}@${other}`))._tag).toBe("InvalidEmail")
    })

    const phoneLike = FastCheck.oneof(
      FastCheck.array(FastCheck.constantFrom("+", "0", "5", "9", " ", "-", "a", "٣"), { maxLength: 18 })
        .map((cs) => cs.join("")),
      FastCheck.integer({ min: 0, max: 20 }).chain((n) => FastCheck.stringMatching(new RegExp(`^\\+[0-9]{${n}}$`))),
      FastCheck.string16bits({ maxLength: 20 })
    )

    it.prop("phone validation agrees with /^\\+[0-9]{10,15}$/ and never throws", [phoneLike], ([p]) => {
      const valid = /^\+[0-9]{10,15}$/.test(p)
      expect(Dii.isPhoneNormalized(p)).toBe(valid)
      const r = Dii.normalizeAndHashPhone(p)
      if (valid) expect(right(r)).toBe(sha256Base64(p))
      else expect(left(r)).toBeInstanceOf(Dii.InvalidPhone)
    }, { fastCheck: { numRuns: 2000 } })

    const digest = FastCheck.uint8Array({ minLength: 32, maxLength: 32 })
    it.prop("every 32-byte digest's Base64 is a valid hash", [digest], ([b]) => {
      expect(Dii.isValidHash(Buffer.from(b).toString("base64"))).toBe(true)
    })

    it.prop("isValidHash agrees with a Buffer round-trip oracle and never throws", [
      FastCheck.oneof(
        FastCheck.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => Buffer.from(b).toString("base64")),
        FastCheck.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("base64url")),
        FastCheck.uint8Array({ minLength: 32, maxLength: 32 }).chain((b) =>
          FastCheck.integer({ min: 0, max: 43 }).chain((i) =>
            FastCheck.string16bits({ minLength: 1, maxLength: 1 }).map((c) => {
              const s = Buffer.from(b).toString("base64")
              return s.slice(0, i) + c + s.slice(i + 1)
            })
          )
        ),
        FastCheck.string16bits({ minLength: 40, maxLength: 48 })
      )
    ], ([h]) => {
      const oracle = h.length === 44 && Buffer.from(h, "base64").length === 32 &&
        Buffer.from(h, "base64").toString("base64") === h
      expect(Dii.isValidHash(h)).toBe(oracle)
      const r = Dii.validateHash(h)
      if (oracle) expect(right(r)).toBe(h)
      else expect(left(r)).toBeInstanceOf(Dii.InvalidHash)
    }, { fastCheck: { numRuns: 2000 } })
  })
})
