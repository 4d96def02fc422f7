// Memory-safety smoke test for the native Crypto addon, meant to run under valgrind
// (not part of `npm test`):
//
//   valgrind --error-exitcode=1 --leak-check=no node --expose-gc adapters/native-crypto/test/valgrind-fuzz.cjs
//
// Every input lives in its own exactly-sized ArrayBuffer (one malloc'd block each), so a
// read or write one byte past [start, end) or past the view is reported by memcheck.
// Exercises: truncations to every length, oversized/appended ranges, out-of-range and
// non-integral start/end, bit flips, wrong keys, non-Uint8Array inputs, use after release,
// double release, and handles left to the GC finalizer.
"use strict"
const { addon, ITERATIONS, rnd, bytes, check, checkCount } = require("./fuzz-common.cjs").setup(0x2545f491, 300)
/** An exact-size copy of a[start, end), i.e. a fresh allocation holding just those bytes. */
const exact = (a, start = 0, end = a.length) => {
  const out = new Uint8Array(new ArrayBuffer(end - start))
  out.set(a.subarray(start, end))
  return out
}
const eq = (a, b) => a !== undefined && b !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0

const weird = [-1, -0.5, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 1, 2 ** 53, "3", null, undefined, {}, 1n]
const live0 = addon.liveKeys()

for (let it = 0; it < ITERATIONS; it++) {
  const secret = bytes(32)
  const h = addon.importKey(secret)
  const other = addon.importKey(bytes(32))
  const plain = bytes(rnd(301))

  // GCM
  const gcm = exact(addon.gcmEncrypt(h, bytes(12), plain))
  check(eq(addon.gcmDecrypt(h, gcm, 0, gcm.length), plain), "gcm roundtrip")
  for (let end = 0; end < gcm.length; end += 1 + rnd(3)) {
    check(addon.gcmDecrypt(h, exact(gcm, 0, end), 0, end) === undefined, "gcm truncated")
    check(addon.gcmDecrypt(h, gcm, 0, end) === undefined, "gcm short range")
  }
  for (let start = 1; start <= gcm.length; start += 1 + rnd(5)) {
    check(addon.gcmDecrypt(h, exact(gcm, start), 0, gcm.length - start) === undefined, "gcm trimmed")
  }
  // Oversized: end past the view, by 1..40 bytes, on an exact-size buffer.
  for (let extra = 1; extra <= 40; extra += 1 + rnd(4)) {
    check(addon.gcmDecrypt(h, gcm, 0, gcm.length + extra) === undefined, "gcm end past view")
    check(addon.gcmDecrypt(h, gcm, extra, gcm.length + extra) === undefined, "gcm shifted past view")
  }
  const flipped = exact(gcm)
  flipped[rnd(flipped.length)] ^= 1 << rnd(8)
  check(addon.gcmDecrypt(h, flipped, 0, flipped.length) === undefined, "gcm bit flip")
  check(addon.gcmDecrypt(other, gcm, 0, gcm.length) === undefined, "gcm wrong key")
  for (const w of weird) {
    check(addon.gcmDecrypt(h, gcm, w, gcm.length) === undefined, `gcm start ${String(w)}`)
    check(addon.gcmDecrypt(h, gcm, 0, w) === undefined, `gcm end ${String(w)}`)
  }
  // A view into a larger buffer whose tail holds the real tag: must not be reachable.
  const backing = new ArrayBuffer(gcm.length + 8)
  new Uint8Array(backing, 4, gcm.length).set(gcm)
  check(addon.gcmDecrypt(h, new Uint8Array(backing, 4, gcm.length - 1), 0, gcm.length) === undefined, "view bound")
  check(eq(addon.gcmDecrypt(h, new Uint8Array(backing, 4, gcm.length), 0, gcm.length), plain), "view ok")

  // CBC
  const cbc = exact(addon.cbcEncrypt(h, bytes(16), plain))
  check(eq(addon.cbcDecrypt(h, cbc, 0, cbc.length), plain), "cbc roundtrip")
  for (let end = 0; end < cbc.length; end += 1 + rnd(3)) {
    const r = addon.cbcDecrypt(h, exact(cbc, 0, end), 0, end)
    check(r === undefined || (end > 16 && end % 16 === 0), "cbc truncated")
  }
  for (let extra = 1; extra <= 40; extra += 1 + rnd(4)) {
    check(addon.cbcDecrypt(h, cbc, 0, cbc.length + extra) === undefined, "cbc end past view")
  }
  const cflip = exact(cbc)
  cflip[rnd(cflip.length)] ^= 1 << rnd(8)
  addon.cbcDecrypt(h, cflip, 0, cflip.length)
  addon.cbcDecrypt(other, cbc, 0, cbc.length)
  // Large CBC (heap scratch path, > 2 KiB).
  if (it % 25 === 0) {
    const big = bytes(5000 + rnd(3000))
    const bigCt = exact(addon.cbcEncrypt(h, bytes(16), big))
    check(eq(addon.cbcDecrypt(h, bigCt, 0, bigCt.length), big), "cbc big roundtrip")
    addon.cbcDecrypt(h, exact(bigCt, 0, bigCt.length - 16), 0, bigCt.length - 16)
  }

  // *Into entry points: exact-size targets, too-small targets, offsets at and past the end.
  {
    const ctLen = gcm.length - 28
    const target = new Uint8Array(new ArrayBuffer(ctLen))
    check(addon.gcmDecryptInto(h, gcm, 0, gcm.length, target, 0) === true, "gcm into exact")
    check(eq(target, plain), "gcm into content")
    if (ctLen > 0) check(addon.gcmDecryptInto(h, gcm, 0, gcm.length, target, 1) === false, "gcm into short by 1")
    check(addon.gcmDecryptInto(h, gcm, 0, gcm.length, target, ctLen + 1) === false, "gcm into offset past end")
    const room = new Uint8Array(new ArrayBuffer(cbc.length))
    check(addon.cbcDecryptInto(h, cbc, 0, cbc.length, room, 0) === plain.length, "cbc into exact")
    check(eq(room.subarray(0, plain.length), plain), "cbc into content")
    check(addon.cbcDecryptInto(h, cbc, 0, cbc.length, exact(room, 1), 0) === -1, "cbc into short by 1")
    check(addon.cbcDecryptInto(h, cbc, 0, cbc.length, room, 1) === -1, "cbc into offset 1")
    for (const w of weird) check(addon.gcmDecryptInto(h, gcm, 0, gcm.length, target, w) === false, "gcm into offset")
    // Overlapping input and output.
    const both = new Uint8Array(new ArrayBuffer(gcm.length * 2))
    both.set(gcm, 0)
    if (ctLen > 0) check(addon.gcmDecryptInto(h, both, 0, gcm.length, both, 5) === false, "gcm into overlap")
  }

  // Non-Uint8Array inputs.
  for (
    const bad of [new Uint16Array(8), new DataView(new ArrayBuffer(64)), new Uint8ClampedArray(64), "x".repeat(64), [
      1,
      2
    ]]
  ) {
    check(addon.gcmDecrypt(h, bad, 0, 40) === undefined, "gcm bad data")
    check(addon.cbcDecrypt(h, bad, 0, 32) === undefined, "cbc bad data")
  }

  // Release, use after release, double release.
  addon.releaseKey(h)
  check(addon.gcmDecrypt(h, gcm, 0, gcm.length) === undefined, "use after release")
  check(addon.cbcDecrypt(h, cbc, 0, cbc.length) === undefined, "use after release (cbc)")
  let threw = false
  try {
    addon.gcmEncrypt(h, bytes(12), plain)
  } catch (e) {
    threw = e.code === "ERR_NATIVE_CRYPTO_KEY_RELEASED"
  }
  check(threw, "encrypt after release throws")
  addon.releaseKey(h)
  // `other` is deliberately never released: the finalizer must free it.
}

// Let the finalizers run for the unreleased handles.
let rounds = 0
const finish = () => {
  globalThis.gc?.()
  if (addon.liveKeys() > live0 && ++rounds < 100) return setImmediate(finish)
  check(addon.liveKeys() === live0, `live keys back to baseline (${addon.liveKeys()} vs ${live0})`)
  check(addon.liveContexts() === 0, `live contexts back to 0 (${addon.liveContexts()})`)
  console.log(`valgrind-fuzz: ${ITERATIONS} iterations, ${checkCount()} checks passed`)
}
finish()
