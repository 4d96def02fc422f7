// Memory-safety smoke test for gcmEncryptInto / cbcEncryptInto (and the allocating encrypts they
// share their core with), meant to run under valgrind (not part of `npm test`):
//
//   valgrind --error-exitcode=1 --suppressions=adapters/native-crypto/test/valgrind-v8.supp \
//     node --expose-gc adapters/native-crypto/test/valgrind-fuzz-encrypt.cjs
//
// Every input and target lives in its own exactly-sized ArrayBuffer (one malloc'd block each), so a
// read or write one byte outside the plaintext, the iv or [offset, offset + need) is reported by
// memcheck. Exercises: every plaintext length 0..300 (and some beyond a block of slack), targets of
// exactly the needed size, one byte short, at every offset near the end, weird offsets and target
// types, overlapping input/output regions, bad keys/ivs/plaintexts, and use after release.
"use strict"
const crypto = require("node:crypto")
const { addon, ITERATIONS, rnd, bytes, check, checkCount } = require("./fuzz-common.cjs").setup(0x1b873593, 150)
const eq = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0
const throwsCode = (f) => {
  try {
    f()
    return undefined
  } catch (e) {
    return e.code ?? String(e)
  }
}
const ref = (gcm, secret, iv, plain) => {
  const c = crypto.createCipheriv(gcm ? "aes-256-gcm" : "aes-256-cbc", secret, iv)
  const parts = [iv, c.update(plain), c.final()]
  if (gcm) parts.push(c.getAuthTag())
  return Buffer.concat(parts)
}

const weird = [-1, -0.5, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 1, 2 ** 53, "3", null, undefined, {}, 1n]
const live0 = addon.liveKeys()

for (let it = 0; it < ITERATIONS; it++) {
  const secret = bytes(32)
  const h = addon.importKey(secret)
  const plain = bytes(it < 20 ? it * 16 + rnd(16) : rnd(301))
  for (const gcm of [true, false]) {
    const into = gcm ? addon.gcmEncryptInto : addon.cbcEncryptInto
    const alloc = gcm ? addon.gcmEncrypt : addon.cbcEncrypt
    const ivLen = gcm ? 12 : 16
    const iv = bytes(ivLen)
    const need = gcm ? 28 + plain.length : 16 + (Math.floor(plain.length / 16) + 1) * 16
    const want = ref(gcm, secret, iv, plain)
    check(want.length === need, "need")
    check(eq(alloc(h, iv, plain), want), "allocating encrypt")

    // Exact-size target, and targets where the region ends exactly at the end of the block.
    const exact = new Uint8Array(new ArrayBuffer(need))
    check(into(h, iv, plain, exact, 0) === need, "exact")
    check(eq(exact, want), "exact content")
    const offset = rnd(40)
    const tail = new Uint8Array(new ArrayBuffer(offset + need))
    check(into(h, iv, plain, tail, offset) === need, "at end")
    check(eq(tail.subarray(offset), want), "at end content")
    // One byte short, at every offset that leaves less than `need` bytes.
    const short = new Uint8Array(new ArrayBuffer(need - 1))
    check(into(h, iv, plain, short, 0) === -1, "short by one")
    for (let off = Math.max(0, tail.length - need + 1); off <= tail.length; off++) {
      check(into(h, iv, plain, tail, off) === -1, `offset ${off} of ${tail.length}`)
    }
    check(into(h, iv, plain, tail, tail.length + 1) === -1, "offset past end")
    for (const w of weird) check(into(h, iv, plain, exact, w) === -1, `offset ${String(w)}`)
    for (
      const bad of [
        new Uint16Array(need),
        new DataView(new ArrayBuffer(need)),
        new Uint8ClampedArray(need),
        [],
        {},
        undefined
      ]
    ) {
      check(into(h, iv, plain, bad, 0) === -1, "bad target")
    }
    check(into(h, iv, plain, exact) === -1, "no offset")
    // A view into a bigger block: its own bounds count.
    const backing = new ArrayBuffer(need + 32)
    check(into(h, iv, plain, new Uint8Array(backing, 16, need - 1), 0) === -1, "view bound")
    check(into(h, iv, plain, new Uint8Array(backing, 16, need), 0) === need, "view ok")

    // Overlap: plaintext and iv inside the target block.
    const shared = new Uint8Array(new ArrayBuffer(need * 2 + plain.length + ivLen + 64))
    const pAt = need + rnd(16)
    shared.set(plain, pAt)
    const ivAt = pAt + plain.length + rnd(8)
    shared.set(iv, ivAt)
    const p = shared.subarray(pAt, pAt + plain.length)
    const v = shared.subarray(ivAt, ivAt + ivLen)
    for (let k = 0; k < 20; k++) {
      const off = rnd(shared.length)
      const overlaps = (plain.length > 0 && off < pAt + plain.length && pAt < off + need) ||
        (off < ivAt + ivLen && ivAt < off + need)
      const r = into(h, v, p, shared, off)
      if (overlaps || off + need > shared.length) check(r === -1, `overlap at ${off}`)
      else {
        check(r === need, `no overlap at ${off}`)
        check(eq(shared.subarray(off, off + need), want), "no overlap content")
        shared.set(plain, pAt) // (untouched anyway)
        shared.set(iv, ivAt)
      }
    }
    check(into(h, v, p, shared, 0) === need, "disjoint before")

    // Bad key / iv / plaintext: the same exception as the allocating call, target untouched.
    const guard = new Uint8Array(new ArrayBuffer(need)).fill(0x77)
    for (const args of [[{}, iv, plain], [h, bytes(ivLen - 1), plain], [h, iv, new Uint16Array(4)], [h, iv, "abc"]]) {
      const a = throwsCode(() => alloc(...args))
      check(a !== undefined && a === throwsCode(() => into(...args, guard, 0)), "same exception")
    }
    check(guard.every((x) => x === 0x77), "guard untouched")
  }
  if (it % 30 === 0) {
    // Larger than any pool result: still correct through Into.
    const big = bytes(2000 + rnd(3000))
    const iv = bytes(12)
    const out = new Uint8Array(new ArrayBuffer(big.length + 28))
    check(addon.gcmEncryptInto(h, iv, big, out, 0) === out.length, "big")
    check(eq(out, ref(true, secret, iv, big)), "big content")
  }
  addon.releaseKey(h)
  const code = throwsCode(() => addon.gcmEncryptInto(h, bytes(12), plain, new Uint8Array(400), 0))
  check(code === "ERR_NATIVE_CRYPTO_KEY_RELEASED", `into after release: ${code}`)
  check(
    throwsCode(() => addon.cbcEncryptInto(h, bytes(16), plain, new Uint8Array(400), 0)) ===
      "ERR_NATIVE_CRYPTO_KEY_RELEASED",
    "cbc"
  )
}

let rounds = 0
const finish = () => {
  globalThis.gc?.()
  // A few rounds at least: every handle was released explicitly, but its external (and the
  // finalizer record Node keeps for it) is only freed once collected.
  if ((addon.liveKeys() > live0 || rounds < 5) && ++rounds < 100) return setImmediate(finish)
  check(addon.liveKeys() === live0, `live keys back to baseline (${addon.liveKeys()} vs ${live0})`)
  check(addon.liveContexts() === 0, `live contexts back to 0 (${addon.liveContexts()})`)
  console.log(`valgrind-fuzz-encrypt: ${ITERATIONS} iterations, ${checkCount()} checks passed`)
}
finish()
