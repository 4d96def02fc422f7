/**
 * The native token opener (`importKeyTable` + `openToken`: Base64 and both GCM
 * layers of a V3/V4 token in one call, both key ids resolved in a native key
 * table) against `referenceOpener` (test/referenceOpener.ts: `Base64.decode`
 * and two node:crypto `gcmDecrypt`s, keys in a Map).
 *
 * Differential over builder tokens (V3/V4, both alphabets, padded or not,
 * 32/33-byte raw UIDs, tables of several keys with negative and extreme int32
 * ids), over hand-sealed layers of every length, and over mutations of their
 * text and bytes: every call must give the same UID *and* leave the same
 * `fields` bytes (on failure: untouched, checked against a sentinel). Then
 * the table lifecycle (missing keys, duplicates, release, GC backstop, worker
 * threads) and the raw addon's argument handling.
 *
 * Requires the addon to be built: `adapters/native-crypto/build.sh`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { spawnSync } from "node:child_process"
import { createCipheriv, createSecretKey } from "node:crypto"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import {
  type Alphabet,
  type KeyHandle,
  type KeyTableEntry,
  makeNode,
  OPENED_FIELDS_LENGTH,
  seededRandom,
  type TokenOpener
} from "../../../src/Crypto.js"
import * as Base64 from "../../../src/internal/base64.js"
import { readInt32, readInt64 } from "../../../src/internal/bytes.js"
import * as Builders from "../../../src/testing/Builders.js"
import { referenceOpener } from "../../../test/referenceOpener.js"
import * as NativeCrypto from "../index.js"

const loaded = NativeCrypto.load()
if (Either.isLeft(loaded)) {
  throw new Error(
    `${loaded.left.message} (reason ${loaded.left.reason}); build it with adapters/native-crypto/build.sh`
  )
}
const native: NativeCrypto.NativeCrypto = loaded.right
if (native.tokenOpener === undefined) throw new Error("the loaded addon has no importKeyTable/openToken; rebuild it")
const opener: TokenOpener = native.tokenOpener
const node = makeNode(seededRandom(11))
const reference: TokenOpener = referenceOpener(node)

/** The raw addon exports, called with arguments the TypeScript types would not allow. */
const addon = createRequire(import.meta.url)(native.path) as {
  readonly importKey: (secret: Uint8Array) => KeyHandle
  readonly releaseKey: (handle: unknown) => void
  readonly importKeyTable: (...args: ReadonlyArray<unknown>) => KeyHandle
  readonly openToken: (...args: ReadonlyArray<unknown>) => string | undefined
  readonly gcmDecrypt: (...args: ReadonlyArray<unknown>) => Uint8Array | undefined
  readonly gcmEncrypt: (...args: ReadonlyArray<unknown>) => Uint8Array
  readonly liveKeys: () => number
}

const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1
const TOKEN_MAX_TEXT = 4096 // native_crypto.c: longer texts are declined (the token core then takes its general path)

const hex = (u: Uint8Array | undefined): string => u === undefined ? "undefined" : Buffer.from(u).toString("hex")
const show = (text: string): string =>
  text.length <= 96 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 48))}…(${text.length} chars)`
const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Uint8Array.from(Buffer.concat(parts))

// ---------------------------------------------------------------------------
// The differential check

/** `fields` is a view at LEAD into a sentinel-filled buffer, so a write before it or past 75 bytes shows. */
const LEAD = 8
const TAIL = 8
const SENTINEL = 0xa5
const fieldsBuffer = () => new Uint8Array(LEAD + OPENED_FIELDS_LENGTH + TAIL).fill(SENTINEL)

interface Tables {
  readonly native: KeyHandle
  readonly reference: KeyHandle
}

/** Both openers' tables of the same entries; the native one released afterwards. */
const withTables = <A>(entries: ReadonlyArray<KeyTableEntry>, f: (t: Tables) => A): A => {
  const t = { native: opener.importKeys(entries), reference: reference.importKeys(entries) }
  try {
    return f(t)
  } finally {
    native.releaseKey(t.native)
  }
}

interface Opened {
  readonly uid: string | undefined
  /** The 75 fields written (all SENTINEL when the open failed). */
  readonly fields: Uint8Array
}

/** Native vs reference on one input: same return value, same bytes in (and around) `fields`. */
const agree = (t: Tables, text: string, alphabet: Alphabet, label = ""): Opened => {
  const nb = fieldsBuffer()
  const rb = fieldsBuffer()
  const got = opener.open(text, alphabet, t.native, nb.subarray(LEAD))
  const want = reference.open(text, alphabet, t.reference, rb.subarray(LEAD))
  if (got !== want || !Buffer.from(nb).equals(rb)) {
    expect({ uid: got, fields: hex(nb) }, `open(${show(text)}, ${alphabet}) ${label}`).toEqual({
      uid: want,
      fields: hex(rb)
    })
  }
  // Never anything outside [LEAD, LEAD + 75); nothing at all on failure.
  const untouched = (b: number) => b === SENTINEL
  if (!nb.subarray(0, LEAD).every(untouched) || !nb.subarray(LEAD + OPENED_FIELDS_LENGTH).every(untouched)) {
    expect.fail(`open(${show(text)}) wrote outside fields[0, 75)`)
  }
  if (got === undefined && !nb.every(untouched)) expect.fail(`open(${show(text)}) failed but wrote fields`)
  return { uid: got, fields: nb.slice(LEAD, LEAD + OPENED_FIELDS_LENGTH) }
}

// ---------------------------------------------------------------------------
// Spellings and odd characters

/** Standard ↔ URL-safe characters, each swapped or not by the bits of `mask`. */
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

/** Alphabet, padding, other ASCII, and non-ASCII whose low byte is an alphabet character or '='. */
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
  "\u00ff",
  "\u0141", // Ł: low byte 0x41 'A'
  "\u0161", // š: low byte 0x61 'a'
  "\u0130", // İ: low byte 0x30 '0'
  "\u012b", // low byte 0x2b '+'
  "\u012f", // low byte 0x2f '/'
  "\u012d", // low byte 0x2d '-'
  "\u015f", // low byte 0x5f '_'
  "\u013d", // low byte 0x3d '='
  "\uff21", // fullwidth A
  "\ud83d\ude00", // a surrogate pair
  "\ud800" // a lone surrogate
]
const ALPHABET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Every character of `text` that lies in the alphabet replaced by a code unit with the same low byte. */
const aliasAll = (text: string) =>
  text.replace(/[A-Za-z0-9+/\-_=]/g, (c) => String.fromCharCode(0x100 | c.charCodeAt(0)))

// ---------------------------------------------------------------------------
// Keys and tokens

const bytes = (min: number, max: number) => FastCheck.uint8Array({ minLength: min, maxLength: max })
const int32 = FastCheck.oneof(
  { weight: 4, arbitrary: FastCheck.integer({ min: INT32_MIN, max: INT32_MAX }) },
  { weight: 1, arbitrary: FastCheck.constantFrom(INT32_MIN, INT32_MIN + 1, -2, -1, 0, 1, INT32_MAX - 1, INT32_MAX) }
)
/** 2–8 keys with distinct int32 ids: a small key ring's table. */
const entriesArb = FastCheck.uniqueArray(FastCheck.record({ id: int32, secret: bytes(32, 32) }), {
  selector: (e) => e.id,
  minLength: 2,
  maxLength: 8
})

const tokenArb = FastCheck.record({
  entries: entriesArb,
  /** Indices (mod entries.length) of the master and the site key; the same key for both is allowed. */
  master: FastCheck.nat(),
  site: FastCheck.nat(),
  version: FastCheck.constantFrom(3 as const, 4 as const),
  uid: FastCheck.oneof(bytes(32, 32), bytes(33, 33)),
  masterNonce: bytes(12, 12),
  siteNonce: bytes(12, 12),
  scope: FastCheck.constantFrom("UID2" as const, "EUID" as const),
  type: FastCheck.constantFrom("Email" as const, "Phone" as const),
  siteId: int32,
  privacyBits: FastCheck.integer({ min: 0, max: 15 }),
  now: FastCheck.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 })
})
type TokenCase = typeof tokenArb extends FastCheck.Arbitrary<infer T> ? T : never

const specKey = (e: KeyTableEntry) => Builders.key({ id: e.id, activates: 0, expires: 2 ** 52, secret: e.secret })

const build = (c: TokenCase) => {
  const masterEntry = c.entries[c.master % c.entries.length]!
  const siteEntry = c.entries[c.site % c.entries.length]!
  const text = Builders.token({
    masterKey: specKey(masterEntry),
    siteKey: specKey(siteEntry),
    now: c.now,
    version: c.version,
    uid: Base64.encode(c.uid),
    identityScope: c.scope,
    identityType: c.type,
    siteId: c.siteId,
    privacyBits: c.privacyBits,
    nonces: { master: c.masterNonce, site: c.siteNonce },
    crypto: node
  })
  const raw = Base64.decode(text, "either")!
  const alphabet: Alphabet = c.version === 3 ? "standard" : "either"
  return { text, raw, alphabet, masterEntry, siteEntry }
}

/** The builder's token opens on both sides to its raw UID, with the V3/V4 layout's fields at their offsets. */
const checkOpened = (c: TokenCase, b: ReturnType<typeof build>, o: Opened) => {
  expect(o.uid).toBe(Base64.encode(c.uid))
  const f = o.fields
  expect(hex(f.subarray(0, 6))).toBe(hex(b.raw.subarray(0, 6)))
  expect(f[1]).toBe(c.version === 3 ? 112 : 128)
  expect(readInt32(f, 2)).toBe(b.masterEntry.id)
  expect(readInt64(f, 6)).toBe(c.now + 3_600_000) // expiry
  expect(readInt64(f, 14)).toBe(c.now) // generated
  expect(readInt32(f, 6 + 29)).toBe(b.siteEntry.id)
  expect(readInt32(f, 39)).toBe(c.siteId)
  expect(readInt32(f, 39 + 16)).toBe(c.privacyBits)
}

/** AES-256-GCM with node:crypto: nonce ‖ ciphertext ‖ tag. */
const seal = (secret: Uint8Array, nonce: Uint8Array, plain: Uint8Array): Uint8Array => {
  const c = createCipheriv("aes-256-gcm", secret, nonce)
  return concat(nonce, c.update(plain), c.final(), c.getAuthTag())
}

const int32Bytes = (n: number) => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, n)
  return b
}

/** A V4-shaped token sealed by hand: header ‖ GCM_master(masterFields(33, site key id at 29) ‖ GCM_site(sitePlain)). */
const craft = (
  master: KeyTableEntry,
  site: KeyTableEntry,
  masterFields: Uint8Array,
  sitePlain: Uint8Array,
  nonces: readonly [Uint8Array, Uint8Array] = [new Uint8Array(12).fill(1), new Uint8Array(12).fill(2)]
): Uint8Array => {
  const fields = Uint8Array.from(masterFields)
  fields.set(int32Bytes(site.id), 29)
  return concat(
    Uint8Array.of(0x13, 0x80),
    int32Bytes(master.id),
    seal(master.secret, nonces[0], concat(fields, seal(site.secret, nonces[1], sitePlain)))
  )
}

/** Four keys with fixed ids and secrets: 1, -1 and the int32 extremes. A token of master 1, site -1. */
const fixedEntries: ReadonlyArray<KeyTableEntry> = [
  { id: 1, secret: new Uint8Array(32).fill(1) },
  { id: -1, secret: new Uint8Array(32).fill(2) },
  { id: INT32_MIN, secret: new Uint8Array(32).fill(3) },
  { id: INT32_MAX, secret: new Uint8Array(32).fill(4) }
]
const fixedToken = craft(fixedEntries[0]!, fixedEntries[1]!, new Uint8Array(33).fill(9), new Uint8Array(69).fill(8))
const fixedUid = Base64.encode(new Uint8Array(33).fill(8))
const fixedText = Base64.encodeUrl(fixedToken)

// ---------------------------------------------------------------------------

describe("native tokenOpener: differential against referenceOpener (Base64.decode + 2 x node:crypto gcmDecrypt)", () => {
  it("is exposed, pooled or not", () => {
    expect(typeof opener.importKeys).toBe("function")
    expect(typeof opener.open).toBe("function")
    expect(typeof NativeCrypto.make({ pool: false })?.tokenOpener?.open).toBe("function")
    expect(OPENED_FIELDS_LENGTH).toBe(75)
  })

  it.prop(
    "builder tokens (V3/V4, 32/33-byte UIDs) open identically in every spelling, under both alphabets",
    { c: tokenArb, mask: FastCheck.nat() },
    ({ c, mask }) => {
      const b = build(c)
      withTables(c.entries, (t) => {
        checkOpened(c, b, agree(t, b.text, b.alphabet, "builder text"))
        for (const spelling of spellings(b.raw, mask)) {
          for (const a of ["standard", "either"] as const) agree(t, spelling, a)
        }
        // Other string representations of the same text: sliced off a two-byte string, concatenated.
        agree(t, ("\u0141" + b.text).slice(1), b.alphabet, "sliced two-byte")
        agree(t, b.text.slice(0, 50) + b.text.slice(50), b.alphabet, "cons")
        // The header (prefix, version) is not authenticated: a changed one still opens, and is what fields say.
        for (const at of [0, 1]) {
          const header = Uint8Array.from(b.raw)
          header[at]! ^= 1 << (mask % 8)
          const o = agree(t, toUrl(Base64.encode(header)), "either", `header byte ${at}`)
          expect(o.uid).toBe(Base64.encode(c.uid))
          expect(o.fields[at]).toBe(header[at])
        }
        // Every other key of the table named as the master key: the wrong key, so both fail.
        for (const other of c.entries) {
          const renamed = Uint8Array.from(b.raw)
          renamed.set(int32Bytes(other.id), 2)
          const o = agree(t, Base64.encode(renamed), "standard", `master id ${other.id}`)
          expect(o.uid === undefined).toBe(other.id !== b.masterEntry.id)
        }
      })
      // Tables without the master or the site key; the same keys in another order, with ids outside int32
      // (which the adapter leaves out and the reference can never match).
      const without = (id: number) => c.entries.filter((e) => e.id !== id)
      withTables(
        without(b.masterEntry.id),
        (t) => expect(agree(t, b.text, b.alphabet, "no master key").uid).toBeUndefined()
      )
      withTables(
        without(b.siteEntry.id),
        (t) => expect(agree(t, b.text, b.alphabet, "no site key").uid).toBeUndefined()
      )
      const extra = [2 ** 31, -(2 ** 31) - 1, 2 ** 33 + b.masterEntry.id, 0.5, Number.NaN].map((id) => ({
        id,
        secret: new Uint8Array(32).fill(7)
      }))
      withTables(
        [...extra, ...c.entries].reverse(),
        (t) => checkOpened(c, b, agree(t, b.text, b.alphabet, "reordered"))
      )
    },
    { fastCheck: { numRuns: 100 } }
  )

  it.prop(
    "bit flips in the decoded bytes and in the text; odd characters substituted and inserted",
    {
      c: tokenArb,
      bit: FastCheck.integer({ min: 0, max: 7 }),
      at: FastCheck.nat(),
      chars: FastCheck.array(FastCheck.constantFrom(...ODD_CHARS), { minLength: 4, maxLength: 4 })
    },
    ({ at, bit, c, chars }) => {
      const b = build(c)
      withTables(c.entries, (t) => {
        // One bit of every byte (the two header bytes excepted: unauthenticated, they still open).
        for (let i = 2; i < b.raw.length; i++) {
          const flipped = Uint8Array.from(b.raw)
          flipped[i]! ^= 1 << bit
          const text = c.version === 3 ? Base64.encode(flipped) : Base64.encodeUrl(flipped)
          expect(agree(t, text, b.alphabet, `byte ${i} bit ${bit}`).uid).toBeUndefined()
        }
        const flipped = Uint8Array.from(b.raw)
        flipped[at % b.raw.length]! ^= 1 << bit
        for (const spelling of spellings(flipped, at)) agree(t, spelling, "either")
        for (let k = 0; k < 4; k++) {
          const i = (at + k * 53) % b.text.length
          const ch = chars[k]!
          const code = b.text.charCodeAt(i)
          agree(
            t,
            b.text.slice(0, i) + String.fromCharCode(code ^ (1 << bit)) + b.text.slice(i + 1),
            b.alphabet,
            "char bit"
          )
          agree(t, b.text.slice(0, i) + String.fromCharCode(code | 0x100) + b.text.slice(i + 1), b.alphabet, "alias")
          agree(t, b.text.slice(0, i) + ch + b.text.slice(i + 1), b.alphabet, "substituted")
          agree(t, b.text.slice(0, i) + ch + b.text.slice(i), b.alphabet, "inserted")
        }
        // A lossy (low-byte) conversion of these would read the original token: both must refuse.
        expect(agree(t, aliasAll(b.text), b.alphabet, "all aliased").uid).toBeUndefined()
        expect(agree(t, b.text.replace(/A/g, "\u0141"), b.alphabet, "A -> U+0141").uid).toBe(
          /A/.test(b.text) ? undefined : Base64.encode(c.uid)
        )
      })
    },
    { fastCheck: { numRuns: 60 } }
  )

  it.prop(
    "truncation to every length, appended characters and bytes, '=' anywhere, texts over 4096 characters",
    {
      c: tokenArb,
      extra: FastCheck.array(FastCheck.constantFrom(...ODD_CHARS), { minLength: 1, maxLength: 6 }),
      tail: bytes(1, 40)
    },
    ({ c, extra, tail }) => {
      const b = build(c)
      withTables(c.entries, (t) => {
        for (const text of [b.text, unpad(b.text), pad(b.text)]) {
          for (let end = 0; end < text.length; end++) agree(t, text.slice(0, end), b.alphabet)
        }
        // Byte-level truncations around the minimum length (131) and the end, and appended bytes.
        for (const n of [0, 1, 6, 33, 130, 131, 132, b.raw.length - 17, b.raw.length - 16, b.raw.length - 1]) {
          expect(agree(t, Base64.encode(b.raw.subarray(0, n)), "standard", `${n} bytes`).uid).toBeUndefined()
        }
        for (let n = 1; n <= tail.length; n += 3) {
          expect(agree(t, Base64.encodeUrl(concat(b.raw, tail.subarray(0, n))), "either", `+${n} bytes`).uid)
            .toBeUndefined()
        }
        for (let n = 1; n <= extra.length; n++) agree(t, b.text + extra.slice(0, n).join(""), b.alphabet)
        for (let i = 0; i < b.text.length; i += 5) {
          agree(t, b.text.slice(0, i) + "=" + b.text.slice(i), b.alphabet)
          agree(t, b.text.slice(0, i) + "==" + b.text.slice(i + 2), b.alphabet)
          agree(t, b.text.slice(0, i) + "=" + b.text.slice(i + 1), b.alphabet)
        }
        for (const padding of ["=", "==", "===", "===="]) {
          agree(t, unpad(b.text) + padding, b.alphabet)
          agree(t, pad(b.text) + padding, b.alphabet)
          agree(t, padding + unpad(b.text), b.alphabet)
        }
        // Over-long: at, just past and far past the native limit (all fail the tag on both sides).
        for (
          const n of [
            TOKEN_MAX_TEXT - 1,
            TOKEN_MAX_TEXT,
            TOKEN_MAX_TEXT + 1,
            TOKEN_MAX_TEXT + 2,
            TOKEN_MAX_TEXT + 4,
            3 * TOKEN_MAX_TEXT
          ]
        ) {
          expect(agree(t, b.text + "A".repeat(n - b.text.length), b.alphabet, `${n} chars`).uid).toBeUndefined()
          agree(t, unpad(b.text) + "A".repeat(n - unpad(b.text).length - 2) + "==", b.alphabet, `${n} chars, padded`)
        }
      })
    },
    { fastCheck: { numRuns: 30 } }
  )

  it.prop(
    "non-canonical last characters are rejected like Base64.decode rejects them",
    { c: tokenArb, low: FastCheck.integer({ min: 1, max: 15 }) },
    ({ c, low }) => {
      const b = build(c)
      withTables(c.entries, (t) => {
        // Drop 0–2 bytes so every remainder (0, 2, 3 characters) is covered.
        for (let drop = 0; drop < 3; drop++) {
          const std = Base64.encode(b.raw.subarray(0, b.raw.length - drop))
          const data = unpad(std)
          const rem = data.length % 4
          if (rem === 0) continue
          const value = ALPHABET_CHARS.indexOf(data.at(-1)!)
          const bits = rem === 2 ? 0x0f : 0x03
          const odd = ALPHABET_CHARS[value | (((low - 1) % bits) + 1)]!
          for (const text of [data.slice(0, -1) + odd, std.replace(/.(=*)$/, `${odd}$1`)]) {
            for (const a of ["standard", "either"] as const) {
              expect(agree(t, text, a).uid).toBeUndefined()
              agree(t, toUrl(text), a)
            }
          }
        }
      })
    },
    { fastCheck: { numRuns: 60 } }
  )

  it.prop(
    "hand-sealed layers of every size: site plaintexts of 36+ bytes (empty UID included), short master plaintexts",
    {
      entries: entriesArb,
      master: FastCheck.nat(),
      site: FastCheck.nat(),
      masterFields: bytes(33, 33),
      sitePlain: bytes(36, 140),
      masterPlain: bytes(0, 140),
      nonces: FastCheck.tuple(bytes(12, 12), bytes(12, 12))
    },
    ({ entries, master, masterFields, masterPlain, nonces, site, sitePlain }) => {
      const m = entries[master % entries.length]!
      const s = entries[site % entries.length]!
      withTables(entries, (t) => {
        const raw = craft(m, s, masterFields, sitePlain, nonces)
        const o = agree(t, Base64.encodeUrl(raw), "either", "crafted")
        expect(o.uid).toBe(Base64.encode(sitePlain.subarray(36)))
        const fields = Uint8Array.from(masterFields)
        fields.set(int32Bytes(s.id), 29)
        expect(hex(o.fields)).toBe(hex(concat(raw.subarray(0, 6), fields, sitePlain.subarray(0, 36))))
        agree(t, Base64.encode(raw), "standard")
        // A site plaintext one byte short of the 36 fields (master plaintext 96 bytes): both refuse.
        const short = craft(m, s, masterFields, sitePlain.subarray(0, 35), nonces)
        expect(agree(t, Base64.encodeUrl(short), "either", "site plaintext 35").uid).toBeUndefined()
        // A master layer sealed over anything (no site layer inside, mostly; any length around the minimum 97).
        const plain = Uint8Array.from(masterPlain)
        if (plain.length >= 33) plain.set(int32Bytes(s.id), 29)
        const any = concat(Uint8Array.of(0x13, 0x80), int32Bytes(m.id), seal(m.secret, nonces[0], plain))
        agree(t, Base64.encodeUrl(any), "either", `master plaintext ${plain.length}`)
        // The site layer sealed with another key of the table than the one named.
        const wrong = entries.find((e) => hex(e.secret) !== hex(s.secret))
        if (wrong !== undefined) {
          const mixed = concat(
            Uint8Array.of(0x13, 0x80),
            int32Bytes(m.id),
            seal(m.secret, nonces[0], concat(fields, seal(wrong.secret, nonces[1], sitePlain)))
          )
          expect(agree(t, Base64.encodeUrl(mixed), "either", "site sealed with another key").uid).toBeUndefined()
        }
      })
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "arbitrary strings and Base64 of arbitrary bytes whose header names a table key (mostly rejected; always identically)",
    {
      text: FastCheck.oneof(
        FastCheck.string({ maxLength: 300 }),
        FastCheck.string({ unit: "binary", maxLength: 300 }),
        FastCheck.string({ unit: FastCheck.constantFrom(...ALPHABET_CHARS, "-", "_", "="), maxLength: 300 }),
        FastCheck.tuple(FastCheck.constantFrom(1, -1, INT32_MIN, INT32_MAX), bytes(0, 400)).map(([id, body]) =>
          Base64.encode(concat(Uint8Array.of(0x13, 0x70), int32Bytes(id), body))
        ),
        FastCheck.tuple(FastCheck.constantFrom(1, -1, INT32_MIN, INT32_MAX), bytes(0, 400)).map(([id, body]) =>
          Base64.encodeUrl(concat(Uint8Array.of(0x13, 0x80), int32Bytes(id), body))
        )
      ),
      alphabet: FastCheck.constantFrom("standard" as const, "either" as const)
    },
    ({ alphabet, text }) => {
      withTables(fixedEntries, (t) => agree(t, text, alphabet))
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("no code unit above 0xff aliases an alphabet character, whatever its high byte", () => {
    withTables(fixedEntries, (t) => {
      expect(agree(t, fixedText, "either").uid).toBe(fixedUid)
      // Each character at a few positions (header, master key id, ciphertext, last) with every high byte 1..255.
      for (const at of [0, 3, 9, 60, fixedText.length - 1]) {
        const code = fixedText.charCodeAt(at)
        for (let high = 1; high < 256; high++) {
          const text = fixedText.slice(0, at) + String.fromCharCode((high << 8) | code) + fixedText.slice(at + 1)
          expect(agree(t, text, "either", `U+${((high << 8) | code).toString(16)} at ${at}`).uid).toBeUndefined()
        }
      }
      // Every character c of sextet value v replaced by U+(v << 8 | c): a low-byte conversion that ORed the
      // high byte into the sextet would decode exactly the original bytes.
      const sameSextet = fixedText.replace(/[A-Za-z0-9+/\-_]/g, (c) => {
        const v = c === "-" ? 62 : c === "_" ? 63 : ALPHABET_CHARS.indexOf(c)
        return v === 0 ? c : String.fromCharCode((v << 8) | c.charCodeAt(0))
      })
      expect(sameSextet).not.toBe(fixedText)
      expect(agree(t, sameSextet, "either", "same-sextet aliases").uid).toBeUndefined()
    })
  })

  it("a token of exactly 4096 characters opens identically; one past the limit is declined natively (by design)", () => {
    const [m, s] = fixedEntries
    // 131 bytes of layers around the raw UID: 3072 bytes are exactly 4096 characters.
    const atLimit = craft(m!, s!, new Uint8Array(33), Uint8Array.from({ length: 36 + 2941 }, (_, i) => i & 0xff))
    const overLimit = craft(m!, s!, new Uint8Array(33), Uint8Array.from({ length: 36 + 2942 }, (_, i) => i & 0xff))
    withTables(fixedEntries, (t) => {
      expect(Base64.encode(atLimit)).toHaveLength(TOKEN_MAX_TEXT)
      const uid = Base64.encode(Uint8Array.from({ length: 2941 }, (_, i) => (i + 36) & 0xff))
      expect(agree(t, Base64.encode(atLimit), "standard").uid).toBe(uid)
      expect(agree(t, Base64.encodeUrl(atLimit), "either").uid).toBe(uid)
      // Over the limit (4098 characters unpadded, 4100 padded): the reference opens it, the native opener
      // answers undefined without writing anything, and the token core then takes its general path.
      for (const text of [Base64.encodeUrl(overLimit), Base64.encode(overLimit)]) {
        expect(text.length).toBeGreaterThan(TOKEN_MAX_TEXT)
        const nb = fieldsBuffer()
        expect(opener.open(text, "either", t.native, nb.subarray(LEAD))).toBeUndefined()
        expect(nb.every((x) => x === SENTINEL)).toBe(true)
        expect(reference.open(text, "either", t.reference, new Uint8Array(75))).toBe(
          Base64.encode(Uint8Array.from({ length: 2942 }, (_, i) => (i + 36) & 0xff))
        )
      }
    })
  })
})

// ---------------------------------------------------------------------------

/** A raw table of `entries`, for the addon's own entry points. */
const rawTable = (entries: ReadonlyArray<KeyTableEntry>): KeyHandle =>
  addon.importKeyTable(Int32Array.from(entries, (e) => e.id), concat(...entries.map((e) => e.secret)))

const thrown = (f: () => unknown): unknown => {
  try {
    f()
    return "no throw"
  } catch (e) {
    const err = e as { constructor?: { name?: string }; code?: unknown }
    return { error: err?.constructor?.name, code: err?.code }
  }
}

describe("native tokenOpener: key tables", () => {
  it("duplicate ids: importKeyTable, the adapter and the reference all throw a RangeError; nothing stays live", () => {
    const keys0 = addon.liveKeys()
    const secret = new Uint8Array(32).fill(5)
    for (const ids of [[1, 1], [INT32_MIN, 5, 7, INT32_MIN], [0, -1, 1, INT32_MAX, -0, 9]]) {
      const entries = ids.map((id) => ({ id, secret }))
      expect(thrown(() => rawTable(entries))).toEqual({ error: "RangeError", code: "ERR_NATIVE_CRYPTO_INVALID_KEY" })
      expect(() => opener.importKeys(entries)).toThrow(RangeError)
      expect(() => reference.importKeys(entries)).toThrow(RangeError)
    }
    expect(addon.liveKeys()).toBe(keys0)
  })

  it("a missing master or site key is undefined, fields untouched; an empty table opens nothing", () => {
    const keys0 = addon.liveKeys()
    const [a, b, c, d] = fixedEntries
    for (const entries of [[b!, c!, d!], [a!, c!, d!], [c!, d!], []]) {
      withTables(entries, (t) => expect(agree(t, fixedText, "either").uid).toBeUndefined())
    }
    const empty = addon.importKeyTable(new Int32Array(0), new Uint8Array(0))
    expect(addon.liveKeys()).toBe(keys0)
    expect(addon.openToken(fixedText, 1, empty, new Uint8Array(75))).toBeUndefined()
    addon.releaseKey(empty)
    expect(addon.liveKeys()).toBe(keys0)
  })

  it("release: a released table opens nothing; liveKeys counts each key and returns to baseline; release is idempotent", () => {
    const keys0 = addon.liveKeys()
    const t1 = opener.importKeys(fixedEntries)
    const t2 = rawTable(fixedEntries)
    expect(addon.liveKeys()).toBe(keys0 + 2 * fixedEntries.length)
    const fields = new Uint8Array(75).fill(SENTINEL)
    expect(opener.open(fixedText, "either", t1, new Uint8Array(75))).toBe(fixedUid)
    native.releaseKey(t1)
    expect(addon.liveKeys()).toBe(keys0 + fixedEntries.length)
    expect(opener.open(fixedText, "either", t1, fields)).toBeUndefined()
    expect(fields.every((x) => x === SENTINEL)).toBe(true)
    // The other table (same ids, same secrets) is unaffected.
    expect(opener.open(fixedText, "either", t2, new Uint8Array(75))).toBe(fixedUid)
    native.releaseKey(t1)
    native.releaseKey(t1)
    expect(addon.liveKeys()).toBe(keys0 + fixedEntries.length)
    addon.releaseKey(t2)
    expect(addon.liveKeys()).toBe(keys0)
    expect(opener.open(fixedText, "either", t2, fields)).toBeUndefined()
    // Releasing a key handle with the same secret touches no table, and vice versa.
    const t3 = rawTable(fixedEntries)
    const k = addon.importKey(fixedEntries[0]!.secret)
    addon.releaseKey(k)
    expect(opener.open(fixedText, "either", t3, new Uint8Array(75))).toBe(fixedUid)
    const k2 = addon.importKey(fixedEntries[0]!.secret)
    addon.releaseKey(t3)
    const blob = addon.gcmEncrypt(k2, new Uint8Array(12), new Uint8Array(3))
    expect(hex(addon.gcmDecrypt(k2, blob, 0, blob.length))).toBe("000000")
    addon.releaseKey(k2)
    expect(addon.liveKeys()).toBe(keys0)
  })

  it("a table is not a key handle, nor a key handle a table", () => {
    const t = rawTable(fixedEntries)
    const k = addon.importKey(fixedEntries[0]!.secret)
    const blob = addon.gcmEncrypt(k, new Uint8Array(12), new Uint8Array(3))
    expect(addon.gcmDecrypt(t, blob, 0, blob.length)).toBeUndefined()
    expect(thrown(() => addon.gcmEncrypt(t, new Uint8Array(12), new Uint8Array(3)))).toEqual({
      error: "TypeError",
      code: "ERR_NATIVE_CRYPTO_INVALID_KEY"
    })
    expect(addon.openToken(fixedText, 1, k, new Uint8Array(75))).toBeUndefined()
    addon.releaseKey(t)
    addon.releaseKey(k)
  })

  it("the table keeps its own copies: the ids and secrets passed in can be wiped right after", () => {
    const ids = Int32Array.from(fixedEntries, (e) => e.id)
    const secrets = concat(...fixedEntries.map((e) => e.secret))
    const t = addon.importKeyTable(ids, secrets)
    ids.fill(0)
    secrets.fill(0)
    expect(addon.openToken(fixedText, 1, t, new Uint8Array(75))).toBe(fixedUid)
    addon.releaseKey(t)
  })

  it("the adapter leaves out ids outside int32 and refuses secrets that are not 32 bytes", () => {
    const keys0 = addon.liveKeys()
    const odd = [2 ** 31, INT32_MIN - 1, 2 ** 32 + 1, 1.5, Number.NaN, Infinity].map((id) => ({
      id,
      secret: new Uint8Array(32)
    }))
    const t = opener.importKeys([...odd, ...fixedEntries])
    expect(addon.liveKeys()).toBe(keys0 + fixedEntries.length)
    expect(opener.open(fixedText, "either", t, new Uint8Array(75))).toBe(fixedUid)
    // An alphabet outside the type is refused (the reference would decode "url").
    expect(opener.open(fixedText, "url" as Alphabet, t, new Uint8Array(75))).toBeUndefined()
    native.releaseKey(t)
    for (const n of [0, 31, 33]) {
      expect(() => opener.importKeys([...fixedEntries, { id: 99, secret: new Uint8Array(n) }])).toThrow(RangeError)
    }
    expect(addon.liveKeys()).toBe(keys0)
  })

  it.prop(
    "a table of 500 keys (ids spread over int32, extremes included) finds both keys of any token, and only those",
    { pairs: FastCheck.array(FastCheck.tuple(FastCheck.nat(), FastCheck.nat()), { minLength: 20, maxLength: 20 }) },
    ({ pairs }) => {
      const entries = bigTable.entries
      for (const [i, j] of pairs) {
        const m = entries[i % entries.length]!
        const s = entries[j % entries.length]!
        const raw = craft(m, s, new Uint8Array(33), new Uint8Array(36 + 33).fill(i & 0xff))
        const o = agree(bigTable.tables, Base64.encodeUrl(raw), "either")
        expect(o.uid).toBe(Base64.encode(new Uint8Array(33).fill(i & 0xff)))
        // Neighbouring ids that are not in the table.
        for (const id of [m.id - 1, m.id + 1]) {
          if (id < INT32_MIN || id > INT32_MAX || entries.some((e) => e.id === id)) continue
          const renamed = Uint8Array.from(raw)
          renamed.set(int32Bytes(id), 2)
          expect(agree(bigTable.tables, Base64.encodeUrl(renamed), "either").uid).toBeUndefined()
        }
      }
    },
    { fastCheck: { numRuns: 10 } }
  )

  it("tables dropped without releaseKey are freed by the GC finalizer", () => {
    const script = `
      const addon = require(${JSON.stringify(native.path)})
      const k0 = addon.liveKeys(), c0 = addon.liveContexts()
      ;(() => {
        for (let i = 0; i < 2000; i++) {
          // "AAAA…" decodes to zeros: master key id 0, so every table gets a GCM context (the tag then fails).
          const t = addon.importKeyTable(new Int32Array([i + 1, 0, -i - 1]), new Uint8Array(96).fill(i & 255))
          addon.openToken("A".repeat(200), 1, t, new Uint8Array(75))
        }
      })()
      const peak = addon.liveKeys() - k0, peakContexts = addon.liveContexts() - c0
      let rounds = 0
      const tick = () => {
        globalThis.gc()
        if ((addon.liveKeys() > k0 || addon.liveContexts() > c0) && ++rounds < 200) return setImmediate(tick)
        console.log(JSON.stringify({ peak, peakContexts, keys: addon.liveKeys() - k0, contexts: addon.liveContexts() - c0 }))
      }
      tick()`
    const run = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8", timeout: 60_000 })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ peak: 6000, peakContexts: 2000, keys: 0, contexts: 0 })
  })

  it("works in a worker thread, with the same answer", async () => {
    const code = `
      const { parentPort, workerData } = require("node:worker_threads")
      const addon = require(workerData.path)
      const t = addon.importKeyTable(Int32Array.from(workerData.ids), Uint8Array.from(workerData.secrets))
      const fields = new Uint8Array(75)
      const uid = addon.openToken(workerData.text, 1, t, fields)
      addon.releaseKey(t)
      parentPort.postMessage([uid, Array.from(fields), addon.liveKeys()])`
    const result = await new Promise((resolve, reject) => {
      const worker = new Worker(code, {
        eval: true,
        workerData: {
          path: native.path,
          ids: fixedEntries.map((e) => e.id),
          secrets: Array.from(concat(...fixedEntries.map((e) => e.secret))),
          text: fixedText
        }
      })
      worker.once("message", resolve)
      worker.once("error", reject)
    })
    const fields = new Uint8Array(75)
    const t = rawTable(fixedEntries)
    expect(addon.openToken(fixedText, 1, t, fields)).toBe(fixedUid)
    addon.releaseKey(t)
    const [uid, workerFields] = result as [string, Array<number>, number]
    expect(uid).toBe(fixedUid)
    expect(workerFields).toEqual(Array.from(fields))
  })
})

/** Built once: 500 keys, distinct ids (the extremes and their neighbours included). */
const bigTable = (() => {
  const random = seededRandom(500)
  const ids = new Set<number>([INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX])
  while (ids.size < 500) ids.add(new DataView(random(4).buffer).getInt32(0))
  const entries = [...ids].map((id) => ({ id, secret: random(32) }))
  // Never released: module-lifetime, like a key ring's table (the GC finalizer frees it at exit).
  return { entries, tables: { native: opener.importKeys(entries), reference: reference.importKeys(entries) } }
})()

// ---------------------------------------------------------------------------

describe("native openToken / importKeyTable: argument handling", () => {
  it("openToken: bad arguments of every kind give undefined, never throw, and write nothing", () => {
    const t = rawTable(fixedEntries)
    const key = addon.importKey(fixedEntries[0]!.secret)
    const released = rawTable(fixedEntries)
    addon.releaseKey(released)
    const fields = new Uint8Array(75).fill(SENTINEL)
    const detached = new Uint8Array(75)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    expect(detached.length).toBe(0)
    const bad: Array<ReadonlyArray<unknown>> = [
      [],
      [fixedText],
      [fixedText, 1],
      [fixedText, 1, t],
      // text
      [undefined, 1, t, fields],
      [null, 1, t, fields],
      [42, 1, t, fields],
      [new TextEncoder().encode(fixedText), 1, t, fields],
      [Buffer.from(fixedText), 1, t, fields],
      [new String(fixedText), 1, t, fields],
      [{ toString: () => fixedText }, 1, t, fields],
      [[fixedText], 1, t, fields],
      [Symbol("text"), 1, t, fields],
      ["A".repeat(TOKEN_MAX_TEXT + 1), 1, t, fields],
      [fixedText + "A".repeat(TOKEN_MAX_TEXT), 1, t, fields],
      // alphabet
      ...[
        -1,
        2,
        3,
        255,
        256,
        INT32_MAX,
        INT32_MIN,
        "0",
        "1",
        "either",
        "standard",
        true,
        false,
        null,
        undefined,
        {},
        [1],
        1n,
        0n,
        new Number(1)
      ]
        .map((a) => [fixedText, a, t, fields]),
      // table
      ...[
        key,
        released,
        {},
        null,
        undefined,
        0,
        "table",
        createSecretKey(fixedEntries[0]!.secret),
        new Map(),
        reference.importKeys(fixedEntries)
      ]
        .map((table) => [fixedText, 1, table, fields]),
      // fields
      ...[
        new Uint8Array(74),
        new Uint8Array(0),
        Buffer.alloc(74),
        new Uint8ClampedArray(75),
        new Int8Array(75),
        new Uint16Array(75),
        new DataView(new ArrayBuffer(75)),
        new ArrayBuffer(75),
        new Array(75).fill(0),
        new Proxy(new Uint8Array(75), {}),
        detached,
        undefined,
        null,
        "fields"
      ].map((f) => [fixedText, 1, t, f])
    ]
    expect(addon.openToken(fixedText, 1, t, new Uint8Array(75))).toBe(fixedUid)
    bad.forEach((args, i) => {
      let result: unknown = "threw"
      expect(() => (result = addon.openToken(...args)), `bad arguments #${i}`).not.toThrow()
      expect(result, `bad arguments #${i}`).toBeUndefined()
    })
    expect(fields.every((x) => x === SENTINEL)).toBe(true)
    // Extra arguments are ignored; a Buffer (a Uint8Array) and a larger view are fine targets.
    expect(addon.openToken(fixedText, 1, t, new Uint8Array(75), "extra")).toBe(fixedUid)
    const pooledBuffer = Buffer.alloc(100, SENTINEL).subarray(10)
    expect(addon.openToken(fixedText, 1, t, pooledBuffer)).toBe(fixedUid)
    expect(pooledBuffer.subarray(75).every((x) => x === SENTINEL)).toBe(true)
    addon.releaseKey(t)
    addon.releaseKey(key)
  })

  it("openToken: an alphabet that is a number but not exactly 0 or 1 opens nothing", () => {
    const t = rawTable(fixedEntries)
    expect(/[-_]/.test(fixedText)).toBe(true) // so that standard (0) and either (1) answer differently
    expect(addon.openToken(fixedText, 0, t, new Uint8Array(75))).toBeUndefined()
    expect(addon.openToken(fixedText, 1, t, new Uint8Array(75))).toBe(fixedUid)
    // -0 === 0: it is the standard alphabet, so this text (with URL-safe characters) does not open either.
    for (
      const a of [
        Number.NaN,
        Infinity,
        -Infinity,
        0.5,
        -0.5,
        -0,
        1.5,
        1.999,
        2,
        -1,
        2 ** 32,
        2 ** 32 + 1,
        -(2 ** 32) + 1,
        2 ** 53
      ]
    ) {
      expect(addon.openToken(fixedText, a, t, new Uint8Array(75)), String(a)).toBeUndefined()
    }
    addon.releaseKey(t)
  })

  it("importKeyTable: bad arguments throw a TypeError or RangeError with a code; nothing stays live", () => {
    const keys0 = addon.liveKeys()
    const ids = Int32Array.of(1, 2)
    const secrets = new Uint8Array(64)
    const cases: Array<[ReadonlyArray<unknown>, string]> = [
      [[], "TypeError"],
      [[ids], "TypeError"],
      [[[1, 2], secrets], "TypeError"],
      [[Uint32Array.of(1, 2), secrets], "TypeError"],
      [[Float64Array.of(1, 2), secrets], "TypeError"],
      [[Int16Array.of(1, 2), secrets], "TypeError"],
      [[BigInt64Array.of(1n, 2n), secrets], "TypeError"],
      [[new DataView(new ArrayBuffer(8)), secrets], "TypeError"],
      [[Buffer.alloc(8), secrets], "TypeError"],
      [[undefined, secrets], "TypeError"],
      [[null, secrets], "TypeError"],
      [[ids, undefined], "TypeError"],
      [[ids, Array.from(secrets)], "TypeError"],
      [[ids, new Uint8ClampedArray(64)], "TypeError"],
      [[ids, new Int8Array(64)], "TypeError"],
      [[ids, new DataView(new ArrayBuffer(64))], "TypeError"],
      [[ids, new ArrayBuffer(64)], "TypeError"],
      [[ids, "x".repeat(64)], "TypeError"],
      [[ids, new Uint8Array(63)], "RangeError"],
      [[ids, new Uint8Array(65)], "RangeError"],
      [[ids, new Uint8Array(32)], "RangeError"],
      [[ids, new Uint8Array(0)], "RangeError"],
      [[new Int32Array(0), new Uint8Array(32)], "RangeError"],
      [[Int32Array.of(3, 3), secrets], "RangeError"]
    ]
    cases.forEach(([args, error], i) => {
      const got = thrown(() => addon.importKeyTable(...args)) as { error: string; code: string }
      expect(got.error, `case #${i}`).toBe(error)
      expect(got.code, `case #${i}`).toMatch(/^ERR_NATIVE_CRYPTO_INVALID_(ARG|KEY)$/)
    })
    expect(addon.liveKeys()).toBe(keys0)
    // A Buffer for the secrets, a view at an offset into a larger buffer, and a subarray of ids are fine.
    const backing = new Uint8Array(200)
    backing.set(concat(...fixedEntries.map((e) => e.secret)), 40)
    const t = addon.importKeyTable(
      Int32Array.from([0, ...fixedEntries.map((e) => e.id)]).subarray(1),
      backing.subarray(40, 40 + 32 * fixedEntries.length)
    )
    expect(addon.openToken(fixedText, 1, t, new Uint8Array(75))).toBe(fixedUid)
    addon.releaseKey(t)
    const b = addon.importKeyTable(Int32Array.of(5), Buffer.alloc(32))
    addon.releaseKey(b)
    expect(addon.liveKeys()).toBe(keys0)
  })
})
