// Shared by the valgrind fuzz scripts: the addon, a seeded xorshift generator, inputs in
// exactly-sized ArrayBuffers (so memcheck sees a one-byte overrun), and a check counter.
"use strict"
const path = require("node:path")

const addon = require(
  process.env.EFFECT_UID2_NATIVE_CRYPTO ??
    path.join(__dirname, "..", "build", "Release", "native_crypto.node")
)

const setup = (initialSeed, defaultIterations) => {
  let seed = initialSeed
  const rnd = (n) => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) % n
  }
  const bytes = (n) => {
    const out = new Uint8Array(new ArrayBuffer(n))
    for (let i = 0; i < n; i++) out[i] = rnd(256)
    return out
  }
  let checks = 0
  const check = (cond, what) => {
    checks++
    if (!cond) throw new Error(`check failed: ${what}`)
  }
  return {
    addon,
    ITERATIONS: Number(process.env.FUZZ_ITERATIONS ?? defaultIterations),
    rnd,
    bytes,
    check,
    checkCount: () => checks
  }
}

module.exports = { setup }
