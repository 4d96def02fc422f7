// The arbitraries of the test kit keep the promises their docs make.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { isPhoneNormalized, normalizeEmail } from "../src/Dii.js"
import * as Base64 from "../src/internal/base64.js"
import * as Arb from "../src/testing/Arbitraries.js"
import type { KeySpec } from "../src/testing/Builders.js"
import { rawUidInfo } from "../src/Token.js"

const HOUR = 3_600_000

describe("raw UIDs, DII", () => {
  it.prop("v2: canonical padded Base64 of 32 bytes", [Arb.rawUidV2], ([uid]) => {
    expect(uid).toMatch(/^[A-Za-z0-9+/]{43}=$/)
    expect(Base64.encode(Base64.decode(uid)!)).toBe(uid)
    expect(rawUidInfo(uid)).toEqual({ generation: 2 })
  })

  it.prop("v3/v4: 44 characters, no padding, metadata byte readable", [Arb.rawUidV3, Arb.rawUidV4], ([v3, v4]) => {
    expect(v3).toMatch(/^[ABEF][A-Za-z0-9+/]{43}$/)
    expect(v4).toMatch(/^[A-Za-z0-9+/]{44}$/)
    expect(rawUidInfo(v3)).toMatchObject({ generation: 3, environment: 0 })
    expect(rawUidInfo(v4)).toMatchObject({ generation: 4 })
    const bytes = Base64.decode(v4)!
    expect(bytes.subarray(0, 32).reduce((x, b) => x ^ b, 0)).toBe(bytes[32])
  })

  it("B and F first characters occur for v2 and v3 raw UIDs", () => {
    for (const arb of [Arb.rawUidV2, Arb.rawUidV3]) {
      const firsts = new Set(FastCheck.sample(arb, { numRuns: 300, seed: 42 }).map((uid) => uid[0]))
      expect(firsts.has("B") && firsts.has("F")).toBe(true)
    }
  })

  it.prop("emails normalize, phones are E.164", [Arb.email, Arb.phone], ([email, phone]) => {
    expect(Either.isRight(normalizeEmail(email))).toBe(true)
    expect(isPhoneNormalized(phone)).toBe(true)
  })
})

describe("key rings", () => {
  it.prop("usable at now: valid for 2 more hours; sharing rings can encrypt; unique ids", [Arb.keyRing()], ([r]) => {
    expect(r.ring.isValid(r.now + 2 * HOUR)).toBe(true)
    if (r.kind === "sharing") {
      expect(r.activeMasterKey).toBeDefined()
      expect(r.activeDefaultKey).toBeDefined()
    }
    const ids = r.ringSpec.keys.map((k) => k.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const k of r.ringSpec.keys) {
      expect(Number.isSafeInteger(k.activates) && Number.isSafeInteger(k.expires)).toBe(true)
    }
  })

  it("rotations with expired and not-yet-active keys occur", () => {
    const rings = FastCheck.sample(Arb.keyRing({ kinds: ["sharing"] }), { numRuns: 100, seed: 7 })
    const some = (p: (k: KeySpec, now: number) => boolean) =>
      rings.some((r) => r.ringSpec.keys.some((k) => p(k, r.now)))
    expect(some((k, now) => k.expires <= now)).toBe(true)
    expect(some((k, now) => k.activates > now)).toBe(true)
    expect(rings.some((r) => r.ringSpec.keys.filter((k) => k.keysetId === r.ring.masterKeysetId).length > 2)).toBe(true)
  })
})

describe("tokens and mutations", () => {
  it.prop("token fields are safe integers, generated within the skew", [Arb.tokenSample()], ([s]) => {
    const t = s.tokenSpec
    for (const v of [t.expiry, t.generated, t.established, t.refreshed]) expect(Number.isSafeInteger(v)).toBe(true)
    expect(t.expiry).toBeGreaterThanOrEqual(s.now)
    expect(t.generated - s.now).toBeLessThanOrEqual(s.ring.allowClockSkewSeconds * 1000)
    expect(Arb.tokenBytes(s.text)?.version).toBe(t.version)
  }, { fastCheck: { numRuns: 100 } })

  it.prop(
    "FlipBit changes exactly one bit; truncations shorten",
    [Arb.tokenText().chain((text) => Arb.mutatedToken(text).map((m) => [text, m] as const))],
    ([[text, m]]) => {
      if (m.mutation._tag === "FlipBit") {
        const a = Base64.decode(text, "either")!
        const b = Base64.decode(m.text, "either")!
        expect(b.length).toBe(a.length)
        const diff = a.reduce((n, x, i) => n + ((x ^ b[i]!).toString(2).split("1").length - 1), 0)
        expect(diff).toBe(1)
      }
      if (m.mutation._tag === "TruncateText") expect(m.text.length).toBeLessThan(text.length)
      if (m.mutation._tag === "TruncateBytes") {
        expect(Base64.decode(m.text, "either")!.length).toBeLessThan(Arb.tokenBytes(text)!.bytes.length)
      }
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "ASCII case variants equal the name ignoring ASCII case",
    [Arb.domainOrAppName.chain((name) => Arb.asciiCaseVariant(name).map((v) => [name, v] as const))],
    ([[name, variant]]) => {
      expect(Arb.equalsIgnoringAsciiCase(name, variant)).toBe(true)
    }
  )
})
