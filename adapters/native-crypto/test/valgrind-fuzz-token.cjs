// Memory-safety smoke test for the addon's openGcmToken / openGcmTokenInto, meant to run under
// valgrind (not part of `npm test`):
//
//   valgrind --error-exitcode=1 --suppressions=adapters/native-crypto/test/valgrind-v8.supp \
//     node --expose-gc adapters/native-crypto/test/valgrind-fuzz-token.cjs
//
// Builds V4-shaped tokens with node:crypto, then feeds the addon: the token in every spelling,
// truncations to every length, appended and substituted characters (non-ASCII included), bit
// flips, over-long texts, every siteKeyOf failure (undefined, non-handles, released, throwing),
// a released master key, and Into targets of exactly the needed size (so a write one byte past
// the result lands outside the ArrayBuffer's malloc'd block and is reported by memcheck).
"use strict"
const crypto = require("node:crypto")
const { addon, ITERATIONS, rnd, bytes, check, checkCount } = require("./fuzz-common.cjs").setup(0x1b873593, 150)
const gcm = (key, plain) => {
  const nonce = bytes(12)
  const c = crypto.createCipheriv("aes-256-gcm", key, nonce)
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()])
}
const eq = (a, b) => a !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
const ODD = ["A", "+", "/", "-", "_", "=", " ", "\0", "\u0080", "\u00ff", "\u0141", "\u012b", "\u013d", "\ud83d\ude00", "\ud800"]
const live0 = addon.liveKeys()

for (let it = 0; it < ITERATIONS; it++) {
  const masterSecret = bytes(32), siteSecret = bytes(32)
  const master = addon.importKey(masterSecret)
  const site = addon.importKey(siteSecret)
  const siteId = (rnd(0x10000) << 16 | rnd(0x10000)) | 0
  const sitePlain = bytes(36 + rnd(80))
  const fields = bytes(33)
  fields[29] = siteId >>> 24
  fields[30] = siteId >>> 16
  fields[31] = siteId >>> 8
  fields[32] = siteId
  const masterPlain = Buffer.concat([fields, gcm(siteSecret, sitePlain)])
  const raw = Buffer.concat([Buffer.from([0x13, 0x80, 0, 0, 0, 1]), gcm(masterSecret, masterPlain)])
  const expected = Buffer.concat([masterPlain, sitePlain])
  const url = raw.toString("base64url")
  const std = raw.toString("base64")
  const siteKeyOf = (id) => id === siteId ? site : undefined
  const open = (text, alphabet = "either", lookup = siteKeyOf, m = master) => {
    const a = addon.openGcmToken(text, alphabet, m, lookup)
    // Exact-size target: Into must write exactly [0, length) or nothing.
    const room = a === undefined ? 64 + rnd(200) : a.length
    const target = new Uint8Array(new ArrayBuffer(room))
    const n = addon.openGcmTokenInto(text, alphabet, m, lookup, target, 0)
    if (a === undefined) check(n === -1, "into agrees (failure)")
    else check(n === a.length && eq(target, a), "into agrees (success)")
    if (a !== undefined) {
      check(addon.openGcmTokenInto(text, alphabet, m, lookup, new Uint8Array(new ArrayBuffer(a.length - 1)), 0) === -1, "into short by 1")
      check(addon.openGcmTokenInto(text, alphabet, m, lookup, target, 1) === -1, "into offset 1")
    }
    return a
  }

  check(eq(open(url), expected), "url roundtrip")
  check(eq(open(std, "standard"), expected), "std roundtrip")
  check(eq(open(std.replace(/=+$/, ""), "either"), expected), "std unpadded under either")
  check(open(url, "standard") === undefined || !/[-_]/.test(url), "url text under standard")
  for (let end = 0; end < url.length; end += 1 + rnd(3)) check(open(url.slice(0, end)) === undefined, "truncated")
  for (let end = std.length - 2; end < std.length; end++) open(std.slice(0, end), "standard")
  for (let i = 0; i < 6; i++) {
    const at = rnd(url.length)
    const ch = ODD[rnd(ODD.length)]
    // Still opens only when the header changed (chars 0-7) or the character means the same sextet.
    const same = url[at] === ch || (url[at] === "-" && ch === "+") || (url[at] === "_" && ch === "/")
    check(open(url.slice(0, at) + ch + url.slice(at + 1)) === undefined || same || at < 8, "substituted")
    open(url.slice(0, at) + ch + url.slice(at))
    open(url + ch)
    open(url + "=".repeat(1 + rnd(3)))
  }
  const flipped = Buffer.from(raw)
  flipped[8 + rnd(raw.length - 8)] ^= 1 << rnd(8)
  check(open(flipped.toString("base64url")) === undefined, "bit flip")
  check(open(url + "A".repeat(4096)) === undefined, "over-long")
  check(open("A".repeat(4096)) === undefined, "4096 x A")
  check(open("A".repeat(4095) + "=") === undefined, "4095 x A =")

  // siteKeyOf failures.
  const released = addon.importKey(siteSecret)
  addon.releaseKey(released)
  for (const bad of [() => undefined, () => ({}), () => null, () => 42, () => master, () => released, () => {
    throw new Error("boom")
  }, null, "x", {}]) {
    check(open(url, "either", bad) === undefined, `bad siteKeyOf ${String(bad)}`)
  }
  check(open(url, "either", () => master) === undefined, "wrong site key")
  check(addon.openGcmToken(url, "either", master, undefined) === undefined, "siteKeyOf undefined")
  check(addon.openGcmTokenInto(url, "either", master, undefined, new Uint8Array(400), 0) === -1, "into siteKeyOf undefined")
  check(open(url, "url") === undefined && open(url, 1) === undefined, "bad alphabet")
  check(open(undefined) === undefined && open(raw) === undefined, "bad text")
  check(open(url, "either", siteKeyOf, {}) === undefined, "bad master")

  // Release the site key from inside siteKeyOf; then the master key itself.
  const site2 = addon.importKey(siteSecret)
  check(open(url, "either", () => (addon.releaseKey(site2), site2)) === undefined, "released inside siteKeyOf")
  addon.releaseKey(master)
  check(open(url) === undefined, "released master")
  addon.releaseKey(site)
  // A master plaintext one byte short of the minimum (97).
  if (it % 10 === 0) {
    const m2 = addon.importKey(masterSecret)
    const short = Buffer.concat([Buffer.from([0x13, 0x80, 0, 0, 0, 1]), gcm(masterSecret, bytes(96))])
    check(addon.openGcmToken(short.toString("base64url"), "either", m2, () => m2) === undefined, "short master")
    // m2 left to the finalizer.
  }
}

let rounds = 0
const finish = () => {
  globalThis.gc?.()
  if (addon.liveKeys() > live0 && ++rounds < 100) return setImmediate(finish)
  check(addon.liveKeys() === live0, `live keys back to baseline (${addon.liveKeys()} vs ${live0})`)
  check(addon.liveContexts() === 0, `live contexts back to 0 (${addon.liveContexts()})`)
  console.log(`valgrind-fuzz-token: ${ITERATIONS} iterations, ${checkCount()} checks passed`)
}
finish()
