// Property tests of token decrypt and sharing encrypt over the arbitraries of src/testing/Arbitraries.ts.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { type CryptoShape, layerDeterministic, makeNode, seededRandom } from "../src/Crypto.js"
import type { DecryptError } from "../src/DecryptError.js"
import { readInt32 } from "../src/internal/bytes.js"
import type { KeyRing } from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { layerFromKeyStore, SharingClient } from "../src/Sharing.js"
import * as Arb from "../src/testing/Arbitraries.js"
import { keyRing, type KeySpec, token } from "../src/testing/Builders.js"
import type { DecryptedToken } from "../src/Token.js"
import { type ClientType, decrypt, type DecryptResult, encryptRawUid } from "./ringCrypto.js"

const crypto: CryptoShape = makeNode(seededRandom(20_251_128))

// Every DecryptError tag; the Record type makes a new tag in DecryptError.ts a compile error here.
const DECRYPT_ERROR_TAGS: Record<DecryptError["_tag"], true> = {
  NotInitialized: true,
  KeysNotSynced: true,
  InvalidPayload: true,
  VersionNotSupported: true,
  InvalidIdentityScope: true,
  NotAuthorizedForMasterKey: true,
  NotAuthorizedForKey: true,
  ExpiredToken: true,
  UserOptedOut: true,
  DomainOrAppNameCheckFailed: true,
  InvalidTokenLifetime: true
}

/** Whether a decrypt result is a token or a typed error: an Error whose `_tag` is a DecryptError tag. */
const isTypedResult = (result: DecryptResult): boolean =>
  result._tag === "DecryptedToken" || (result instanceof Error && Object.hasOwn(DECRYPT_ERROR_TAGS, result._tag))

/** A typed error, never a token. */
const expectTypedError = (result: DecryptResult): void => {
  expect(result._tag).not.toBe("DecryptedToken")
}

/**
 * decrypt, failing the property if it throws or returns anything but a token
 * or a typed error (plain checks first: this runs tens of thousands of times).
 */
const decryptSafely = (
  ring: KeyRing | undefined,
  text: string,
  now: number,
  clientType: ClientType,
  domainOrAppName?: string | null
): DecryptResult => {
  let result: DecryptResult
  try {
    result = decrypt(ring, crypto, text, now, { clientType, domainOrAppName })
  } catch (error) {
    return expect.fail(`decrypt threw ${String(error)} for ${JSON.stringify(text)}`)
  }
  if (!isTypedResult(result)) expect.fail(`decrypt returned an untyped result: ${String(result)}`)
  return result
}

/**
 * What decrypting a built token must report, computed from the token layouts alone: V2 carries no identity
 * type, generated or refreshed time, publisher, client key or operator fields.
 */
const expectedToken = (s: Arb.TokenSample): DecryptedToken => {
  const t = s.tokenSpec
  const v2 = t.version === 2
  return {
    _tag: "DecryptedToken",
    uid: t.uid,
    version: t.version,
    identityScope: s.ring.identityScope,
    identityType: v2 ? undefined : t.identityType,
    masterKeyId: t.masterKey.id,
    siteKeyId: t.siteKey.id,
    siteKeySiteId: t.siteKey.siteId ?? 0,
    expiry: t.expiry,
    generated: v2 ? undefined : t.generated,
    established: t.established,
    refreshed: v2 ? undefined : t.refreshed,
    siteId: t.siteId,
    publisherId: v2 ? 0 : t.publisherId,
    clientKeyId: v2 ? 0 : t.clientKeyId,
    privacyBits: t.privacyBits,
    isClientSideGenerated: (t.privacyBits & 2) !== 0,
    operator: v2 ? undefined : t.operator
  }
}

/**
 * The active key of a keyset, computed independently of KeyRing: of the keyset's keys active at `now`
 * (`activates <= now < expires`), the one activated last; on a tie, the later one in the response.
 */
const expectedActiveKeyId = (keys: ReadonlyArray<KeySpec>, keysetId: number | undefined, now: number) => {
  let best: KeySpec | undefined
  for (const k of keys) {
    if (k.keysetId !== keysetId || k.activates > now || k.expires <= now) continue
    if (best === undefined || k.activates >= best.activates) best = k
  }
  return best?.id
}

const CLIENT_TYPES = ["sharing", "bidstream", "legacy"] as const
const LIMITED_CLIENT_TYPES = ["sharing", "bidstream"] as const

// ---------------------------------------------------------------------------

describe("sharing encrypt → decrypt (V4 under the active master and default keys)", () => {
  const sharingCase = FastCheck.tuple(
    Arb.keyRing({ kinds: ["sharing"] }),
    Arb.rawUid,
    FastCheck.integer({ min: 0, max: 2 ** 31 }),
    FastCheck.double({ min: 0, max: 1, noNaN: true })
  )

  it.prop(
    "returns the raw UID and the sharing fields, at any time before expiry",
    [sharingCase],
    ([[r, uid, seed, later]]) => {
      const text = encryptRawUid(r.ring, makeNode(seededRandom(seed)), uid, r.now)
      expect(typeof text, typeof text === "string" ? text : text._tag).toBe("string")
      const expiry = r.now + r.ring.tokenExpirySeconds * 1000
      expect(text as string).toMatch(/^[A-Za-z0-9_-]+$/) // Base64URL without padding
      expect((text as string).slice(0, 2)).toBe(
        `${r.ring.identityScope === "EUID" ? (/^[BF]/.test(uid) ? "F" : "E") : /^[BF]/.test(uid) ? "B" : "A"}4`
      )
      // Decrypt at now or any later time at which the token has not expired and the ring is still valid.
      const at = r.now + Math.floor((Math.min(expiry, r.ring.latestKeyExpiry - 1) - r.now) * later)
      expect(decryptSafely(r.ring, text as string, at, "sharing")).toEqual({
        _tag: "DecryptedToken",
        uid,
        version: 4,
        identityScope: r.ring.identityScope,
        identityType: uid.startsWith("B") || uid.startsWith("F") ? "Phone" : "Email",
        masterKeyId: expectedActiveKeyId(r.ringSpec.keys, r.ring.masterKeysetId, r.now),
        siteKeyId: expectedActiveKeyId(r.ringSpec.keys, r.ring.defaultKeysetId, r.now),
        siteKeySiteId: 0,
        expiry,
        generated: r.now,
        established: r.now,
        refreshed: r.now,
        siteId: r.ring.callerSiteId,
        publisherId: 0,
        clientKeyId: 0,
        privacyBits: 0,
        isClientSideGenerated: false,
        operator: { siteId: 0, type: 1, version: 0, keyId: 0 }
      })
    },
    { fastCheck: { numRuns: 300 } }
  )

  // TestClock.setTime/adjust each wait for a few real timer ticks, so every run checks a batch of raw UIDs.
  it.effect.prop(
    "SharingClient under TestClock: round trip, then ExpiredToken 1 ms after expiry",
    [
      Arb.keyRing({ kinds: ["sharing"] }),
      FastCheck.array(Arb.rawUid, { minLength: 1, maxLength: 6 }),
      FastCheck.integer({ min: 0, max: 2 ** 31 }),
      FastCheck.double({ min: 0, max: 1, noNaN: true })
    ],
    ([r, uids, seed, later]) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(r.now)
        const texts = yield* Effect.forEach(uids, SharingClient.encrypt)
        const expiry = r.now + r.ring.tokenExpirySeconds * 1000
        yield* TestClock.adjust(Math.floor((Math.min(expiry, r.ring.latestKeyExpiry - 1) - r.now) * later))
        const decrypted = yield* Effect.forEach(texts, SharingClient.decrypt)
        decrypted.forEach((token, i) => {
          const uid = uids[i]!
          expect(token).toMatchObject({
            uid,
            identityScope: r.ring.identityScope,
            identityType: /^[BF]/.test(uid) ? "Phone" : "Email",
            siteId: r.ring.callerSiteId,
            established: r.now,
            generated: r.now,
            refreshed: r.now,
            expiry
          })
        })
        yield* TestClock.setTime(expiry + 1)
        const late = yield* Effect.forEach(texts, (text) => Effect.flip(SharingClient.decrypt(text)))
        expect(late.map((e) => e._tag)).toEqual(
          texts.map(() => expiry + 1 < r.ring.latestKeyExpiry ? "ExpiredToken" : "KeysNotSynced")
        )
      }).pipe(
        Effect.provide(
          layerFromKeyStore().pipe(
            Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(r.ring), layerDeterministic(seed)))
          )
        )
      ),
    { fastCheck: { numRuns: 30 } }
  )
})

// ---------------------------------------------------------------------------

describe("built V2/V3/V4 tokens decrypt to their fields", () => {
  it.prop(
    "every version, every client type: decrypt returns exactly the built fields",
    [
      FastCheck.constantFrom(...CLIENT_TYPES).chain((clientType) =>
        Arb.tokenSample({
          clientType,
          // The domain check is covered below; here client-side generated tokens go to non-bidstream clients.
          ...(clientType === "bidstream" ? { privacyBits: Arb.serverSideGeneratedPrivacyBits } : {})
        }).map((sample) => [clientType, sample] as const)
      )
    ],
    ([[clientType, s]]) => {
      expect(decryptSafely(s.ring, s.text, s.now, clientType)).toEqual(expectedToken(s))
    },
    { fastCheck: { numRuns: 400 } }
  )
})

// ---------------------------------------------------------------------------

describe("mutated tokens (version header and both layers; GCM has no AAD, CBC no MAC)", () => {
  const sharingToken = Arb.tokenSample({ clientType: "sharing" })

  /**
   * What a single bit flip must give. V3/V4: the prefix and version bytes are
   * not authenticated, so ignored prefix bits still decrypt, type bits still
   * decrypt with the new type, the scope bit gives InvalidIdentityScope, a
   * prefix of 0x02 reads as V2 (an error), the version byte gives
   * VersionNotSupported; the master key id gives NotAuthorizedForMasterKey (or
   * InvalidPayload if the new id is another ring key); anything from byte 6 on
   * is under GCM and gives InvalidPayload. V2 is AES-CBC without a MAC, so
   * only its header (bytes 0–4) is checked exactly.
   */
  const expectFlipOutcome = (
    s: Arb.TokenSample,
    original: DecryptedToken,
    bytes: Uint8Array,
    byte: number,
    bit: number,
    result: DecryptResult
  ): void => {
    const flipped = Uint8Array.from(bytes)
    flipped[byte] = flipped[byte]! ^ (1 << bit)
    const keyIdOutcome = (offset: number) => {
      const keyId = readInt32(flipped, offset)
      if (s.ring.keyById(keyId) === undefined) {
        expect(result).toMatchObject({ _tag: "NotAuthorizedForMasterKey", keyId })
      } else if (s.tokenSpec.version === 2) {
        expectTypedError(result) // another key's CBC output is garbage, whatever it fails on
      } else {
        expect(result._tag).toBe("InvalidPayload")
      }
    }
    if (s.tokenSpec.version === 2) {
      if (byte === 0) {
        if (flipped[1] === 112 || flipped[1] === 128) expectTypedError(result)
        else expect(result._tag).toBe("VersionNotSupported")
      } else if (byte <= 4) {
        keyIdOutcome(1)
      }
      // bytes 5…: CBC is malleable; the result need only be typed (checked by decryptSafely).
      return
    }
    if (byte === 0) {
      if (flipped[0] === 2) expectTypedError(result) // now reads as a V2 token
      else if (bit === 4) expect(result._tag).toBe("InvalidIdentityScope")
      else if (bit === 2 || bit === 3) {
        expect(result).toEqual({ ...original, identityType: ((flipped[0]! >> 2) & 3) === 0 ? "Email" : "Phone" })
      } else expect(result).toEqual(original)
    } else if (byte === 1) {
      expect(result._tag).toBe("VersionNotSupported")
    } else if (byte <= 5) {
      keyIdOutcome(2)
    } else {
      expect(result._tag).toBe("InvalidPayload")
    }
  }

  const expectMutationOutcome = (s: Arb.TokenSample, original: DecryptedToken, m: Arb.MutatedToken): void => {
    const result = decryptSafely(s.ring, m.text, s.now, "sharing")
    const { bytes, version } = Arb.tokenBytes(s.text)!
    const mutation = m.mutation
    switch (mutation._tag) {
      case "FlipBit":
        return expectFlipOutcome(s, original, bytes, mutation.byte, mutation.bit, result)
      case "TruncateBytes":
      case "AppendBytes":
        return expect(result._tag).toBe("InvalidPayload")
      case "TruncateText":
        // Dropping only `=` padding leaves the same bytes; any other cut is invalid.
        if (m.text.length === s.text.replace(/=+$/, "").length) return expect(result).toEqual(original)
        return expect(result._tag).toBe("InvalidPayload")
      case "ReplaceBody":
        if (version !== 2 && mutation.keep >= 6) return expect(result._tag).toBe("InvalidPayload")
        return expectTypedError(result)
      case "RandomBytes":
      case "RandomString":
        return expectTypedError(result)
      case "SwapAlphabet": {
        // V4 decodes either alphabet, unless the first four characters, which pick the header's alphabet, mix them;
        // V2/V3 must be standard Base64, with or without padding.
        const head = m.text.slice(0, 4)
        const same = version === 4
          ? !(/[+/]/.test(head) && /[-_]/.test(head))
          : mutation.positions.length === 0
        return same ? expect(result).toEqual(original) : expect(result._tag).toBe("InvalidPayload")
      }
    }
  }

  it.prop(
    "every mutation gives a typed error (or, where nothing authenticated changed, the same token); never throws",
    [sharingToken.chain((s) => Arb.mutatedToken(s.text).map((m) => [s, m] as const))],
    ([[s, m]]) => {
      const original = decryptSafely(s.ring, s.text, s.now, "sharing")
      expect(original).toEqual(expectedToken(s))
      expectMutationOutcome(s, original as DecryptedToken, m)
    },
    { fastCheck: { numRuns: 1500 } }
  )

  it.prop("every single-bit flip of every byte, exhaustively", [sharingToken], ([s]) => {
    const original = decryptSafely(s.ring, s.text, s.now, "sharing") as DecryptedToken
    const { bytes, alphabet } = Arb.tokenBytes(s.text)!
    for (let byte = 0; byte < bytes.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Uint8Array.from(bytes)
        flipped[byte] = flipped[byte]! ^ (1 << bit)
        const result = decryptSafely(s.ring, Arb.encodeBytes(flipped, alphabet), s.now, "sharing")
        expectFlipOutcome(s, original, bytes, byte, bit, result)
      }
    }
  }, { fastCheck: { numRuns: 24 } })

  it.prop(
    "random strings and Base64 of random bytes give a typed error, never throw",
    [FastCheck.oneof(Arb.randomString, Arb.randomBytesText), Arb.keyRing(), FastCheck.constantFrom(...CLIENT_TYPES)],
    ([text, r, clientType]) => {
      expectTypedError(decryptSafely(r.ring, text, r.now, clientType))
    },
    { fastCheck: { numRuns: 1000 } }
  )
})

// ---------------------------------------------------------------------------

describe("time boundaries (expiry, lifetime and clock-skew limits)", () => {
  it.prop(
    "expiry: valid exactly at expiry, ExpiredToken 1 ms later (every version)",
    [
      FastCheck.constantFrom(...CLIENT_TYPES).chain((clientType) =>
        Arb.tokenSample({ clientType, privacyBits: Arb.serverSideGeneratedPrivacyBits }).map((s) =>
          [clientType, s] as const
        )
      )
    ],
    ([[clientType, s]]) => {
      const expiry = s.tokenSpec.expiry
      expect(decryptSafely(s.ring, s.text, expiry, clientType)).toEqual(expectedToken(s))
      const late = decryptSafely(s.ring, s.text, expiry + 1, clientType)
      expect(late).toMatchObject({ _tag: "ExpiredToken", token: { expiry, version: s.tokenSpec.version } })
      expect("uid" in late).toBe(false)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "clock skew (V3/V4): generated = now + skew is valid, 1 ms more is InvalidTokenLifetime; V2 has no generated",
    [
      FastCheck.constantFrom(...LIMITED_CLIENT_TYPES).chain((clientType) =>
        Arb.tokenSample({ clientType, privacyBits: Arb.serverSideGeneratedPrivacyBits }).map((s) =>
          [clientType, s] as const
        )
      )
    ],
    ([[clientType, s]]) => {
      const skew = s.ring.allowClockSkewSeconds * 1000
      const limit = clientType === "bidstream" ? s.ring.maxBidstreamLifetimeSeconds : s.ring.maxSharingLifetimeSeconds
      const generated = s.now + skew
      // Keep the built lifetime, 1 ms short of the limit at most (to leave room for the +1 ms). V2 has no
      // generated time: its lifetime runs from now.
      const lifetime = Math.min(
        s.tokenSpec.expiry - s.tokenSpec.generated,
        limit === undefined ? Infinity : limit * 1000 - 1
      )
      const expiry = (s.tokenSpec.version === 2 ? s.now : generated) + lifetime
      const build = (g: number) => token({ ...s.tokenSpec, generated: g, refreshed: g, expiry })
      const atSkew = decryptSafely(s.ring, build(generated), s.now, clientType)
      const beyond = decryptSafely(s.ring, build(generated + 1), s.now, clientType)
      expect(atSkew._tag).toBe("DecryptedToken")
      expect(beyond._tag).toBe(s.tokenSpec.version === 2 ? "DecryptedToken" : "InvalidTokenLifetime")
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "lifetime: expiry − generated = max is valid, 1 ms more is InvalidTokenLifetime (bidstream, sharing; not legacy)",
    [
      FastCheck.constantFrom(...LIMITED_CLIENT_TYPES).chain((clientType) =>
        Arb.tokenSample({
          kinds: clientType === "sharing" ? ["sharing"] : ["sharing", "bidstream"],
          clientType,
          lifetimeLimits: "always",
          privacyBits: Arb.serverSideGeneratedPrivacyBits
        })
          .chain((s) => FastCheck.double({ min: 0, max: 1, noNaN: true }).map((age) => [clientType, s, age] as const))
      )
    ],
    ([[clientType, s, age]]) => {
      const max = (clientType === "bidstream" ? s.ring.maxBidstreamLifetimeSeconds : s.ring.maxSharingLifetimeSeconds)!
      // V2 measures from now (it has no generated time), V3/V4 from generated, anywhere up to max before now.
      const generated = s.tokenSpec.version === 2 ? s.now : s.now - Math.floor(max * 1000 * age)
      const build = (expiry: number) => token({ ...s.tokenSpec, generated, refreshed: generated, expiry })
      const atMax = build(generated + max * 1000)
      const beyond = build(generated + max * 1000 + 1)
      expect(decryptSafely(s.ring, atMax, s.now, clientType)).toMatchObject({
        _tag: "DecryptedToken",
        expiry: generated + max * 1000
      })
      expect(decryptSafely(s.ring, beyond, s.now, clientType)).toMatchObject({
        _tag: "InvalidTokenLifetime",
        token: { expiry: generated + max * 1000 + 1 }
      })
      expect(decryptSafely(s.ring, beyond, s.now, "legacy")._tag).toBe("DecryptedToken")
    },
    { fastCheck: { numRuns: 300 } }
  )
})

// ---------------------------------------------------------------------------

describe("domain / app-name check (client-side generated tokens only)", () => {
  const namesOf = (s: Arb.TokenSample, siteId: number): ReadonlyArray<string> => s.ringSpec.sites?.[siteId] ?? []
  const allNames = (s: Arb.TokenSample): ReadonlyArray<string> => Object.values(s.ringSpec.sites ?? {}).flat()
  const cstg = Arb.tokenSample({
    kinds: ["bidstream"],
    clientType: "bidstream",
    privacyBits: Arb.clientSideGeneratedPrivacyBits
  })

  it.prop(
    "a client-side generated token passes with any ASCII-case variant of an allowed name",
    [
      cstg.filter((s) => namesOf(s, s.tokenSpec.siteId).length > 0).chain((s) =>
        FastCheck.constantFrom(...namesOf(s, s.tokenSpec.siteId)).chain(Arb.asciiCaseVariant).map((name) =>
          [s, name] as const
        )
      )
    ],
    ([[s, name]]) => {
      expect(decryptSafely(s.ring, s.text, s.now, "bidstream", name)).toEqual(expectedToken(s))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "a client-side generated token fails with any other name (other sites', near misses, Unicode case maps, null)",
    [
      cstg.chain((s) =>
        FastCheck.option(Arb.nearMissName(allNames(s)), { nil: null, freq: 20 })
          .filter((name) =>
            name === null || !namesOf(s, s.tokenSpec.siteId).some((n) => Arb.equalsIgnoringAsciiCase(n, name))
          )
          .map((name) => [s, name] as const)
      )
    ],
    ([[s, name]]) => {
      const result = decryptSafely(s.ring, s.text, s.now, "bidstream", name)
      expect(result).toMatchObject({ _tag: "DomainOrAppNameCheckFailed", token: { isClientSideGenerated: true } })
      expect("uid" in result).toBe(false)
    },
    { fastCheck: { numRuns: 600 } }
  )

  it.prop(
    "a token that is not client-side generated passes with any name, null or none",
    [
      Arb.tokenSample({
        kinds: ["bidstream"],
        clientType: "bidstream",
        privacyBits: Arb.serverSideGeneratedPrivacyBits
      })
        .chain((s) =>
          FastCheck.oneof(
            Arb.nearMissName(allNames(s)),
            FastCheck.constant(null),
            FastCheck.constant(undefined)
          ).map((name) => [s, name] as const)
        )
    ],
    ([[s, name]]) => {
      expect(decryptSafely(s.ring, s.text, s.now, "bidstream", name)).toEqual(expectedToken(s))
    },
    { fastCheck: { numRuns: 300 } }
  )
})

// ---------------------------------------------------------------------------

describe("decrypt is total", () => {
  const anyRing: FastCheck.Arbitrary<KeyRing | undefined> = FastCheck.oneof(
    Arb.keyRing().map((r) => r.ring),
    Arb.keyRing({ activeKeys: false }).map((r) => r.ring),
    FastCheck.constant(undefined),
    FastCheck.constant(keyRing({ keys: [] }))
  )
  const anyText = FastCheck.oneof(
    Arb.randomString,
    Arb.randomBytesText,
    Arb.tokenText(),
    Arb.tokenText().chain(Arb.mutatedToken).map((m) => m.text)
  )
  const anyNow = FastCheck.oneof(
    Arb.timestamp,
    FastCheck.integer(),
    FastCheck.maxSafeInteger(),
    FastCheck.double()
  )

  it.prop(
    "decrypt never throws and always returns a token or a typed error",
    [
      anyRing,
      anyText,
      anyNow,
      FastCheck.constantFrom(...CLIENT_TYPES),
      FastCheck.option(FastCheck.string(), { nil: null })
    ],
    ([ring, text, now, clientType, domain]) => {
      decryptSafely(ring, text, now, clientType, domain)
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "sharing encrypt never throws for any raw UID text, ring and time",
    [FastCheck.oneof(Arb.rawUid, Arb.randomString), anyRing, anyNow],
    ([uid, ring, now]) => {
      let result: ReturnType<typeof encryptRawUid> | undefined
      expect(() => {
        result = encryptRawUid(ring, crypto, uid, now)
      }).not.toThrow()
      if (typeof result !== "string") expect(result).toBeInstanceOf(Error)
    },
    { fastCheck: { numRuns: 500 } }
  )
})
