import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { layerFromKeyStore, SharingClient } from "../src/Sharing.js"
import { conformanceKeys, key, keyRing, sharingRing, token } from "../src/testing/Builders.js"
import { crypto, CryptoDeterministic, CryptoLive, EXAMPLE_UID, PHONE_UID } from "./fixtures.js"
import { decrypt, encryptRawUid } from "./ringCrypto.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const VERSIONS = [2, 3, 4] as const
const [MASTER, SITE] = conformanceKeys(NOW).map(key) as [KeyRing.Key, KeyRing.Key]

const tagOf = (result: string | { readonly _tag: string }) => typeof result === "string" ? "token" : result._tag
const share = (ring: KeyRing.KeyRing | undefined, text: string, now = NOW) =>
  decrypt(ring, crypto, text, now, { clientType: "sharing" })
const tokenAt = (spec: Partial<Parameters<typeof token>[0]> = {}) =>
  token({ masterKey: MASTER, siteKey: SITE, now: NOW, ...spec })

describe("sharing decrypt (vectors S-1…S-5)", () => {
  it("S-1: established −120d, generated −1d, expiring +29d", () => {
    for (const scope of ["UID2", "EUID"] as const) {
      for (const version of VERSIONS) {
        const text = tokenAt({
          version,
          identityScope: scope,
          established: NOW - 120 * DAY,
          generated: NOW - DAY,
          expiry: NOW + 29 * DAY
        })
        expect(share(sharingRing(NOW, { identityScope: scope }), text)).toMatchObject({
          _tag: "DecryptedToken",
          uid: EXAMPLE_UID,
          established: NOW - 120 * DAY
        })
      }
    }
  })

  it("S-2 / S-3 / S-4: lifetime and skew limits (30 days, 30 minutes)", () => {
    const ring = sharingRing(NOW)
    for (const version of VERSIONS) {
      const generated = NOW - DAY
      const long = share(ring, tokenAt({ version, generated, expiry: generated + 30 * DAY + MIN }))._tag
      expect(long).toBe(version === 2 ? "DecryptedToken" : "InvalidTokenLifetime")
      expect(share(ring, tokenAt({ version, expiry: NOW + 30 * DAY + MIN }))._tag).toBe("InvalidTokenLifetime")
      if (version !== 2) {
        expect(share(ring, tokenAt({ version, generated: NOW + 31 * MIN, expiry: NOW + DAY }))._tag).toBe(
          "InvalidTokenLifetime"
        )
        expect(share(ring, tokenAt({ version, generated: NOW + 30 * MIN, expiry: NOW + DAY }))._tag).toBe(
          "DecryptedToken"
        )
      }
    }
  })

  it("S-5: legacy client ignores a generated time 99 days ahead", () => {
    const text = tokenAt({ generated: NOW + 99 * DAY, expiry: NOW + 100 * DAY })
    expect(decrypt(sharingRing(NOW), crypto, text, NOW, { clientType: "legacy" })._tag).toBe("DecryptedToken")
  })

  it("a client-side generated sharing token needs no domain", () => {
    expect(share(sharingRing(NOW), tokenAt({ privacyBits: 3 }))._tag).toBe("DecryptedToken")
  })
})

describe("sharing encrypt: V4 tokens under the active master and default keys (vectors S-6…S-13, T-4, T-5)", () => {
  it("S-6 / T-4: encrypt then decrypt; V4 text starting with A (UID2) or E (EUID)", () => {
    for (const scope of ["UID2", "EUID"] as const) {
      const ring = sharingRing(NOW, { identityScope: scope })
      const text = encryptRawUid(ring, crypto, EXAMPLE_UID, NOW) as string
      expect(text).not.toMatch(/[=+/]/)
      expect(text.slice(0, 2)).toBe(scope === "UID2" ? "A4" : "E4")
      expect(share(ring, text)).toMatchObject({
        _tag: "DecryptedToken",
        uid: EXAMPLE_UID,
        version: 4,
        siteId: 9000,
        identityScope: scope,
        established: NOW,
        generated: NOW,
        refreshed: NOW,
        expiry: NOW + 2_592_000_000,
        privacyBits: 0
      })
    }
  })

  it("T-5: identity type from the raw UID's first character, and the raw UID round-trips", () => {
    const ring = sharingRing(NOW)
    const cases: Array<[string, "Email" | "Phone"]> = [
      ["Q4bGug8t1xjsutKLCNjnb5fTlXSvIQukmahYDJeLBtk=", "Email"],
      [PHONE_UID, "Phone"],
      ["oKg0ZY9ieD/CGMEjAA0kcq+8aUbLMBG0MgCT3kWUnJs=", "Email"],
      ["AKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb", "Email"]
    ]
    for (const [uid, type] of cases) {
      expect(share(ring, encryptRawUid(ring, crypto, uid, NOW) as string)).toMatchObject({ uid, identityType: type })
    }
    const euid = sharingRing(NOW, { identityScope: "EUID" })
    const e = "EKCoNGWPYng/whjBIwANJHKvvGlGyzARtDIAk95FlJyb"
    expect(share(euid, encryptRawUid(euid, crypto, e, NOW) as string)).toMatchObject({ uid: e, identityType: "Email" })
  })

  it("S-7: another sharer with the same keys decrypts it", () => {
    const text = encryptRawUid(sharingRing(NOW), crypto, EXAMPLE_UID, NOW) as string
    const other = sharingRing(NOW, { callerSiteId: 4874, defaultKeysetId: 12345 })
    expect(share(other, text)).toMatchObject({ uid: EXAMPLE_UID, siteId: 9000 })
  })

  it("S-8: the active key of each keyset is chosen", () => {
    const ring = sharingRing(NOW, {
      keys: [
        ...conformanceKeys(NOW),
        { id: 264, keysetId: 1, activates: NOW - DAY, expires: NOW - HOUR, secret: new Uint8Array(32).fill(7) },
        { id: 265, keysetId: 99999, activates: NOW - DAY, expires: NOW - HOUR, secret: new Uint8Array(32).fill(8) }
      ]
    })
    const text = encryptRawUid(ring, crypto, EXAMPLE_UID, NOW) as string
    expect(share(ring, text)).toMatchObject({ uid: EXAMPLE_UID, masterKeyId: 164, siteKeyId: 165 })
  })

  it("S-9 / S-10 / S-12 / S-13: key errors", () => {
    expect(tagOf(encryptRawUid(undefined, crypto, EXAMPLE_UID, NOW))).toBe("NotInitialized")
    expect(encryptRawUid(sharingRing(NOW, { keys: [MASTER] }), crypto, EXAMPLE_UID, NOW)).toMatchObject({
      _tag: "NotAuthorizedForKey"
    })
    const noDefault = keyRing({ keys: [MASTER, SITE], masterKeysetId: 1, callerSiteId: 9000 })
    expect(encryptRawUid(noDefault, crypto, EXAMPLE_UID, NOW)).toMatchObject({ _tag: "NotAuthorizedForKey" })
    const expiredSite = sharingRing(NOW, {
      keys: [conformanceKeys(NOW)[0]!, {
        id: 165,
        keysetId: 99999,
        activates: NOW,
        expires: NOW - DAY,
        secret: new Uint8Array(32).fill(5)
      }]
    })
    expect(tagOf(encryptRawUid(expiredSite, crypto, EXAMPLE_UID, NOW))).toBe("NotAuthorizedForKey")
    const futureSite = sharingRing(NOW, {
      keys: [conformanceKeys(NOW)[0]!, {
        id: 165,
        keysetId: 99999,
        activates: NOW + DAY,
        expires: NOW + 2 * DAY,
        secret: new Uint8Array(32).fill(5)
      }]
    })
    expect(tagOf(encryptRawUid(futureSite, crypto, EXAMPLE_UID, NOW))).toBe("NotAuthorizedForKey")
    const allExpired = sharingRing(NOW, {
      keys: [{ id: 164, keysetId: 1, activates: NOW - 2 * DAY, expires: NOW - DAY, secret: new Uint8Array(32).fill(5) }]
    })
    expect(tagOf(encryptRawUid(allExpired, crypto, EXAMPLE_UID, NOW))).toBe("KeysNotSynced")
    const onlyFutureSite = sharingRing(NOW, {
      keys: [{
        id: 165,
        keysetId: 99999,
        activates: NOW + DAY,
        expires: NOW + 2 * DAY,
        secret: new Uint8Array(32).fill(5)
      }]
    })
    expect(tagOf(encryptRawUid(onlyFutureSite, crypto, EXAMPLE_UID, NOW))).toBe("NotAuthorizedForMasterKey")
  })

  it("ENCRYPTION_FAILURE for a raw UID that is not Base64", () => {
    for (const bad of ["", "not base64!", "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z-4Q0-lsEUvM="]) {
      expect(tagOf(encryptRawUid(sharingRing(NOW), crypto, bad, NOW))).toBe("EncryptionFailure")
    }
  })

  it("S-11: token_expiry_seconds = 2", () => {
    const ring = sharingRing(NOW, { tokenExpirySeconds: 2 })
    const text = encryptRawUid(ring, crypto, EXAMPLE_UID, NOW) as string
    expect(share(ring, text, NOW + 1000)._tag).toBe("DecryptedToken")
    const late = share(ring, text, NOW + 3000)
    expect(late._tag).toBe("ExpiredToken")
    expect(late._tag === "ExpiredToken" && late.token.expiry).toBe(NOW + 2000)
  })
})

describe("SharingClient service", () => {
  const layer = layerFromKeyStore().pipe(
    Layer.provide(
      Layer.mergeAll(KeyStore.layerMemoryWith(sharingRing(NOW, { tokenExpirySeconds: 3600 })), CryptoDeterministic(7))
    )
  )

  it.effect("encrypt/decrypt at TestClock time, batches, and catchTag", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const text = yield* SharingClient.encrypt(EXAMPLE_UID)
      expect((yield* SharingClient.decrypt(text)).generated).toBe(NOW)
      const client = yield* SharingClient
      const batch = yield* client.encryptAll([EXAMPLE_UID, "bad!", PHONE_UID])
      expect(batch.map((r) => typeof r === "string" ? "token" : r._tag)).toEqual([
        "token",
        "EncryptionFailure",
        "token"
      ])
      const decrypted = yield* client.decryptAll(batch.filter((r): r is string => typeof r === "string"))
      expect(decrypted.map((r) => r._tag === "DecryptedToken" ? r.uid : r._tag)).toEqual([EXAMPLE_UID, PHONE_UID])
      const message = yield* SharingClient.encrypt("").pipe(
        Effect.catchTag("EncryptionFailure", (e) => Effect.succeed(e.message))
      )
      expect(message).toContain("encryption failure")
      yield* TestClock.adjust("61 minutes")
      expect((yield* Effect.flip(SharingClient.decrypt(text)))._tag).toBe("ExpiredToken")
    }).pipe(Effect.provide(layer)))

  it.effect("the deterministic crypto layer makes encrypt reproducible", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const run = Effect.provide(
        SharingClient.encrypt(EXAMPLE_UID),
        layerFromKeyStore().pipe(
          Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(sharingRing(NOW)), CryptoDeterministic(99)))
        )
      )
      expect(yield* run).toBe(yield* run)
      const live = Effect.provide(
        SharingClient.encrypt(EXAMPLE_UID),
        layerFromKeyStore().pipe(Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(sharingRing(NOW)), CryptoLive)))
      )
      expect(yield* live).not.toBe(yield* live)
    }))
})
