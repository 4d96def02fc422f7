// The reference vectors' shared fixtures: master key 164 (keyset 1) and site key 165 (keyset 99999) of
// site 9000, their secrets, example raw UIDs and the site data of sites 9000 and 2.
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { randomBytes } from "node:crypto"
import * as NativeCrypto from "../adapters/native-crypto/index.js"
import { Crypto, type CryptoShape, makeNode, seededRandom } from "../src/Crypto.js"
import * as KeyRing from "../src/KeyRing.js"

export const MASTER_KEY_ID = 164
export const SITE_KEY_ID = 165
export const SITE_ID = 9000
export const MASTER_SECRET = "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="
export const SITE_SECRET = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="
export const EXAMPLE_UID = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
export const PHONE_UID = "BEOGxroPLdcY7LrSiwjY52+X05V0ryELpJmoWAyXiwbZ"

/**
 * The Crypto the token suites run on: node:crypto, or the native adapter when
 * UID2_TEST_CRYPTO=native (`npm run test:native`), so both layers pass the same suite.
 */
export const selectCrypto = (random: (n: number) => Uint8Array): CryptoShape => {
  if (process.env["UID2_TEST_CRYPTO"] !== "native") return makeNode(random)
  const native = NativeCrypto.load({ random })
  if (Either.isLeft(native)) {
    throw new Error(`UID2_TEST_CRYPTO=native but ${native.left.message}; run npm run build:native`)
  }
  return native.right
}

export const crypto: CryptoShape = selectCrypto(seededRandom(1))

/** The selected implementation with seeded, reproducible random bytes. */
export const CryptoDeterministic = (seed: number): Layer.Layer<Crypto> =>
  Layer.sync(Crypto, () => selectCrypto(seededRandom(seed)))

/** A Crypto layer on the selected implementation, with secure random bytes. */
export const CryptoLive: Layer.Layer<Crypto> = Layer.sync(
  Crypto,
  () => selectCrypto((n) => new Uint8Array(randomBytes(n)))
)

const seconds = (ms: number) => Math.floor(ms / 1000)

export interface KeySpec {
  readonly id: number
  readonly keysetId?: number
  readonly activates: number
  readonly expires: number
  readonly secret: string
}

/** The reference vectors' key windows: master key from now to now+1d, site key from now−1d to now+1d. */
export const defaultKeys = (nowMs: number): Array<KeySpec> => [
  { id: MASTER_KEY_ID, keysetId: 1, activates: nowMs, expires: nowMs + 86_400_000, secret: MASTER_SECRET },
  { id: SITE_KEY_ID, keysetId: 99999, activates: nowMs - 86_400_000, expires: nowMs + 86_400_000, secret: SITE_SECRET }
]

export const keyJson = (k: KeySpec) => ({
  id: k.id,
  ...(k.keysetId === undefined ? {} : { keyset_id: k.keysetId }),
  created: seconds(k.activates) - 100,
  activates: seconds(k.activates),
  expires: seconds(k.expires),
  secret: k.secret
})

export const SITE_DATA = [
  { id: SITE_ID, domain_names: ["example.com", "example.org", "com.123.Game.App.android", "123456789"] },
  { id: 2, domain_names: ["example.net", "example.edu"] }
]

/** A bidstream key response body (no keyset ids). */
export const bidstreamBody = (keys: ReadonlyArray<KeySpec>, scope: "UID2" | "EUID" = "UID2") => ({
  max_bidstream_lifetime_seconds: 3 * 86_400,
  identity_scope: scope,
  allow_clock_skew_seconds: 1800,
  keys: keys.map((k) => keyJson({ ...k, keysetId: undefined as never })),
  site_data: SITE_DATA
})

/** A sharing key response body. */
export const sharingBody = (
  keys: ReadonlyArray<KeySpec>,
  scope: "UID2" | "EUID" = "UID2",
  extra: Record<string, unknown> = {}
) => ({
  caller_site_id: SITE_ID,
  master_keyset_id: 1,
  default_keyset_id: 99999,
  token_expiry_seconds: 2_592_000,
  identity_scope: scope,
  allow_clock_skew_seconds: 1800,
  max_sharing_lifetime_seconds: 30 * 86_400,
  keys: keys.map(keyJson),
  ...extra
})

export const ringOf = (body: unknown): KeyRing.KeyRing => Either.getOrThrow(KeyRing.fromBody(body))
