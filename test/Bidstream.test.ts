import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { BidstreamClient, layerFromKeyStore } from "../src/Bidstream.js"
import * as Base64 from "../src/internal/base64.js"
import type * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { bidstreamRing, conformanceKeys, key, keyRing, token } from "../src/testing/Builders.js"
import { bidstreamBody, crypto, CryptoLive, EXAMPLE_UID, PHONE_UID, ringOf, sharingBody } from "./fixtures.js"
import { decrypt } from "./ringCrypto.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const MIN = 60_000
const DAY = 86_400_000
const VERSIONS = [2, 3, 4] as const
const [MASTER, SITE] = conformanceKeys(NOW).map(key) as [KeyRing.Key, KeyRing.Key]

const bid = (ring: KeyRing.KeyRing | undefined, text: string, domain?: string | null, now = NOW) =>
  decrypt(ring, crypto, text, now, { clientType: "bidstream", domainOrAppName: domain })
const tokenAt = (spec: Partial<Parameters<typeof token>[0]> = {}) =>
  token({ masterKey: MASTER, siteKey: SITE, now: NOW, ...spec })

describe("bidstream decrypt (vectors D-2…D-30)", () => {
  it("D-2: V2/V3/V4 × UID2/EUID decrypt to the raw UID", () => {
    for (const scope of ["UID2", "EUID"] as const) {
      const ring = bidstreamRing(NOW, { identityScope: scope })
      for (const version of VERSIONS) {
        const result = bid(ring, tokenAt({ version, identityScope: scope }))
        expect(result).toMatchObject({
          _tag: "DecryptedToken",
          uid: EXAMPLE_UID,
          version,
          identityType: version === 2 ? undefined : "Email",
          identityScope: scope,
          isClientSideGenerated: false
        })
      }
    }
  })

  it("D-3: phone raw UID, type Phone, first character B/F", () => {
    for (const scope of ["UID2", "EUID"] as const) {
      for (const version of [3, 4] as const) {
        const text = tokenAt({ version, identityScope: scope, identityType: "Phone", uid: PHONE_UID })
        expect(text[0]).toBe(scope === "UID2" ? "B" : "F")
        expect(bid(bidstreamRing(NOW, { identityScope: scope }), text)).toMatchObject({
          uid: PHONE_UID,
          identityType: "Phone"
        })
      }
    }
  })

  it("D-4 / D-5: no ring → NotInitialized; expired ring → KeysNotSynced", () => {
    const text = tokenAt()
    expect(bid(undefined, text)._tag).toBe("NotInitialized")
    const expired = keyRing({
      keys: [
        {
          id: 164,
          activates: NOW - 2 * 3_600_000,
          expires: NOW - 3_600_000,
          secret: Base64.encode(new Uint8Array(32).fill(1))
        },
        {
          id: 165,
          activates: NOW - 2 * 3_600_000,
          expires: NOW - 3_600_000,
          secret: Base64.encode(new Uint8Array(32).fill(2))
        }
      ]
    })
    expect(bid(expired, text)._tag).toBe("KeysNotSynced")
  })

  it("D-6 / D-7: unknown master key, missing site key", () => {
    for (const version of VERSIONS) {
      const text = tokenAt({ version })
      const other = keyRing({
        keys: [
          { id: 164 + 165 + 1, activates: NOW, expires: NOW + 3_600_000, secret: new Uint8Array(32).fill(3) },
          { id: 164 + 165 + 2, activates: NOW, expires: NOW + 3_600_000, secret: new Uint8Array(32).fill(4) }
        ]
      })
      expect(bid(other, text)).toMatchObject({ _tag: "NotAuthorizedForMasterKey", keyId: 164 })
      expect(bid(keyRing({ keys: [SITE] }), text)._tag).toBe("NotAuthorizedForMasterKey")
      expect(bid(keyRing({ keys: [MASTER] }), text)).toMatchObject({ _tag: "NotAuthorizedForKey", keyId: 165 })
    }
  })

  it("D-8: truncated and empty tokens → InvalidPayload", () => {
    const ring = bidstreamRing(NOW)
    for (const version of VERSIONS) {
      const bytes = Base64.decode(tokenAt({ version }), version === 4 ? "url" : "standard")!
      const cut = bytes.subarray(0, bytes.length - 1)
      const text = version === 4 ? Base64.encodeUrl(cut) : Base64.encode(cut)
      expect(bid(ring, text)._tag).toBe("InvalidPayload")
    }
    expect(bid(ring, "")._tag).toBe("InvalidPayload")
    expect(bid(ring, "abc")._tag).toBe("InvalidPayload")
  })

  it("D-9: custom now around expiry; the error carries the expiry", () => {
    const expiry = Date.UTC(2021, 2, 22, 9, 1, 2)
    const ring = bidstreamRing(expiry - 60_000)
    for (const version of VERSIONS) {
      const text = token({
        masterKey: ring.keyById(164)!,
        siteKey: ring.keyById(165)!,
        now: expiry - 60_000,
        version,
        expiry
      })
      const late = bid(ring, text, null, expiry + 1000)
      expect(late._tag).toBe("ExpiredToken")
      expect(late._tag === "ExpiredToken" && late.token.expiry).toBe(expiry)
      expect(bid(ring, text, null, expiry - 1000)._tag).toBe("DecryptedToken")
      expect(bid(ring, text, null, expiry)._tag).toBe("DecryptedToken") // exactly at expiry is still valid
      expect(bid(ring, text, null, expiry + 1)._tag).toBe("ExpiredToken")
    }
  })

  it("D-11: unsupported versions", () => {
    const ring = bidstreamRing(NOW)
    const v4 = Base64.decode(tokenAt({ version: 4 }), "url")!
    const v1 = Uint8Array.from(v4)
    v1[1] = 1
    expect(bid(ring, Base64.encodeUrl(v1))._tag).toBe("VersionNotSupported")
    const v2 = Base64.decode(tokenAt({ version: 2 }))!
    const first1 = Uint8Array.from(v2)
    first1[0] = 1
    expect(bid(ring, Base64.encode(first1))._tag).toBe("VersionNotSupported")
  })

  it("D-12: scope mismatch → InvalidIdentityScope (V3/V4)", () => {
    for (const version of [3, 4] as const) {
      expect(bid(bidstreamRing(NOW), tokenAt({ version, identityScope: "EUID" }))._tag).toBe("InvalidIdentityScope")
      expect(bid(bidstreamRing(NOW, { identityScope: "EUID" }), tokenAt({ version }))._tag).toBe("InvalidIdentityScope")
    }
  })

  it("D-20 / D-21: lifetime limits (3 days)", () => {
    const ring = bidstreamRing(NOW)
    for (const version of VERSIONS) {
      const generated = NOW - DAY
      const long = tokenAt({ version, generated, expiry: generated + 3 * DAY + MIN })
      const result = bid(ring, long)
      if (version === 2) expect(result._tag).toBe("DecryptedToken")
      else {
        expect(result._tag).toBe("InvalidTokenLifetime")
        expect(result).toMatchObject({ token: { version, identityType: "Email" } })
      }
      expect(bid(ring, tokenAt({ version, expiry: NOW + 3 * DAY + MIN }))._tag).toBe("InvalidTokenLifetime")
      expect(bid(ring, tokenAt({ version, expiry: NOW + 3 * DAY }))._tag).toBe("DecryptedToken")
    }
  })

  it("D-22: clock skew 30 minutes (boundary inclusive)", () => {
    const ring = bidstreamRing(NOW)
    for (const version of [3, 4] as const) {
      expect(bid(ring, tokenAt({ version, generated: NOW + 31 * MIN, expiry: NOW + DAY }))._tag).toBe(
        "InvalidTokenLifetime"
      )
      expect(bid(ring, tokenAt({ version, generated: NOW + 30 * MIN, expiry: NOW + DAY }))._tag).toBe("DecryptedToken")
      expect(bid(ring, tokenAt({ version, generated: NOW + 30 * MIN + 1, expiry: NOW + DAY }))._tag).toBe(
        "InvalidTokenLifetime"
      )
    }
    expect(bid(ring, tokenAt({ version: 2, generated: NOW + 30 * MIN, expiry: NOW + DAY }))._tag).toBe("DecryptedToken")
  })

  it("D-23: a sharing-format (legacy operator) key response works for a bidstream client", () => {
    const ring = ringOf(sharingBody(conformanceKeys(NOW).map((k) => ({ ...k, secret: k.secret as string }))))
    for (const version of VERSIONS) expect(bid(ring, tokenAt({ version }))._tag).toBe("DecryptedToken")
    const fromJson = ringOf(bidstreamBody(conformanceKeys(NOW).map((k) => ({ ...k, secret: k.secret as string }))))
    expect(fromJson.maxBidstreamLifetimeSeconds).toBe(3 * 86_400)
  })

  it("D-24: legacy client skips lifetime checks", () => {
    const ring = bidstreamRing(NOW)
    for (const version of VERSIONS) {
      const text = tokenAt({ version, generated: NOW + 31 * MIN, expiry: NOW + 3 * DAY + MIN })
      expect(decrypt(ring, crypto, text, NOW, { clientType: "legacy" })._tag).toBe("DecryptedToken")
    }
  })

  it("D-25…D-29: domain/app-name check for client-side generated tokens", () => {
    const ring = bidstreamRing(NOW)
    for (const version of VERSIONS) {
      const cstg = tokenAt({ version, privacyBits: 2 })
      for (
        const ok of [
          "example.com",
          "example.org",
          "com.123.Game.App.android",
          "123456789",
          "Example.com",
          "Example.Org",
          "com.123.Game.app.android",
          "EXAMPLE.COM"
        ]
      ) {
        expect(bid(ring, cstg, ok), ok).toMatchObject({ _tag: "DecryptedToken", isClientSideGenerated: true })
      }
      for (
        const bad of [
          null,
          undefined,
          "",
          "example.net",
          "example.edu",
          "com.123.Game.App.ios",
          "123456780",
          "foo.com",
          "*",
          "example",
          "example*",
          " example.com",
          "sub.example.com"
        ]
      ) {
        const result = bid(ring, cstg, bad)
        expect(result._tag, String(bad)).toBe("DomainOrAppNameCheckFailed")
        expect(result).toMatchObject({ token: { isClientSideGenerated: true } })
        expect("uid" in result).toBe(false)
      }
      const plain = tokenAt({ version, privacyBits: 1 })
      for (const any of [null, "", "example.net", "foo.com", "com.uid2.devapp"]) {
        expect(bid(ring, plain, any)).toMatchObject({ _tag: "DecryptedToken", isClientSideGenerated: false })
      }
    }
  })

  it("D-30: opted-out privacy bit → UserOptedOut without the raw UID", () => {
    for (const version of VERSIONS) {
      const result = bid(bidstreamRing(NOW), tokenAt({ version, privacyBits: 4 }))
      expect(result._tag).toBe("UserOptedOut")
      expect("uid" in result).toBe(false)
    }
  })

  it("failures with decrypted fields never carry the raw UID", () => {
    const result = bid(bidstreamRing(NOW), tokenAt({ expiry: NOW - 1 }))
    expect(result._tag).toBe("ExpiredToken")
    expect(JSON.stringify(result)).not.toContain(EXAMPLE_UID)
  })
})

describe("BidstreamClient service", () => {
  const layer = (ring: KeyRing.KeyRing) =>
    layerFromKeyStore().pipe(Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(ring), CryptoLive)))

  it.effect("decrypts at TestClock time and fails with catchTag-able errors", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const text = tokenAt({ expiry: NOW + MIN })
      const ok = yield* BidstreamClient.decrypt(text, "example.com")
      expect(ok.uid).toBe(EXAMPLE_UID)
      yield* TestClock.adjust("2 minutes")
      const recovered = yield* BidstreamClient.decrypt(text).pipe(
        Effect.catchTag("ExpiredToken", (e) => Effect.succeed(`expired at ${e.token.expiry}`))
      )
      expect(recovered).toBe(`expired at ${NOW + MIN}`)
      const client = yield* BidstreamClient
      expect(client.decryptSync(text, null, NOW)._tag).toBe("DecryptedToken")
      expect(client.decryptSync(text, null, NOW + 2 * MIN)._tag).toBe("ExpiredToken")
    }).pipe(Effect.provide(layer(bidstreamRing(NOW)))))

  it.effect("sees a new ring as soon as the store holds it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const store = yield* KeyStore.KeyStore
      const client = yield* BidstreamClient
      const text = tokenAt()
      expect(client.decryptSync(text, null, NOW)._tag).toBe("NotInitialized")
      yield* store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      yield* client.awaitReady()
      expect((yield* client.decrypt(text)).uid).toBe(EXAMPLE_UID)
      expect((yield* Effect.flip(client.decrypt("garbage!")))._tag).toBe("VersionNotSupported") // "garb" decodes
      expect((yield* Effect.flip(client.decrypt("!garbage")))._tag).toBe("InvalidPayload")
    }).pipe(
      Effect.provide(layerFromKeyStore().pipe(Layer.provideMerge(Layer.mergeAll(KeyStore.layerMemory, CryptoLive))))
    ))

  it("decryptSync defaults to the wall clock", () => {
    const now = Date.now()
    const ring = bidstreamRing(now)
    const text = token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now })
    // The client lives as long as its layer's scope: use it inside.
    const result = Effect.runSync(Effect.scoped(
      Effect.map(Layer.build(layer(ring)), (context) => Context.get(context, BidstreamClient).decryptSync(text))
    ))
    expect(Either.right(result)).toMatchObject(Either.right({ uid: EXAMPLE_UID }))
  })
})
