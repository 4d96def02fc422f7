/**
 * Key rings and token sets for the benchmarks. Key ids, secrets and site follow the
 * reference vectors' master key 164, site key 165 and site 9000 (copied, not imported from test/).
 */
import * as Either from "effect/Either"
import { createSecretKey, randomBytes } from "node:crypto"
import { type CryptoShape, makeNode } from "../src/Crypto.js"
import * as Base64 from "../src/internal/base64.js"
import * as KeyRing from "../src/KeyRing.js"
import * as Token from "../src/Token.js"

export const MASTER_KEY_ID = 164
export const SITE_KEY_ID = 165
export const SITE_ID = 9000
export const MASTER_SECRET = "iyXxrRJcJOilqBcSJsN7XKCIuShbraXdqBCppCaLCJs="
export const SITE_SECRET = "IPsHwoSa+lbKdGgdg8CL1zCkC0HibqcObDP+fUEYF4U="

const DAY_MS = 86_400_000
const seconds = (ms: number) => Math.floor(ms / 1000)

const keysJson = (nowMs: number, withKeysets: boolean) => [
  {
    id: MASTER_KEY_ID,
    ...(withKeysets ? { keyset_id: 1 } : {}),
    created: seconds(nowMs - DAY_MS),
    activates: seconds(nowMs - DAY_MS),
    expires: seconds(nowMs + DAY_MS),
    secret: MASTER_SECRET
  },
  {
    id: SITE_KEY_ID,
    ...(withKeysets ? { keyset_id: 99999 } : {}),
    created: seconds(nowMs - DAY_MS),
    activates: seconds(nowMs - DAY_MS),
    expires: seconds(nowMs + DAY_MS),
    secret: SITE_SECRET
  }
]

/** A `/v2/key/bidstream` body: keys without keyset ids, a 3-day lifetime limit, site_data. */
export const bidstreamBody = (nowMs: number) => ({
  max_bidstream_lifetime_seconds: 3 * 86_400,
  identity_scope: "UID2",
  allow_clock_skew_seconds: 1800,
  keys: keysJson(nowMs, false),
  site_data: [{ id: SITE_ID, domain_names: ["example.com", "example.org"] }]
})

/** A `/v2/key/sharing` body: master keyset 1, default keyset 99999, 30-day token expiry and lifetime limit. */
export const sharingBody = (nowMs: number) => ({
  caller_site_id: SITE_ID,
  master_keyset_id: 1,
  default_keyset_id: 99999,
  token_expiry_seconds: 2_592_000,
  identity_scope: "UID2",
  allow_clock_skew_seconds: 1800,
  max_sharing_lifetime_seconds: 30 * 86_400,
  keys: keysJson(nowMs, true)
})

/** A fresh ring per call: each Crypto layer gets its own, so cached key handles never ping-pong. */
export const ringOf = (body: unknown): KeyRing.KeyRing => Either.getOrThrow(KeyRing.fromBody(body))

/** A random v4-style raw UID (33 bytes: metadata byte + 32-byte hash) as standard Base64. */
export const randomRawUid = (): string => {
  const bytes = randomBytes(33)
  bytes[0] = 0b0010_0000 // v4, UID2, email, test environment
  return bytes.toString("base64")
}

export interface TokenSet {
  readonly version: Token.TokenVersion
  /** Token texts, as a DSP receives them. */
  readonly texts: ReadonlyArray<string>
  /** The same tokens Base64-decoded in advance (the baseline's input). */
  readonly bytes: ReadonlyArray<Buffer>
  /** The raw UID each token carries. */
  readonly uids: ReadonlyArray<string>
}

/**
 * `count` distinct tokens of one version (distinct raw UIDs and random
 * nonces/IVs), valid for a few hours from `nowMs`, not client-side generated.
 */
export const makeTokens = (version: Token.TokenVersion, count: number, nowMs: number): TokenSet => {
  const crypto: CryptoShape = makeNode((n) => new Uint8Array(randomBytes(n)))
  const master = createSecretKey(Buffer.from(MASTER_SECRET, "base64"))
  const site = createSecretKey(Buffer.from(SITE_SECRET, "base64"))
  const nonceLength = version === 2 ? 16 : 12
  const texts: Array<string> = []
  const bytes: Array<Buffer> = []
  const uids: Array<string> = []
  for (let i = 0; i < count; i++) {
    const uid = randomRawUid()
    const text = Token.encode(
      crypto,
      {
        version,
        uid,
        identityScope: "UID2",
        identityType: "Email",
        masterKeyId: MASTER_KEY_ID,
        siteKeyId: SITE_KEY_ID,
        siteId: SITE_ID,
        expiry: nowMs + 6 * 3_600_000,
        generated: nowMs - 60_000,
        established: nowMs - DAY_MS,
        refreshed: nowMs - 60_000,
        privacyBits: Token.PrivacyBits.legacy
      },
      master,
      site,
      { master: randomBytes(nonceLength), site: randomBytes(nonceLength) }
    )
    if (text === undefined) throw new Error(`could not build a V${version} token`)
    const decoded = Base64.decode(text, "either")
    if (decoded === undefined) throw new Error("token is not Base64")
    texts.push(text)
    bytes.push(Buffer.from(decoded))
    uids.push(uid)
  }
  return { version, texts, bytes, uids }
}

/** `count` random raw UIDs to encrypt. */
export const makeRawUids = (count: number): ReadonlyArray<string> => Array.from({ length: count }, randomRawUid)
