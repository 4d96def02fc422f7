// Issue 5: the token core must give identical answers on node:crypto and on
// the native adapter, for valid tokens, every kind of mutation, and encrypt.
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as NativeCrypto from "../adapters/native-crypto/index.js"
import { type CryptoShape, makeNode, seededRandom } from "../src/Crypto.js"
import * as Base64 from "../src/internal/base64.js"
import type { KeyRing } from "../src/KeyRing.js"
import { bidstreamRing, sharingRing, token } from "../src/testing/Builders.js"
import { withReferenceOpener } from "./referenceOpener.js"
import { decrypt, encryptRawUid } from "./ringCrypto.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const native = Either.getOrThrowWith(NativeCrypto.load(), (e) => new Error(`${e.message}; run npm run build:native`))
const node = makeNode(seededRandom(3))

const tokenSpec = FastCheck.record({
  version: FastCheck.constantFrom(2 as const, 3 as const, 4 as const),
  uid: FastCheck.oneof(
    FastCheck.uint8Array({ minLength: 32, maxLength: 32 }),
    FastCheck.uint8Array({ minLength: 33, maxLength: 33 })
  )
    .map((b) => Base64.encode(b)),
  identityType: FastCheck.constantFrom("Email" as const, "Phone" as const),
  privacyBits: FastCheck.integer({ min: 0, max: 7 }),
  expiresIn: FastCheck.integer({ min: -60_000, max: 4 * 86_400_000 }),
  generatedOffset: FastCheck.integer({ min: -86_400_000, max: 3_600_000 }),
  siteId: FastCheck.constantFrom(9000, 2, 77)
})

const mutation = FastCheck.oneof(
  FastCheck.constant({ kind: "none" as const }),
  FastCheck.record({
    kind: FastCheck.constant("flip" as const),
    at: FastCheck.nat(),
    bit: FastCheck.integer({ min: 0, max: 7 })
  }),
  FastCheck.record({ kind: FastCheck.constant("truncate" as const), at: FastCheck.nat() }),
  FastCheck.record({
    kind: FastCheck.constant("append" as const),
    bytes: FastCheck.uint8Array({ minLength: 1, maxLength: 40 })
  }),
  // A character replaced by a code unit whose low byte is the same character (U+0142 for 'B'): must not alias.
  FastCheck.record({
    kind: FastCheck.constant("alias" as const),
    at: FastCheck.nat(),
    high: FastCheck.integer({ min: 1, max: 255 })
  })
)

type Mutation = {
  readonly kind: string
  readonly at?: number
  readonly bit?: number
  readonly bytes?: Uint8Array
  readonly high?: number
}

const mutate = (text: string, version: 2 | 3 | 4, m: Mutation) => {
  if (m.kind === "alias") {
    // Past the 4 characters detectVersion reads, so the token reaches the decoders.
    const i = 4 + (m.at! % (text.length - 4))
    return text.slice(0, i) + String.fromCharCode((m.high! << 8) | text.charCodeAt(i)) + text.slice(i + 1)
  }
  const bytes = Base64.decode(text, "either")!
  let out = bytes
  if (m.kind === "flip") {
    out = Uint8Array.from(bytes)
    const i = m.at! % out.length
    out[i] = out[i]! ^ (1 << m.bit!)
  } else if (m.kind === "truncate") out = bytes.subarray(0, m.at! % bytes.length)
  else if (m.kind === "append") {
    out = new Uint8Array(bytes.length + m.bytes!.length)
    out.set(bytes)
    out.set(m.bytes!, bytes.length)
  }
  return version === 4 ? Base64.encodeUrl(out) : Base64.encode(out)
}

// The one-call fast path written with node's primitives: the token core must give the same
// answers whether or not an implementation offers it.
const nodeOneCall: CryptoShape = withReferenceOpener(node, "node-one-call")

const implementations: ReadonlyArray<CryptoShape> = [node, nodeOneCall, native]

const both = (ring: KeyRing, text: string, clientType: "bidstream" | "sharing", domain?: string) =>
  implementations.map((crypto) => decrypt(ring, crypto, text, NOW, { clientType, domainOrAppName: domain }))

describe("node:crypto, its one-call variant and native give identical results", () => {
  it(`runs on the native layer (${native.name}, OpenSSL ${native.opensslVersion})`, () => {
    expect(native.name).toBe("native")
  })

  it.prop(
    "decrypt of arbitrary and mutated tokens",
    [tokenSpec, mutation, FastCheck.boolean()],
    ([spec, m, sharing]) => {
      const ring = sharing ? sharingRing(NOW) : bidstreamRing(NOW)
      const text = token({
        masterKey: ring.keyById(164)!,
        siteKey: ring.keyById(165)!,
        now: NOW,
        version: spec.version,
        uid: spec.uid,
        identityType: spec.identityType,
        privacyBits: spec.privacyBits,
        siteId: spec.siteId,
        generated: NOW + spec.generatedOffset,
        expiry: NOW + spec.expiresIn,
        crypto: node
      })
      const [a, ...rest] = both(ring, mutate(text, spec.version, m), sharing ? "sharing" : "bidstream", "example.com")
      for (const b of rest) expect(b).toEqual(a)
      if (m.kind === "none") expect(a!._tag).not.toBe("InvalidPayload")
    },
    { fastCheck: { numRuns: 400 } }
  )

  it.prop("decrypt of arbitrary strings", [
    FastCheck.oneof(FastCheck.string({ maxLength: 300 }), FastCheck.fullUnicodeString({ maxLength: 300 }))
  ], ([text]) => {
    const ring = bidstreamRing(NOW)
    const [a, ...rest] = both(ring, text, "bidstream")
    for (const b of rest) expect(b).toEqual(a)
  }, { fastCheck: { numRuns: 300 } })

  it("a domain name getter that decrypts another token mid-check changes nothing (no shared state leaks)", () => {
    const ring = bidstreamRing(NOW)
    const keys = { masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW, crypto: node }
    // Client-side generated, so the domain check runs and reads the name (a non-string name is never called
    // into, so a getter on the options is the caller code that can still run there).
    const outer = token({ ...keys, privacyBits: 2, publisherId: 111, clientKeyId: 5, established: NOW - 5000 })
    const inner = token({ ...keys, publisherId: 999, clientKeyId: 77, established: NOW - 9999 })
    const results = implementations.map((crypto) => {
      const options = {
        clientType: "bidstream" as const,
        get domainOrAppName() {
          expect(decrypt(ring, crypto, inner, NOW, { clientType: "sharing" })._tag).toBe("DecryptedToken")
          return "example.com"
        }
      }
      return decrypt(ring, crypto, outer, NOW, options)
    })
    expect(results[0]).toMatchObject({
      _tag: "DecryptedToken",
      publisherId: 111,
      clientKeyId: 5,
      established: NOW - 5000
    })
    for (const r of results.slice(1)) expect(r).toEqual(results[0])
  })

  it.prop("encrypt with the same nonces gives the same token", [
    FastCheck.uint8Array({ minLength: 32, maxLength: 33 }),
    FastCheck.nat()
  ], ([uid, seed]) => {
    const ring = sharingRing(NOW)
    const rawUid = Base64.encode(uid)
    const fromNode = encryptRawUid(ring, makeNode(seededRandom(seed)), rawUid, NOW)
    const fromNative = encryptRawUid(
      ring,
      Either.getOrThrow(NativeCrypto.load({ random: seededRandom(seed) })),
      rawUid,
      NOW
    )
    expect(fromNative).toBe(fromNode)
    expect(typeof fromNode).toBe("string")
  }, { fastCheck: { numRuns: 200 } })
})
