/**
 * A native `Crypto` implementation: AES-256-GCM and AES-256-CBC through a
 * small Node-API addon (`src/native_crypto.c`) over the OpenSSL that Node
 * ships. Each imported key keeps one OpenSSL cipher context per mode and
 * direction with the key schedule computed once, so a decrypt only resets
 * the IV; that is what makes it several times faster than node:crypto, which
 * builds a fresh cipher object (and key schedule) per call.
 *
 * SHA-256 and random bytes still come from node:crypto.
 *
 * The package ships the addon prebuilt for linux-x64 (glibc), so there it
 * works with no build step. Elsewhere, build it from source inside the
 * installed package with `npx effect-uid2-build-native` (a C compiler, make and
 * python3). The loader tries, in order, the binary named by the
 * `EFFECT_UID2_NATIVE_CRYPTO` environment variable (and only that one, when
 * set), the prebuilt binary for this platform, then the one built from source
 * ({@link searchPaths}). Loading goes through `createRequire` inside a
 * try/catch and a known-answer self-test, so a missing, stale or broken
 * binary is a typed {@link NativeCryptoUnavailable} (for {@link layer}) or a
 * fallback to node:crypto (for {@link layerBest}), never a crash.
 * The bidstream and sharing layers of `effect-uid2` already use
 * {@link layerBest}; provide it yourself with their `layerWith`.
 *
 * @example
 * ```ts
 * import { Effect, Either } from "effect"
 * import * as NativeCrypto from "effect-uid2/native-crypto"
 *
 * // Which implementation a client would run on: "native", or "node" when no binary loads.
 * const name = await Effect.runPromise(Effect.provide(NativeCrypto.activeName, NativeCrypto.layerBest))
 *
 * // Why the addon is not available, without a layer.
 * const loaded = NativeCrypto.load()
 * console.log(name, Either.isLeft(loaded) ? loaded.left.reason : loaded.right.opensslVersion) // e.g. "NotBuilt"
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/native-crypto
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { createCipheriv, createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { markAsUntransferable } from "node:worker_threads"
import {
  Crypto,
  type CryptoShape,
  type KeyHandle,
  type KeyTableEntry,
  makeNode,
  OPENED_FIELDS_LENGTH,
  secureRandom,
  type TokenOpener
} from "../../src/Crypto.js"
import { ENV_OVERRIDE, packageRoot, prebuildTarget, searchPathsFor } from "./paths.js"

/** The shape of `native_crypto.node`'s exports. */
interface Addon {
  readonly importKey: (secret: Uint8Array) => KeyHandle
  readonly releaseKey: (handle: KeyHandle) => void
  readonly gcmDecrypt: (key: KeyHandle, data: Uint8Array, start: number, end: number) => Uint8Array | undefined
  readonly gcmEncrypt: (key: KeyHandle, nonce: Uint8Array, plaintext: Uint8Array) => Uint8Array
  readonly cbcDecrypt: (key: KeyHandle, data: Uint8Array, start: number, end: number) => Uint8Array | undefined
  readonly cbcEncrypt: (key: KeyHandle, iv: Uint8Array, plaintext: Uint8Array) => Uint8Array
  readonly gcmDecryptInto: (
    key: KeyHandle,
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    offset: number
  ) => boolean
  readonly cbcDecryptInto: (
    key: KeyHandle,
    data: Uint8Array,
    start: number,
    end: number,
    out: Uint8Array,
    offset: number
  ) => number
  /**
   * Encrypt into `out` at `offset`: bytes written, or -1 (nothing written) when the target is unusable
   * (too little room, bad offset, overlapping an input). Throws exactly as gcmEncrypt / cbcEncrypt on a bad
   * key, iv or plaintext. Absent from binaries built before it existed: then encrypts allocate.
   */
  readonly gcmEncryptInto?: EncryptInto
  readonly cbcEncryptInto?: EncryptInto
  /** Absent from binaries built before they existed: then {@link NativeCrypto} has no `tokenOpener`. */
  readonly importKeyTable?: (ids: Int32Array, secrets: Uint8Array) => KeyHandle
  readonly openToken?: (text: string, alphabet: number, table: KeyHandle, fields: Uint8Array) => string | undefined
  readonly liveKeys: () => number
  readonly liveContexts: () => number
  readonly opensslVersion: string
}

type EncryptInto = (key: KeyHandle, iv: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number) => number

/**
 * The native primitives plus introspection for tests and diagnostics.
 *
 * @since 0.1.0
 * @category models
 */
export interface NativeCrypto extends CryptoShape {
  readonly name: "native"
  /**
   * Base64 and both GCM layers of a V3/V4 token in one native call, with the
   * ring's keys in a native table (see {@link CryptoShape.tokenOpener}).
   * Present whenever the loaded binary has it.
   */
  readonly tokenOpener?: TokenOpener
  /** Where the addon was loaded from. */
  readonly path: string
  /** The OpenSSL the addon runs on (Node's own), e.g. `"OpenSSL 3.0.19 27 Jan 2026"`. */
  readonly opensslVersion: string
  /** Keys imported and not yet released or garbage collected, process-wide. */
  readonly liveKeys: () => number
  /** OpenSSL cipher contexts currently allocated (at most 4 per live key, created on first use). */
  readonly liveContexts: () => number
}

/**
 * Why the native implementation is not available.
 *
 * - `NotBuilt`: no binary at any of the paths tried (`tried`).
 * - `LoadFailed`: a binary exists but `require` threw (wrong platform, ABI, C library, corrupt file…).
 * - `SelfTestFailed`: it loaded but did not reproduce node:crypto on a known-answer test.
 *
 * `path` is the binary that failed (for `NotBuilt`, the first path tried);
 * the message names the paths as absolute paths.
 *
 * @since 0.1.0
 * @category errors
 */
export class NativeCryptoUnavailable extends Data.TaggedError("NativeCryptoUnavailable")<{
  readonly reason: "NotBuilt" | "LoadFailed" | "SelfTestFailed"
  readonly path: string
  /** Every path looked at, in order. */
  readonly tried: ReadonlyArray<string>
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Where {@link load}, {@link layer} and {@link layerBest} look for the addon,
 * in order, as absolute paths: only `EFFECT_UID2_NATIVE_CRYPTO` when that
 * environment variable is set; otherwise the prebuilt binary for this
 * platform (`prebuilds/<platform>-<arch>[-glibc|-musl]/native_crypto.node` in
 * the package), then the binary built from source
 * (`adapters/native-crypto/build/Release/native_crypto.node` in the package,
 * where `npx effect-uid2-build-native` or `npm run build:native` puts it). A
 * binary that exists but fails to load or to pass its self-test is skipped
 * for the next one.
 *
 * @since 0.1.0
 * @category constants
 */
export const searchPaths: ReadonlyArray<string> = searchPathsFor(
  packageRoot,
  process.env[ENV_OVERRIDE],
  prebuildTarget()
)

/**
 * The first of {@link searchPaths} that exists (else the first of them).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPath: string = searchPaths.find((path) => existsSync(path)) ?? searchPaths[0]!

const view = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length)

const isAddon = (u: unknown): u is Addon => {
  if (typeof u !== "object" || u === null) return false
  const a = u as Record<string, unknown>
  return [
    "importKey",
    "releaseKey",
    "gcmDecrypt",
    "gcmEncrypt",
    "cbcDecrypt",
    "cbcEncrypt",
    "gcmDecryptInto",
    "cbcDecryptInto",
    "liveKeys",
    "liveContexts"
  ].every((k) => typeof a[k] === "function") && typeof a["opensslVersion"] === "string"
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])

/** Known-answer check against node:crypto, including a tampered-tag and a bad-padding rejection. */
const selfTest = (addon: Addon): string | undefined => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1)
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 200 - i)
  const iv = Uint8Array.from({ length: 16 }, (_, i) => i * 13)
  const plain = Uint8Array.from({ length: 69 }, (_, i) => (i * 31) & 0xff)
  const gcm = createCipheriv("aes-256-gcm", key, nonce)
  const gcmRef = Buffer.concat([nonce, gcm.update(plain), gcm.final(), gcm.getAuthTag()])
  const cbc = createCipheriv("aes-256-cbc", key, iv)
  const cbcRef = Buffer.concat([iv, cbc.update(plain), cbc.final()])
  const handle = addon.importKey(key)
  try {
    if (!sameBytes(addon.gcmEncrypt(handle, nonce, plain), gcmRef)) return "gcmEncrypt mismatch"
    const viaPool = pooled(addon)
    for (const decrypt of [addon, viaPool]) {
      if (!sameBytes(decrypt.gcmDecrypt(handle, gcmRef, 0, gcmRef.length), plain)) return "gcmDecrypt mismatch"
      const tampered = Uint8Array.from(gcmRef)
      tampered[tampered.length - 1]! ^= 1
      if (decrypt.gcmDecrypt(handle, tampered, 0, tampered.length) !== undefined) return "gcmDecrypt accepted a bad tag"
      if (!sameBytes(decrypt.cbcDecrypt(handle, cbcRef, 0, cbcRef.length), plain)) return "cbcDecrypt mismatch"
      // Turn the last padding byte (69 % 16 = 5, so 11 bytes of 0x0b) into 0x00 via the previous block: must fail.
      const badPad = Uint8Array.from(cbcRef)
      badPad[badPad.length - 17]! ^= 0x0b
      if (decrypt.cbcDecrypt(handle, badPad, 0, badPad.length) !== undefined) return "cbcDecrypt accepted bad padding"
    }
    if (!sameBytes(addon.cbcEncrypt(handle, iv, plain), cbcRef)) return "cbcEncrypt mismatch"
    // Twice through the pool: the second result must not have overwritten the first.
    const gcm1 = viaPool.gcmEncrypt(handle, nonce, plain)
    const cbc1 = viaPool.cbcEncrypt(handle, iv, plain)
    const gcm2 = viaPool.gcmEncrypt(handle, nonce, plain)
    if (!sameBytes(gcm1, gcmRef) || !sameBytes(gcm2, gcmRef)) return "gcmEncrypt (pooled) mismatch"
    if (!sameBytes(cbc1, cbcRef)) return "cbcEncrypt (pooled) mismatch"
    const opener = tokenOpenerOf(addon)
    return opener === undefined ? undefined : selfTestOpener(addon, opener, key)
  } finally {
    addon.releaseKey(handle)
  }
}

/** Known-answer check of the token opener: a V4-shaped token whose layers use two keys of a
 * three-key table (one id a negative int32), its URL-safe and standard spellings, a rejected
 * tampered tag, and a table without the site key. */
const selfTestOpener = (addon: Addon, opener: TokenOpener, key: Uint8Array): string | undefined => {
  const siteKey = key.map((b) => b ^ 0x5a)
  const layer = (secret: Uint8Array, nonceByte: number, plain: Uint8Array) => {
    const nonce = new Uint8Array(12).fill(nonceByte)
    const c = createCipheriv("aes-256-gcm", secret, nonce)
    return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()])
  }
  const sitePlain = Uint8Array.from({ length: 69 }, (_, i) => (i * 29 + 3) & 0xff)
  const masterFields = Uint8Array.from({ length: 33 }, (_, i) => (i * 17 + 5) & 0xff)
  masterFields.set([0x80, 0, 0x01, 0xfe], 29) // site key id 0x800001fe: a negative int32
  const header = Buffer.from([0x13, 0x80, 0, 0, 0, 1])
  const bytes = Buffer.concat([header, layer(key, 2, Buffer.concat([masterFields, layer(siteKey, 1, sitePlain)]))])
  const expectedFields = Buffer.concat([header, masterFields, sitePlain.subarray(0, 36)])
  const expectedUid = Buffer.from(sitePlain.subarray(36)).toString("base64")
  const tampered = Buffer.from(bytes)
  tampered[tampered.length - 1]! ^= 1
  const tables: Array<KeyHandle> = []
  const table = (keys: ReadonlyArray<KeyTableEntry>): KeyHandle => {
    const handle = opener.importKeys(keys)
    tables.push(handle)
    return handle
  }
  try {
    const full = table([{ id: 7, secret: siteKey }, { id: 1, secret: key }, { id: 0x800001fe | 0, secret: siteKey }])
    const noSite = table([{ id: 1, secret: key }])
    for (
      const [text, alphabet] of [[bytes.toString("base64url"), "either"], [
        bytes.toString("base64"),
        "standard"
      ]] as const
    ) {
      const fields = new Uint8Array(OPENED_FIELDS_LENGTH)
      if (opener.open(text, alphabet, full, fields) !== expectedUid || !sameBytes(fields, expectedFields)) {
        return `token opener mismatch (${alphabet})`
      }
    }
    const fields = new Uint8Array(OPENED_FIELDS_LENGTH)
    if (opener.open(tampered.toString("base64url"), "either", full, fields) !== undefined) {
      return "token opener accepted a bad tag"
    }
    if (opener.open(bytes.toString("base64url"), "either", noSite, fields) !== undefined) {
      return "token opener invented a key"
    }
    if (fields.some((b) => b !== 0)) return "token opener wrote fields on failure"
    return undefined
  } finally {
    for (const handle of tables) addon.releaseKey(handle)
  }
}

/**
 * Options for {@link load} / {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The addon binary; by default the first of {@link searchPaths} that loads. */
  readonly path?: string
  /** Source of nonces/IVs; defaults to node:crypto's CSPRNG. */
  readonly random?: (length: number) => Uint8Array
  /**
   * Hand out decrypt and encrypt results (up to {@link POOL_MAX_RESULT} bytes)
   * as slices of a shared, untransferable 8 KiB buffer instead of one
   * allocation each. Default `true`: the per-result `ArrayBuffer` allocation is
   * a third of a native decrypt's cost and over half of a short encrypt's. As
   * with Node's pooled `Buffer`s (and the node implementation's CBC results,
   * which come from `Buffer.concat`), a result's `.buffer` then also holds
   * other results: always honour `byteOffset` and `length`. `false` gives
   * every result its own `ArrayBuffer`.
   */
  readonly pool?: boolean
}

/**
 * Size of one result pool, in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const POOL_SIZE = 8192

/**
 * The largest decrypt or encrypt result served from a pool; larger ones get their own
 * `ArrayBuffer`.
 *
 * @since 0.1.0
 * @category constants
 */
export const POOL_MAX_RESULT = 1024

const GCM_OVERHEAD = 28
const CBC_IV = 16

/** What `addon[name]` throws or returns for exactly these arguments (the allocating entry point). */
const allocating = (
  encrypt: Addon["gcmEncrypt"],
  args: IArguments,
  key: KeyHandle,
  iv: Uint8Array,
  plaintext: Uint8Array
): Uint8Array =>
  // Fewer than three arguments: pass the count on, so the addon's "expected (key, iv, plaintext)" error is kept.
  args.length >= 3 ? encrypt(key, iv, plaintext) : Reflect.apply(encrypt, undefined, args)

/**
 * Bump-allocates decrypt and encrypt results out of fresh 8 KiB pools. A pool is never
 * rewritten once handed out: each new pool is a zeroed `Uint8Array`, marked
 * untransferable so that a result's `.buffer` cannot be detached from under
 * the others (the same protection Node gives its `Buffer` pool).
 */
const pooled = (
  addon: Addon
): Pick<CryptoShape, "gcmDecrypt" | "cbcDecrypt" | "gcmEncrypt" | "cbcEncrypt"> => {
  let pool = new Uint8Array(0)
  let used = 0
  const reserve = (room: number): void => {
    if (used + room > pool.length) {
      pool = new Uint8Array(POOL_SIZE)
      markAsUntransferable(pool.buffer)
      used = 0
    }
  }
  const take = (length: number): Uint8Array => {
    const out = pool.subarray(used, used + length)
    used = (used + length + 7) & ~7
    return out
  }
  const gcmInto = addon.gcmEncryptInto
  const cbcInto = addon.cbcEncryptInto
  return {
    // Plain functions for `arguments.length`; only a real typed array's length is read (no user getters on
    // anything else), and a wrong guess of the size is harmless: the addon then declines (-1) and the
    // allocating entry point runs. Bad arguments throw from the Into call with the allocating call's errors.
    gcmEncrypt: gcmInto === undefined ? addon.gcmEncrypt : function(key, nonce, plaintext) {
      if (arguments.length >= 3 && ArrayBuffer.isView(plaintext)) {
        const room = plaintext.length + GCM_OVERHEAD
        if (room <= POOL_MAX_RESULT) {
          reserve(room)
          const written = gcmInto(key, nonce, plaintext, pool, used)
          if (written >= 0) return take(written)
        }
      }
      return allocating(addon.gcmEncrypt, arguments, key, nonce, plaintext)
    },
    cbcEncrypt: cbcInto === undefined ? addon.cbcEncrypt : function(key, iv, plaintext) {
      if (arguments.length >= 3 && ArrayBuffer.isView(plaintext)) {
        const room = CBC_IV + (Math.floor(plaintext.length / 16) + 1) * 16
        if (room <= POOL_MAX_RESULT) {
          reserve(room)
          const written = cbcInto(key, iv, plaintext, pool, used)
          if (written >= 0) return take(written)
        }
      }
      return allocating(addon.cbcEncrypt, arguments, key, iv, plaintext)
    },
    gcmDecrypt: (key, data, start, end) => {
      // Anything odd (non-numbers, NaN, negative, large) goes to the allocating entry point, which rejects or
      // handles it; the arithmetic below must not throw (e.g. on BigInts).
      if (typeof start !== "number" || typeof end !== "number") return addon.gcmDecrypt(key, data, start, end)
      const length = end - start - 28
      if (!(length >= 0 && length <= POOL_MAX_RESULT)) return addon.gcmDecrypt(key, data, start, end)
      reserve(length)
      return addon.gcmDecryptInto(key, data, start, end, pool, used) ? take(length) : undefined
    },
    cbcDecrypt: (key, data, start, end) => {
      if (typeof start !== "number" || typeof end !== "number") return addon.cbcDecrypt(key, data, start, end)
      // The addon needs ciphertext + one block of room: exactly end - start.
      const room = end - start
      if (!(room > 16 && room <= POOL_MAX_RESULT)) return addon.cbcDecrypt(key, data, start, end)
      reserve(room)
      const length = addon.cbcDecryptInto(key, data, start, end, pool, used)
      return length >= 0 ? take(length) : undefined
    }
  }
}

/** The addon's whole-token entry points as a {@link TokenOpener}, when the binary has them. */
const tokenOpenerOf = (addon: Addon): TokenOpener | undefined => {
  const importTable = addon.importKeyTable
  const openToken = addon.openToken
  if (importTable === undefined || openToken === undefined) return undefined
  return {
    importKeys: (keys: ReadonlyArray<KeyTableEntry>) => {
      // Ids outside int32 can never match a token's (signed 32-bit) key id: leave them out.
      const usable = keys.filter((key) => (key.id | 0) === key.id)
      const ids = new Int32Array(usable.length)
      const secrets = new Uint8Array(usable.length * 32)
      try {
        usable.forEach((key, i) => {
          if (key.secret.length !== 32) throw new RangeError("importKeys: secrets must be 32 bytes")
          ids[i] = key.id
          secrets.set(key.secret, i * 32)
        })
        return importTable(ids, secrets)
      } finally {
        secrets.fill(0)
      }
    },
    open: (text, alphabet, keys, fields) =>
      openToken(text, alphabet === "either" ? 1 : alphabet === "standard" ? 0 : -1, keys, fields)
  }
}

const withTokenOpener = (addon: Addon): { tokenOpener?: TokenOpener } => {
  const tokenOpener = tokenOpenerOf(addon)
  return tokenOpener === undefined ? {} : { tokenOpener }
}

const fromAddon = (addon: Addon, path: string, options: Options | undefined): NativeCrypto => ({
  name: "native",
  path,
  opensslVersion: addon.opensslVersion,
  // Used as-is: no JS wrapper on these paths.
  importKey: addon.importKey,
  releaseKey: addon.releaseKey,
  ...(options?.pool === false ?
    {
      gcmEncrypt: addon.gcmEncrypt,
      cbcEncrypt: addon.cbcEncrypt,
      gcmDecrypt: addon.gcmDecrypt,
      cbcDecrypt: addon.cbcDecrypt
    } :
    pooled(addon)),
  ...withTokenOpener(addon),
  sha256: (data) => view(createHash("sha256").update(data).digest()),
  randomBytes: options?.random ?? secureRandom,
  liveKeys: addon.liveKeys,
  liveContexts: addon.liveContexts
})

/** Why one binary did not load; {@link locate} turns it into a {@link NativeCryptoUnavailable}. */
interface Failure {
  readonly reason: NativeCryptoUnavailable["reason"]
  readonly detail: string
  readonly cause?: unknown
}

const loadAddon = (path: string): Either.Either<Addon, Failure> => {
  let exported: unknown
  try {
    exported = createRequire(import.meta.url)(path)
  } catch (cause) {
    return Either.left({ reason: "LoadFailed", detail: String((cause as Error | null)?.message ?? cause), cause })
  }
  if (!isAddon(exported)) return Either.left({ reason: "LoadFailed", detail: "not the native crypto addon" })
  let failure: string | undefined
  try {
    failure = selfTest(exported)
  } catch (cause) {
    failure = `threw ${String(cause)}`
  }
  return failure === undefined ? Either.right(exported) : Either.left({ reason: "SelfTestFailed", detail: failure })
}

// Per path, once it exists: a binary is loaded (and self-tested) at most once per process. A missing
// path is looked at again on every call, so a binary built while the process runs is found.
const cache = new Map<string, Either.Either<Addon, Failure>>()

const addonAt = (path: string): Either.Either<Addon, Failure> => {
  if (!existsSync(path)) return Either.left({ reason: "NotBuilt", detail: "no such file" })
  let addon = cache.get(path)
  if (addon === undefined) {
    addon = loadAddon(path)
    cache.set(path, addon)
  }
  return addon
}

const BUILD_HINT = "to build it from source (needs a C compiler, make and python3): npx effect-uid2-build-native"

/** The first of `paths` that loads and passes the self-test, else why not (the first real failure wins). */
const locate = (
  paths: ReadonlyArray<string>,
  hint: string | undefined
): Either.Either<readonly [path: string, addon: Addon], NativeCryptoUnavailable> => {
  let failed: readonly [string, Failure] | undefined
  for (const path of paths) {
    const addon = addonAt(path)
    if (Either.isRight(addon)) return Either.right([path, addon.right] as const)
    if (failed === undefined || (failed[1].reason === "NotBuilt" && addon.left.reason !== "NotBuilt")) {
      failed = [path, addon.left]
    }
  }
  const [path, failure] = failed ?? [paths[0] ?? "", { reason: "NotBuilt", detail: "no path to try" } as const]
  const tried = paths.length > 1 ? `; tried ${paths.join(", ")}` : ""
  const message = failure.reason === "NotBuilt"
    ? `native crypto addon not found; tried ${paths.join(", ")}${hint === undefined ? "" : `; ${hint}`}`
    : failure.reason === "LoadFailed"
    ? `native crypto addon failed to load (${path}): ${failure.detail}${tried}`
    : `native crypto self-test failed (${path}): ${failure.detail}${tried}`
  return Either.left(
    new NativeCryptoUnavailable({
      reason: failure.reason,
      path,
      tried: paths,
      message,
      ...(failure.cause === undefined ? {} : { cause: failure.cause })
    })
  )
}

// One NativeCrypto per path for the default options: key rings cache their native handles and key
// table per Crypto object, so every layer and `make()` call sharing it keeps them warm.
const defaults = new Map<string, NativeCrypto>()

/**
 * Loads (once per path) and self-tests the addon at `options.path`, or the
 * first of {@link searchPaths} that loads. Without `random` or `pool`
 * options, every call that ends at the same path returns the same object.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (options?: Options): Either.Either<NativeCrypto, NativeCryptoUnavailable> => {
  const located = options?.path !== undefined ?
    locate([resolve(options.path)], undefined) :
    locate(
      searchPaths,
      process.env[ENV_OVERRIDE] === undefined || process.env[ENV_OVERRIDE] === ""
        ? BUILD_HINT
        : `${ENV_OVERRIDE} is set, so no other path is tried`
    )
  if (options?.random !== undefined || options?.pool !== undefined) {
    return Either.map(located, ([path, addon]) => fromAddon(addon, path, options))
  }
  return Either.map(located, ([path, addon]) => {
    let crypto = defaults.get(path)
    if (crypto === undefined) {
      crypto = fromAddon(addon, path, options)
      defaults.set(path, crypto)
    }
    return crypto
  })
}

/**
 * The native primitives, or `undefined` when the addon is unavailable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): NativeCrypto | undefined => Either.getOrUndefined(load(options))

const describe = (crypto: CryptoShape): string =>
  isNative(crypto) ? `native (N-API, ${crypto.opensslVersion}) from ${crypto.path}` : crypto.name

const PREFIX = "effect-uid2 Crypto implementation:"

const nativeLayer = (options: Options | undefined): Layer.Layer<Crypto, NativeCryptoUnavailable> =>
  Layer.effect(
    Crypto,
    Effect.gen(function*() {
      const native = yield* load(options)
      yield* Effect.logInfo(`${PREFIX} ${describe(native)}`)
      return native
    })
  )

const bestLayer = (options: Options | undefined): Layer.Layer<Crypto> =>
  Layer.effect(
    Crypto,
    Effect.gen(function*() {
      const loaded = load(options)
      const crypto: CryptoShape = Either.isRight(loaded) ? loaded.right : makeNode(secureRandom)
      yield* Effect.logInfo(
        Either.isRight(loaded)
          ? `${PREFIX} ${describe(crypto)}`
          : `${PREFIX} ${describe(crypto)} (native unavailable: ${loaded.left.reason}: ${loaded.left.message})`
      )
      return crypto
    })
  )

/**
 * The native layer at a given addon path; fails when the addon is unavailable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAt = (path: string): Layer.Layer<Crypto, NativeCryptoUnavailable> => nativeLayer({ path })

/**
 * The native implementation, or node:crypto (`makeNode`, secure random) when
 * the addon at `path` is unavailable.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerBestAt = (path: string): Layer.Layer<Crypto> => bestLayer({ path })

/**
 * The native implementation from the first of {@link searchPaths} that
 * loads; fails with {@link NativeCryptoUnavailable} when none does. Logs the
 * active implementation and the binary's path once, e.g.
 * `effect-uid2 Crypto implementation: native (N-API, OpenSSL 3.0.19 27 Jan 2026) from /app/node_modules/effect-uid2/prebuilds/linux-x64-glibc/native_crypto.node`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Crypto, NativeCryptoUnavailable> = nativeLayer(undefined)

/**
 * The native implementation when one of {@link searchPaths} loads, else
 * node:crypto. One info log line names the implementation in use and the
 * binary's path, or why native is unavailable and every path it tried (see
 * also {@link activeName}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerBest: Layer.Layer<Crypto> = bestLayer(undefined)

/**
 * The name of the `Crypto` implementation in context: `"native"`, `"node"`,
 * `"deterministic"`…
 *
 * @since 0.1.0
 * @category accessors
 */
export const activeName: Effect.Effect<string, never, Crypto> = Effect.map(Crypto, (crypto) => crypto.name)

/**
 * Whether a `Crypto` implementation is this native one (and so exposes
 * {@link NativeCrypto.liveKeys} and friends).
 *
 * @since 0.1.0
 * @category guards
 */
export const isNative = (crypto: CryptoShape): crypto is NativeCrypto =>
  crypto.name === "native" && typeof (crypto as Partial<NativeCrypto>).liveKeys === "function"
