/**
 * Builders for key rings and tokens with every field settable: UID2/EUID
 * rings, rotations, expired and not-yet-active keys, tokens of every version
 * with any privacy bits and timestamps. {@link conformanceKeys},
 * {@link sharingRing} and {@link bidstreamRing} give the fixtures of the
 * reference SDKs' test suites; with `KeyStore.layerMemoryWith` and a client's
 * `layerFromKeyStore`, a client decrypts with such a ring and no operator.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Bidstream, Crypto, KeyStore } from "effect-uid2"
 * import { Builders } from "effect-uid2/testing"
 *
 * const now = Date.now()
 * const [master, site] = Builders.conformanceKeys(now).map(Builders.key)
 * const expired = Builders.token({ masterKey: master!, siteKey: site!, now, version: 3, expiry: now - 1 })
 *
 * // A DSP client on a fixed ring, without an operator.
 * const Dsp = Bidstream.layerFromKeyStore().pipe(
 *   Layer.provide(Layer.merge(KeyStore.layerMemoryWith(Builders.bidstreamRing(now)), Crypto.layerNode))
 * )
 * const error = await Effect.runPromise(
 *   Effect.provide(Effect.flip(Bidstream.BidstreamClient.decrypt(expired, "example.com")), Dsp)
 * )
 * console.log(error._tag) // "ExpiredToken"
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Redacted from "effect/Redacted"
import { type CryptoShape, makeNode, seededRandom } from "../Crypto.js"
import type { IdentityScope, IdentityType } from "../Identity.js"
import * as Base64 from "../internal/base64.js"
import { Key, KeyRing } from "../KeyRing.js"
import { encode, type OperatorIdentity, type TokenVersion } from "../Token.js"

const DAY = 86_400_000

/**
 * A key to put in a ring. Times are epoch milliseconds; `secret` is 32 bytes
 * or their standard Base64.
 *
 * @since 0.1.0
 * @category keys
 */
export interface KeySpec {
  readonly id: number
  readonly keysetId?: number
  readonly siteId?: number
  readonly created?: number
  readonly activates: number
  readonly expires: number
  readonly secret: Uint8Array | string
}

/**
 * Builds a {@link Key}.
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (spec: KeySpec): Key => {
  const secret = typeof spec.secret === "string" ? Base64.decode(spec.secret) : spec.secret
  if (secret === undefined || secret.length !== 32) throw new Error("a key secret must be 32 bytes")
  return new Key(
    spec.id,
    spec.keysetId,
    spec.siteId,
    spec.created ?? spec.activates,
    spec.activates,
    spec.expires,
    Redacted.make(secret)
  )
}

/**
 * A 32-byte secret derived from a number (distinct numbers, distinct secrets).
 *
 * @since 0.1.0
 * @category keys
 */
export const secretFor = (n: number): Uint8Array => seededRandom(n)(32)

/**
 * What a ring holds besides keys. Unset fields take the defaults a key
 * response without them gets: no caller site, master or default keyset, a
 * 30-day token lifetime, UID2 scope, unlimited lifetimes, 1,800 s clock skew.
 *
 * @since 0.1.0
 * @category keys
 */
export interface KeyRingSpec {
  readonly keys: ReadonlyArray<KeySpec | Key>
  readonly identityScope?: IdentityScope
  readonly callerSiteId?: number
  readonly masterKeysetId?: number
  readonly defaultKeysetId?: number
  readonly tokenExpirySeconds?: number
  readonly maxBidstreamLifetimeSeconds?: number
  readonly maxSharingLifetimeSeconds?: number
  readonly allowClockSkewSeconds?: number
  /** Allowed domains/app names per site id. */
  readonly sites?: Readonly<Record<number, ReadonlyArray<string>>>
}

/**
 * Builds a {@link KeyRing} directly (no JSON round trip, millisecond precision).
 *
 * @since 0.1.0
 * @category keys
 */
export const keyRing = (spec: KeyRingSpec): KeyRing =>
  new KeyRing(
    spec.keys.map((k) => k instanceof Key ? k : key(k)),
    {
      callerSiteId: spec.callerSiteId,
      masterKeysetId: spec.masterKeysetId,
      defaultKeysetId: spec.defaultKeysetId,
      tokenExpirySeconds: spec.tokenExpirySeconds ?? 2_592_000,
      identityScope: spec.identityScope ?? "UID2",
      maxBidstreamLifetimeSeconds: spec.maxBidstreamLifetimeSeconds,
      maxSharingLifetimeSeconds: spec.maxSharingLifetimeSeconds,
      allowClockSkewSeconds: spec.allowClockSkewSeconds ?? 1800
    },
    new Map(
      Object.entries(spec.sites ?? {}).map(([id, names]) => [
        Number(id),
        new Set(names.map((n) => n.replace(/[A-Z]+/g, (m) => m.toLowerCase())))
      ])
    )
  )

/**
 * The fixture keys of the reference SDKs' test suites (Java, .NET, Python)
 * around `nowMs`: master key 164 in keyset 1
 * (active now … now+1d) and site key 165 in keyset 99999 (now−1d … now+1d),
 * with their published secrets.
 *
 * @since 0.1.0
 * @category keys
 */
export const conformanceKeys = (nowMs: number): Array<KeySpec> => [
  {
    id: 164,
    keysetId: 1,
    activates: nowMs,
    expires: nowMs + DAY,
    secret: "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="
  },
  {
    id: 165,
    keysetId: 99999,
    activates: nowMs - DAY,
    expires: nowMs + DAY,
    secret: "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="
  }
]

/**
 * A sharing ring like the reference fixtures: caller site 9000, master keyset
 * 1, default keyset 99999, 30-day lifetimes, {@link conformanceKeys} and
 * {@link conformanceSites}.
 *
 * @since 0.1.0
 * @category keys
 */
export const sharingRing = (nowMs: number, overrides: Partial<KeyRingSpec> = {}): KeyRing =>
  keyRing({
    keys: conformanceKeys(nowMs),
    callerSiteId: 9000,
    masterKeysetId: 1,
    defaultKeysetId: 99999,
    tokenExpirySeconds: 2_592_000,
    maxSharingLifetimeSeconds: 30 * 86_400,
    sites: conformanceSites,
    ...overrides
  })

/**
 * A bidstream ring like the reference fixtures: 3-day lifetime, the
 * {@link conformanceKeys} without keysets, and {@link conformanceSites}.
 *
 * @since 0.1.0
 * @category keys
 */
export const bidstreamRing = (nowMs: number, overrides: Partial<KeyRingSpec> = {}): KeyRing =>
  keyRing({
    keys: conformanceKeys(nowMs).map(({ keysetId: _, ...k }) => k),
    maxBidstreamLifetimeSeconds: 3 * 86_400,
    sites: conformanceSites,
    ...overrides
  })

/**
 * `site_data` of the reference bidstream fixtures.
 *
 * @since 0.1.0
 * @category keys
 */
export const conformanceSites: Readonly<Record<number, ReadonlyArray<string>>> = {
  9000: ["example.com", "example.org", "com.123.Game.App.android", "123456789"],
  2: ["example.net", "example.edu"]
}

/**
 * A token to build; unset fields take the defaults of the reference test
 * builders (V4, UID2 email, site 9000, expiry now+1h, generated/established/refreshed now,
 * privacy bits 0).
 *
 * @since 0.1.0
 * @category tokens
 */
export interface TokenSpec {
  readonly masterKey: Key
  readonly siteKey: Key
  readonly now: number
  readonly version?: TokenVersion
  readonly uid?: string
  readonly identityScope?: IdentityScope
  readonly identityType?: IdentityType
  readonly siteId?: number
  readonly privacyBits?: number
  readonly expiry?: number
  readonly generated?: number
  readonly established?: number
  readonly refreshed?: number
  readonly publisherId?: number
  readonly clientKeyId?: number
  readonly operator?: OperatorIdentity
  readonly prefixByte?: number
  /** Nonces of the two layers (16 bytes each for V2, 12 for V3/V4); random if absent. */
  readonly nonces?: { readonly master: Uint8Array; readonly site: Uint8Array }
  /** Crypto to encrypt with; node:crypto if absent. */
  readonly crypto?: CryptoShape
}

const defaultCrypto = makeNode(seededRandom(0x5eed))

/**
 * Builds token text. Throws on a spec that cannot be encoded (a raw UID that
 * is not Base64): builders are for tests, where that is a bug in the test.
 *
 * @since 0.1.0
 * @category tokens
 */
export const token = (spec: TokenSpec): string => {
  const crypto = spec.crypto ?? defaultCrypto
  const version = spec.version ?? 4
  const ivLength = version === 2 ? 16 : 12
  const generated = spec.generated ?? spec.now
  const masterHandle = crypto.importKey(Redacted.value(spec.masterKey.secret))
  const siteHandle = crypto.importKey(Redacted.value(spec.siteKey.secret))
  const text = encode(
    crypto,
    {
      version,
      uid: spec.uid ?? "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM=",
      identityScope: spec.identityScope ?? "UID2",
      identityType: spec.identityType ?? "Email",
      masterKeyId: spec.masterKey.id,
      siteKeyId: spec.siteKey.id,
      siteId: spec.siteId ?? 9000,
      expiry: spec.expiry ?? spec.now + 3_600_000,
      generated,
      established: spec.established ?? spec.now,
      refreshed: spec.refreshed ?? generated,
      privacyBits: spec.privacyBits ?? 0,
      ...(spec.publisherId === undefined ? {} : { publisherId: spec.publisherId }),
      ...(spec.clientKeyId === undefined ? {} : { clientKeyId: spec.clientKeyId }),
      ...(spec.operator === undefined ? {} : { operator: spec.operator }),
      ...(spec.prefixByte === undefined ? {} : { prefixByte: spec.prefixByte })
    },
    masterHandle,
    siteHandle,
    spec.nonces ?? {
      master: crypto.randomBytes(ivLength),
      site: crypto.randomBytes(ivLength)
    }
  )
  crypto.releaseKey(masterHandle)
  crypto.releaseKey(siteHandle)
  if (text === undefined) throw new Error("token spec cannot be encoded: raw UID is not Base64 or a nonce is malformed")
  return text
}
