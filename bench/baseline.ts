/**
 * The baselines: raw node:crypto doing only the two AES layers of a token, the
 * least any node:crypto SDK must do. Everything that can be prepared in
 * advance is: token bytes already Base64-decoded, the outer layer's
 * nonce/IV, ciphertext and tag already sliced, keys imported once as
 * `KeyObject`s, plaintexts for encryption already laid out. Per token only
 * the inner layer is sliced (its bytes exist only after the outer decrypt).
 *
 * Each function returns a checksum so no work can be optimised away.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomFillSync } from "node:crypto"
import { MASTER_SECRET, SITE_SECRET, type TokenSet } from "./fixtures.js"

export interface BaselineKeys {
  readonly master: KeyObject
  readonly site: KeyObject
}

export const baselineKeys = (): BaselineKeys => ({
  master: createSecretKey(Buffer.from(MASTER_SECRET, "base64")),
  site: createSecretKey(Buffer.from(SITE_SECRET, "base64"))
})

interface OuterLayer {
  readonly iv: Buffer
  readonly ciphertext: Buffer
  readonly tag: Buffer
}

/** V3/V4: AES-256-GCM twice (master layer at byte 6, site layer at byte 33 of the master plaintext). */
export const gcmDecryptBaseline = (tokens: TokenSet, keys: BaselineKeys): () => number => {
  const outer: Array<OuterLayer> = tokens.bytes.map((b) => ({
    iv: b.subarray(6, 18),
    ciphertext: b.subarray(18, b.length - 16),
    tag: b.subarray(b.length - 16)
  }))
  const { master, site } = keys
  return () => {
    let sum = 0
    for (let i = 0; i < outer.length; i++) {
      const t = outer[i]!
      const d1 = createDecipheriv("aes-256-gcm", master, t.iv)
      d1.setAuthTag(t.tag)
      const m = d1.update(t.ciphertext)
      d1.final()
      const end = m.length - 16
      const d2 = createDecipheriv("aes-256-gcm", site, m.subarray(33, 45))
      d2.setAuthTag(m.subarray(end))
      const s = d2.update(m.subarray(45, end))
      d2.final()
      sum += s.length
    }
    return sum
  }
}

/**
 * V2: AES-256-CBC twice (master layer at byte 5, identity layer at byte 12 of
 * the master plaintext). The inner layer is fed as two `update`s (the outer
 * `update` output and its `final` block) instead of concatenating them, which
 * is the cheapest way we found (see `--variants`).
 */
export const cbcDecryptBaseline = (tokens: TokenSet, keys: BaselineKeys): () => number => {
  const outer = tokens.bytes.map((b) => ({ iv: b.subarray(5, 21), ciphertext: b.subarray(21) }))
  const { master, site } = keys
  return () => {
    let sum = 0
    for (let i = 0; i < outer.length; i++) {
      const t = outer[i]!
      const d1 = createDecipheriv("aes-256-cbc", master, t.iv)
      const head = d1.update(t.ciphertext)
      const last = d1.final()
      // The inner IV lies inside `head` for every real token (head ≥ 96 bytes).
      const d2 = createDecipheriv("aes-256-cbc", site, head.subarray(12, 28))
      const a = d2.update(head.subarray(28))
      const b = d2.update(last)
      const c = d2.final()
      sum += a.length + b.length + c.length
    }
    return sum
  }
}

/** The same V2 baseline with `Buffer.concat` of the outer layer's output (for comparison). */
export const cbcDecryptBaselineConcat = (tokens: TokenSet, keys: BaselineKeys): () => number => {
  const outer = tokens.bytes.map((b) => ({ iv: b.subarray(5, 21), ciphertext: b.subarray(21) }))
  const { master, site } = keys
  return () => {
    let sum = 0
    for (let i = 0; i < outer.length; i++) {
      const t = outer[i]!
      const d1 = createDecipheriv("aes-256-cbc", master, t.iv)
      const m = Buffer.concat([d1.update(t.ciphertext), d1.final()])
      const d2 = createDecipheriv("aes-256-cbc", site, m.subarray(12, 28))
      const s = Buffer.concat([d2.update(m.subarray(28)), d2.final()])
      sum += s.length
    }
    return sum
  }
}

/**
 * V4 sharing encrypt: two AES-256-GCM encryptions with fresh random nonces
 * (one `randomFillSync` of 24 bytes per token). Site plaintexts (36-byte
 * header + raw UID bytes) and the master plaintext buffer are prepared in
 * advance; no Base64 encoding of the result (the decrypt baselines skip the
 * decoding too).
 */
export const gcmEncryptBaseline = (rawUidBytes: ReadonlyArray<Uint8Array>, keys: BaselineKeys): () => number => {
  const plaintexts = rawUidBytes.map((uid) => {
    const p = Buffer.alloc(36 + uid.length)
    p.set(uid, 36)
    return p
  })
  const siteLength = plaintexts[0]!.length
  const masterPlain = Buffer.alloc(33 + 12 + siteLength + 16)
  const nonces = Buffer.alloc(24)
  const siteNonce = nonces.subarray(0, 12)
  const masterNonce = nonces.subarray(12, 24)
  const { master, site } = keys
  return () => {
    let sum = 0
    for (let i = 0; i < plaintexts.length; i++) {
      randomFillSync(nonces)
      const c1 = createCipheriv("aes-256-gcm", site, siteNonce)
      const siteCt = c1.update(plaintexts[i]!)
      c1.final()
      masterPlain.set(siteNonce, 33)
      masterPlain.set(siteCt, 45)
      masterPlain.set(c1.getAuthTag(), 45 + siteCt.length)
      const c2 = createCipheriv("aes-256-gcm", master, masterNonce)
      const masterCt = c2.update(masterPlain)
      c2.final()
      sum += masterCt.length + c2.getAuthTag().length
    }
    return sum
  }
}
