/**
 * The benchmark groups: for each operation, the baseline arm and the SDK arms
 * (Effect API batched, Effect API per call, sync) on every Crypto layer.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Bidstream from "../src/Bidstream.js"
import { Crypto } from "../src/Crypto.js"
import * as Base64 from "../src/internal/base64.js"
import * as KeyStore from "../src/KeyStore.js"
import * as Sharing from "../src/Sharing.js"
import type { TokenVersion } from "../src/Token.js"
import {
  baselineKeys,
  cbcDecryptBaseline,
  cbcDecryptBaselineConcat,
  gcmDecryptBaseline,
  gcmEncryptBaseline
} from "./baseline.js"
import { bidstreamBody, makeRawUids, makeTokens, ringOf, sharingBody, type TokenSet } from "./fixtures.js"
import type { Arm } from "./harness.js"
import type { CryptoUnderTest } from "./layers.js"

export type OpName = "decrypt-v2" | "decrypt-v3" | "decrypt-v4" | "encrypt-v4"
export const ALL_OPS: ReadonlyArray<OpName> = ["decrypt-v2", "decrypt-v3", "decrypt-v4", "encrypt-v4"]

export interface Group {
  readonly op: OpName
  readonly description: string
  readonly arms: ReadonlyArray<Arm>
}

export interface BenchSetup {
  readonly groups: ReadonlyArray<Group>
  readonly dispose: () => Promise<void>
}

/** One client pair per Crypto layer, each over its own key rings. */
interface Clients {
  readonly layer: CryptoUnderTest
  readonly bidstream: ManagedRuntime.ManagedRuntime<Bidstream.BidstreamClient, never>
  readonly sharing: ManagedRuntime.ManagedRuntime<Sharing.SharingClient, never>
  readonly bidstreamClient: Bidstream.BidstreamClientShape
  readonly sharingClient: Sharing.SharingClientShape
}

const makeClients = (layer: CryptoUnderTest, nowMs: number): Clients => {
  const crypto = Layer.succeed(Crypto, layer.crypto)
  const bidstream = ManagedRuntime.make(
    Bidstream.layerFromKeyStore().pipe(
      Layer.provide(Layer.merge(KeyStore.layerMemoryWith(ringOf(bidstreamBody(nowMs))), crypto))
    )
  )
  const sharing = ManagedRuntime.make(
    Sharing.layerFromKeyStore().pipe(
      Layer.provide(Layer.merge(KeyStore.layerMemoryWith(ringOf(sharingBody(nowMs))), crypto))
    )
  )
  return {
    layer,
    bidstream,
    sharing,
    bidstreamClient: bidstream.runSync(Bidstream.BidstreamClient),
    sharingClient: sharing.runSync(Sharing.SharingClient)
  }
}

/** Fails loudly if a layer does not decrypt the token set to the expected raw UIDs. */
const verifyDecrypt = (clients: Clients, tokens: TokenSet): void => {
  tokens.texts.forEach((text, i) => {
    const result = clients.bidstreamClient.decryptSync(text)
    if (result._tag !== "DecryptedToken" || result.uid !== tokens.uids[i]) {
      throw new Error(`${clients.layer.name}: V${tokens.version} token ${i} did not decrypt: ${result._tag}`)
    }
  })
  const viaEffect = clients.bidstream.runSync(Bidstream.BidstreamClient.decrypt(tokens.texts[0]!))
  if (viaEffect.uid !== tokens.uids[0]) throw new Error(`${clients.layer.name}: Effect decrypt mismatch`)
}

/** Encrypts with the layer, decrypts the result and compares. */
const verifyEncrypt = (clients: Clients, uids: ReadonlyArray<string>): void => {
  for (const uid of uids.slice(0, 16)) {
    const token = clients.sharingClient.encryptSync(uid)
    if (typeof token !== "string") throw new Error(`${clients.layer.name}: encrypt failed: ${token._tag}`)
    const back = clients.sharingClient.decryptSync(token)
    if (back._tag !== "DecryptedToken" || back.uid !== uid || back.version !== 4) {
      throw new Error(`${clients.layer.name}: encrypt round trip failed: ${back._tag}`)
    }
  }
}

const decryptArms = (clients: Clients, tokens: TokenSet, perCall: boolean): Array<Arm> => {
  const { bidstream, bidstreamClient } = clients
  const texts = tokens.texts
  const n = texts.length
  const name = clients.layer.name
  const arms: Array<Arm> = [
    {
      id: `${name} effect-batch`,
      api: "effect-batch",
      crypto: name,
      tokensPerRun: n,
      // What an Effect user writes: one runSync per batch, the service accessor per token.
      run: () => bidstream.runSync(Effect.forEach(texts, (t) => Bidstream.BidstreamClient.decrypt(t))).length
    },
    {
      id: `${name} effect-decryptAll`,
      api: "effect-decryptAll",
      crypto: name,
      tokensPerRun: n,
      // The batch API: one Effect for the whole batch, ring and clock read once.
      run: () => bidstream.runSync(Effect.flatMap(Bidstream.BidstreamClient, (c) => c.decryptAll(texts))).length
    },
    {
      id: `${name} sync`,
      api: "sync",
      crypto: name,
      tokensPerRun: n,
      run: () => {
        let ok = 0
        for (let i = 0; i < n; i++) {
          if (bidstreamClient.decryptSync(texts[i]!)._tag === "DecryptedToken") ok++
        }
        if (ok !== n) throw new Error("decryptSync failed")
        return ok
      }
    }
  ]
  if (perCall) {
    arms.push({
      id: `${name} effect-per-call`,
      api: "effect-per-call",
      crypto: name,
      tokensPerRun: n,
      run: () => {
        let sum = 0
        for (let i = 0; i < n; i++) sum += bidstream.runSync(Bidstream.BidstreamClient.decrypt(texts[i]!)).expiry & 1
        return sum
      }
    })
  }
  return arms
}

const encryptArms = (clients: Clients, uids: ReadonlyArray<string>, perCall: boolean): Array<Arm> => {
  const { sharing, sharingClient } = clients
  const n = uids.length
  const name = clients.layer.name
  const arms: Array<Arm> = [
    {
      id: `${name} effect-batch`,
      api: "effect-batch",
      crypto: name,
      tokensPerRun: n,
      run: () => sharing.runSync(Effect.forEach(uids, (u) => Sharing.SharingClient.encrypt(u))).length
    },
    {
      id: `${name} effect-encryptAll`,
      api: "effect-encryptAll",
      crypto: name,
      tokensPerRun: n,
      run: () => sharing.runSync(Effect.flatMap(Sharing.SharingClient, (c) => c.encryptAll(uids))).length
    },
    {
      id: `${name} sync`,
      api: "sync",
      crypto: name,
      tokensPerRun: n,
      run: () => {
        let sum = 0
        for (let i = 0; i < n; i++) {
          const token = sharingClient.encryptSync(uids[i]!)
          if (typeof token !== "string") throw new Error("encryptSync failed")
          sum += token.length
        }
        return sum
      }
    }
  ]
  if (perCall) {
    arms.push({
      id: `${name} effect-per-call`,
      api: "effect-per-call",
      crypto: name,
      tokensPerRun: n,
      run: () => {
        let sum = 0
        for (let i = 0; i < n; i++) sum += sharing.runSync(Sharing.SharingClient.encrypt(uids[i]!)).length
        return sum
      }
    })
  }
  return arms
}

export interface SetupOptions {
  readonly ops: ReadonlyArray<OpName>
  readonly layers: ReadonlyArray<CryptoUnderTest>
  /** Tokens per batch (one Effect run per batch in the effect-batch rows). */
  readonly batch: number
  /** Include the per-call `runSync` rows. */
  readonly perCall: boolean
  /** Include extra comparison arms (alternative baselines). */
  readonly variants: boolean
  /** Keep only SDK rows of these APIs (`effect-batch`, `sync`, …); all when empty. */
  readonly apis?: ReadonlyArray<string>
}

const VERSION: Record<Exclude<OpName, "encrypt-v4">, TokenVersion> = {
  "decrypt-v2": 2,
  "decrypt-v3": 3,
  "decrypt-v4": 4
}

export const setup = (options: SetupOptions): BenchSetup => {
  const nowMs = Date.now()
  const keys = baselineKeys()
  const clients = options.layers.map((layer) => makeClients(layer, nowMs))
  const groups: Array<Group> = []
  const keep = (arm: Arm) =>
    arm.baseline === true || options.apis === undefined || options.apis.length === 0 ||
    options.apis.includes(arm.api) ||
    arm.api.startsWith("baseline")
  for (const op of options.ops) {
    if (op === "encrypt-v4") {
      const uids = makeRawUids(options.batch)
      for (const c of clients) verifyEncrypt(c, uids)
      const arms: Array<Arm> = [{
        id: "baseline",
        api: "baseline",
        crypto: "node:crypto",
        tokensPerRun: uids.length,
        baseline: true,
        run: gcmEncryptBaseline(uids.map((u) => Base64.decode(u)!), keys)
      }]
      for (const c of clients) arms.push(...encryptArms(c, uids, options.perCall))
      groups.push({
        op,
        description: "V4 sharing token from a raw UID (SharingClient.encrypt / encryptSync)",
        arms: arms.filter(keep)
      })
      continue
    }
    const version = VERSION[op]
    const tokens = makeTokens(version, options.batch, nowMs)
    for (const c of clients) verifyDecrypt(c, tokens)
    const arms: Array<Arm> = [{
      id: "baseline",
      api: "baseline",
      crypto: "node:crypto",
      tokensPerRun: tokens.texts.length,
      baseline: true,
      run: version === 2 ? cbcDecryptBaseline(tokens, keys) : gcmDecryptBaseline(tokens, keys)
    }]
    if (options.variants && version === 2) {
      arms.push({
        id: "baseline-concat",
        api: "baseline-concat",
        crypto: "node:crypto",
        tokensPerRun: tokens.texts.length,
        run: cbcDecryptBaselineConcat(tokens, keys)
      })
    }
    for (const c of clients) arms.push(...decryptArms(c, tokens, options.perCall))
    groups.push({
      op,
      description: `V${version} advertising token (BidstreamClient.decrypt / decryptSync)`,
      arms: arms.filter(keep)
    })
  }
  return {
    groups,
    dispose: async () => {
      for (const c of clients) {
        await c.bidstream.dispose()
        await c.sharing.dispose()
      }
    }
  }
}
