/**
 * Micro-benchmark: the two AES-256-GCM layers of a V4 advertising token per
 * op (outer: 130-byte plaintext under the master key, read at offset 6 of the
 * token; inner: 69-byte plaintext under the site key, read at offset 33 of
 * the outer plaintext), native addon vs node:crypto, in one process with
 * interleaved rounds (the order rotates every round). The two CBC layers of a
 * V2 token are measured the same way for reference. A third run starts from
 * the token text: `Base64.decode` + both layers, against the native
 * `openGcmToken` fast path that does all three in one call.
 *
 * Both wall-clock and process CPU time are reported: on a shared machine the
 * CPU-time figure is the less noisy one (it still counts GC helper threads).
 *
 *   adapters/native-crypto/build.sh && npx tsx adapters/native-crypto/bench.ts [rounds] [msPerRound]
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { type CryptoShape, type KeyHandle, makeNode } from "../../src/Crypto.js"
import * as Base64 from "../../src/internal/base64.js"
import * as NativeCrypto from "./index.js"

const rounds = Number(process.argv[2] ?? 21)
const msPerRound = Number(process.argv[3] ?? 150)

const loaded = NativeCrypto.load()
if (loaded._tag === "Left") {
  console.error(loaded.left.message)
  process.exit(1)
}
const native = loaded.right
const nativeUnpooled = NativeCrypto.make({ pool: false })!
const node = makeNode((n) => new Uint8Array(randomBytes(n)))

const masterSecret = new Uint8Array(randomBytes(32))
const siteSecret = new Uint8Array(randomBytes(32))
const random = (n: number) => new Uint8Array(randomBytes(n))

const SITE_KEY_ID = 165

/** A V4-shaped token: 6 header bytes ‖ GCM(master, 33 bytes ‖ GCM(site, 69 bytes)). */
const gcmToken = ((): Uint8Array => {
  const site = node.gcmEncrypt(node.importKey(siteSecret), random(12), random(69))
  const masterPlain = new Uint8Array(33 + site.length)
  masterPlain.set(random(33), 0)
  masterPlain.set([0, 0, 0, SITE_KEY_ID], 29)
  masterPlain.set(site, 33)
  if (masterPlain.length !== 130) throw new Error(`outer plaintext is ${masterPlain.length} bytes`)
  const outer = node.gcmEncrypt(node.importKey(masterSecret), random(12), masterPlain)
  const token = new Uint8Array(6 + outer.length)
  token.set([0x03, 0x80, 0, 0, 0, 1], 0)
  token.set(outer, 6)
  return token
})()

/** A V2-shaped token: 5 header bytes ‖ CBC(master, 28 bytes ‖ CBC(site, 64 bytes)). */
const cbcToken = ((): Uint8Array => {
  const site = node.cbcEncrypt(node.importKey(siteSecret), random(16), random(64))
  const masterPlain = new Uint8Array(28 + site.length)
  masterPlain.set(random(28), 0)
  masterPlain.set(site, 28)
  const outer = node.cbcEncrypt(node.importKey(masterSecret), random(16), masterPlain)
  const token = new Uint8Array(5 + outer.length)
  token.set([2, 0, 0, 0, 1], 0)
  token.set(outer, 5)
  return token
})()

/** The V4 token as it arrives: URL-safe Base64 without padding (220 characters). */
const gcmText = Base64.encodeUrl(gcmToken)

interface Subject {
  readonly label: string
  readonly op: () => number
}

const subjects = (label: string, crypto: CryptoShape) => {
  const master = crypto.importKey(masterSecret)
  const site = crypto.importKey(siteSecret)
  const gcm: Subject = {
    label,
    op: () => {
      const outer = crypto.gcmDecrypt(master, gcmToken, 6, gcmToken.length)
      if (outer === undefined) throw new Error("outer layer failed")
      const inner = crypto.gcmDecrypt(site, outer, 33, outer.length)
      if (inner === undefined) throw new Error("inner layer failed")
      return inner[0]!
    }
  }
  const cbc: Subject = {
    label,
    op: () => {
      const outer = crypto.cbcDecrypt(master, cbcToken, 5, cbcToken.length)
      if (outer === undefined) throw new Error("outer layer failed")
      const inner = crypto.cbcDecrypt(site, outer, 28, outer.length)
      if (inner === undefined) throw new Error("inner layer failed")
      return inner[0]!
    }
  }
  // The token core's lookup is a ring Map read; model it the same way.
  const siteKeys = new Map<number, KeyHandle>([[SITE_KEY_ID, site]])
  const siteKeyOf = (id: number) => siteKeys.get(id)
  const text: Subject = {
    label,
    op: () => {
      const bytes = Base64.decode(gcmText, "either")
      if (bytes === undefined) throw new Error("bad Base64")
      const outer = crypto.gcmDecrypt(master, bytes, 6, bytes.length)
      if (outer === undefined) throw new Error("outer layer failed")
      const inner = crypto.gcmDecrypt(siteKeyOf(readSiteKeyId(outer))!, outer, 33, outer.length)
      if (inner === undefined) throw new Error("inner layer failed")
      return inner[0]!
    }
  }
  const open = crypto.openGcmToken
  const fast: Subject | undefined = open === undefined ? undefined : {
    label: `${label}, openGcmToken`,
    op: () => {
      const both = open(gcmText, "either", master, siteKeyOf)
      if (both === undefined) throw new Error("openGcmToken failed")
      return both[130]!
    }
  }
  return { gcm, cbc, text, fast }
}

const readSiteKeyId = (b: Uint8Array): number => (b[29]! << 24) | (b[30]! << 16) | (b[31]! << 8) | b[32]!

const all = [subjects("node", node), subjects("native", native), subjects("native, unpooled", nativeUnpooled)]

let sink = 0
/** ops/s by wall clock and by process CPU time, over one round. */
const measure = (s: Subject): { wall: number; cpu: number } => {
  let batch = 64
  for (;;) {
    const t0 = performance.now()
    for (let i = 0; i < batch; i++) sink += s.op()
    if (performance.now() - t0 > 1) break
    batch *= 2
  }
  let ops = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  let now = start
  while (now - start < msPerRound) {
    for (let i = 0; i < batch; i++) sink += s.op()
    ops += batch
    now = performance.now()
  }
  const cpu = process.cpuUsage(cpu0)
  return { wall: (ops * 1000) / (now - start), cpu: (ops * 1e6) / (cpu.user + cpu.system) }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const fmt = (n: number): string => `${(n / 1000).toFixed(1)}k`

const run = (name: string, list: ReadonlyArray<Subject>) => {
  for (const s of list) for (let i = 0; i < 20_000; i++) sink += s.op() // warm-up: JIT, lazily created contexts
  const wall = list.map(() => [] as Array<number>)
  const cpu = list.map(() => [] as Array<number>)
  const ratioWall = list.map(() => [] as Array<number>)
  const ratioCpu = list.map(() => [] as Array<number>)
  for (let r = 0; r < rounds; r++) {
    const got: Array<{ wall: number; cpu: number }> = []
    for (let j = 0; j < list.length; j++) {
      const i = (j + r) % list.length // rotate who goes first
      got[i] = measure(list[i]!)
    }
    got.forEach((g, i) => {
      wall[i]!.push(g.wall)
      cpu[i]!.push(g.cpu)
      ratioWall[i]!.push(g.wall / got[0]!.wall)
      ratioCpu[i]!.push(g.cpu / got[0]!.cpu)
    })
  }
  console.log(`\n${name}`)
  list.forEach((s, i) => {
    const rw = ratioWall[i]!
    console.log(
      `  ${s.label.padEnd(30)} wall ${fmt(median(wall[i]!)).padStart(7)} ops/s ${(1e9 / median(wall[i]!)).toFixed(0).padStart(5)} ns` +
        `  cpu ${fmt(median(cpu[i]!)).padStart(7)} ops/cpu-s` +
        (i === 0 ? "" :
          `  vs node: ${median(rw).toFixed(2)}x wall (rounds ${Math.min(...rw).toFixed(2)}–${Math.max(...rw).toFixed(2)}), ` +
            `${median(ratioCpu[i]!).toFixed(2)}x cpu`)
    )
  })
}

console.log(
  `Node ${process.version}, ${native.opensslVersion}; ${rounds} interleaved rounds of ${msPerRound} ms; ` +
    `one op = both layers of one token; medians`
)
run("V4 token, 2 x AES-256-GCM (130 B + 69 B plaintext)", all.map((s) => s.gcm))
run("V2 token, 2 x AES-256-CBC (112 B + 80 B ciphertext)", all.map((s) => s.cbc))
run(
  "V4 token text (220 chars): Base64.decode + 2 x GCM, vs openGcmToken (all in one native call)",
  [...all.map((s) => s.text), ...all.flatMap((s) => s.fast === undefined ? [] : [s.fast])]
)
if (sink === 0.5) console.log(sink)
