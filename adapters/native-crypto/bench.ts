/**
 * Micro-benchmark: the two AES-256-GCM layers of a V4 advertising token per
 * op (outer: 130-byte plaintext under the master key, read at offset 6 of the
 * token; inner: 69-byte plaintext under the site key, read at offset 33 of
 * the outer plaintext), native addon vs node:crypto, in one process with
 * interleaved rounds (the order rotates every round). The two CBC layers of a
 * V2 token are measured the same way for reference. A third run starts from
 * the token text and ends at the raw UID as Base64 text, as the token core's
 * general path does (`Base64.decode`, master and site key looked up by id in a
 * ring `Map`, both layers, `Base64.encodeRange` of the UID), against the
 * native `tokenOpener.open`, which does all of it in one call with both key
 * ids resolved in a native key table made once by `tokenOpener.importKeys`
 * (and also writes the 75 bytes of fixed fields).
 *
 * Both wall-clock and process CPU time are reported: on a shared machine the
 * CPU-time figure is the less noisy one (it still counts GC helper threads).
 *
 *   adapters/native-crypto/build.sh && npx tsx adapters/native-crypto/bench.ts [rounds] [msPerRound]
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { type CryptoShape, type KeyHandle, makeNode, OPENED_FIELDS_LENGTH } from "../../src/Crypto.js"
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

const MASTER_KEY_ID = 1
const SITE_KEY_ID = 165
/** Keys in the modelled ring besides the two the token uses, so neither lookup searches a trivial table. */
const OTHER_KEYS = 30
const otherKeys = Array.from({ length: OTHER_KEYS }, (_, i) => ({ id: 1000 + i, secret: random(32) }))

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
  token.set([0x03, 0x80], 0)
  token.set(
    [MASTER_KEY_ID >>> 24, (MASTER_KEY_ID >>> 16) & 0xff, (MASTER_KEY_ID >>> 8) & 0xff, MASTER_KEY_ID & 0xff],
    2
  )
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
  // The token core's general path looks both keys up by id in the ring (a Map read); model it the same way.
  const ring = new Map<number, KeyHandle>([
    [MASTER_KEY_ID, master],
    [SITE_KEY_ID, site],
    ...otherKeys.map((k) => [k.id, crypto.importKey(k.secret)] as const)
  ])
  const text: Subject = {
    label,
    op: () => {
      const bytes = Base64.decode(gcmText, "either")
      if (bytes === undefined) throw new Error("bad Base64")
      const outer = crypto.gcmDecrypt(ring.get(readInt32(bytes, 2))!, bytes, 6, bytes.length)
      if (outer === undefined) throw new Error("outer layer failed")
      const inner = crypto.gcmDecrypt(ring.get(readInt32(outer, 29))!, outer, 33, outer.length)
      if (inner === undefined) throw new Error("inner layer failed")
      const uid = Base64.encodeRange(inner, 36, inner.length)
      return inner[0]! + uid.length
    }
  }
  return { gcm, cbc, text }
}

/** The native one-call path: a key table made once (as a ring does), then `open` per token. */
const openerSubject = (label: string, crypto: CryptoShape): Subject | undefined => {
  const opener = crypto.tokenOpener
  if (opener === undefined) return undefined
  const table = opener.importKeys([
    { id: MASTER_KEY_ID, secret: masterSecret },
    { id: SITE_KEY_ID, secret: siteSecret },
    ...otherKeys
  ])
  // One fields buffer reused across tokens, as the token core does.
  const fields = new Uint8Array(OPENED_FIELDS_LENGTH)
  // Before timing anything: the one call must give what the general path gives.
  const outer = node.gcmDecrypt(node.importKey(masterSecret), gcmToken, 6, gcmToken.length)!
  const inner = node.gcmDecrypt(node.importKey(siteSecret), outer, 33, outer.length)!
  const expected = [...gcmToken.subarray(0, 6), ...outer.subarray(0, 33), ...inner.subarray(0, 36)]
  if (
    opener.open(gcmText, "either", table, fields) !== Base64.encodeRange(inner, 36, inner.length) ||
    fields.some((b, i) => b !== expected[i])
  ) throw new Error("tokenOpener.open disagrees with the general path")
  return {
    label: `${label}, tokenOpener.open`,
    op: () => {
      const uid = opener.open(gcmText, "either", table, fields)
      if (uid === undefined) throw new Error("tokenOpener.open failed")
      return fields[6 + 33]! + uid.length
    }
  }
}

const readInt32 = (b: Uint8Array, at: number): number =>
  (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!

const all = [subjects("node", node), subjects("native", native), subjects("native, unpooled", nativeUnpooled)]
// `open` uses no result pool, so the pooled and unpooled instances share one opener: measure it once.
const opener = openerSubject("native", native)
if (opener === undefined) console.error("this addon binary has no token opener (importKeyTable/openToken); rebuild it")

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
      `  ${s.label.padEnd(30)} wall ${fmt(median(wall[i]!)).padStart(7)} ops/s ${
        (1e9 / median(wall[i]!)).toFixed(0).padStart(5)
      } ns` +
        `  cpu ${fmt(median(cpu[i]!)).padStart(7)} ops/cpu-s` +
        (i === 0 ?
          "" :
          `  vs node: ${median(rw).toFixed(2)}x wall (rounds ${Math.min(...rw).toFixed(2)}–${
            Math.max(...rw).toFixed(2)
          }), ` +
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
  "V4 token text (220 chars) to UID text: decode + 2 key lookups + 2 x GCM + encode, vs tokenOpener.open (one native call)",
  [...all.map((s) => s.text), ...(opener === undefined ? [] : [opener])]
)
if (sink === 0.5) console.log(sink)
