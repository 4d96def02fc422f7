// Every pure entry point (decrypt, encrypt, token and raw UID readers, DII normalizers and validators,
// token generate inputs) is total on whatever an untyped caller passes: a typed result, never a throw,
// and caller code (getters, toString, Proxy traps) is never run.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Dii from "../src/Dii.js"
import type * as KeyRing from "../src/KeyRing.js"
import { bidstreamRing, conformanceKeys, key, sharingRing, token } from "../src/testing/Builders.js"
import * as Token from "../src/Token.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"
import { left, right } from "./either.js"
import { crypto, EXAMPLE_UID } from "./fixtures.js"
import { anyValue, flatString, MB50, nonStrings, tripwire } from "./hostileValues.js"
import { type ClientType, decrypt, encryptRawUid } from "./ringCrypto.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const [MASTER, SITE] = conformanceKeys(NOW).map(key) as [KeyRing.Key, KeyRing.Key]
const BIDSTREAM = bidstreamRing(NOW)
const SHARING = sharingRing(NOW)
const CLIENT_TYPES: ReadonlyArray<ClientType> = ["bidstream", "sharing", "legacy"]
const V4 = token({ masterKey: MASTER, siteKey: SITE, now: NOW })
const CSTG = token({ masterKey: MASTER, siteKey: SITE, now: NOW, privacyBits: 2 })
const EMAIL = "user@example.com"
const PHONE = "+12345678901"
const HASH = "tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="

// `nowMs` is given as `arguments.length` decides, so an explicit `undefined` reaches the core.
const decryptAs = (clientType: ClientType, text: unknown, domainOrAppName?: unknown, ...now: [] | [unknown]) =>
  decrypt(
    clientType === "bidstream" ? BIDSTREAM : SHARING,
    crypto,
    text as string,
    (now.length === 0 ? NOW : now[0]) as number,
    {
      clientType,
      domainOrAppName: domainOrAppName as string
    }
  )
const encrypt = (rawUid: unknown, ...now: [] | [unknown]) =>
  encryptRawUid(SHARING, crypto, rawUid as string, (now.length === 0 ? NOW : now[0]) as number)

const isError = (result: unknown, tag: string, detail?: string) => {
  expect(result).toBeInstanceOf(Error)
  expect(result).toMatchObject(detail === undefined ? { _tag: tag } : { _tag: tag, detail })
}

/**
 * Each entry point with what it must answer for a value that is not a string. Every check also proves
 * the call returned rather than threw.
 */
const entries: ReadonlyArray<readonly [string, (value: unknown) => void]> = [
  ...CLIENT_TYPES.map((clientType) =>
    [
      `decrypt (${clientType}) token`,
      (v: unknown) => isError(decryptAs(clientType, v), "InvalidPayload", "token is not a string")
    ] as const
  ),
  [
    "decrypt with no ring yet",
    (v) => isError(decrypt(undefined, crypto, v as string, NOW, { clientType: "bidstream" }), "NotInitialized")
  ],
  // The lists hold numbers too (0, NaN, Infinity): a number is a time, so it gets an ordinary answer.
  ...CLIENT_TYPES.map((clientType) =>
    [`decrypt (${clientType}) nowMs`, (v: unknown) => {
      const result = decryptAs(clientType, V4, undefined, v)
      if (typeof v === "number") expect(result._tag === "DecryptedToken" || result instanceof Error).toBe(true)
      else isError(result, "KeysNotSynced")
    }] as const
  ),
  // Not a string, null or undefined: the name is absent, which only client-side generated tokens need.
  [
    "decrypt (bidstream) domain, client-side generated token",
    (v) => isError(decryptAs("bidstream", CSTG, v), "DomainOrAppNameCheckFailed")
  ],
  [
    "decrypt (bidstream) domain, other token",
    (v) => expect(decryptAs("bidstream", V4, v)).toMatchObject({ _tag: "DecryptedToken", uid: EXAMPLE_UID })
  ],
  ["decrypt (sharing) domain", (v) => expect(decryptAs("sharing", CSTG, v)).toMatchObject({ _tag: "DecryptedToken" })],
  ["encryptRawUid raw UID", (v) => isError(encrypt(v), "EncryptionFailure", "raw UID is not a string")],
  ["encryptRawUid nowMs", (v) => {
    const result = encrypt(EXAMPLE_UID, v)
    if (typeof v === "number") expect(typeof result === "string" || result instanceof Error).toBe(true)
    else isError(result, "KeysNotSynced")
  }],
  ["Token.detectVersion", (v) => expect(Token.detectVersion(v as string)).toBe("invalid")],
  ["Token.rawUidInfo", (v) => expect(Token.rawUidInfo(v as string)).toBeUndefined()],
  ["Token.identityTypeOfRawUid", (v) => expect(Token.identityTypeOfRawUid(v as string)).toBe("Email")],
  ["Dii.normalizeEmail", (v) => expect(left(Dii.normalizeEmail(v as string)).reason).toBe("NotAString")],
  ["Dii.normalizeAndHashEmail", (v) => expect(left(Dii.normalizeAndHashEmail(v as string)).reason).toBe("NotAString")],
  ["Dii.isPhoneNormalized", (v) => expect(Dii.isPhoneNormalized(v as string)).toBe(false)],
  ["Dii.validatePhone", (v) => expect(left(Dii.validatePhone(v as string)).reason).toBe("NotAString")],
  ["Dii.normalizeAndHashPhone", (v) => expect(left(Dii.normalizeAndHashPhone(v as string)).reason).toBe("NotAString")],
  ["Dii.isValidHash", (v) => expect(Dii.isValidHash(v as string)).toBe(false)],
  ["Dii.validateHash", (v) => expect(left(Dii.validateHash(v as string)).reason).toBe("NotAString")],
  [
    "TokenGenerateInput.fromEmail",
    (v) => expect(left(TokenGenerateInput.fromEmail(v as string)).reason).toBe("NotAString")
  ],
  [
    "TokenGenerateInput.fromPhone",
    (v) => expect(left(TokenGenerateInput.fromPhone(v as string)).reason).toBe("NotAString")
  ],
  [
    "TokenGenerateInput.fromHashedEmail",
    (v) => expect(left(TokenGenerateInput.fromHashedEmail(v as string)).reason).toBe("NotAString")
  ],
  [
    "TokenGenerateInput.fromHashedPhone",
    (v) => expect(left(TokenGenerateInput.fromHashedPhone(v as string)).reason).toBe("NotAString")
  ],
  [
    "TokenGenerateInput.fromEmailUnhashed",
    (v) => expect(left(TokenGenerateInput.fromEmailUnhashed(v as string)).reason).toBe("NotAString")
  ],
  [
    "TokenGenerateInput.fromPhoneUnhashed",
    (v) => expect(left(TokenGenerateInput.fromPhoneUnhashed(v as string)).reason).toBe("NotAString")
  ],
  ["TokenGenerateInput.withTransparencyAndConsentString", (v) => {
    const input = right(TokenGenerateInput.fromHashedEmail(HASH))
    expect(TokenGenerateInput.toRequestJson(TokenGenerateInput.withTransparencyAndConsentString(input, v as string)))
      .toBe(`{"email_hash":"${HASH}"}`)
  }]
]

// A valid input of each kind, so the near-string values (boxed, in a Buffer, in an array) look like one.
const LIKE = [V4, EXAMPLE_UID, EMAIL, PHONE, HASH]

describe("untyped callers: values that are not strings", () => {
  for (const [entry, check] of entries) {
    it(`${entry}: a typed answer for every non-string value`, () => {
      for (const like of LIKE) {
        for (const [name, value] of nonStrings(like)) {
          try {
            check(value)
          } catch (e) {
            throw new Error(`${entry} on ${name} (like ${like.slice(0, 12)}…): ${String(e)}`)
          }
        }
      }
    })

    it(`${entry}: caller code never runs (Proxies, throwing getters, toString, valueOf)`, () => {
      const { calls, values } = tripwire()
      for (const [name, value] of values) {
        try {
          check(value)
        } catch (e) {
          throw new Error(`${entry} on ${name}: ${String(e)}`)
        }
      }
      expect(calls()).toBe(0)
    })
  }

  it("a duck-typed domain name is never called into: the check runs as if there were none", () => {
    let called = 0
    const domain = {
      replace: () => (called++, "example.com"),
      toLowerCase: () => (called++, "example.com"),
      toString: () => (called++, "example.com")
    }
    expect(decryptAs("bidstream", CSTG, domain)._tag).toBe("DomainOrAppNameCheckFailed")
    expect(decryptAs("bidstream", CSTG, "example.com")._tag).toBe("DecryptedToken")
    expect(called).toBe(0)
  })
})

describe("untyped callers: arbitrary values (FastCheck.anything)", () => {
  it.prop("decrypt: a non-string token is InvalidPayload, a string one any typed result", [anyValue], ([v]) => {
    for (const clientType of CLIENT_TYPES) {
      const result = decryptAs(clientType, v)
      if (typeof v === "string") expect(result._tag === "DecryptedToken" || result instanceof Error).toBe(true)
      else isError(result, "InvalidPayload", "token is not a string")
    }
  })

  it.prop("decrypt: any domain value; only an allowed name passes a client-side generated token", [anyValue], ([v]) => {
    const allowed = typeof v === "string" && BIDSTREAM.isDomainOrAppNameAllowed(9000, v)
    expect(decryptAs("bidstream", CSTG, v)._tag).toBe(allowed ? "DecryptedToken" : "DomainOrAppNameCheckFailed")
    expect(decryptAs("bidstream", V4, v)._tag).toBe("DecryptedToken")
  })

  it.prop("decrypt and encrypt: any nowMs value that is not a number is KeysNotSynced", [anyValue], ([v]) => {
    if (typeof v === "number") return
    isError(decryptAs("bidstream", V4, undefined, v), "KeysNotSynced")
    isError(encrypt(EXAMPLE_UID, v), "KeysNotSynced")
  })

  it.prop("decrypt and encrypt: any number as nowMs gives a typed result", [FastCheck.double()], ([now]) => {
    const decrypted = decryptAs("bidstream", V4, undefined, now)
    expect(decrypted._tag === "DecryptedToken" || decrypted instanceof Error).toBe(true)
    const encrypted = encrypt(EXAMPLE_UID, now)
    expect(typeof encrypted === "string" || encrypted instanceof Error).toBe(true)
  })

  it.prop(
    "encryptRawUid: a non-string raw UID is EncryptionFailure, a string one a token or a typed error",
    [anyValue],
    ([v]) => {
      const result = encrypt(v)
      if (typeof v !== "string") isError(result, "EncryptionFailure", "raw UID is not a string")
      else if (typeof result === "string") {
        expect(decryptAs("sharing", result)).toMatchObject({
          _tag: "DecryptedToken"
        })
      } else isError(result, "EncryptionFailure")
    }
  )

  it.prop("Token readers", [anyValue], ([v]) => {
    const version = Token.detectVersion(v as string)
    const info = Token.rawUidInfo(v as string)
    const type = Token.identityTypeOfRawUid(v as string)
    if (typeof v !== "string") {
      expect([version, info, type]).toEqual(["invalid", undefined, "Email"])
    } else {
      expect([2, 3, 4, "invalid", "unsupported"]).toContain(version)
      expect(["Email", "Phone"]).toContain(type)
    }
  })

  it.prop("Dii and TokenGenerateInput: a non-string is NotAString, a string an Either", [anyValue], ([v]) => {
    const results: ReadonlyArray<Either.Either<unknown, Dii.InvalidDii>> = [
      Dii.normalizeEmail(v as string),
      Dii.normalizeAndHashEmail(v as string),
      Dii.validatePhone(v as string),
      Dii.normalizeAndHashPhone(v as string),
      Dii.validateHash(v as string),
      TokenGenerateInput.fromEmail(v as string),
      TokenGenerateInput.fromPhone(v as string),
      TokenGenerateInput.fromHashedEmail(v as string),
      TokenGenerateInput.fromHashedPhone(v as string),
      TokenGenerateInput.fromEmailUnhashed(v as string),
      TokenGenerateInput.fromPhoneUnhashed(v as string)
    ]
    for (const result of results) {
      expect(Either.isEither(result)).toBe(true)
      if (typeof v !== "string") expect(left(result).reason).toBe("NotAString")
    }
  })
})

describe("untyped callers: 50 MB strings are rejected on their length", () => {
  // Each input's content would fail a different, later rule if it were read: the reason shows it was not.
  it("a token: InvalidPayload (too long), not a Base64 or version verdict", () => {
    const huge = V4 + flatString(MB50 - V4.length, "!")
    for (const clientType of CLIENT_TYPES) isError(decryptAs(clientType, huge), "InvalidPayload", "token too long")
    expect(Token.detectVersion(huge)).toBe(4) // version detection reads four characters whatever the length
  })

  it("a raw UID: EncryptionFailure (too long), and rawUidInfo is undefined", () => {
    const huge = flatString(MB50)
    isError(encrypt(huge), "EncryptionFailure", "raw UID too long")
    expect(Token.rawUidInfo(huge)).toBeUndefined()
    expect(Token.identityTypeOfRawUid(huge)).toBe("Email")
  })

  it("an email: TooLong, not MultipleAt", () => {
    const huge = `a@b.com@${flatString(MB50)}`
    expect(left(Dii.normalizeEmail(huge)).reason).toBe("TooLong")
    expect(left(TokenGenerateInput.fromEmail(huge)).reason).toBe("TooLong")
    expect(left(TokenGenerateInput.fromEmailUnhashed(huge)).reason).toBe("TooLong")
  })

  it("a phone: DigitCount, not NonDigit", () => {
    const huge = `+${flatString(MB50, "x")}`
    expect(left(Dii.validatePhone(huge)).reason).toBe("DigitCount")
    expect(left(TokenGenerateInput.fromPhone(huge)).reason).toBe("DigitCount")
  })

  it("a hash: Length", () => {
    const huge = flatString(MB50)
    expect(left(Dii.validateHash(huge)).reason).toBe("Length")
    expect(left(TokenGenerateInput.fromHashedEmail(huge)).reason).toBe("Length")
  })
})
