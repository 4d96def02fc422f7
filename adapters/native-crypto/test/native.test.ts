/**
 * The native Crypto addon against node:crypto (`makeNode`): differential
 * property tests, argument hardening, key lifecycle (leaks, double release,
 * use after release, GC backstop), worker threads and the layers.
 *
 * Requires the addon to be built: `adapters/native-crypto/build.sh`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Logger from "effect/Logger"
import { spawnSync } from "node:child_process"
import { createSecretKey } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { Crypto, type CryptoShape, makeNode, seededRandom } from "../../../src/Crypto.js"
import * as NativeCrypto from "../index.js"

const loaded = NativeCrypto.load()
if (Either.isLeft(loaded)) {
  throw new Error(
    `${loaded.left.message} (reason ${loaded.left.reason}); build it with adapters/native-crypto/build.sh`
  )
}
const native: NativeCrypto.NativeCrypto = loaded.right
const unpooled: NativeCrypto.NativeCrypto = NativeCrypto.make({ pool: false })!
const node: CryptoShape = makeNode(seededRandom(7))
/** The raw addon exports, for the entry points the CryptoShape does not expose. */
const addon = createRequire(import.meta.url)(native.path) as {
  readonly gcmDecryptInto: (k: unknown, d: unknown, s: unknown, e: unknown, o: unknown, off: unknown) => boolean
  readonly cbcDecryptInto: (k: unknown, d: unknown, s: unknown, e: unknown, o: unknown, off: unknown) => number
  readonly gcmEncryptInto: (...args: ReadonlyArray<unknown>) => number
  readonly cbcEncryptInto: (...args: ReadonlyArray<unknown>) => number
  readonly gcmEncrypt: (...args: ReadonlyArray<unknown>) => Uint8Array
  readonly cbcEncrypt: (...args: ReadonlyArray<unknown>) => Uint8Array
}

const GCM_OVERHEAD = 28
const NUM_RUNS = 200

const hex = (u: Uint8Array | undefined): string => u === undefined ? "undefined" : Buffer.from(u).toString("hex")

const bytes = (min: number, max: number) => FastCheck.uint8Array({ minLength: min, maxLength: max })
const key = bytes(32, 32)

/** A blob embedded at `prefix.length` in prefix ‖ blob ‖ suffix, like a layer inside a token. */
const embed = (prefix: Uint8Array, blob: Uint8Array, suffix: Uint8Array) => {
  const data = new Uint8Array(prefix.length + blob.length + suffix.length)
  data.set(prefix, 0)
  data.set(blob, prefix.length)
  data.set(suffix, prefix.length + blob.length)
  return { data, start: prefix.length, end: prefix.length + blob.length }
}

const differential = (label: string, native: NativeCrypto.NativeCrypto) =>
  describe(`native crypto (${label}): differential against node:crypto`, () => {
    /** Both implementations on the same key bytes: one handle each. */
    const keys = (secret: Uint8Array) => ({ n: native.importKey(secret), r: node.importKey(secret) })

    const gcmBoth = (k: ReturnType<typeof keys>, data: Uint8Array, start: number, end: number) => {
      const a = native.gcmDecrypt(k.n, data, start, end)
      const b = node.gcmDecrypt(k.r, data, start, end)
      expect(hex(a), `gcmDecrypt(${start}, ${end}) of ${data.length} bytes`).toBe(hex(b))
      return a
    }
    const cbcBoth = (k: ReturnType<typeof keys>, data: Uint8Array, start: number, end: number) => {
      const a = native.cbcDecrypt(k.n, data, start, end)
      const b = node.cbcDecrypt(k.r, data, start, end)
      expect(hex(a), `cbcDecrypt(${start}, ${end}) of ${data.length} bytes`).toBe(hex(b))
      return a
    }

    it("loads the addon on Node's OpenSSL", () => {
      expect(native.name).toBe("native")
      expect(native.opensslVersion).toMatch(/^OpenSSL 3\./)
      expect(native.opensslVersion).toContain(process.versions.openssl)
    })

    it("GCM: same ciphertext, same plaintext, at any offset", () => {
      FastCheck.assert(
        FastCheck.property(
          key,
          bytes(12, 12),
          bytes(0, 300),
          bytes(0, 8),
          bytes(0, 8),
          (secret, nonce, plain, pre, post) => {
            const k = keys(secret)
            const blob = native.gcmEncrypt(k.n, nonce, plain)
            expect(hex(blob)).toBe(hex(node.gcmEncrypt(k.r, nonce, plain)))
            const { data, end, start } = embed(pre, blob, post)
            expect(hex(gcmBoth(k, data, start, end))).toBe(hex(plain))
            native.releaseKey(k.n)
          }
        ),
        { numRuns: NUM_RUNS }
      )
    })

    it("GCM: bit flips, truncations to every length, trimmed fronts and appended bytes all fail identically", () => {
      FastCheck.assert(
        FastCheck.property(
          key,
          bytes(12, 12),
          bytes(0, 300),
          bytes(1, 40),
          FastCheck.nat(),
          FastCheck.integer({ min: 0, max: 7 }),
          (secret, nonce, plain, extra, at, bit) => {
            const k = keys(secret)
            const blob = node.gcmEncrypt(k.r, nonce, plain)
            const flipped = Uint8Array.from(blob)
            flipped[at % blob.length]! ^= 1 << bit
            expect(gcmBoth(k, flipped, 0, flipped.length)).toBeUndefined()
            for (let end = 0; end < blob.length; end++) expect(gcmBoth(k, blob, 0, end)).toBeUndefined()
            for (let start = 1; start <= blob.length; start++) {
              expect(gcmBoth(k, blob, start, blob.length)).toBeUndefined()
            }
            const { data } = embed(new Uint8Array(0), blob, extra)
            for (let end = blob.length + 1; end <= data.length; end++) expect(gcmBoth(k, data, 0, end)).toBeUndefined()
            native.releaseKey(k.n)
          }
        ),
        { numRuns: NUM_RUNS }
      )
    })

    it("GCM: a wrong key fails identically", () => {
      FastCheck.assert(
        FastCheck.property(key, key, bytes(12, 12), bytes(0, 300), (secret, other, nonce, plain) => {
          FastCheck.pre(hex(secret) !== hex(other))
          const blob = node.gcmEncrypt(node.importKey(secret), nonce, plain)
          const k = keys(other)
          expect(gcmBoth(k, blob, 0, blob.length)).toBeUndefined()
          native.releaseKey(k.n)
        }),
        { numRuns: NUM_RUNS }
      )
    })

    it("CBC: same ciphertext, same plaintext, at any offset", () => {
      FastCheck.assert(
        FastCheck.property(
          key,
          bytes(16, 16),
          bytes(0, 300),
          bytes(0, 8),
          bytes(0, 8),
          (secret, iv, plain, pre, post) => {
            const k = keys(secret)
            const blob = native.cbcEncrypt(k.n, iv, plain)
            expect(hex(blob)).toBe(hex(node.cbcEncrypt(k.r, iv, plain)))
            expect(blob.length).toBe(16 + (Math.floor(plain.length / 16) + 1) * 16)
            const { data, end, start } = embed(pre, blob, post)
            expect(hex(cbcBoth(k, data, start, end))).toBe(hex(plain))
            native.releaseKey(k.n)
          }
        ),
        { numRuns: NUM_RUNS }
      )
    })

    it("CBC: bit flips, truncations to every length, trimmed fronts, appended bytes and wrong keys agree", () => {
      FastCheck.assert(
        FastCheck.property(
          key,
          key,
          bytes(16, 16),
          bytes(0, 300),
          bytes(1, 40),
          FastCheck.nat(),
          FastCheck.integer({ min: 0, max: 7 }),
          (secret, other, iv, plain, extra, at, bit) => {
            // CBC is unauthenticated: a mutation may still unpad to garbage; both sides must then agree on the garbage.
            const k = keys(secret)
            const blob = node.cbcEncrypt(k.r, iv, plain)
            const flipped = Uint8Array.from(blob)
            flipped[at % blob.length]! ^= 1 << bit
            cbcBoth(k, flipped, 0, flipped.length)
            for (let end = 0; end < blob.length; end++) {
              const r = cbcBoth(k, blob, 0, end)
              if ((end - 16) % 16 !== 0 || end <= 16) expect(r).toBeUndefined()
            }
            for (let start = 1; start <= blob.length; start++) cbcBoth(k, blob, start, blob.length)
            const { data } = embed(new Uint8Array(0), blob, extra)
            for (let end = blob.length + 1; end <= data.length; end++) cbcBoth(k, data, 0, end)
            const w = keys(other)
            cbcBoth(w, blob, 0, blob.length)
            native.releaseKey(k.n)
            native.releaseKey(w.n)
          }
        ),
        { numRuns: NUM_RUNS }
      )
    })

    it("rejects CBC ciphertext lengths that are not a multiple of 16 (and empty ones)", () => {
      const k = native.importKey(new Uint8Array(32).fill(9))
      const blob = native.cbcEncrypt(k, new Uint8Array(16), new Uint8Array(20))
      for (let end = 0; end <= blob.length; end++) {
        const ok = native.cbcDecrypt(k, blob, 0, end) !== undefined
        expect(ok, `length ${end}`).toBe(end === blob.length)
      }
      native.releaseKey(k)
    })

    it("start/end: identical results in range, undefined for anything out of range or non-integral", () => {
      const specials = [NaN, Infinity, -Infinity, 0.5, -1, -0.5, 2 ** 53, -(2 ** 31)]
      FastCheck.assert(
        FastCheck.property(
          key,
          bytes(0, 100),
          bytes(0, 20),
          FastCheck.oneof(FastCheck.integer({ min: -200, max: 400 }), FastCheck.constantFrom(...specials)),
          FastCheck.oneof(FastCheck.integer({ min: -200, max: 400 }), FastCheck.constantFrom(...specials)),
          (secret, plain, pre, start, end) => {
            const k = keys(secret)
            const { data } = embed(pre, node.gcmEncrypt(k.r, new Uint8Array(12), plain), new Uint8Array(0))
            const cbc = embed(pre, node.cbcEncrypt(k.r, new Uint8Array(16), plain), new Uint8Array(0)).data
            const valid = (length: number) =>
              Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= length
            if (valid(data.length)) gcmBoth(k, data, start, end)
            else expect(native.gcmDecrypt(k.n, data, start, end)).toBeUndefined()
            if (valid(cbc.length)) cbcBoth(k, cbc, start, end)
            else expect(native.cbcDecrypt(k.n, cbc, start, end)).toBeUndefined()
            native.releaseKey(k.n)
          }
        ),
        { numRuns: 2000 }
      )
    })

    it("is stricter than node:crypto where subarray() would wrap or truncate indices", () => {
      const k = keys(new Uint8Array(32).fill(1))
      const blob = node.gcmEncrypt(k.r, new Uint8Array(12), new Uint8Array(40).fill(2))
      const L = blob.length
      expect(native.gcmDecrypt(k.n, blob, 0, L)).toBeDefined()
      // node's subarray() treats -L as 0 and 0.5 as 0: the native side rejects both.
      expect(native.gcmDecrypt(k.n, blob, -L, L)).toBeUndefined()
      expect(native.gcmDecrypt(k.n, blob, 0.5, L)).toBeUndefined()
      expect(native.gcmDecrypt(k.n, blob, 0, L + 1)).toBeUndefined()
      expect(native.gcmDecrypt(k.n, blob, "0" as unknown as number, L)).toBeUndefined()
      expect(native.gcmDecrypt(k.n, blob, 0n as unknown as number, L)).toBeUndefined()
      expect(native.gcmDecrypt(k.n, blob, 0, BigInt(L) as unknown as number)).toBeUndefined()
      const cbc = node.cbcEncrypt(k.r, new Uint8Array(16), new Uint8Array(40).fill(2))
      expect(native.cbcDecrypt(k.n, cbc, 0, cbc.length)).toBeDefined()
      expect(native.cbcDecrypt(k.n, cbc, -cbc.length, cbc.length)).toBeUndefined()
      expect(native.cbcDecrypt(k.n, cbc, 0n as unknown as number, cbc.length)).toBeUndefined()
      expect(native.cbcDecrypt(k.n, cbc, "0" as unknown as number, cbc.length)).toBeUndefined()
      native.releaseKey(k.n)
    })
  })

differential("pooled results", native)
differential("one allocation per result", unpooled)

describe("native crypto: argument hardening", () => {
  const secret = new Uint8Array(32).fill(5)
  const handle = native.importKey(secret)
  const blob = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(50).fill(1))
  const cbc = native.cbcEncrypt(handle, new Uint8Array(16), new Uint8Array(50).fill(1))

  it("accepts Buffers and views with a byteOffset", () => {
    expect(native.gcmDecrypt(handle, Buffer.from(blob), 0, blob.length)).toHaveLength(50)
    const backing = new ArrayBuffer(blob.length + 64)
    const viewAt = new Uint8Array(backing, 32, blob.length)
    viewAt.set(blob)
    expect(native.gcmDecrypt(handle, viewAt, 0, blob.length)).toHaveLength(50)
    // The view's bounds, not the backing buffer's, are what count.
    expect(native.gcmDecrypt(handle, new Uint8Array(backing, 32, blob.length - 1), 0, blob.length)).toBeUndefined()
  })

  it("rejects anything that is not a Uint8Array as data", () => {
    const others: ReadonlyArray<unknown> = [
      new Uint8ClampedArray(blob),
      new Int8Array(blob),
      new Uint16Array(blob.buffer.slice(0, 64)),
      new DataView(blob.buffer),
      blob.buffer,
      Array.from(blob),
      Buffer.from(blob).toString("latin1"),
      null,
      undefined,
      42,
      {}
    ]
    for (const other of others) {
      expect(native.gcmDecrypt(handle, other as Uint8Array, 0, blob.length)).toBeUndefined()
      expect(native.cbcDecrypt(handle, other as Uint8Array, 0, cbc.length)).toBeUndefined()
    }
  })

  it("rejects a detached buffer", () => {
    const copy = Uint8Array.from(blob)
    structuredClone(copy.buffer, { transfer: [copy.buffer] })
    expect(copy.length).toBe(0)
    expect(native.gcmDecrypt(handle, copy, 0, blob.length)).toBeUndefined()
  })

  it("decrypts return undefined for foreign or missing handles; encrypts throw TypeError", () => {
    const foreign: ReadonlyArray<unknown> = [
      {},
      null,
      undefined,
      0,
      "key",
      secret,
      createSecretKey(secret),
      node.importKey(secret)
    ]
    for (const h of foreign) {
      expect(native.gcmDecrypt(h, blob, 0, blob.length)).toBeUndefined()
      expect(native.cbcDecrypt(h, cbc, 0, cbc.length)).toBeUndefined()
      expect(() => native.gcmEncrypt(h, new Uint8Array(12), new Uint8Array(1))).toThrow(TypeError)
      expect(() => native.cbcEncrypt(h, new Uint8Array(16), new Uint8Array(1))).toThrow(TypeError)
      expect(() => native.releaseKey(h)).not.toThrow()
    }
    // Too few arguments.
    expect((native.gcmDecrypt as (...args: Array<unknown>) => unknown)(handle, blob)).toBeUndefined()
    expect(() => (native.gcmEncrypt as (...args: Array<unknown>) => unknown)(handle)).toThrow(TypeError)
  })

  it("importKey and the encrypts validate lengths", () => {
    for (const n of [0, 16, 31, 33, 64]) expect(() => native.importKey(new Uint8Array(n))).toThrow(RangeError)
    expect(() => native.importKey("x".repeat(32) as unknown as Uint8Array)).toThrow(TypeError)
    for (const n of [0, 8, 11, 13, 16]) {
      expect(() => native.gcmEncrypt(handle, new Uint8Array(n), new Uint8Array(1))).toThrow(RangeError)
    }
    for (const n of [0, 12, 15, 17, 32]) {
      expect(() => native.cbcEncrypt(handle, new Uint8Array(n), new Uint8Array(1))).toThrow(RangeError)
    }
    expect(() => native.gcmEncrypt(handle, new Uint8Array(12), [1, 2] as unknown as Uint8Array)).toThrow(TypeError)
  })

  it("leaves the OpenSSL error queue clean for node:crypto", () => {
    const bad = Uint8Array.from(cbc)
    bad[bad.length - 17]! ^= 0xff
    for (let i = 0; i < 100; i++) {
      expect(native.cbcDecrypt(handle, bad, 0, bad.length)).toBeUndefined()
      expect(native.gcmDecrypt(handle, bad, 0, bad.length)).toBeUndefined()
    }
    // A node:crypto operation right after must neither fail nor report a stale error.
    const k = node.importKey(secret)
    expect(hex(node.gcmDecrypt(k, blob, 0, blob.length))).toBe(hex(new Uint8Array(50).fill(1)))
    expect(hex(node.gcmEncrypt(k, new Uint8Array(12), new Uint8Array(3)))).toBe(
      hex(native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(3)))
    )
  })

  it("sha256 and randomBytes behave like node's", () => {
    expect(hex(native.sha256(new TextEncoder().encode("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    const r = native.randomBytes(33)
    expect(r).toBeInstanceOf(Uint8Array)
    expect(r.length).toBe(33)
    expect(hex(native.randomBytes(16))).not.toBe(hex(native.randomBytes(16)))
  })
})

describe("native crypto: pooled results and the *Into entry points", () => {
  const secret = new Uint8Array(32).fill(6)
  const handle = native.importKey(secret)

  it("results never alias: 5000 decrypts (crossing many pools) all keep their plaintext", () => {
    const kept: Array<[Uint8Array, Uint8Array]> = []
    for (let i = 0; i < 5000; i++) {
      const plain = Uint8Array.from({ length: (i * 37) % 300 }, (_, j) => (i + j) & 0xff)
      const gcm = native.gcmEncrypt(handle, new Uint8Array(12).fill(i & 0xff), plain)
      const cbc = native.cbcEncrypt(handle, new Uint8Array(16).fill(i & 0xff), plain)
      kept.push([native.gcmDecrypt(handle, gcm, 0, gcm.length)!, plain], [
        native.cbcDecrypt(handle, cbc, 0, cbc.length)!,
        plain
      ])
    }
    for (const [got, want] of kept) expect(hex(got)).toBe(hex(want))
    expect(new Set(kept.map(([got]) => got.buffer)).size).toBeGreaterThan(100)
  })

  it("a pooled result's buffer cannot be transferred (which would detach its neighbours)", () => {
    const blob = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(40).fill(1))
    const a = native.gcmDecrypt(handle, blob, 0, blob.length)!
    const b = native.gcmDecrypt(handle, blob, 0, blob.length)!
    expect(a.buffer).toBe(b.buffer)
    // Node 20 silently copies an untransferable buffer instead of moving it; Node >= 21 throws.
    try {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] })
    } catch {
      // fine either way: what matters is that nothing was detached
    }
    expect(a.length).toBe(40)
    expect(hex(b)).toBe(hex(new Uint8Array(40).fill(1)))
  })

  it("a failed decrypt leaves no unauthenticated plaintext in the pool", () => {
    const plain = new Uint8Array(200).fill(0xaa)
    const blob = native.gcmEncrypt(handle, new Uint8Array(12), plain)
    blob[blob.length - 1]! ^= 1
    expect(native.gcmDecrypt(handle, blob, 0, blob.length)).toBeUndefined()
    // The next result lands where the failed one was written: the bytes after it must be zero, not 0xaa.
    const small = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(1).fill(1))
    const next = native.gcmDecrypt(handle, small, 0, small.length)!
    const after = new Uint8Array(next.buffer, next.byteOffset + 1, 150)
    expect(after.every((x) => x === 0)).toBe(true)
  })

  it("gcmDecryptInto/cbcDecryptInto write only inside [offset, offset + need) and reject bad targets", () => {
    const gcm = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(50).fill(7))
    const cbc = native.cbcEncrypt(handle, new Uint8Array(16), new Uint8Array(50).fill(7))
    const canary = 0x5c
    const target = new Uint8Array(200).fill(canary)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, 10)).toBe(true)
    expect(target.subarray(10, 60).every((x) => x === 7)).toBe(true)
    expect(target.subarray(0, 10).every((x) => x === canary) && target.subarray(60).every((x) => x === canary)).toBe(
      true
    )
    target.fill(canary)
    expect(addon.cbcDecryptInto(handle, cbc, 0, cbc.length, target, 100)).toBe(50)
    expect(target.subarray(100, 150).every((x) => x === 7)).toBe(true)
    expect(target.subarray(0, 100).every((x) => x === canary)).toBe(true)
    // The room beyond the plaintext (needed by OpenSSL) is left zeroed, and nothing past end - start is touched.
    expect(target.subarray(150, 100 + cbc.length).every((x) => x === 0)).toBe(true)
    expect(target.subarray(100 + cbc.length).every((x) => x === canary)).toBe(true)

    // Too little room, offsets out of range, non-Uint8Array targets, too few arguments.
    const tight = new Uint8Array(49)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, tight, 0)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, 151)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, 201)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, -1)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, 1.5)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, new Uint16Array(200), 0)).toBe(false)
    expect(addon.gcmDecryptInto(handle, gcm, 0, gcm.length, target, undefined)).toBe(false)
    expect(addon.cbcDecryptInto(handle, cbc, 0, cbc.length, new Uint8Array(cbc.length - 1), 0)).toBe(-1)
    expect(addon.cbcDecryptInto(handle, cbc, 0, cbc.length, target, 200 - cbc.length + 1)).toBe(-1)
    expect(addon.cbcDecryptInto(handle, cbc, 0, cbc.length, {}, 0)).toBe(-1)
    expect(tight.every((x) => x === 0)).toBe(true)
  })

  it("the *Into entry points refuse an output region overlapping the input", () => {
    const gcm = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(50).fill(7))
    const shared = new Uint8Array(300)
    shared.set(gcm, 100)
    for (const offset of [60, 90, 100, 120, 150]) {
      expect(addon.gcmDecryptInto(handle, shared, 100, 100 + gcm.length, shared, offset)).toBe(false)
    }
    expect(addon.gcmDecryptInto(handle, shared, 100, 100 + gcm.length, shared, 0)).toBe(true)
    expect(addon.gcmDecryptInto(handle, shared, 100, 100 + gcm.length, shared, 100 + gcm.length)).toBe(true)
    const cbc = native.cbcEncrypt(handle, new Uint8Array(16), new Uint8Array(50).fill(7))
    shared.fill(0).set(cbc, 100)
    expect(addon.cbcDecryptInto(handle, shared, 100, 100 + cbc.length, shared, 40)).toBe(-1)
    expect(addon.cbcDecryptInto(handle, shared, 100, 100 + cbc.length, shared, 0)).toBe(50)
  })
})

/** What a call throws, as comparable data (undefined when it does not throw), or its result's bytes. */
const outcome = (f: () => Uint8Array): unknown => {
  try {
    return { bytes: hex(f()) }
  } catch (e) {
    const err = e as { constructor?: { name?: string }; code?: unknown; message?: unknown }
    return { threw: err?.constructor?.name, code: err?.code, message: err?.message }
  }
}

describe("native crypto: pooled encrypt and gcmEncryptInto / cbcEncryptInto", () => {
  const secret = new Uint8Array(32).fill(11)
  const handle = native.importKey(secret)
  const ref = node.importKey(secret)

  it("pooled GCM and CBC encrypts give node:crypto's bytes (keys, nonces, plaintexts 0-300) and never alias", () => {
    const kept: Array<[Uint8Array, string]> = []
    FastCheck.assert(
      FastCheck.property(key, bytes(12, 12), bytes(16, 16), bytes(0, 300), (secret, nonce, iv, plain) => {
        const n = native.importKey(secret)
        const r = node.importKey(secret)
        const gcm = native.gcmEncrypt(n, nonce, plain)
        const cbc = native.cbcEncrypt(n, iv, plain)
        expect(hex(gcm)).toBe(hex(node.gcmEncrypt(r, nonce, plain)))
        expect(hex(cbc)).toBe(hex(node.cbcEncrypt(r, iv, plain)))
        expect(hex(gcm)).toBe(hex(unpooled.gcmEncrypt(n, nonce, plain)))
        expect(hex(cbc)).toBe(hex(unpooled.cbcEncrypt(n, iv, plain)))
        // Served from the pool: a slice of a shared 8 KiB buffer, not an allocation of its own.
        expect(gcm.buffer.byteLength).toBe(NativeCrypto.POOL_SIZE)
        expect(cbc.buffer.byteLength).toBe(NativeCrypto.POOL_SIZE)
        kept.push([gcm, hex(gcm)], [cbc, hex(cbc)])
        native.releaseKey(n)
      }),
      { numRuns: 1000 }
    )
    // Every result still holds its bytes after all the later encrypts (and decrypts) from the same pools ...
    for (const [got, want] of kept) expect(hex(got)).toBe(want)
    // ... and no two results share a byte.
    const byBuffer = new Map<ArrayBufferLike, Array<Uint8Array>>()
    for (const [got] of kept) byBuffer.set(got.buffer, [...(byBuffer.get(got.buffer) ?? []), got])
    expect(byBuffer.size).toBeGreaterThan(3)
    for (const views of byBuffer.values()) {
      const sorted = [...views].sort((a, b) => a.byteOffset - b.byteOffset)
      for (let i = 1; i < sorted.length; i++) {
        expect(sorted[i - 1]!.byteOffset + sorted[i - 1]!.length).toBeLessThanOrEqual(sorted[i]!.byteOffset)
      }
    }
  })

  it("encrypts and decrypts interleaved on one pool; a pooled ciphertext can be the next plaintext", () => {
    const plain = Uint8Array.from({ length: 69 }, (_, i) => i)
    const site = native.gcmEncrypt(handle, new Uint8Array(12).fill(1), plain)
    const opened = native.gcmDecrypt(handle, site, 0, site.length)!
    const master = native.gcmEncrypt(handle, new Uint8Array(12).fill(2), site)
    expect(opened.buffer).toBe(site.buffer)
    expect(master.buffer).toBe(site.buffer)
    expect(hex(master)).toBe(
      hex(node.gcmEncrypt(ref, new Uint8Array(12).fill(2), node.gcmEncrypt(ref, new Uint8Array(12).fill(1), plain)))
    )
    expect(hex(native.gcmDecrypt(handle, master, 0, master.length))).toBe(hex(site))
    expect(hex(opened)).toBe(hex(plain))
    const cbc = native.cbcEncrypt(handle, new Uint8Array(16).fill(3), master)
    expect(hex(cbc)).toBe(hex(node.cbcEncrypt(ref, new Uint8Array(16).fill(3), master)))
  })

  it("results beyond POOL_MAX_RESULT get their own ArrayBuffer, at every size around the limit", () => {
    for (let size = NativeCrypto.POOL_MAX_RESULT - 64; size <= NativeCrypto.POOL_MAX_RESULT + 40; size++) {
      const plain = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff)
      const gcm = native.gcmEncrypt(handle, new Uint8Array(12), plain)
      const cbc = native.cbcEncrypt(handle, new Uint8Array(16), plain)
      expect(hex(gcm)).toBe(hex(node.gcmEncrypt(ref, new Uint8Array(12), plain)))
      expect(hex(cbc)).toBe(hex(node.cbcEncrypt(ref, new Uint8Array(16), plain)))
      expect(gcm.buffer.byteLength === NativeCrypto.POOL_SIZE).toBe(gcm.length <= NativeCrypto.POOL_MAX_RESULT)
      expect(cbc.buffer.byteLength === NativeCrypto.POOL_SIZE).toBe(cbc.length <= NativeCrypto.POOL_MAX_RESULT)
    }
    const big = new Uint8Array(5000).fill(9)
    expect(hex(native.gcmEncrypt(handle, new Uint8Array(12), big))).toBe(
      hex(node.gcmEncrypt(ref, new Uint8Array(12), big))
    )
    expect(hex(native.cbcEncrypt(handle, new Uint8Array(16), big))).toBe(
      hex(node.cbcEncrypt(ref, new Uint8Array(16), big))
    )
  })

  it("a pooled encrypt result's buffer cannot be transferred", () => {
    const a = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(10))
    const b = native.cbcEncrypt(handle, new Uint8Array(16), new Uint8Array(10))
    expect(a.buffer).toBe(b.buffer)
    try {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] })
    } catch {
      // Node >= 21 throws; Node 20 copies. Either way nothing may be detached.
    }
    expect(a.length).toBe(38)
    expect(hex(b)).toBe(hex(node.cbcEncrypt(ref, new Uint8Array(16), new Uint8Array(10))))
  })

  it("bad inputs throw exactly what the unpooled encrypts throw (class, code, message)", () => {
    const released = native.importKey(secret)
    native.releaseKey(released)
    class Liar extends Uint8Array {
      override get length() {
        return 0
      }
    }
    const liar = new Liar(100).fill(4)
    const handles: ReadonlyArray<unknown> = [handle, released, {}, null, undefined, 0, "key", secret, ref]
    const ivs = (n: number): ReadonlyArray<unknown> => [
      new Uint8Array(n),
      new Uint8Array(n - 1),
      new Uint8Array(n + 1),
      new Uint8Array(0),
      Buffer.alloc(n),
      new Uint8ClampedArray(n),
      new Uint16Array(n),
      Array.from({ length: n }, () => 0),
      "x".repeat(n),
      null,
      undefined
    ]
    const plaintexts: ReadonlyArray<unknown> = [
      new Uint8Array(0),
      new Uint8Array(69).fill(1),
      Buffer.alloc(130, 2),
      new Uint8Array(new ArrayBuffer(64), 8, 40),
      new Uint8Array(2000),
      liar,
      new Uint16Array(10),
      new Int8Array(10),
      new DataView(new ArrayBuffer(16)),
      new ArrayBuffer(16),
      [1, 2, 3],
      "abc",
      { length: 3 },
      null,
      undefined,
      42
    ]
    let compared = 0
    for (const [name, ivLength] of [["gcmEncrypt", 12], ["cbcEncrypt", 16]] as const) {
      const pooledEncrypt = native[name] as (...args: ReadonlyArray<unknown>) => Uint8Array
      const allocating = unpooled[name] as (...args: ReadonlyArray<unknown>) => Uint8Array
      for (const h of handles) {
        for (const iv of ivs(ivLength)) {
          for (const plain of plaintexts) {
            expect(outcome(() => pooledEncrypt(h, iv, plain)), `${name}`).toEqual(
              outcome(() => allocating(h, iv, plain))
            )
            compared++
          }
        }
      }
      // Too few and too many arguments.
      const good = [handle, new Uint8Array(ivLength), new Uint8Array(5)] as const
      for (let n = 0; n <= 3; n++) {
        expect(outcome(() => pooledEncrypt(...good.slice(0, n)))).toEqual(
          outcome(() => allocating(...good.slice(0, n)))
        )
      }
      expect(outcome(() => pooledEncrypt(...good, 1, 2))).toEqual(outcome(() => allocating(...good, 1, 2)))
    }
    expect(compared).toBe(2 * handles.length * 11 * plaintexts.length)
    // And the errors themselves are the documented ones.
    expect(() => native.gcmEncrypt(released, new Uint8Array(12), new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: "ERR_NATIVE_CRYPTO_KEY_RELEASED" })
    )
    expect(() => native.gcmEncrypt(handle, new Uint8Array(11), new Uint8Array(1))).toThrow(RangeError)
    expect(() => native.cbcEncrypt({}, new Uint8Array(16), new Uint8Array(1))).toThrow(TypeError)
    expect(hex(native.gcmEncrypt(handle, new Uint8Array(12), liar))).toBe(
      hex(node.gcmEncrypt(ref, new Uint8Array(12), Uint8Array.from(new Uint8Array(liar.buffer))))
    )
  })

  it("a throwing encrypt leaves the pool as it was: the next result lands where it would have", () => {
    const released = native.importKey(secret)
    native.releaseKey(released)
    const a = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(4))
    expect(() => native.gcmEncrypt(released, new Uint8Array(12), new Uint8Array(4))).toThrow()
    expect(() => native.cbcEncrypt(handle, new Uint8Array(15), new Uint8Array(4))).toThrow()
    const b = native.gcmEncrypt(handle, new Uint8Array(12), new Uint8Array(4))
    if (b.buffer === a.buffer) expect(b.byteOffset).toBe((a.byteOffset + a.length + 7) & ~7)
  })

  it("gcmEncryptInto/cbcEncryptInto write exactly [offset, offset + need) and return need", () => {
    const canary = 0x5c
    FastCheck.assert(
      FastCheck.property(bytes(12, 12), bytes(16, 16), bytes(0, 300), FastCheck.nat(64), (nonce, iv, plain, offset) => {
        for (
          const [into, ref, need] of [
            [addon.gcmEncryptInto, node.gcmEncrypt(node.importKey(secret), nonce, plain), 28 + plain.length],
            [
              addon.cbcEncryptInto,
              node.cbcEncrypt(node.importKey(secret), iv, plain),
              16 + (Math.floor(plain.length / 16) + 1) * 16
            ]
          ] as const
        ) {
          const target = new Uint8Array(offset + need + 17).fill(canary)
          expect(into(handle, into === addon.gcmEncryptInto ? nonce : iv, plain, target, offset)).toBe(need)
          expect(hex(target.subarray(offset, offset + need))).toBe(hex(ref))
          expect(target.subarray(0, offset).every((x) => x === canary)).toBe(true)
          expect(target.subarray(offset + need).every((x) => x === canary)).toBe(true)
          // Exactly enough room, at the very end of the target, also works.
          const exact = new Uint8Array(offset + need).fill(canary)
          expect(into(handle, into === addon.gcmEncryptInto ? nonce : iv, plain, exact, offset)).toBe(need)
          expect(hex(exact.subarray(offset))).toBe(hex(ref))
        }
      }),
      { numRuns: 300 }
    )
  })

  it("the encrypt Into entry points reject unusable targets with -1 and write nothing", () => {
    const plain = new Uint8Array(50).fill(7)
    for (const [into, ivLength, need] of [[addon.gcmEncryptInto, 12, 78], [addon.cbcEncryptInto, 16, 80]] as const) {
      const iv = new Uint8Array(ivLength)
      const target = new Uint8Array(200).fill(1)
      const rejected: ReadonlyArray<[unknown, unknown]> = [
        [new Uint8Array(need - 1), 0],
        [target, 200 - need + 1],
        [target, 200],
        [target, 201],
        [target, -1],
        [target, 1.5],
        [target, NaN],
        [target, Infinity],
        [target, "0"],
        [target, 0n],
        [target, undefined],
        [target, null],
        [new Uint16Array(200), 0],
        [new Uint8ClampedArray(200), 0],
        [new DataView(new ArrayBuffer(200)), 0],
        [target.buffer, 0],
        [Array.from(target), 0],
        [{}, 0],
        [undefined, 0],
        [new Uint8Array(new ArrayBuffer(400), 100, need - 1), 0]
      ]
      for (const [out, offset] of rejected) {
        expect(into(handle, iv, plain, out, offset), `${String(offset)}`).toBe(-1)
      }
      expect(into(handle, iv, plain, target), "4 arguments").toBe(-1)
      expect(target.every((x) => x === 1)).toBe(true)
      // A detached target has length 0.
      const detached = new Uint8Array(200)
      structuredClone(detached.buffer, { transfer: [detached.buffer] })
      expect(into(handle, iv, plain, detached, 0)).toBe(-1)
      // A view's own bounds count, not its backing buffer's.
      const backing = new Uint8Array(400).fill(2)
      expect(into(handle, iv, plain, new Uint8Array(backing.buffer, 100, need - 1), 0)).toBe(-1)
      expect(backing.every((x) => x === 2)).toBe(true)
      expect(into(handle, iv, plain, new Uint8Array(backing.buffer, 100, need), 0)).toBe(need)
      expect(backing.subarray(0, 100).every((x) => x === 2) && backing.subarray(100 + need).every((x) => x === 2)).toBe(
        true
      )
    }
  })

  it("the encrypt Into entry points throw the allocating encrypts' errors on a bad key, iv or plaintext (target untouched)", () => {
    const released = native.importKey(secret)
    native.releaseKey(released)
    const cases = (n: number): ReadonlyArray<ReadonlyArray<unknown>> => [
      [],
      [handle],
      [handle, new Uint8Array(n)],
      [released, new Uint8Array(n), new Uint8Array(3)],
      [{}, new Uint8Array(n), new Uint8Array(3)],
      [ref, new Uint8Array(n), new Uint8Array(3)],
      [handle, new Uint8Array(n - 1), new Uint8Array(3)],
      [handle, new Uint8Array(n + 4), new Uint8Array(3)],
      [handle, "x".repeat(n), new Uint8Array(3)],
      [handle, new Uint8Array(n), [1, 2, 3]],
      [handle, new Uint8Array(n), new Uint16Array(3)],
      [handle, new Uint8Array(n), undefined]
    ]
    for (
      const [into, allocating, ivLength] of [
        [addon.gcmEncryptInto, addon.gcmEncrypt, 12],
        [addon.cbcEncryptInto, addon.cbcEncrypt, 16]
      ] as const
    ) {
      for (const args of cases(ivLength)) {
        const target = new Uint8Array(300).fill(3)
        const expected = outcome(() => allocating(...args))
        expect(expected).toHaveProperty("threw")
        if (args.length < 3) {
          // Too few for the allocating call is also too few for the Into call, whatever follows.
          expect(outcome(() => (into(...args), new Uint8Array(0)))).toEqual(expected)
        } else {
          expect(outcome(() => (into(...args, target, 0), new Uint8Array(0)))).toEqual(expected)
        }
        expect(target.every((x) => x === 3)).toBe(true)
      }
    }
  })

  it("the encrypt Into entry points refuse an output region overlapping the plaintext or the iv", () => {
    for (const [into, ivLength, need] of [[addon.gcmEncryptInto, 12, 78], [addon.cbcEncryptInto, 16, 80]] as const) {
      const shared = new Uint8Array(400)
      // plaintext at [100, 150), iv at [300, 300 + ivLength)
      shared.fill(7, 100, 150)
      const plain = shared.subarray(100, 150)
      const iv = shared.subarray(300, 300 + ivLength)
      const snapshot = hex(shared)
      for (const offset of [23, 50, 99, 100, 120, 149, 300 - need + 1, 250, 300, 300 + ivLength - 1]) {
        expect(into(handle, iv, plain, shared, offset), `offset ${offset}`).toBe(-1)
        expect(hex(shared)).toBe(snapshot)
      }
      // Touching but not overlapping is fine: right after the plaintext, right before the iv, right after it.
      const ref = (ivLength === 12 ? node.gcmEncrypt : node.cbcEncrypt)(
        node.importKey(secret),
        Uint8Array.from(iv),
        Uint8Array.from(plain)
      )
      for (const offset of [100 - need, 150, 300 - need, 300 + ivLength]) {
        const fresh = new Uint8Array(400)
        fresh.fill(7, 100, 150)
        expect(into(handle, fresh.subarray(300, 300 + ivLength), fresh.subarray(100, 150), fresh, offset)).toBe(need)
        expect(hex(fresh.subarray(offset, offset + need))).toBe(hex(ref))
      }
    }
  })
})

describe("native crypto: key lifecycle", () => {
  it("10k keys imported, used and released: live keys and contexts return to baseline; double release is a no-op", () => {
    const keys0 = native.liveKeys()
    const contexts0 = native.liveContexts()
    const plain = new Uint8Array(69).fill(3)
    const handles: Array<unknown> = []
    for (let i = 0; i < 10_000; i++) {
      const secret = new Uint8Array(32)
      new DataView(secret.buffer).setUint32(0, i)
      const h = native.importKey(secret)
      handles.push(h)
      if (i % 2 === 0) {
        const blob = native.gcmEncrypt(h, new Uint8Array(12), plain)
        expect(native.gcmDecrypt(h, blob, 0, blob.length)).toBeDefined()
      }
      if (i % 5 === 0) {
        const blob = native.cbcEncrypt(h, new Uint8Array(16), plain)
        expect(native.cbcDecrypt(h, blob, 0, blob.length)).toBeDefined()
      }
    }
    expect(native.liveKeys()).toBe(keys0 + 10_000)
    // GCM enc+dec on 5000 keys, CBC enc+dec on 2000 keys.
    expect(native.liveContexts()).toBe(contexts0 + 5000 * 2 + 2000 * 2)
    for (const h of handles) native.releaseKey(h)
    expect(native.liveKeys()).toBe(keys0)
    expect(native.liveContexts()).toBe(contexts0)
    for (const h of handles) native.releaseKey(h)
    expect(native.liveKeys()).toBe(keys0)
    expect(native.liveContexts()).toBe(contexts0)
  })

  it("use after release: decrypts return undefined, encrypts throw a clean error, nothing is re-created", () => {
    const secret = new Uint8Array(32).fill(8)
    const h = native.importKey(secret)
    const blob = native.gcmEncrypt(h, new Uint8Array(12), new Uint8Array(10))
    const cbc = native.cbcEncrypt(h, new Uint8Array(16), new Uint8Array(10))
    expect(native.gcmDecrypt(h, blob, 0, blob.length)).toBeDefined()
    expect(native.cbcDecrypt(h, cbc, 0, cbc.length)).toBeDefined()
    const contexts = native.liveContexts()
    native.releaseKey(h)
    expect(native.liveContexts()).toBe(contexts - 4)
    expect(native.gcmDecrypt(h, blob, 0, blob.length)).toBeUndefined()
    expect(native.cbcDecrypt(h, cbc, 0, cbc.length)).toBeUndefined()
    expect(() => native.gcmEncrypt(h, new Uint8Array(12), new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: "ERR_NATIVE_CRYPTO_KEY_RELEASED" })
    )
    expect(() => native.cbcEncrypt(h, new Uint8Array(16), new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: "ERR_NATIVE_CRYPTO_KEY_RELEASED" })
    )
    expect(native.liveContexts()).toBe(contexts - 4)
    // A fresh import of the same secret still works.
    const again = native.importKey(secret)
    expect(hex(native.gcmDecrypt(again, blob, 0, blob.length))).toBe(hex(new Uint8Array(10)))
    native.releaseKey(again)
  })

  it("handles dropped without releaseKey are freed by the GC finalizer", () => {
    const script = `
      const addon = require(${JSON.stringify(native.path)})
      const k0 = addon.liveKeys(), c0 = addon.liveContexts()
      ;(() => {
        for (let i = 0; i < 5000; i++) {
          const h = addon.importKey(new Uint8Array(32).fill(i & 255))
          addon.gcmEncrypt(h, new Uint8Array(12), new Uint8Array(8))
        }
      })()
      const peak = addon.liveKeys() - k0
      let rounds = 0
      const tick = () => {
        globalThis.gc()
        if ((addon.liveKeys() > k0 || addon.liveContexts() > c0) && ++rounds < 200) return setImmediate(tick)
        console.log(JSON.stringify({ peak, keys: addon.liveKeys() - k0, contexts: addon.liveContexts() - c0 }))
      }
      tick()`
    const run = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8", timeout: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ peak: 5000, keys: 0, contexts: 0 })
  })

  it("loads and works in a worker thread (context-aware module)", async () => {
    const code = `
      const { parentPort } = require("node:worker_threads")
      const addon = require(${JSON.stringify(native.path)})
      const h = addon.importKey(new Uint8Array(32).fill(4))
      const blob = addon.gcmEncrypt(h, new Uint8Array(12), new Uint8Array([1, 2, 3]))
      const out = addon.gcmDecrypt(h, blob, 0, blob.length)
      addon.releaseKey(h)
      parentPort.postMessage(Array.from(out))`
    const result = await new Promise((resolve, reject) => {
      const worker = new Worker(code, { eval: true })
      worker.once("message", resolve)
      worker.once("error", reject)
    })
    expect(result).toEqual([1, 2, 3])
  })
})

describe("native crypto: loader and layers", () => {
  const capture = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
      })
      const exit = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Effect.exit)
      return { exit, lines }
    })

  it.effect("layer: native, one start-up log line naming it", () =>
    Effect.gen(function*() {
      const { exit, lines } = yield* capture(NativeCrypto.activeName.pipe(Effect.provide(NativeCrypto.layer)))
      expect(exit).toEqual(Exit.succeed("native"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("native")
      expect(lines[0]).toContain(native.opensslVersion)
      expect(lines[0]).toContain(`from ${native.path}`)
    }))

  it.effect("layerBest: native when it loads", () =>
    Effect.gen(function*() {
      const { exit, lines } = yield* capture(
        Effect.map(Crypto, (c) => [c.name, NativeCrypto.isNative(c)] as const).pipe(
          Effect.provide(NativeCrypto.layerBest)
        )
      )
      expect(exit).toEqual(Exit.succeed(["native", true] as const))
      expect(lines).toHaveLength(1)
    }))

  it.effect("a missing addon: layer fails with NotBuilt, layerBest falls back to node with one log line", () =>
    Effect.gen(function*() {
      const missing = join(tmpdir(), "no-such-dir", "native_crypto.node")
      const failed = yield* capture(NativeCrypto.activeName.pipe(Effect.provide(NativeCrypto.layerAt(missing))))
      expect(Exit.isFailure(failed.exit)).toBe(true)
      const error = yield* Effect.flip(NativeCrypto.activeName.pipe(Effect.provide(NativeCrypto.layerAt(missing))))
      expect(error._tag).toBe("NativeCryptoUnavailable")
      expect(error.reason).toBe("NotBuilt")
      expect(error.tried).toEqual([missing])
      expect(error.message).toBe(`native crypto addon not found; tried ${missing}`)
      expect(failed.lines).toHaveLength(0)

      const best = yield* capture(
        Effect.map(Crypto, (c) => [c.name, NativeCrypto.isNative(c)] as const).pipe(
          Effect.provide(NativeCrypto.layerBestAt(missing))
        )
      )
      expect(best.exit).toEqual(Exit.succeed(["node", false] as const))
      expect(best.lines).toHaveLength(1)
      expect(best.lines[0]).toContain("node")
      expect(best.lines[0]).toContain("NotBuilt")
    }))

  it("the SDK's ready-made layers use native when it loads, else node:crypto, each with one log line", () => {
    const script = fileURLToPath(new URL("./fixtures/default-layer.ts", import.meta.url))
    const run = (env: Record<string, string>) => {
      const child = spawnSync(process.execPath, ["--import", "tsx", script], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, ...env }
      })
      expect(child.status, child.stderr).toBe(0)
      return JSON.parse(child.stdout) as { decrypted: boolean; crypto: Array<string> }
    }
    const withNative = run({ EFFECT_UID2_NATIVE_CRYPTO: native.path })
    expect(withNative.decrypted).toBe(true)
    expect(withNative.crypto).toEqual([
      expect.stringContaining(`native (N-API, ${native.opensslVersion}) from ${native.path}`)
    ])
    const without = run({ EFFECT_UID2_NATIVE_CRYPTO: join(tmpdir(), "no-such-dir", "native_crypto.node") })
    expect(without.decrypted).toBe(true)
    expect(without.crypto).toEqual([
      `effect-uid2 Crypto implementation: node (native unavailable: NotBuilt: native crypto addon not found; tried ${
        join(tmpdir(), "no-such-dir", "native_crypto.node")
      }; EFFECT_UID2_NATIVE_CRYPTO is set, so no other path is tried)`
    ])
  })

  it.effect("make() and the layers share one object per path (rings cache native handles per Crypto object)", () =>
    Effect.gen(function*() {
      const fromLayer = yield* Effect.provide(Crypto, NativeCrypto.layerBest)
      expect(NativeCrypto.make()).toBe(native)
      expect(fromLayer).toBe(native)
      // Options that change behaviour give a distinct object.
      expect(NativeCrypto.make({ random: seededRandom(1) })).not.toBe(native)
      expect(NativeCrypto.make({ pool: false })).not.toBe(native)
    }))

  it("a corrupt binary or a foreign module is a LoadFailed, not a crash", () => {
    const dir = mkdtempSync(join(tmpdir(), "native-crypto-"))
    const corrupt = join(dir, "native_crypto.node")
    writeFileSync(corrupt, "definitely not an ELF file")
    const a = NativeCrypto.load({ path: corrupt })
    expect(Either.isLeft(a) && a.left.reason).toBe("LoadFailed")
    expect(NativeCrypto.make({ path: corrupt })).toBeUndefined()
    const foreign = join(dir, "foreign.cjs")
    writeFileSync(foreign, "module.exports = { importKey: () => 1 }")
    const b = NativeCrypto.load({ path: foreign })
    expect(Either.isLeft(b) && b.left.reason).toBe("LoadFailed")
  })

  it("a module that loads but computes the wrong thing fails the self-test", () => {
    const dir = mkdtempSync(join(tmpdir(), "native-crypto-"))
    const liar = join(dir, "liar.cjs")
    // The real addon, except that GCM decryption ignores the tag.
    writeFileSync(
      liar,
      `const real = require(${JSON.stringify(native.path)})
       module.exports = { ...real, gcmDecrypt: (h, d, s, e) => real.gcmDecrypt(h, d, s, e) ?? new Uint8Array(e - s - 28) }`
    )
    const r = NativeCrypto.load({ path: liar })
    expect(Either.isLeft(r) && r.left.reason).toBe("SelfTestFailed")
  })

  it("the random source is pluggable (e.g. seeded, for reproducible ciphertexts)", () => {
    const a = NativeCrypto.make({ random: seededRandom(3) })!
    const b = makeNode(seededRandom(3))
    expect(hex(a.randomBytes(40))).toBe(hex(b.randomBytes(40)))
  })

  it("GCM overhead constant matches the layout", () => {
    const h = native.importKey(new Uint8Array(32))
    expect(native.gcmEncrypt(h, new Uint8Array(12), new Uint8Array(0))).toHaveLength(GCM_OVERHEAD)
    native.releaseKey(h)
  })
})
