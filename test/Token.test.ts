import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Base64 from "../src/internal/base64.js"
import { fromHex, toHex } from "../src/internal/bytes.js"
import * as KeyRing from "../src/KeyRing.js"
import { key, keyRing, sharingRing } from "../src/testing/Builders.js"
import * as Token from "../src/Token.js"
import { EXAMPLE_UID, MASTER_SECRET, PHONE_UID, selectCrypto, SITE_SECRET } from "./fixtures.js"
import { decrypt, encryptRawUid, handleOf } from "./ringCrypto.js"

const node = selectCrypto(() => {
  throw new Error("these tests pass nonces explicitly")
})

// Timestamps of the reference token vectors CP-1 and DV-1…DV-5, which decrypt at generated + 29 min
const ESTABLISHED = 1672531261000
const GENERATED = 1672534861000
const EXPIRY = 2303254861000
const DECRYPT_AT = 1672536601000

const master = key({ id: 164, activates: GENERATED - 1000, expires: EXPIRY + 1000, secret: MASTER_SECRET })
const site = key({ id: 165, activates: GENERATED - 1000, expires: EXPIRY + 1000, secret: SITE_SECRET })
const legacyRing = (scope: "UID2" | "EUID" = "UID2") => keyRing({ keys: [master, site], identityScope: scope })

const CP1 =
  "AIAAAACkOqJj9VoxXJNnuX3v-ymceRf8_Av0vA5asOj9YBZJc1kV1vHdmb0AIjlzWnFF-gxIlgXqhRFhPo3iXpugPBl3gv4GKnGkw-Zgm2QqMsDPPLpMCYiWrIUqHPm8hQiq9PuTU-Ba9xecRsSIAN0WCwKLwA_EDVdzmnLJu64dQoeYmuu3u1G2EuTkuMrevmP98tJqSUePKwnfK73-0Zdshw"
const DV1 =
  "AgAAAKQBAgMEBQYHCAkKCwwNDg8QNLHGclRo8ETfefov4UbNxcVaC3peJGzIaf0rbr1qKyJgfNymw/8fajTdfitbpap1IcS9vZghYf04PqDkwYAeSgiq3/z+EYtOR8YyrOz18vQF0UPTOEtxg7qrHB/3GV+6X08vfS8re5dVsBrPWx3oYg=="
const DV2 =
  "A3AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU++WuzEEBSAZrtGrH89+VdrnOPLn5J9Olx/D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf/zdScaY/TtVYQiUuERIC5QsLXxgjprsRfvg=="
const DV3 =
  "A4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU--WuzEEBSAZrtGrH89-VdrnOPLn5J9Olx_D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf_zdScaY_TtVYQiUuERIC5QsLXxgjprsRfvg"
const DV3_PADDED =
  "A4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU++WuzEEBSAZrtGrH89+VdrnOPLn5J9Olx/D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z1rXvNbGbhEMI6af8YmVMEVtwt37jftynfz5Z7ECoNsWCm8ZrOKxX8v9ZTs7F03r42mTLGmXNf/zdScaY/TtVYQiUuERIC5QsLXxgjprsRfvg=="
const DV4 =
  "F4AAAACkMDEyMzQ1Njc4OTo7XmgCoVktrSI5dYU--WuzEEBSAZrtGrH89-VdrnOPLn5J9Olx_D6mhsv42wTZ2rYjW9N6POBsbqM519r14M922Z5rXvNbGbhEMI6af8YmVMEVeEPeJF_vbjN-Q-Pynxld99r8ezwETUF9rolwTgqkdnjj3-wTtDuZv9iD0K4iLipI66nS-e6iy9IFWZBG9xkdsJw"
const DV5 =
  "A4AAAACkUFFSU1RVVldYWVpbrpuoa0hT4yLCHgbl2WnNb7M2hmm7l34tMLP8Gb1PYmXvRil4PcVLH4L9NQwTrNyq1S6xO_yzcDcrlI6tRlLBHJBHmbVZDNjTvIKki11CgiH5bTGK2Q4f9NuQWW49OmJaZxg9Jbtl2EOQkrDOIZv6RZl4Q3L3KXLjj9s51soeKvsG9R2Fu9jW8y-iDsizb-EeaQ"

const GCM_NONCES = { master: fromHex("303132333435363738393a3b"), site: fromHex("404142434445464748494a4b") }
const common = {
  masterKeyId: 164,
  siteKeyId: 165,
  siteId: 9000,
  expiry: EXPIRY,
  generated: GENERATED,
  established: ESTABLISHED,
  refreshed: GENERATED
}

it("runs on the Crypto layer UID2_TEST_CRYPTO selects", () => {
  expect(node.name).toBe(process.env["UID2_TEST_CRYPTO"] === "native" ? "native" : "node")
})

describe("Base64 and Base64URL (vectors B-1…B-3)", () => {
  const cases: Array<[string, string, string]> = [
    ["ffe088ffee9999", "_-CI_-6ZmQ", "/+CI/+6ZmQ=="],
    ["ffe088ffee999999", "_-CI_-6ZmZk", "/+CI/+6ZmZk="],
    ["ffe088ffee99", "_-CI_-6Z", "/+CI/+6Z"]
  ]
  for (const [hex, url, std] of cases) {
    it(`B: ${hex}`, () => {
      expect(Base64.encodeUrl(fromHex(hex))).toBe(url)
      expect(Base64.encode(fromHex(hex))).toBe(std)
      expect(toHex(Base64.decode(url, "url")!)).toBe(hex)
      expect(toHex(Base64.decode(std, "standard")!)).toBe(hex)
      expect(toHex(Base64.decode(url, "either")!)).toBe(hex)
    })
  }
  it("rejects the wrong alphabet, bad padding, stray characters and non-canonical text", () => {
    expect(Base64.decode("_-CI_-6ZmQ", "standard")).toBeUndefined()
    expect(Base64.decode("/+CI/+6ZmQ==", "url")).toBeUndefined()
    expect(Base64.decode("/+CI/+6ZmQ=")).toBeUndefined()
    expect(Base64.decode("A")).toBeUndefined()
    expect(Base64.decode("AB C")).toBeUndefined()
    expect(Base64.decode("ABé=")).toBeUndefined()
    expect(Base64.decode("AA==")).toEqual(new Uint8Array([0]))
    expect(Base64.decode("AB==")).toBeUndefined() // the byte of "AA==" spelled with stray bits
    expect(Base64.decode("")).toEqual(new Uint8Array(0))
  })
})

describe("version detection from the first four characters", () => {
  it("recognises each version and rejects the rest", () => {
    expect(Token.detectVersion(DV1)).toBe(2)
    expect(Token.detectVersion(DV2)).toBe(3)
    expect(Token.detectVersion(DV3)).toBe(4)
    expect(Token.detectVersion(CP1)).toBe(4)
    expect(Token.detectVersion("abc")).toBe("invalid")
    expect(Token.detectVersion("A*AA")).toBe("invalid")
    expect(Token.detectVersion("A-+A")).toBe("invalid")
    expect(Token.detectVersion("AQAA")).toBe("unsupported") // byte0 = 1, byte1 = 0
  })
  it("T-1/T-2/T-3: text prefixes of each version, scope and type", () => {
    expect(DV1.startsWith("Ag")).toBe(true)
    const now = GENERATED
    for (
      const [scope, type, first] of [["UID2", "Email", "A"], ["UID2", "Phone", "B"], ["EUID", "Email", "E"], [
        "EUID",
        "Phone",
        "F"
      ]] as const
    ) {
      for (const version of [3, 4] as const) {
        const text = Token.encode(
          node,
          { ...common, version, uid: EXAMPLE_UID, identityScope: scope, identityType: type, privacyBits: 0 },
          handleOf(master, node),
          handleOf(site, node),
          GCM_NONCES
        )!
        expect(text.slice(0, 2)).toBe(`${first}${version}`)
        if (version === 4) expect(text).not.toMatch(/[=+/]/)
      }
    }
    expect(now).toBe(GENERATED)
  })
})

describe("reference token vectors", () => {
  it("CP-1 / D-1: the cross-platform token decrypts with every field", () => {
    const result = decrypt(legacyRing(), node, CP1, DECRYPT_AT, { clientType: "legacy" })
    expect(result).toMatchObject({
      _tag: "DecryptedToken",
      uid: EXAMPLE_UID,
      version: 4,
      identityScope: "UID2",
      identityType: "Email",
      masterKeyId: 164,
      siteKeyId: 165,
      expiry: EXPIRY,
      generated: GENERATED,
      established: ESTABLISHED,
      refreshed: GENERATED,
      siteId: 9000,
      publisherId: 0,
      clientKeyId: 0,
      privacyBits: 0,
      isClientSideGenerated: false,
      operator: { siteId: 0, type: 1, version: 0, keyId: 0 }
    })
    expect(toHex(Base64.decode(CP1, "url")!.subarray(6, 18))).toBe("3aa263f55a315c9367b97def")
  })

  it("DV-1: V2 encodes byte for byte and decrypts", () => {
    const text = Token.encode(
      node,
      { ...common, version: 2, uid: EXAMPLE_UID, identityScope: "UID2", identityType: "Email", privacyBits: 0 },
      handleOf(master, node),
      handleOf(site, node),
      {
        master: fromHex("0102030405060708090a0b0c0d0e0f10"),
        site: fromHex("1112131415161718191a1b1c1d1e1f20")
      }
    )
    expect(text).toBe(DV1)
    expect(Base64.decode(DV1)!.length).toBe(133)
    expect(decrypt(legacyRing(), node, DV1, DECRYPT_AT, { clientType: "legacy" })).toMatchObject({
      _tag: "DecryptedToken",
      uid: EXAMPLE_UID,
      version: 2,
      identityType: undefined,
      expiry: EXPIRY,
      established: ESTABLISHED,
      siteId: 9000
    })
  })

  it("DV-2 / DV-3: V3 and V4 encode byte for byte; V4 also decrypts from padded standard Base64 (D-10)", () => {
    const fields = {
      ...common,
      uid: EXAMPLE_UID,
      identityScope: "UID2",
      identityType: "Email",
      privacyBits: 0
    } as const
    const mh = handleOf(master, node)
    const sh = handleOf(site, node)
    expect(Token.encode(node, { ...fields, version: 3 }, mh, sh, GCM_NONCES)).toBe(DV2)
    expect(Token.encode(node, { ...fields, version: 4 }, mh, sh, GCM_NONCES)).toBe(DV3)
    for (const [text, version] of [[DV2, 3], [DV3, 4], [DV3_PADDED, 4]] as const) {
      expect(decrypt(legacyRing(), node, text, DECRYPT_AT, { clientType: "sharing" })).toMatchObject({
        _tag: "DecryptedToken",
        uid: EXAMPLE_UID,
        version,
        identityType: "Email"
      })
    }
    expect(Base64.decode(DV2)!.length).toBe(163)
  })

  it("DV-4: EUID phone, client-side generated, 33-byte raw UID", () => {
    const text = Token.encode(
      node,
      { ...common, version: 4, uid: PHONE_UID, identityScope: "EUID", identityType: "Phone", privacyBits: 3 },
      handleOf(master, node),
      handleOf(site, node),
      GCM_NONCES
    )
    expect(text).toBe(DV4)
    expect(text!.length).toBe(219)
    const euid = keyRing({ keys: [master, site], identityScope: "EUID", sites: { 9000: ["example.com"] } })
    expect(decrypt(euid, node, DV4, DECRYPT_AT, { clientType: "bidstream", domainOrAppName: "example.com" }))
      .toMatchObject({
        _tag: "DecryptedToken",
        uid: PHONE_UID,
        identityScope: "EUID",
        identityType: "Phone",
        isClientSideGenerated: true,
        privacyBits: 3
      })
    expect(decrypt(legacyRing("UID2"), node, DV4, DECRYPT_AT, { clientType: "legacy" })._tag).toBe(
      "InvalidIdentityScope"
    )
    expect(decrypt(euid, node, DV4, DECRYPT_AT, { clientType: "bidstream", domainOrAppName: "example.org" })._tag).toBe(
      "DomainOrAppNameCheckFailed"
    )
    expect(decrypt(euid, node, DV4, DECRYPT_AT, { clientType: "bidstream" })._tag).toBe("DomainOrAppNameCheckFailed")
  })

  it("DV-5: sharing encrypt builds the token byte for byte, which decrypts and later expires", () => {
    const nonces = [fromHex("505152535455565758595a5b"), fromHex("606162636465666768696a6b")]
    const fixed = { ...node, randomBytes: () => nonces.shift()! }
    const ring = Either.getOrThrow(KeyRing.fromJson(JSON.stringify({
      body: {
        caller_site_id: 9000,
        master_keyset_id: 1,
        default_keyset_id: 99999,
        token_expiry_seconds: "2592000",
        identity_scope: "UID2",
        allow_clock_skew_seconds: 1800,
        max_sharing_lifetime_seconds: 2592010,
        keys: [
          {
            id: 164,
            keyset_id: 1,
            created: 1672448461,
            activates: 1672534861,
            expires: 2303254861,
            secret: MASTER_SECRET
          },
          {
            id: 165,
            keyset_id: 99999,
            created: 1671670861,
            activates: 1672448461,
            expires: 2303254861,
            secret: SITE_SECRET
          }
        ]
      }
    })))
    expect(encryptRawUid(ring, fixed, EXAMPLE_UID, 1672534861000)).toBe(DV5)
    expect(decrypt(ring, node, DV5, 1672534862000, { clientType: "sharing" })).toMatchObject({
      _tag: "DecryptedToken",
      uid: EXAMPLE_UID,
      siteId: 9000,
      expiry: 1675126861000,
      established: 1672534861000
    })
    const expired = decrypt(ring, node, DV5, 1675126862000, { clientType: "sharing" })
    expect(expired._tag).toBe("ExpiredToken")
    expect(expired._tag === "ExpiredToken" && expired.token.expiry).toBe(1675126861000)
  })
})

describe("privacy bits", () => {
  it("PB-1: builder values", () => {
    expect(Token.privacyBits({ legacy: true, clientSideGenerated: true, optedOut: true })).toBe(7)
    expect(Token.privacyBits({})).toBe(0)
    expect(Token.privacyBits({ clientSideGenerated: true, optedOut: true })).toBe(6)
    expect(Token.privacyBits({ clientSideGenerated: true })).toBe(2)
    expect(Token.privacyBits({ optedOut: true })).toBe(4)
  })
  it("PB-2: reader uses bit 1 (not Python's big-endian bit)", () => {
    expect(Token.isClientSideGenerated(7 & ~2)).toBe(false)
    expect(Token.isClientSideGenerated(2)).toBe(true)
    expect(Token.isClientSideGenerated(3)).toBe(true)
    expect(Token.isClientSideGenerated(0x40000000)).toBe(false)
  })
})

describe("raw UIDs: metadata byte and identity-type heuristic", () => {
  it("T-5: identity type heuristic from the first character", () => {
    expect(Token.identityTypeOfRawUid("Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk=")).toBe("Email")
    expect(Token.identityTypeOfRawUid("BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ")).toBe("Phone")
    expect(Token.identityTypeOfRawUid("oKg0ZY9ieD/CGMEjAA0kcq+8aUbLMBG0MgCT3kWUnJs=")).toBe("Email")
    expect(Token.identityTypeOfRawUid("AKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb")).toBe("Email")
    expect(Token.identityTypeOfRawUid("EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb")).toBe("Email")
    expect(Token.identityTypeOfRawUid("FKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb")).toBe("Phone")
  })
  it("reads the metadata byte of v3/v4 raw UIDs", () => {
    expect(Token.rawUidInfo(EXAMPLE_UID)).toEqual({ generation: 2 })
    expect(Token.rawUidInfo(PHONE_UID)).toEqual({
      generation: 3,
      identityScope: "UID2",
      identityType: "Phone",
      environment: 0
    })
    expect(Token.rawUidInfo("EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb")).toEqual({
      generation: 3,
      identityScope: "EUID",
      identityType: "Email",
      environment: 0
    })
    expect(Token.rawUidInfo("not base64")).toBeUndefined()
    expect(Token.rawUidInfo("AAAA")).toBeUndefined()
  })
})

describe("length bounds", () => {
  const NOW = GENERATED
  const ring = keyRing({ keys: [master, site] })
  const open = (text: string) => decrypt(ring, node, text, NOW, { clientType: "legacy" })
  // A V3/V4 token is 131 bytes around its raw UID; Base64 of 768 bytes is exactly 1,024 characters.
  const rawUidOf = (bytes: number) => Base64.encode(Uint8Array.from({ length: bytes }, (_, i) => (i * 7) & 0xff))
  const tokenWith = (version: 3 | 4, uid: string) =>
    Token.encode(
      node,
      { ...common, version, uid, identityScope: "UID2", identityType: "Email", privacyBits: 0 },
      handleOf(master, node),
      handleOf(site, node),
      GCM_NONCES
    )!

  it("the bound has a wide margin over real tokens: V2 180, V3 220, V4 219 characters", () => {
    expect(Token.MAX_TOKEN_LENGTH).toBe(1024)
    for (const text of [DV1, DV2, DV3, DV3_PADDED, DV4, CP1]) {
      expect(text.length * 4).toBeLessThanOrEqual(Token.MAX_TOKEN_LENGTH)
    }
    expect(Math.max(DV1.length, DV2.length, DV3_PADDED.length, DV4.length)).toBe(220)
  })

  it("a V3/V4 token of exactly MAX_TOKEN_LENGTH characters decrypts; one character more is too long", () => {
    const uid = rawUidOf(768 - 131)
    for (const version of [3, 4] as const) {
      const text = tokenWith(version, uid)
      expect(text).toHaveLength(Token.MAX_TOKEN_LENGTH)
      expect(open(text)).toMatchObject({ _tag: "DecryptedToken", uid, version })
      // 1,025 characters: invalid Base64 anyway, but the length decides first.
      expect(open(text + "A")).toMatchObject({ _tag: "InvalidPayload", detail: "token too long" })
      // The next real token size (one more raw UID byte: 1,028 characters padded, 1,026 unpadded) is refused too.
      const longer = tokenWith(version, rawUidOf(768 - 131 + 1))
      expect(longer).toHaveLength(version === 3 ? Token.MAX_TOKEN_LENGTH + 4 : Token.MAX_TOKEN_LENGTH + 2)
      expect(open(longer)).toMatchObject({ _tag: "InvalidPayload", detail: "token too long" })
    }
  })

  it("a raw UID of exactly MAX_RAW_UID_LENGTH characters encrypts to a token that decrypts; longer fails", () => {
    const keyed = sharingRing(NOW)
    const random = selectCrypto((n) => new Uint8Array(n).fill(9))
    const uid = rawUidOf((Token.MAX_RAW_UID_LENGTH / 4) * 3)
    expect(uid).toHaveLength(Token.MAX_RAW_UID_LENGTH)
    const text = encryptRawUid(keyed, random, uid, NOW)
    expect(typeof text).toBe("string")
    expect((text as string).length).toBeLessThanOrEqual(Token.MAX_TOKEN_LENGTH)
    expect(decrypt(keyed, random, text as string, NOW, { clientType: "sharing" })).toMatchObject({
      _tag: "DecryptedToken",
      uid
    })
    for (const longer of [uid + "A", rawUidOf((Token.MAX_RAW_UID_LENGTH / 4) * 3 + 1)]) {
      expect(longer.length).toBeGreaterThan(Token.MAX_RAW_UID_LENGTH)
      expect(encryptRawUid(keyed, random, longer, NOW)).toMatchObject({
        _tag: "EncryptionFailure",
        detail: "raw UID too long"
      })
    }
  })

  it("rawUidInfo reads 44 characters at most", () => {
    expect(PHONE_UID).toHaveLength(44)
    expect(Token.rawUidInfo(PHONE_UID)).toMatchObject({ generation: 3 })
    expect(Token.rawUidInfo(EXAMPLE_UID.slice(0, 43))).toEqual({ generation: 2 }) // padding is optional
    expect(Token.rawUidInfo(PHONE_UID + "=")).toBeUndefined()
    expect(Token.rawUidInfo(`${PHONE_UID}AAAA`)).toBeUndefined()
  })
})
