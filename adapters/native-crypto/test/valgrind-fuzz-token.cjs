// Memory-safety smoke test for the addon's key tables and whole-token entry point (importKeyTable /
// openToken), meant to run under valgrind (not part of `npm test`):
//
//   valgrind --error-exitcode=1 --suppressions=adapters/native-crypto/test/valgrind-v8.supp \
//     node --expose-gc adapters/native-crypto/test/valgrind-fuzz-token.cjs
//
// Seals V4-shaped tokens with node:crypto over tables of 1-12 keys (negative and extreme int32 ids),
// then feeds openToken: the token in every spelling, truncations (of the text and of the bytes, around
// the 131-byte minimum), appended, inserted and substituted characters (non-ASCII included: any code
// unit with an alphabet character as its low byte), '=' anywhere, bit flips, texts at and past the
// 4096-character limit (a valid token of exactly 4096 characters included), master plaintexts around
// the 97-byte minimum, random texts, missing keys, released tables and bad arguments of every kind.
// `fields` always lives in its own exactly-sized ArrayBuffer (75 bytes, or 74 for "too short"), so a
// write one byte past it is reported by memcheck; the ids and secrets given to importKeyTable too, and
// importKeyTable is also fed sizes that disagree, duplicates, views at offsets and wrong types.
"use strict"
const crypto = require("node:crypto")
const { addon, ITERATIONS, rnd, bytes, check, checkCount } = require("./fuzz-common.cjs").setup(0x1b873593, 200)

const FIELDS = 75
const MAX_TEXT = 4096
const SENTINEL = 0xa5
const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
const ODD = [
  "A",
  "+",
  "/",
  "-",
  "_",
  "=",
  " ",
  "\0",
  "\u0080",
  "\u00ff",
  "\u0141",
  "\u012b",
  "\u013d",
  "\u022f",
  "\ud83d\ude00",
  "\ud800"
]

const seal = (key, plain, nonce = bytes(12)) => {
  const c = crypto.createCipheriv("aes-256-gcm", key, nonce)
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()])
}
const int32Be = (n) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n | 0)
  return b
}
const randomId = () => {
  switch (rnd(6)) {
    case 0:
      return [-2147483648, -2147483647, -1, 0, 1, 2147483646, 2147483647][rnd(7)]
    case 1:
      return -rnd(1000) - 1
    default:
      return (rnd(0x10000) << 16 | rnd(0x10000)) | 0
  }
}
/** An exactly-sized Uint8Array filled with the sentinel (its own malloc'd block). */
const exactFields = (n = FIELDS) => new Uint8Array(new ArrayBuffer(n)).fill(SENTINEL)
const untouched = (f) => f.every((x) => x === SENTINEL)

/** n keys with distinct ids, as exactly-sized Int32Array / Uint8Array. */
const makeKeys = (n) => {
  const ids = new Set()
  while (ids.size < n) ids.add(randomId())
  const list = [...ids].map((id) => ({ id, secret: bytes(32) }))
  const idArray = new Int32Array(new ArrayBuffer(4 * n))
  const secrets = new Uint8Array(new ArrayBuffer(32 * n))
  list.forEach((k, i) => {
    idArray[i] = k.id
    secrets.set(k.secret, 32 * i)
  })
  return { list, ids: idArray, secrets }
}

/** header(6) ‖ GCM_master(fields(33, site id at 29) ‖ GCM_site(sitePlain)). */
const craft = (master, site, sitePlain, masterFields = bytes(33)) => {
  const fields = Buffer.from(masterFields)
  int32Be(site.id).copy(fields, 29)
  const raw = Buffer.concat([
    Buffer.from([0x13, 0x80]),
    int32Be(master.id),
    seal(master.secret, Buffer.concat([fields, seal(site.secret, sitePlain)]))
  ])
  return {
    raw,
    expectedFields: Buffer.concat([raw.subarray(0, 6), fields, sitePlain.subarray(0, 36)]),
    uid: Buffer.from(sitePlain.subarray(36)).toString("base64")
  }
}

/**
 * openToken with an exactly-sized sentinel target; checks "nothing written" on failure and, when `expected`
 * is given and its UID came back, the fields (from byte 2: the prefix and version bytes are not authenticated).
 */
const open = (text, alphabet, table, expected) => {
  const fields = exactFields()
  const uid = addon.openToken(text, alphabet, table, fields)
  if (uid === undefined) check(untouched(fields), "nothing written on failure")
  else {
    check(typeof uid === "string", "uid is a string")
    if (expected !== undefined && uid === expected.uid) {
      check(Buffer.from(fields.subarray(2)).equals(expected.expectedFields.subarray(2)), "fields")
    }
  }
  return uid
}

const live0 = addon.liveKeys()
const keyHandle = addon.importKey(bytes(32))

for (let it = 0; it < ITERATIONS; it++) {
  const n = 1 + rnd(12)
  const keys = makeKeys(n)
  const before = addon.liveKeys()
  const table = addon.importKeyTable(keys.ids, keys.secrets)
  check(addon.liveKeys() === before + n, "live keys counted")
  const master = keys.list[rnd(n)]
  const site = keys.list[rnd(n)]
  const sitePlain = bytes(36 + rnd(80))
  const token = craft(master, site, sitePlain)
  const url = token.raw.toString("base64url")
  const std = token.raw.toString("base64")

  // Spellings.
  check(open(url, 1, table, token) === token.uid, "url opens")
  check(open(std, 0, table, token) === token.uid, "std opens")
  check(open(std, 1, table, token) === token.uid, "std under either opens")
  check(open(std.replace(/=+$/, ""), 0, table, token) === token.uid, "std unpadded opens")
  check(open(url, 0, table) === undefined || !/[-_]/.test(url), "url under standard")
  // The wiped inputs do not matter: the table has its own copies.
  if (it % 2 === 0) {
    keys.ids.fill(0)
    keys.secrets.fill(0)
    check(open(url, 1, table, token) === token.uid, "opens after inputs wiped")
  }

  // Truncations of the text and of the bytes (around the 131-byte minimum and the end).
  for (let end = 0; end < url.length; end += 1 + rnd(4)) {
    check(open(url.slice(0, end), 1, table) === undefined, "truncated text")
  }
  for (let end = std.length - 3; end < std.length; end++) open(std.slice(0, end), 0, table)
  for (const len of [0, 1, 6, 7, 33, 129, 130, 131, 132, token.raw.length - 1]) {
    if (len >= token.raw.length) continue
    check(open(token.raw.subarray(0, len).toString("base64url"), 1, table) === undefined, `truncated bytes ${len}`)
  }
  // Appended bytes, and characters substituted, inserted and appended (any code unit with an alphabet low byte).
  check(
    open(Buffer.concat([token.raw, bytes(1 + rnd(40))]).toString("base64url"), 1, table) === undefined,
    "appended bytes"
  )
  for (let i = 0; i < 8; i++) {
    const at = rnd(url.length)
    const ch = rnd(3) === 0 ? String.fromCharCode((1 + rnd(255)) << 8 | url.charCodeAt(at)) : ODD[rnd(ODD.length)]
    open(url.slice(0, at) + ch + url.slice(at + 1), 1, table, token)
    open(url.slice(0, at) + ch + url.slice(at), 1, table, token)
    open(url + ch, 1, table)
    open(std.slice(0, at) + "=" + std.slice(at + 1), rnd(2), table)
    open(std + "=".repeat(1 + rnd(4)), 0, table)
  }
  // Bit flips past the (unauthenticated) prefix and version bytes.
  const flipped = Buffer.from(token.raw)
  flipped[2 + rnd(token.raw.length - 2)] ^= 1 << rnd(8)
  check(open(flipped.toString("base64url"), 1, table) === undefined, "bit flip")
  const header = Buffer.from(token.raw)
  header[rnd(2)] ^= 1 << rnd(8)
  check(open(header.toString("base64url"), 1, table) === token.uid, "header flip still opens")

  // At and past the text limit; decodes of the largest size.
  check(open(url + "A".repeat(MAX_TEXT - url.length), 1, table) === undefined, "4096 chars")
  check(open(url + "A".repeat(MAX_TEXT + 1 - url.length), 1, table) === undefined, "4097 chars")
  check(open("A".repeat(MAX_TEXT), 1, table) === undefined, "4096 x A")
  check(open("A".repeat(MAX_TEXT - 1) + "=", 0, table) === undefined, "4095 x A =")
  check(open("/".repeat(MAX_TEXT - 2) + "==", 0, table) === undefined, "4094 x / ==")
  check(open("A".repeat(MAX_TEXT * 2 + rnd(8)), 1, table) === undefined, "over-long")
  const maxDecode = Buffer.concat([Buffer.from([0x13, 0x80]), int32Be(master.id), bytes(3066)])
  check(open(maxDecode.toString("base64"), 0, table) === undefined, "3072 random bytes")
  if (it % 10 === 0) {
    // A valid token of exactly 4096 characters (3072 bytes, raw UID of 2941 bytes), and one past.
    const big = craft(master, site, bytes(36 + 2941))
    check(big.raw.toString("base64url").length === MAX_TEXT, "4096-char token")
    check(open(big.raw.toString("base64url"), 1, table, big) === big.uid, "4096-char token opens")
    const bigger = craft(master, site, bytes(36 + 2942))
    check(open(bigger.raw.toString("base64url"), 1, table) === undefined, "4098-char token declined")
  }

  // Master plaintexts around the minimum (97): sealed correctly, the site layer empty, short or garbage.
  for (let m = 90; m <= 100; m++) {
    const plain = bytes(m)
    if (m >= 33) int32Be(site.id).copy(plain, 29)
    const raw = Buffer.concat([Buffer.from([0x13, 0x80]), int32Be(master.id), seal(master.secret, plain)])
    check(open(raw.toString("base64url"), 1, table) === undefined, `master plaintext ${m}`)
  }
  const empty = craft(master, site, sitePlain.subarray(0, 36))
  check(open(empty.raw.toString("base64url"), 1, table, empty) === "", "empty raw UID")
  const short = craft(master, site, sitePlain.subarray(0, 35))
  check(open(short.raw.toString("base64url"), 1, table) === undefined, "site plaintext 35")

  // Random texts and random bytes behind a header naming a table key (so GCM runs on any length).
  for (let i = 0; i < 4; i++) {
    let text = ""
    const len = rnd(400)
    for (let j = 0; j < len; j++) text += rnd(20) === 0 ? ODD[rnd(ODD.length)] : STD[rnd(64)]
    open(text, rnd(2), table)
    const body = Buffer.concat([Buffer.from([0x13, 0x80]), int32Be(keys.list[rnd(n)].id), bytes(rnd(400))])
    open(body.toString(rnd(2) ? "base64" : "base64url"), 1, table)
  }

  // Tables without the master key, without the site key.
  for (const missing of [master, site]) {
    const rest = keys.list.filter((k) => k.id !== missing.id)
    const ids = new Int32Array(new ArrayBuffer(4 * rest.length))
    const secrets = new Uint8Array(new ArrayBuffer(32 * rest.length))
    rest.forEach((k, i) => {
      ids[i] = k.id
      secrets.set(k.secret, 32 * i)
    })
    const partial = addon.importKeyTable(ids, secrets)
    check(open(url, 1, partial) === undefined, "missing key")
    addon.releaseKey(partial)
  }

  // Bad arguments: never a throw, never a write.
  const tooShort = exactFields(FIELDS - 1)
  check(addon.openToken(url, 1, table, tooShort) === undefined && untouched(tooShort), "fields 74 bytes")
  check(addon.openToken(url, 1, table, exactFields(0)) === undefined, "fields 0 bytes")
  for (
    const f of [
      new Uint16Array(FIELDS),
      new Int8Array(FIELDS),
      new Uint8ClampedArray(FIELDS),
      new DataView(new ArrayBuffer(FIELDS)),
      new ArrayBuffer(FIELDS),
      [],
      null
    ]
  ) {
    check(addon.openToken(url, 1, table, f) === undefined, "fields not a Uint8Array")
  }
  for (const a of [-1, 2, 255, "1", null, undefined, {}, 1n]) {
    check(addon.openToken(url, a, table, exactFields()) === undefined, `alphabet ${String(a)}`)
  }
  for (const t of [keyHandle, {}, null, undefined, 0, "t"]) {
    check(addon.openToken(url, 1, t, exactFields()) === undefined, "not a table")
  }
  for (const t of [undefined, null, 1, token.raw, { toString: () => url }, Symbol("s")]) {
    check(addon.openToken(t, 1, table, exactFields()) === undefined, "text not a string")
  }
  check(addon.openToken() === undefined && addon.openToken(url, 1, table) === undefined, "too few arguments")
  // A table is not a key handle.
  check(addon.gcmDecrypt(table, token.raw, 6, token.raw.length) === undefined, "table as key (decrypt)")
  let threw = false
  try {
    addon.gcmEncrypt(table, bytes(12), bytes(4))
  } catch (e) {
    threw = e instanceof TypeError
  }
  check(threw, "table as key (encrypt) throws")

  // importKeyTable misuse: sizes that disagree, duplicates, wrong types; views at offsets are fine.
  const expectThrow = (f, what) => {
    let ok = false
    try {
      f()
    } catch (e) {
      ok = e instanceof TypeError || e instanceof RangeError
    }
    check(ok, what)
  }
  const ids2 = new Int32Array(new ArrayBuffer(4 * n))
  keys.list.forEach((k, i) => (ids2[i] = k.id))
  expectThrow(() => addon.importKeyTable(ids2, bytes(32 * n - 1)), "secrets one byte short")
  expectThrow(() => addon.importKeyTable(ids2, bytes(32 * n + 1)), "secrets one byte long")
  expectThrow(() => addon.importKeyTable(ids2, bytes(0)), "no secrets")
  if (n > 1) {
    const dup = new Int32Array(new ArrayBuffer(4 * n))
    dup.set(ids2)
    const a = rnd(n), b = (a + 1 + rnd(n - 1)) % n
    dup[b] = dup[a]
    expectThrow(() => addon.importKeyTable(dup, bytes(32 * n)), "duplicate ids")
  }
  expectThrow(() => addon.importKeyTable(new Uint32Array(n), bytes(32 * n)), "ids Uint32Array")
  expectThrow(() => addon.importKeyTable(Array.from(ids2), bytes(32 * n)), "ids Array")
  expectThrow(() => addon.importKeyTable(ids2, new Int8Array(32 * n)), "secrets Int8Array")
  expectThrow(() => addon.importKeyTable(ids2), "one argument")
  expectThrow(() => addon.importKeyTable(), "no arguments")
  {
    // ids and secrets as views ending exactly at the end of their buffers.
    const idBuf = new Int32Array(new ArrayBuffer(4 * (n + 3)))
    idBuf.set(ids2, 3)
    const secBuf = new Uint8Array(new ArrayBuffer(32 * n + 7))
    secBuf.set(bytes(32 * n), 7)
    const viewTable = addon.importKeyTable(idBuf.subarray(3), secBuf.subarray(7))
    open(url, 1, viewTable)
    addon.releaseKey(viewTable)
  }
  const emptyTable = addon.importKeyTable(new Int32Array(new ArrayBuffer(0)), new Uint8Array(new ArrayBuffer(0)))
  check(open(url, 1, emptyTable) === undefined, "empty table")
  // A large table now and then (binary search over many ids).
  if (it % 20 === 0) {
    const many = makeKeys(500 + rnd(1000))
    const big = addon.importKeyTable(many.ids, many.secrets)
    const m = many.list[rnd(many.list.length)]
    const s = many.list[rnd(many.list.length)]
    const tok = craft(m, s, bytes(36 + 33))
    check(open(tok.raw.toString("base64url"), 1, big, tok) === tok.uid, "large table opens")
    addon.releaseKey(big)
  }

  // Release: use after release, double release; every third table left to the finalizer instead.
  if (it % 3 === 0) continue
  addon.releaseKey(table)
  check(open(url, 1, table) === undefined, "released table")
  addon.releaseKey(table)
  addon.releaseKey(emptyTable)
}

addon.releaseKey(keyHandle)
let rounds = 0
const finish = () => {
  globalThis.gc?.()
  if ((addon.liveKeys() > live0 || addon.liveContexts() > 0) && ++rounds < 100) return setImmediate(finish)
  check(addon.liveKeys() === live0, `live keys back to baseline (${addon.liveKeys()} vs ${live0})`)
  check(addon.liveContexts() === 0, `live contexts back to 0 (${addon.liveContexts()})`)
  console.log(`valgrind-fuzz-token: ${ITERATIONS} iterations, ${checkCount()} checks passed`)
}
finish()
