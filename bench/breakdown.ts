/**
 * Where the time goes: the V4 decrypt and V4 encrypt paths taken apart into
 * their pieces and measured in the same interleaved rounds as the baseline,
 * plus the experimental variants of bench/tuned.ts (what a change in src/
 * would buy). Node:crypto layer only.
 *
 * `--op overhead` runs the SDK on a Crypto that does no cryptography
 * (bench/nullcrypto.ts): what is left is the SDK's own cost per token.
 *
 *   npx tsx bench/breakdown.ts [--op decrypt|encrypt|overhead|all] [--rounds 9] [--sample-ms 150] [--json]
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { createDecipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto"
import * as Bidstream from "../src/Bidstream.js"
import * as Clock from "effect/Clock"
import { Crypto, type CryptoShape, makeNode, seededRandom } from "../src/Crypto.js"
import { decrypt, encryptRawUid } from "../src/Decryption.js"
import * as Base64 from "../src/internal/base64.js"
import * as KeyStore from "../src/KeyStore.js"
import * as Sharing from "../src/Sharing.js"
import type { DecryptError, EncryptError } from "../src/Errors.js"
import * as Token from "../src/Token.js"
import type { DecryptedToken } from "../src/Token.js"
import { baselineKeys, gcmDecryptBaseline, gcmEncryptBaseline } from "./baseline.js"
import {
  bidstreamBody,
  MASTER_KEY_ID,
  MASTER_SECRET,
  makeRawUids,
  makeTokens,
  ringOf,
  SITE_ID,
  SITE_KEY_ID,
  SITE_SECRET,
  sharingBody
} from "./fixtures.js"
import { type Arm, type ArmResult, measureGroup } from "./harness.js"
import { makeNullCrypto } from "./nullcrypto.js"
import {
  decodeLengthCheck,
  decodeRegex,
  decryptTuned,
  encodeV4Tuned,
  encryptTuned,
  makeNodeTuned,
  pooledRandom
} from "./tuned.js"

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}
const json = process.argv.includes("--json")
const which = arg("op", "all")
const options = {
  clock: (arg("clock", "cpu") === "wall" ? "wall" : "cpu") as "cpu" | "wall",
  gcPerSample: !process.argv.includes("--no-gc"),
  rounds: Number(arg("rounds", "9")),
  sampleMs: Number(arg("sample-ms", "150")),
  warmupMs: Number(arg("warmup-ms", "250"))
}

const N = 1000
const nowMs = Date.now()
const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length)
const secureRandom = (n: number) => view(randomBytes(n))
const BIDSTREAM = { clientType: "bidstream" } as const

const arm = (id: string, run: () => number, baseline = false): Arm => ({
  id,
  api: id,
  crypto: "node",
  tokensPerRun: N,
  ...(baseline ? { baseline } : {}),
  run
})

const loop = (f: (i: number) => number): () => number => () => {
  let s = 0
  for (let i = 0; i < N; i++) s += f(i)
  return s
}

const clientLayer = <I>(layer: Layer.Layer<I, never, KeyStore.KeyStore | Crypto>, body: unknown, crypto: CryptoShape) =>
  ManagedRuntime.make(
    layer.pipe(Layer.provide(Layer.merge(KeyStore.layerMemoryWith(ringOf(body)), Layer.succeed(Crypto, crypto))))
  )

const decryptArms = (): Array<Arm> => {
  const keys = baselineKeys()
  const tokens = makeTokens(4, N, nowMs)
  const texts = tokens.texts
  const u8 = texts.map((t) => Base64.decode(t, "either")!)
  const uidBytes = tokens.uids.map((u) => Base64.decode(u)!)
  const node = makeNode(secureRandom)
  const tuned = makeNodeTuned(secureRandom)
  const ringNode = ringOf(bidstreamBody(nowMs))
  const ringTuned = ringOf(bidstreamBody(nowMs))
  const node2 = makeNode(secureRandom)
  const ringTuned2 = ringOf(bidstreamBody(nowMs))
  const masterSecret = new Uint8Array(Buffer.from(MASTER_SECRET, "base64"))
  const siteSecret = new Uint8Array(Buffer.from(SITE_SECRET, "base64"))
  const crypto2 = (c: CryptoShape) => {
    const m = c.importKey(masterSecret)
    const s = c.importKey(siteSecret)
    return loop((i) => {
      const t = u8[i]!
      const master = c.gcmDecrypt(m, t, 6, t.length)!
      return c.gcmDecrypt(s, master, 33, master.length)!.length
    })
  }
  const rt = clientLayer(Bidstream.layerFromKeyStore, bidstreamBody(nowMs), node)
  const client = rt.runSync(Bidstream.BidstreamClient)
  const bufs = tokens.bytes
  return [
    arm("baseline (2x GCM, outer pre-sliced)", gcmDecryptBaseline(tokens, keys), true),
    arm("baseline + outer slicing per token", loop((i) => {
      const b = bufs[i]!
      return gcmDecryptOne(keys.master, keys.site, b.subarray(6, 18), b.subarray(18, b.length - 16), b.subarray(b.length - 16))
    })),
    arm("Crypto.gcmDecrypt x2 (makeNode)", crypto2(node)),
    arm("Crypto.gcmDecrypt x2 (tuned)", crypto2(tuned)),
    arm("Base64.decode(text, either) only", loop((i) => Base64.decode(texts[i]!, "either")!.length)),
    arm("Buffer.from(text, base64) only", loop((i) => Buffer.from(texts[i]!, "base64").length)),
    arm("Base64.encode(uid 33 B) only", loop((i) => Base64.encode(uidBytes[i]!).length)),
    arm("core decrypt (makeNode)", loop((i) => decrypt(ringNode, node, texts[i]!, nowMs, BIDSTREAM)._tag.length)),
    arm("core decrypt (tuned Crypto)", loop((i) => decrypt(ringTuned, tuned, texts[i]!, nowMs, BIDSTREAM)._tag.length)),
    arm("client.decryptSync", loop((i) => client.decryptSync(texts[i]!)._tag.length)),
    arm(
      "experiment: decryptTuned (decodeRegex), Date.now()",
      loop((i) => decryptTuned(ringTuned2, node2, texts[i]!, Date.now(), BIDSTREAM)._tag.length)
    ),
    arm(
      "experiment: forEach(single-op accessor + decryptTuned)",
      () =>
        rt.runSync(Effect.forEach(texts, (t) =>
          oneOp<DecryptedToken, DecryptError>(
            Bidstream.BidstreamClient,
            (now) => decryptTuned(ringTuned2, node2, t, now, BIDSTREAM),
            (r): r is DecryptedToken => r._tag === "DecryptedToken"
          ))).length
    ),
    arm(
      "Effect.forEach(BidstreamClient.decrypt)",
      () => rt.runSync(Effect.forEach(texts, (t) => Bidstream.BidstreamClient.decrypt(t))).length
    ),
    arm(
      "Effect.forEach(client.decrypt), client read once",
      () => rt.runSync(Effect.flatMap(Bidstream.BidstreamClient, (c) => Effect.forEach(texts, (t) => c.decrypt(t)))).length
    ),
    arm(
      "Effect.forEach(single-op accessor, experiment)",
      () => rt.runSync(Effect.forEach(texts, (t) => decryptOneOp(t))).length
    ),
    arm(
      "Effect.forEach(..., discard)",
      () => {
        rt.runSync(Effect.forEach(texts, (t) => Bidstream.BidstreamClient.decrypt(t), { discard: true }))
        return N
      }
    ),
    arm(
      "one Effect.sync around a decryptSync loop",
      () =>
        rt.runSync(Effect.flatMap(Bidstream.BidstreamClient, (c) =>
          Effect.sync(() => {
            const out = new Array(N)
            for (let i = 0; i < N; i++) out[i] = c.decryptSync(texts[i]!)
            return out
          }))).length
    ),
    arm("runSync per token", loop((i) => rt.runSync(Bidstream.BidstreamClient.decrypt(texts[i]!)).expiry & 1))
  ]
}

/**
 * EXPERIMENT: what `BidstreamClient.decrypt` could cost as ONE fiber op: read
 * the service and the clock from the running fiber, run the sync core and
 * return an Exit (an Exit is itself an Effect), instead of flatMap(Tag) +
 * Tag lookup + clockWith + succeed.
 */
const decryptOneOp = (token: string) =>
  Effect.withFiberRuntime<DecryptedToken, DecryptError>((fiber) => {
    const client = Context.unsafeGet(fiber.currentContext as Context.Context<Bidstream.BidstreamClient>, Bidstream.BidstreamClient)
    const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    const r = client.decryptSync(token, undefined, now)
    return r._tag === "DecryptedToken" ? Exit.succeed(r) : Exit.fail(r)
  })

/** EXPERIMENT: the single-op accessor over any sync core. */
const oneOp = <A, E>(service: Context.Tag<any, any>, run: (now: number) => A | E, ok: (r: A | E) => r is A) =>
  Effect.withFiberRuntime<A, E>((fiber) => {
    Context.unsafeGet(fiber.currentContext, service) // the service read every accessor pays
    const r = run(Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis())
    return ok(r) ? Exit.succeed(r) : Exit.fail(r as E)
  })

/** EXPERIMENT: `SharingClient.encrypt` as one fiber op (see {@link decryptOneOp}). */
const encryptOneOp = (rawUid: string) =>
  Effect.withFiberRuntime<string, EncryptError>((fiber) => {
    const client = Context.unsafeGet(fiber.currentContext as Context.Context<Sharing.SharingClient>, Sharing.SharingClient)
    const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    const r = client.encryptSync(rawUid, now)
    return typeof r === "string" ? Exit.succeed(r) : Exit.fail(r)
  })

const gcmDecryptOne = (master: KeyObject, site: KeyObject, iv: Buffer, ct: Buffer, tag: Buffer): number => {
  const d1 = createDecipheriv("aes-256-gcm", master, iv)
  d1.setAuthTag(tag)
  const m = d1.update(ct)
  d1.final()
  const end = m.length - 16
  const d2 = createDecipheriv("aes-256-gcm", site, m.subarray(33, 45))
  d2.setAuthTag(m.subarray(end))
  const s = d2.update(m.subarray(45, end))
  d2.final()
  return s.length
}

const encryptArms = (): Array<Arm> => {
  const keys = baselineKeys()
  const uids = makeRawUids(N)
  const uidBytes = uids.map((u) => Base64.decode(u)!)
  const node = makeNode(secureRandom)
  const pooled = pooledRandom()
  const tunedPooled = makeNodeTuned(pooled, "node-tuned-pooled")
  const nodePooled = makeNode(pooled, "node-pooled")
  const ringNode = ringOf(sharingBody(nowMs))
  const ringTuned = ringOf(sharingBody(nowMs))
  const ringPooled = ringOf(sharingBody(nowMs))
  const node2 = makeNode(secureRandom)
  const ringTuned2 = ringOf(sharingBody(nowMs))
  const encryptPooled = encryptTuned(pooled)
  // encryptTuned must give the very bytes encryptRawUid gives, nonces being equal.
  for (const uid of uids.slice(0, 8)) {
    const want = encryptRawUid(ringOf(sharingBody(nowMs)), makeNode(seededRandom(5)), uid, nowMs)
    const got = encryptTuned(seededRandom(5))(ringOf(sharingBody(nowMs)), makeNode(seededRandom(6)), uid, nowMs)
    if (want !== got) throw new Error(`encryptTuned differs from encryptRawUid: ${String(got)} vs ${String(want)}`)
  }
  const masterSecret = new Uint8Array(Buffer.from(MASTER_SECRET, "base64"))
  const siteSecret = new Uint8Array(Buffer.from(SITE_SECRET, "base64"))
  const sitePlain = uidBytes.map((u) => {
    const p = new Uint8Array(36 + u.length)
    p.set(u, 36)
    return p
  })
  const masterPlain = new Uint8Array(33 + 12 + sitePlain[0]!.length + 16)
  const crypto2 = (c: CryptoShape) => {
    const m = c.importKey(masterSecret)
    const s = c.importKey(siteSecret)
    return loop((i) => {
      const siteBlob = c.gcmEncrypt(s, c.randomBytes(12), sitePlain[i]!)
      masterPlain.set(siteBlob, 33)
      return c.gcmEncrypt(m, c.randomBytes(12), masterPlain).length
    })
  }
  const encodeWith = (c: CryptoShape) => {
    const m = c.importKey(masterSecret)
    const s = c.importKey(siteSecret)
    return loop((i) =>
      Token.encode(c, {
        version: 4,
        uid: uids[i]!,
        identityScope: "UID2",
        identityType: "Email",
        masterKeyId: MASTER_KEY_ID,
        siteKeyId: SITE_KEY_ID,
        siteId: SITE_ID,
        expiry: nowMs + 2_592_000_000,
        generated: nowMs,
        established: nowMs,
        refreshed: nowMs,
        privacyBits: 0
      }, m, s, { master: c.randomBytes(12), site: c.randomBytes(12) })!.length
    )
  }
  const masterKey = createSecretKey(masterSecret)
  const siteKey = createSecretKey(siteSecret)
  const rt = clientLayer(Sharing.layerFromKeyStore, sharingBody(nowMs), node)
  const client = rt.runSync(Sharing.SharingClient)
  // The tuned encoder must produce tokens the SDK decrypts.
  const probe = encodeV4Tuned(masterKey, siteKey, MASTER_KEY_ID, SITE_KEY_ID, 0x03, SITE_ID, uidBytes[0]!, nowMs, nowMs + 3_600_000, pooled)
  const back = client.decryptSync(probe)
  if (back._tag !== "DecryptedToken" || back.uid !== uids[0]) throw new Error(`tuned encoder is wrong: ${back._tag}`)
  return [
    arm("baseline (2x GCM, randomFillSync 24 B)", gcmEncryptBaseline(uidBytes, keys), true),
    arm("crypto.randomBytes(12) x2 only (makeNode)", loop(() => node.randomBytes(12).length + node.randomBytes(12).length)),
    arm("pooled random 12 B x2 only", loop(() => pooled(12).length + pooled(12).length)),
    arm("Crypto.gcmEncrypt x2 + 2 nonces (makeNode)", crypto2(node)),
    arm("Crypto.gcmEncrypt x2 + 2 nonces (tuned, pooled)", crypto2(tunedPooled)),
    arm("Token.encode V4 (makeNode)", encodeWith(node)),
    arm("Token.encode V4 (makeNode, pooled random)", encodeWith(nodePooled)),
    arm("Token.encode V4 (tuned, pooled)", encodeWith(tunedPooled)),
    arm(
      "encodeV4Tuned (Buffer-based encoder, pooled)",
      loop((i) =>
        encodeV4Tuned(masterKey, siteKey, MASTER_KEY_ID, SITE_KEY_ID, 0x03, SITE_ID, Base64.decode(uids[i]!)!, nowMs, nowMs + 1, pooled)
          .length
      )
    ),
    arm("core encryptRawUid (makeNode)", loop((i) => (encryptRawUid(ringNode, node, uids[i]!, nowMs) as string).length)),
    arm(
      "core encryptRawUid (makeNode, pooled random)",
      loop((i) => (encryptRawUid(ringPooled, nodePooled, uids[i]!, nowMs) as string).length)
    ),
    arm(
      "core encryptRawUid (tuned, pooled)",
      loop((i) => (encryptRawUid(ringTuned, tunedPooled, uids[i]!, nowMs) as string).length)
    ),
    arm("client.encryptSync", loop((i) => (client.encryptSync(uids[i]!) as string).length)),
    arm(
      "experiment: encryptTuned (pooled nonces, Buffers, decodeRegex)",
      loop((i) => (encryptPooled(ringTuned2, node2, uids[i]!, Date.now()) as string).length)
    ),
    arm(
      "experiment: forEach(single-op accessor + encryptTuned)",
      () =>
        rt.runSync(Effect.forEach(uids, (u) =>
          oneOp<string, EncryptError>(
            Sharing.SharingClient,
            (now) => encryptPooled(ringTuned2, node2, u, now),
            (r): r is string => typeof r === "string"
          ))).length
    ),
    arm("Effect.forEach(SharingClient.encrypt)", () => rt.runSync(Effect.forEach(uids, (u) => Sharing.SharingClient.encrypt(u))).length),
    arm(
      "Effect.forEach(single-op accessor, experiment)",
      () => rt.runSync(Effect.forEach(uids, (u) => encryptOneOp(u))).length
    ),
    arm("SharingClient encryptAll", () => rt.runSync(Effect.flatMap(Sharing.SharingClient, (c) => c.encryptAll(uids))).length)
  ]
}

/** The master-layer and site-layer plaintexts of a sample V4 token, by key secret. */
const samplePlaintexts = (text: string): Map<string, Uint8Array> => {
  const node = makeNode(secureRandom)
  const bytes = Base64.decode(text, "either")!
  const master = node.gcmDecrypt(node.importKey(Buffer.from(MASTER_SECRET, "base64")), bytes, 6, bytes.length)!
  const site = node.gcmDecrypt(node.importKey(Buffer.from(SITE_SECRET, "base64")), master, 33, master.length)!
  return new Map([[MASTER_SECRET, master], [SITE_SECRET, site]])
}

const overheadDecryptArms = (): Array<Arm> => {
  const tokens = makeTokens(4, N, nowMs)
  const texts = tokens.texts
  const uidBytes = tokens.uids.map((u) => Base64.decode(u)!)
  const nul = makeNullCrypto(samplePlaintexts(texts[0]!))
  const ring = ringOf(bidstreamBody(nowMs))
  const rt = clientLayer(Bidstream.layerFromKeyStore, bidstreamBody(nowMs), nul)
  const client = rt.runSync(Bidstream.BidstreamClient)
  const check = client.decryptSync(texts[0]!)
  if (check._tag !== "DecryptedToken") throw new Error(`null crypto decrypt failed: ${check._tag}`)
  return [
    arm("bare loop over the tokens", loop((i) => texts[i]!.length), true),
    arm("Base64.decode(text, either)", loop((i) => Base64.decode(texts[i]!, "either")!.length)),
    arm("  experiment: decodeRegex (regex + base64url)", loop((i) => decodeRegex(texts[i]!, "either")!.length)),
    arm("  experiment: decodeLengthCheck", loop((i) => decodeLengthCheck(texts[i]!, "either")!.length)),
    arm("  Buffer.from(text, base64)", loop((i) => Buffer.from(texts[i]!, "base64").length)),
    arm("  Buffer.from(text, base64url)", loop((i) => Buffer.from(texts[i]!, "base64url").length)),
    arm("Base64.encode(uid 33 B)", loop((i) => Base64.encode(uidBytes[i]!).length)),
    arm("core decrypt", loop((i) => decrypt(ring, nul, texts[i]!, nowMs, BIDSTREAM)._tag.length)),
    arm("  experiment: decryptTuned (decodeRegex)", loop((i) => decryptTuned(ring, nul, texts[i]!, nowMs, BIDSTREAM)._tag.length)),
    arm("client.decryptSync", loop((i) => client.decryptSync(texts[i]!)._tag.length)),
    arm("Effect.forEach(BidstreamClient.decrypt)", () => rt.runSync(Effect.forEach(texts, (t) => Bidstream.BidstreamClient.decrypt(t))).length),
    arm(
      "Effect.forEach(client.decrypt), client read once",
      () => rt.runSync(Effect.flatMap(Bidstream.BidstreamClient, (c) => Effect.forEach(texts, (t) => c.decrypt(t)))).length
    ),
    arm("  experiment: Effect.forEach(single-op accessor)", () => rt.runSync(Effect.forEach(texts, (t) => decryptOneOp(t))).length),
    arm(
      "  experiment: forEach(single-op accessor + decryptTuned)",
      () =>
        rt.runSync(Effect.forEach(texts, (t) =>
          oneOp<DecryptedToken, DecryptError>(
            Bidstream.BidstreamClient,
            (now) => decryptTuned(ring, nul, t, now, BIDSTREAM),
            (r): r is DecryptedToken => r._tag === "DecryptedToken"
          ))).length
    ),
    arm("  floor: Effect.forEach(t => Effect.succeed(t))", () => rt.runSync(Effect.forEach(texts, (t) => Effect.succeed(t))).length),
    arm(
      "one Effect.sync around a decryptSync loop",
      () =>
        rt.runSync(Effect.flatMap(Bidstream.BidstreamClient, (c) =>
          Effect.sync(() => {
            const out = new Array(N)
            for (let i = 0; i < N; i++) out[i] = c.decryptSync(texts[i]!)
            return out
          }))).length
    ),
    arm("runSync(BidstreamClient.decrypt) per token", loop((i) => rt.runSync(Bidstream.BidstreamClient.decrypt(texts[i]!)).expiry & 1))
  ]
}

const overheadEncryptArms = (): Array<Arm> => {
  const uids = makeRawUids(N)
  const nul = makeNullCrypto(new Map())
  const ring = ringOf(sharingBody(nowMs))
  const rt = clientLayer(Sharing.layerFromKeyStore, sharingBody(nowMs), nul)
  const client = rt.runSync(Sharing.SharingClient)
  const h = nul.importKey(new Uint8Array(32))
  return [
    arm("bare loop over the raw UIDs", loop((i) => uids[i]!.length), true),
    arm("Base64.decode(raw UID)", loop((i) => Base64.decode(uids[i]!)!.length)),
    arm("Base64.encodeUrl(164 B token)", loop(() => Base64.encodeUrl(tokenBytes).length)),
    arm("new Uint8Array(69) + (130) + (152)", loop(() => new Uint8Array(69).length + new Uint8Array(130).length + new Uint8Array(152).length)),
    arm("Token.encode V4", loop((i) =>
      Token.encode(nul, {
        version: 4,
        uid: uids[i]!,
        identityScope: "UID2",
        identityType: "Email",
        masterKeyId: MASTER_KEY_ID,
        siteKeyId: SITE_KEY_ID,
        siteId: SITE_ID,
        expiry: nowMs + 2_592_000_000,
        generated: nowMs,
        established: nowMs,
        refreshed: nowMs,
        privacyBits: 0
      }, h, h, { master: nul.randomBytes(12), site: nul.randomBytes(12) })!.length
    )),
    arm("core encryptRawUid", loop((i) => (encryptRawUid(ring, nul, uids[i]!, nowMs) as string).length)),
    arm("client.encryptSync", loop((i) => (client.encryptSync(uids[i]!) as string).length)),
    arm("Effect.forEach(SharingClient.encrypt)", () => rt.runSync(Effect.forEach(uids, (u) => Sharing.SharingClient.encrypt(u))).length),
    arm("  experiment: Effect.forEach(single-op accessor)", () => rt.runSync(Effect.forEach(uids, (u) => encryptOneOp(u))).length),
    arm("SharingClient.encryptAll", () => rt.runSync(Effect.flatMap(Sharing.SharingClient, (c) => c.encryptAll(uids))).length)
  ]
}
const tokenBytes = new Uint8Array(164)

/** The decode experiments must agree with src/internal/base64.ts on valid and invalid input. */
const checkDecoders = (): void => {
  const samples: Array<string> = []
  for (let n = 0; n < 40; n++) {
    const b = randomBytes(n)
    samples.push(b.toString("base64"), b.toString("base64url"), b.toString("base64").replace(/=+$/, ""))
  }
  const extra = ["", "A", "AB", "AB=", "AB==", "AB=C", "ABC", "ABD=", "ABE", "AB+/", "AB-_", "A+-B", "AB!C", "AB C", "ABCD====", "ÄBCD"]
  const mutated = samples.flatMap((s) =>
    s.length < 2 ? [] : ["!", "=", "-", "+", " ", "é"].map((c) => s.slice(0, s.length >> 1) + c + s.slice((s.length >> 1) + 1))
  )
  for (const text of [...samples, ...extra, ...mutated]) {
    for (const alphabet of ["standard", "url", "either"] as const) {
      const want = Base64.decode(text, alphabet)
      for (const [name, f] of [["decodeRegex", decodeRegex], ["decodeLengthCheck", decodeLengthCheck]] as const) {
        const got = f(text, alphabet)
        const same = want === undefined
          ? got === undefined
          : got !== undefined && Buffer.from(got).equals(Buffer.from(want))
        if (!same) throw new Error(`${name}(${JSON.stringify(text)}, ${alphabet}) disagrees with Base64.decode`)
      }
    }
  }
}

const print = (title: string, rows: ReadonlyArray<ArmResult>) => {
  const base = rows[0]!
  const best = (r: ArmResult) => 1e6 / r.max
  const w = Math.max(...rows.map((r) => r.id.length))
  console.log(
    `\n${title}  (${options.rounds} rounds, ${options.clock} clock; median and best sample; Δ = µs/token above the baseline)`
  )
  console.log(
    `${"row".padEnd(w)}  ${"tok/s".padStart(7)}  ${"µs/tok".padStart(6)}  ${"Δ µs".padStart(6)}  ${"×base".padStart(5)}  ${
      "best µs".padStart(7)
    }  ${"Δ best".padStart(6)}  ${"best×".padStart(5)}`
  )
  for (const r of rows) {
    console.log(
      `${r.id.padEnd(w)}  ${(r.median / 1000).toFixed(1).padStart(6)}k  ${r.microsPerToken.toFixed(2).padStart(6)}  ${
        (r.microsPerToken - base.microsPerToken).toFixed(2).padStart(6)
      }  ${r.ratio.toFixed(2).padStart(5)}  ${best(r).toFixed(2).padStart(7)}  ${(best(r) - best(base)).toFixed(2).padStart(6)}  ${
        r.bestRatio.toFixed(2).padStart(5)
      }`
    )
  }
}

const results: Record<string, Array<ArmResult>> = {}
const progress = (m: string) => process.stderr.write(`  ${m}\n`)
const all = which === "all" || which === "both"
if (all || which === "overhead") {
  checkDecoders()
  results["overhead-decrypt-v4"] = measureGroup(overheadDecryptArms(), options, progress)
  if (!json) print("SDK overhead, V4 decrypt on a no-op Crypto (baseline row = bare loop)", results["overhead-decrypt-v4"])
  results["overhead-encrypt-v4"] = measureGroup(overheadEncryptArms(), options, progress)
  if (!json) print("SDK overhead, V4 encrypt on a no-op Crypto (baseline row = bare loop)", results["overhead-encrypt-v4"])
}
if (all || which === "decrypt") {
  results["decrypt-v4"] = measureGroup(decryptArms(), options, progress)
  if (!json) print("V4 decrypt, node:crypto", results["decrypt-v4"])
}
if (all || which === "encrypt") {
  results["encrypt-v4"] = measureGroup(encryptArms(), options, progress)
  if (!json) print("V4 encrypt, node:crypto", results["encrypt-v4"])
}
if (json) {
  process.stdout.write(`${JSON.stringify({ options, results })}\n`)
}
