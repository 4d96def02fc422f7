/**
 * The `Crypto` service: the AES and hashing primitives the token core and the
 * envelope run on. Every method is a plain synchronous function so that a
 * decrypt costs at most one Effect, never one per step; the service is still
 * provided as a layer, so a native or a deterministic implementation can be
 * swapped in without the token core noticing. {@link layerNode} runs on
 * node:crypto; {@link layerDeterministic} draws nonces from a seed, so
 * ciphertexts are reproducible in tests; the native adapter
 * (`effect-uid2/native-crypto`) is the fast path the bidstream and sharing
 * layers pick when it is built.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Bidstream, Crypto, KeyStore } from "effect-uid2"
 *
 * // A DSP client on node:crypto, whatever is built.
 * const Dsp = Bidstream.layerWith({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? "")
 * }).pipe(Layer.provide(Layer.mergeAll(KeyStore.layerMemory, Crypto.layerNode, NodeHttpClient.layerUndici)))
 *
 * // The primitives themselves.
 * const digest = Effect.map(Crypto.Crypto, (crypto) => crypto.sha256(new TextEncoder().encode("user@example.com")))
 * const bytes = Effect.runSync(Effect.provide(digest, Crypto.layerDeterministic(42))) // 32 bytes
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
  randomFillSync
} from "node:crypto"

/**
 * Whatever an implementation needs per AES key (a `KeyObject`, a native
 * context…). Created once per key by {@link CryptoShape.importKey} and cached
 * in the key ring, never per token.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyHandle = unknown

/**
 * The Base64 alphabets a V3/V4 token may use: `"standard"` (V3) or
 * `"either"` (V4: standard or URL-safe characters).
 *
 * @since 0.1.0
 * @category models
 */
export type Alphabet = "standard" | "either"

/**
 * The primitives. Decrypt functions return `undefined` when authentication or
 * padding fails; they never throw on bad input.
 *
 * @since 0.1.0
 * @category models
 */
export interface CryptoShape {
  /** Name of the implementation, e.g. `"node"`, `"native"`, `"deterministic"`. */
  readonly name: string
  /** Prepares a 32-byte AES-256 key for repeated use. */
  readonly importKey: (secret: Uint8Array) => KeyHandle
  /** Frees whatever {@link CryptoShape.importKey} allocated; a no-op where nothing needs freeing. */
  readonly releaseKey: (handle: KeyHandle) => void
  /** AES-256-GCM: decrypts `data[start, end)` laid out as nonce(12) ‖ ciphertext ‖ tag(16). */
  readonly gcmDecrypt: (key: KeyHandle, data: Uint8Array, start: number, end: number) => Uint8Array | undefined
  /** AES-256-GCM: encrypts into nonce(12) ‖ ciphertext ‖ tag(16); `nonce` must be 12 bytes. */
  readonly gcmEncrypt: (key: KeyHandle, nonce: Uint8Array, plaintext: Uint8Array) => Uint8Array
  /** AES-256-CBC with PKCS#7: decrypts `data[start, end)` laid out as IV(16) ‖ ciphertext. */
  readonly cbcDecrypt: (key: KeyHandle, data: Uint8Array, start: number, end: number) => Uint8Array | undefined
  /** AES-256-CBC with PKCS#7: encrypts into IV(16) ‖ ciphertext; `iv` must be 16 bytes. */
  readonly cbcEncrypt: (key: KeyHandle, iv: Uint8Array, plaintext: Uint8Array) => Uint8Array
  /** SHA-256 digest. */
  readonly sha256: (data: Uint8Array) => Uint8Array
  /**
   * Optional whole-token fast path for implementations where one call beats
   * several (the native adapter). The token core uses it for V3/V4 tokens and
   * falls back to the primitives above whenever it answers `undefined`.
   */
  readonly tokenOpener?: TokenOpener
  /** Bytes for nonces and IVs; cryptographically secure except in the deterministic layer. */
  readonly randomBytes: (length: number) => Uint8Array
}

/**
 * One key of a {@link TokenOpener} table.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyTableEntry {
  readonly id: number
  /** The 32 key bytes. */
  readonly secret: Uint8Array
}

/**
 * Length of the fields {@link TokenOpener.open} writes: the token header (6
 * bytes: prefix, version, master key id), the master plaintext's fields (33:
 * expiry, generated, operator site id, type, version, key id, site key id)
 * and the site plaintext's fields (36: site id, publisher id, client key id,
 * privacy bits, established, refreshed), each at its offset in the token.
 *
 * @since 0.1.0
 * @category constants
 */
export const OPENED_FIELDS_LENGTH = 75

/**
 * Opens a whole V3/V4 token in one call, resolving both key ids itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenOpener {
  /**
   * Prepares a ring's keys (ids unique) as one table for {@link TokenOpener.open};
   * freed with {@link CryptoShape.releaseKey}. Made once per ring, not per token.
   */
  readonly importKeys: (keys: ReadonlyArray<KeyTableEntry>) => KeyHandle
  /**
   * Base64-decodes `text` (canonical text only, `alphabet` as in
   * {@link Alphabet}), opens the master layer with the table's key whose id is
   * at bytes 2–5 and the site layer with the key whose id is at master
   * plaintext offset 29, and returns the raw UID (site plaintext from offset
   * 36) as standard Base64, having written the fixed fields to
   * `fields[0, OPENED_FIELDS_LENGTH)` (see {@link OPENED_FIELDS_LENGTH}).
   * Any failure returns `undefined` and writes nothing: the token core then
   * takes its general path, which names the error.
   */
  readonly open: (text: string, alphabet: Alphabet, keys: KeyHandle, fields: Uint8Array) => string | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Crypto extends Context.Tag("effect-uid2/Crypto")<Crypto, CryptoShape>() {}

const GCM_NONCE = 12
const GCM_TAG = 16
const CBC_IV = 16

// subarray() would accept negative or fractional indices; the primitives take only a real range.
const inBounds = (data: Uint8Array, start: number, end: number): boolean =>
  Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= data.length

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length)

/**
 * Builds the node:crypto primitives around a source of random bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNode = (random: (length: number) => Uint8Array, name = "node"): CryptoShape => ({
  name,
  importKey: (secret) => createSecretKey(secret),
  releaseKey: () => {},
  gcmDecrypt: (key, data, start, end) => {
    if (!inBounds(data, start, end) || end - start < GCM_NONCE + GCM_TAG) return undefined
    try {
      const decipher = createDecipheriv("aes-256-gcm", key as KeyObject, data.subarray(start, start + GCM_NONCE))
      decipher.setAuthTag(data.subarray(end - GCM_TAG, end))
      const body = decipher.update(data.subarray(start + GCM_NONCE, end - GCM_TAG))
      const tail = decipher.final()
      return view(tail.length === 0 ? body : Buffer.concat([body, tail]))
    } catch {
      return undefined
    }
  },
  gcmEncrypt: (key, nonce, plaintext) => {
    const cipher = createCipheriv("aes-256-gcm", key as KeyObject, nonce)
    // Fully written below, so uninitialised memory is safe.
    const out = Buffer.allocUnsafe(GCM_NONCE + plaintext.length + GCM_TAG)
    out.set(nonce, 0)
    out.set(cipher.update(plaintext), GCM_NONCE)
    cipher.final()
    out.set(cipher.getAuthTag(), GCM_NONCE + plaintext.length)
    return out
  },
  cbcDecrypt: (key, data, start, end) => {
    if (!inBounds(data, start, end)) return undefined
    const length = end - start - CBC_IV
    if (length <= 0 || length % 16 !== 0) return undefined
    try {
      const decipher = createDecipheriv("aes-256-cbc", key as KeyObject, data.subarray(start, start + CBC_IV))
      return view(Buffer.concat([decipher.update(data.subarray(start + CBC_IV, end)), decipher.final()]))
    } catch {
      return undefined
    }
  },
  cbcEncrypt: (key, iv, plaintext) => {
    const cipher = createCipheriv("aes-256-cbc", key as KeyObject, iv)
    return view(Buffer.concat([iv, cipher.update(plaintext), cipher.final()]))
  },
  sha256: (data) => view(createHash("sha256").update(data).digest()),
  randomBytes: random
})

const RANDOM_POOL = 4096
let randomPool = new Uint8Array(0)
let randomOffset = 0

/**
 * Cryptographically secure random bytes, served from a pool that is refilled
 * 4 KiB at a time: one `randomFillSync` call costs about as much as a token's
 * AES work, so taking 12-byte nonces one call each would halve encrypt
 * throughput (Node caches entropy for `randomUUID` the same way). A pool is
 * never rewritten once handed out, so the views returned stay as they are.
 *
 * @since 0.1.0
 * @category constructors
 */
export const secureRandom = (length: number): Uint8Array => {
  if (length > RANDOM_POOL / 8) return view(randomBytes(length))
  if (randomOffset + length > randomPool.length) {
    randomPool = randomFillSync(new Uint8Array(RANDOM_POOL))
    randomOffset = 0
  }
  const out = randomPool.subarray(randomOffset, randomOffset + length)
  randomOffset += length
  return out
}

/**
 * The default implementation: node:crypto (OpenSSL), constant-time, no
 * dependencies, with secure random bytes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode: Layer.Layer<Crypto> = Layer.sync(Crypto, () => makeNode(secureRandom))

/**
 * Random bytes from a seeded generator (SHA-256 in counter mode): the same
 * seed gives the same nonces, so ciphertexts are reproducible in tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const seededRandom = (seed: number): (length: number) => Uint8Array => {
  let counter = 0
  return (length) => {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += 32) {
      const block = createHash("sha256").update(`${seed}:${counter++}`).digest()
      out.set(block.subarray(0, Math.min(32, length - i)), i)
    }
    return out
  }
}

/**
 * node:crypto primitives with deterministic random bytes. For tests only:
 * reusing GCM nonces under one key is insecure.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeterministic = (seed: number): Layer.Layer<Crypto> =>
  Layer.sync(Crypto, () => makeNode(seededRandom(seed), "deterministic"))
