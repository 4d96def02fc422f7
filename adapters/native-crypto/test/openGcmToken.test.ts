/**
 * The native `openGcmToken` fast path (Base64 + both GCM layers of a V3/V4
 * token in one call) against a JS reference built from the primitives it
 * replaces: `Base64.decode` and two node:crypto `gcmDecrypt`s. Differential
 * over builder tokens (V3/V4, both alphabets, padded or not, 32/33-byte raw
 * UIDs) and over mutations of their text and bytes, plus the callback's
 * failure modes, released keys and re-entrancy.
 *
 * Requires the addon to be built: `adapters/native-crypto/build.sh`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { type CryptoShape, type KeyHandle, makeNode, seededRandom } from "../../../src/Crypto.js"
import * as Base64 from "../../../src/internal/base64.js"
import { readInt32 } from "../../../src/internal/bytes.js"
import * as Builders from "../../../src/testing/Builders.js"
import * as NativeCrypto from "../index.js"

const loaded = NativeCrypto.load()
if (Either.isLeft(loaded)) {
  throw new Error(`${loaded.left.message} (reason ${loaded.left.reason}); build it with adapters/native-crypto/build.sh`)
}
const pooled: NativeCrypto.NativeCrypto = loaded.right
const unpooled: NativeCrypto.NativeCrypto = NativeCrypto.make({ pool: false })!
const node: CryptoShape = makeNode(seededRandom(11))
const NUM_RUNS = 60

type Alphabet = "standard" | "either"
type Open = NonNullable<CryptoShape["openGcmToken"]>
const openPooled: Open = pooled.openGcmToken!
const openUnpooled: Open = unpooled.openGcmToken!

const hex = (u: Uint8Array | undefined): string => u === undefined ? "undefined" : Buffer.from(u).toString("hex")

/** The reference: exactly what the SDK's general path does, from the primitives. */
const reference = (
  text: string,
  alphabet: Alphabet,
  master: KeyHandle,
  siteKeyOf: (id: number) => KeyHandle | undefined
): Uint8Array | undefined => {
  const bytes = Base64.decode(text, alphabet)
  if (bytes === undefined) return undefined
  const m = node.gcmDecrypt(master, bytes, 6, bytes.length)
  if (m === undefined || m.length < 33 + 12 + 16 + 36) return undefined
  let site: KeyHandle
  try {
    site = siteKeyOf(readInt32(m, 29))
  } catch {
    return undefined
  }
  if (site === undefined) return undefined
  const s = node.gcmDecrypt(site, m, 33, m.length)
  if (s === undefined || s.length < 36) return undefined
  const out = new Uint8Array(m.length + s.length)
  out.set(m, 0)
  out.set(s, m.length)
  return out
}

/**
 * How siteKeyOf answers. "ok" gives the site key for the right id (and undefined otherwise);
 * the rest must all make the native call return undefined.
 */
type Lookup = "ok" | "undefined" | "wrongKey" | "foreign" | "nodeKeyObject" | "releasedSite" | "throws" | "throwsUndefined"
const LOOKUPS: ReadonlyArray<Lookup> = [
  "ok",
  "undefined",
  "wrongKey",
  "foreign",
  "nodeKeyObject",
  "releasedSite",
  "throws",
  "throwsUndefined"
]

interface Keys {
  readonly masterKey: ReturnType<typeof Builders.key>
  readonly siteKey: ReturnType<typeof Builders.key>
  readonly native: { readonly master: KeyHandle; readonly site: KeyHandle; readonly other: KeyHandle; readonly released: KeyHandle }
  readonly node: { readonly master: KeyHandle; readonly site: KeyHandle }
}

const makeKeys = (masterId: number, siteId: number, masterSecret: Uint8Array, siteSecret: Uint8Array): Keys => {
  const released = pooled.importKey(siteSecret)
  pooled.releaseKey(released)
  return {
    masterKey: Builders.key({ id: masterId, activates: 0, expires: 2 ** 52, secret: masterSecret }),
    siteKey: Builders.key({ id: siteId, activates: 0, expires: 2 ** 52, secret: siteSecret }),
    native: {
      master: pooled.importKey(masterSecret),
      site: pooled.importKey(siteSecret),
      other: pooled.importKey(Uint8Array.from(siteSecret, (b) => b ^ 0x5a)),
      released
    },
    node: { master: node.importKey(masterSecret), site: node.importKey(siteSecret) }
  }
}
const releaseKeys = (k: Keys) => {
  pooled.releaseKey(k.native.master)
  pooled.releaseKey(k.native.site)
  pooled.releaseKey(k.native.other)
}

/** siteKeyOf for one side, logging the ids it is asked for. */
const lookup = (k: Keys, side: "native" | "node", how: Lookup, siteId: number, log: Array<number>) => (id: number) => {
  log.push(id)
  switch (how) {
    case "ok":
      return id === siteId ? (side === "native" ? k.native.site : k.node.site) : undefined
    case "undefined":
      return undefined
    case "wrongKey":
      return side === "native" ? k.native.other : node.importKey(new Uint8Array(32).fill(7))
    // The reference sees undefined for what only the native side can reject as a non-handle.
    case "foreign":
      return side === "native" ? { handle: k.native.site } : undefined
    case "nodeKeyObject":
      return side === "native" ? k.node.site : undefined
    case "releasedSite":
      return side === "native" ? k.native.released : undefined
    case "throws":
      throw new Error("siteKeyOf failed")
    case "throwsUndefined":
      throw undefined
  }
}

/** Native (pooled and unpooled) vs reference on one input: same bytes or both undefined, same lookups. */
const agree = (k: Keys, text: string, alphabet: Alphabet, how: Lookup = "ok"): Uint8Array | undefined => {
  const siteId = k.siteKey.id
  const refLog: Array<number> = []
  const want = reference(text, alphabet, k.node.master, lookup(k, "node", how, siteId, refLog))
  for (const [label, open] of [["pooled", openPooled], ["unpooled", openUnpooled]] as const) {
    const log: Array<number> = []
    const got = open(text, alphabet, k.native.master, lookup(k, "native", how, siteId, log))
    expect(hex(got), `${label} openGcmToken(${JSON.stringify(text)}, ${alphabet}, ${how})`).toBe(hex(want))
    expect(log, `${label}: siteKeyOf calls`).toEqual(refLog)
    if (got !== undefined) expect(got).toBeInstanceOf(Uint8Array)
  }
  return want
}

/** Standard ↔ URL-safe characters, each swapped with probability given by the bits of `mask`. */
const mixAlphabet = (text: string, mask: number): string =>
  text.replace(/[+/\-_]/g, (c, i: number) => {
    if (((mask >>> (i % 31)) & 1) === 0) return c
    return c === "+" ? "-" : c === "/" ? "_" : c === "-" ? "+" : "/"
  })
const toUrl = (text: string) => text.replace(/\+/g, "-").replace(/\//g, "_")
const unpad = (text: string) => text.replace(/=+$/, "")
const pad = (text: string) => text + "=".repeat((4 - (text.length % 4)) % 4)

/** Every spelling of the same bytes the two alphabets can be asked about. */
const spellings = (bytes: Uint8Array, mask: number): Array<string> => {
  const std = Base64.encode(bytes)
  return [std, unpad(std), toUrl(std), toUrl(unpad(std)), mixAlphabet(std, mask), mixAlphabet(unpad(std), mask)]
}

/** Characters to splice in: alphabet, padding, other ASCII, and non-ASCII whose low byte is an alphabet character. */
const ODD_CHARS = [
  "A",
  "a",
  "0",
  "+",
  "/",
  "-",
  "_",
  "=",
  " ",
  "\n",
  ".",
  "\0",
  "\u007f",
  "\u0080",
  "\u00c1", // Á: Latin-1, not ASCII
  "\u0141", // low byte 0x41 'A'
  "\u012b", // low byte 0x2b '+'
  "\u012f", // low byte 0x2f '/'
  "\u012d", // low byte 0x2d '-'
  "\u015f", // low byte 0x5f '_'
  "\u013d", // low byte 0x3d '='
  "\uff21", // fullwidth A
  "\ud83d\ude00", // a surrogate pair
  "\ud800" // a lone surrogate
]

const tokenArb = FastCheck.record({
  version: FastCheck.constantFrom(3 as const, 4 as const),
  uid: FastCheck.uint8Array({ minLength: 32, maxLength: 33 }),
  masterId: FastCheck.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  siteId: FastCheck.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  masterSecret: FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
  siteSecret: FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
  masterNonce: FastCheck.uint8Array({ minLength: 12, maxLength: 12 }),
  siteNonce: FastCheck.uint8Array({ minLength: 12, maxLength: 12 }),
  scope: FastCheck.constantFrom("UID2" as const, "EUID" as const),
  type: FastCheck.constantFrom("Email" as const, "Phone" as const),
  now: FastCheck.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 })
})
type TokenCase = typeof tokenArb extends FastCheck.Arbitrary<infer T> ? T : never

const build = (c: TokenCase) => {
  FastCheck.pre(c.masterId !== c.siteId)
  const k = makeKeys(c.masterId, c.siteId, c.masterSecret, c.siteSecret)
  const text = Builders.token({
    masterKey: k.masterKey,
    siteKey: k.siteKey,
    now: c.now,
    version: c.version,
    uid: Base64.encode(c.uid),
    identityScope: c.scope,
    identityType: c.type,
    nonces: { master: c.masterNonce, site: c.siteNonce },
    crypto: node
  })
  const bytes = Base64.decode(text, "either")!
  return { k, text, bytes, alphabet: (c.version === 3 ? "standard" : "either") as Alphabet }
}

const describeFor = () =>
  describe("native openGcmToken: differential against Base64.decode + 2 x node:crypto gcmDecrypt", () => {
    it("is exposed in both modes", () => {
      expect(typeof pooled.openGcmToken).toBe("function")
      expect(typeof unpooled.openGcmToken).toBe("function")
    })

    it("builder tokens (V3/V4, 32/33-byte UIDs) in every spelling, under both alphabets", () => {
      FastCheck.assert(
        FastCheck.property(tokenArb, FastCheck.nat(), (c, mask) => {
          const { alphabet, bytes, k, text } = build(c)
          const direct = agree(k, text, alphabet)
          expect(direct, "the builder's own text opens").toBeDefined()
          const m = (direct!.length + 61) / 2
          expect(Number.isInteger(m) && readInt32(direct!, 29)).toBe(c.siteId)
          expect(direct!.length - m).toBe(36 + c.uid.length)
          expect(hex(direct!.subarray(m + 36))).toBe(hex(c.uid))
          for (const spelling of spellings(bytes, mask)) {
            for (const a of ["standard", "either"] as const) agree(k, spelling, a)
          }
          // Header bytes are not authenticated: changing them still opens (identically).
          const header = Uint8Array.from(bytes)
          header[1]! ^= 0xff
          agree(k, toUrl(Base64.encode(header)), "either")
          releaseKeys(k)
        }),
        { numRuns: NUM_RUNS }
      )
    })

    it("every siteKeyOf failure mode: undefined, wrong key, non-handles, released handle, throwing", () => {
      FastCheck.assert(
        FastCheck.property(tokenArb, (c) => {
          const { alphabet, k, text } = build(c)
          for (const how of LOOKUPS) {
            const got = agree(k, text, alphabet, how)
            expect(got === undefined, how).toBe(how !== "ok")
          }
          // A thrown exception does not leak out of the native call.
          expect(() => openPooled(text, alphabet, k.native.master, () => {
            throw new Error("x")
          })).not.toThrow()
          releaseKeys(k)
        }),
        { numRuns: 20 }
      )
    })

    it("bit flips in the decoded bytes and in the text", () => {
      FastCheck.assert(
        FastCheck.property(
          tokenArb,
          FastCheck.nat(),
          FastCheck.integer({ min: 0, max: 7 }),
          FastCheck.nat(),
          FastCheck.constantFrom(...ODD_CHARS),
          (c, at, bit, at2, ch) => {
            const { alphabet, bytes, k, text } = build(c)
            const flipped = Uint8Array.from(bytes)
            flipped[at % bytes.length]! ^= 1 << bit
            for (const spelling of spellings(flipped, at)) agree(k, spelling, alphabet)
            const i = at2 % text.length
            agree(k, text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << bit)) + text.slice(i + 1), alphabet)
            agree(k, text.slice(0, i) + ch + text.slice(i + 1), alphabet)
            agree(k, text.slice(0, i) + ch + text.slice(i), alphabet)
            releaseKeys(k)
          }
        ),
        { numRuns: NUM_RUNS }
      )
    })

    it("truncation to every length, appended characters, '=' anywhere", () => {
      FastCheck.assert(
        FastCheck.property(
          tokenArb,
          FastCheck.array(FastCheck.constantFrom(...ODD_CHARS), { minLength: 1, maxLength: 6 }),
          (c, extra) => {
            const { alphabet, k, text } = build(c)
            for (const t of [text, unpad(text), pad(text)]) {
              for (let end = 0; end < t.length; end++) agree(k, t.slice(0, end), alphabet)
            }
            for (let n = 1; n <= extra.length; n++) agree(k, text + extra.slice(0, n).join(""), alphabet)
            for (let i = 0; i < text.length; i += 7) {
              agree(k, text.slice(0, i) + "=" + text.slice(i), alphabet)
              agree(k, text.slice(0, i) + "==" + text.slice(i + 2), alphabet)
            }
            agree(k, unpad(text) + "===", alphabet)
            agree(k, unpad(text) + "=".repeat(4), alphabet)
            releaseKeys(k)
          }
        ),
        { numRuns: 20 }
      )
    })

    it("non-canonical last characters are rejected like Base64.decode rejects them", () => {
      FastCheck.assert(
        FastCheck.property(tokenArb, FastCheck.integer({ min: 1, max: 15 }), (c, low) => {
          const { bytes, k } = build(c)
          // Drop 0–2 bytes so every remainder (0, 2, 3 characters) is covered.
          for (let drop = 0; drop < 3; drop++) {
            const std = Base64.encode(bytes.subarray(0, bytes.length - drop))
            const data = unpad(std)
            const rem = data.length % 4
            if (rem === 0) continue
            const value = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".indexOf(data.at(-1)!)
            const bits = rem === 2 ? 0x0f : 0x03
            const odd = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[value | (((low - 1) % bits) + 1)]!
            for (const t of [data.slice(0, -1) + odd, std.replace(/.(=*)$/, `${odd}$1`)]) {
              for (const a of ["standard", "either"] as const) {
                expect(agree(k, t, a)).toBeUndefined()
                agree(k, toUrl(t), a)
              }
            }
          }
          releaseKeys(k)
        }),
        { numRuns: 40 }
      )
    })

    it("arbitrary strings and Base64 of arbitrary bytes (mostly rejected; always identically)", () => {
      const k = makeKeys(1, 2, new Uint8Array(32).fill(1), new Uint8Array(32).fill(2))
      FastCheck.assert(
        FastCheck.property(
          FastCheck.oneof(
            FastCheck.string({ maxLength: 300 }),
            FastCheck.string({ unit: "binary", maxLength: 300 }),
            FastCheck.uint8Array({ maxLength: 400 }).map((b) => Base64.encode(b)),
            FastCheck.uint8Array({ maxLength: 400 }).map((b) => Base64.encodeUrl(b))
          ),
          FastCheck.constantFrom("standard" as const, "either" as const),
          (text, alphabet) => {
            agree(k, text, alphabet)
          }
        ),
        { numRuns: 500 }
      )
      releaseKeys(k)
    })
  })

describeFor()

describe("native openGcmToken: hardening", () => {
  const c: TokenCase = {
    version: 4,
    uid: new Uint8Array(32).fill(9),
    masterId: 164,
    siteId: 165,
    masterSecret: new Uint8Array(32).fill(3),
    siteSecret: new Uint8Array(32).fill(4),
    masterNonce: new Uint8Array(12).fill(5),
    siteNonce: new Uint8Array(12).fill(6),
    scope: "UID2",
    type: "Email",
    now: 1_700_000_000_000
  }

  it("a released master key gives undefined (no crash, no lookup)", () => {
    const { k, text } = build(c)
    const master = pooled.importKey(c.masterSecret)
    const siteKeyOf = (id: number) => id === 165 ? k.native.site : undefined
    for (const open of [openPooled, openUnpooled]) expect(open(text, "either", master, siteKeyOf)).toBeDefined()
    pooled.releaseKey(master)
    let calls = 0
    for (const open of [openPooled, openUnpooled]) {
      expect(open(text, "either", master, () => (calls++, k.native.site))).toBeUndefined()
    }
    expect(calls).toBe(0)
    releaseKeys(k)
  })

  it("siteKeyOf releasing the site key (or the master key) before returning it", () => {
    const { k, text } = build(c)
    for (const open of [openPooled, openUnpooled]) {
      const site = pooled.importKey(c.siteSecret)
      expect(open(text, "either", k.native.master, () => (pooled.releaseKey(site), site))).toBeUndefined()
      const master = pooled.importKey(c.masterSecret)
      // The master layer is already open when siteKeyOf runs: releasing the master key then is harmless.
      expect(open(text, "either", master, () => (pooled.releaseKey(master), k.native.site))).toBeDefined()
    }
    releaseKeys(k)
  })

  it("bad arguments give undefined, never a throw", () => {
    const { k, text } = build(c)
    const ok = () => k.native.site
    const bad: Array<[unknown, unknown, unknown, unknown]> = [
      [undefined, "either", k.native.master, ok],
      [new TextEncoder().encode(text), "either", k.native.master, ok],
      [{ toString: () => text }, "either", k.native.master, ok],
      [text, "url", k.native.master, ok],
      [text, "STANDARD", k.native.master, ok],
      [text, "either\0", k.native.master, ok],
      [text, "eithe\u0172", k.native.master, ok], // low byte of U+0172 is 'r'
      [text, undefined, k.native.master, ok],
      [text, "either", k.node.master, ok],
      [text, "either", {}, ok],
      [text, "either", undefined, ok],
      [text, "either", k.native.master, undefined],
      [text, "either", k.native.master, "not a function"],
      [text, "either", k.native.master, {}],
      ["A".repeat(4096 * 2), "either", k.native.master, ok],
      [text + "A".repeat(4100), "either", k.native.master, ok]
    ]
    for (const open of [openPooled, openUnpooled] as ReadonlyArray<(...args: Array<unknown>) => unknown>) {
      expect(open(text, "either", k.native.master, ok)).toBeDefined()
      bad.forEach((args, i) => expect(open(...args), `bad arguments #${i}`).toBeUndefined())
      expect(open()).toBeUndefined()
    }
    releaseKeys(k)
  })

  it("pooled results never alias, also when siteKeyOf decrypts from the same pool re-entrantly", () => {
    const { k, text } = build(c)
    const want = hex(openUnpooled(text, "either", k.native.master, () => k.native.site))
    const results: Array<Uint8Array> = []
    for (let i = 0; i < 500; i++) {
      results.push(openPooled(text, "either", k.native.master, () => k.native.site)!)
      // A nested open and a nested gcmDecrypt from inside the callback, both pooled.
      const nested: Array<Uint8Array | undefined> = []
      const outer = openPooled(text, "either", k.native.master, (id) => {
        nested.push(openPooled(text, "either", k.native.master, () => k.native.site))
        const blob = pooled.gcmEncrypt(k.native.site, new Uint8Array(12), new Uint8Array(40).fill(i & 0xff))
        nested.push(pooled.gcmDecrypt(k.native.site, blob, 0, blob.length))
        return id === 165 ? k.native.site : undefined
      })
      results.push(outer!, nested[0]!)
      expect(hex(nested[1])).toBe(hex(new Uint8Array(40).fill(i & 0xff)))
      // A failed open in between must not disturb anything either.
      expect(openPooled(text.slice(0, -2) + "AA", "either", k.native.master, () => k.native.site)).toBeUndefined()
    }
    for (const r of results) expect(hex(r)).toBe(want)
    // Results are views into a shared pool: their offsets honour alignment and never overlap.
    const spans = results.map((r) => [r.buffer, r.byteOffset, r.byteOffset + r.length] as const)
    for (let i = 0; i < spans.length; i++) {
      for (let j = i + 1; j < spans.length; j++) {
        const [ba, a0, a1] = spans[i]!
        const [bb, b0, b1] = spans[j]!
        if (ba === bb) expect(a1 <= b0 || b1 <= a0).toBe(true)
      }
    }
    releaseKeys(k)
  })

  it("a token whose result exceeds the pool limit takes the allocating path", () => {
    // A 600-byte raw UID: result 2m - 61 > POOL_MAX_RESULT.
    const big = { ...c, uid: Uint8Array.from({ length: 600 }, (_, i) => i & 0xff) }
    const { k, text } = build(big)
    const got = openPooled(text, "either", k.native.master, () => k.native.site)!
    expect(got.length).toBeGreaterThan(NativeCrypto.POOL_MAX_RESULT)
    expect(got.byteOffset).toBe(0)
    expect(got.buffer.byteLength).toBe(got.length)
    expect(hex(got)).toBe(hex(reference(text, "either", k.node.master, () => k.node.site)))
    releaseKeys(k)
  })
})
