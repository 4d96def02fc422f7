/**
 * The test operator's key ring: master, per-site and refresh keys, their
 * rotation and expiry, and the key response bodies of `/v2/key/sharing`,
 * `/v2/key/bidstream` and `/v2/key/latest`. Private to the test kit.
 */
import type { KeyHandle } from "../../Crypto.js"
import * as Base64 from "../../internal/base64.js"
import type { OperatorKey } from "../TestOperator.js"
import type { ClientCredentials } from "./clients.js"
import { type Config, floorSecond } from "./config.js"

/**
 * The keyset id of the master keys as SDKs see it.
 *
 * @since 0.1.0
 * @category constants
 */
export const MASTER_KEYSET_ID = 9_999_999

/** The keyset of refresh keys (never served). */
export const REFRESH_KEYSET_ID = -2
const FIRST_SITE_KEYSET_ID = 100

/** One key with its secret and imported handle; `expires` moves on `expireKeys`. */
export interface KeyEntry extends Omit<OperatorKey, "expires" | "secret"> {
  expires: number
  readonly secret: Uint8Array
  readonly handle: KeyHandle
}

/** The key ring of one operator, with its initial keys (active since an hour before `startMs`). */
export const makeKeyRing = (config: Config, startMs: number) => {
  const { crypto, scope } = config
  const keys: Array<KeyEntry> = []
  const siteKeysets = new Map<number, number>()
  let nextKeyId = 1
  let nextKeysetId = FIRST_SITE_KEYSET_ID

  const addKey = (
    kind: KeyEntry["kind"],
    keysetId: number,
    siteId: number | undefined,
    createdMs: number,
    activatesMs: number
  ) => {
    const secret = crypto.randomBytes(32)
    const activates = floorSecond(activatesMs)
    const key: KeyEntry = {
      id: nextKeyId++,
      kind,
      keysetId,
      siteId,
      created: Math.min(floorSecond(createdMs), activates),
      activates,
      expires: activates + floorSecond(config.keyLifetime),
      secret,
      handle: crypto.importKey(secret)
    }
    keys.push(key)
    return key
  }

  const keysetOf = (siteId: number, nowMs: number): number => {
    const existing = siteKeysets.get(siteId)
    if (existing !== undefined) return existing
    const id = nextKeysetId++
    siteKeysets.set(siteId, id)
    addKey("site", id, siteId, nowMs - 3_600_000, nowMs - 3_600_000)
    return id
  }

  // As the real operator chooses: the most recently activated key that is active at `now`.
  const activeKey = (keysetId: number, nowMs: number): KeyEntry | undefined => {
    let best: KeyEntry | undefined
    for (const k of keys) {
      if (k.keysetId !== keysetId || k.activates > nowMs || k.expires <= nowMs) continue
      if (best === undefined || k.activates >= best.activates) best = k
    }
    return best
  }

  const keyById = (id: number): KeyEntry | undefined => keys.find((k) => k.id === id)

  const publicKey = (k: KeyEntry): OperatorKey => ({
    id: k.id,
    kind: k.kind,
    keysetId: k.keysetId,
    siteId: k.siteId,
    created: k.created,
    activates: k.activates,
    expires: k.expires,
    secret: Base64.encode(k.secret)
  })

  const keyJson = (k: KeyEntry, withKeyset: boolean) => ({
    id: k.id,
    ...(withKeyset ? { keyset_id: k.keysetId } : {}),
    created: k.created / 1000,
    activates: k.activates / 1000,
    expires: k.expires / 1000,
    secret: Base64.encode(k.secret)
  })

  const siteDataJson = () =>
    config.siteData
      .filter((s) => s.domainNames.length > 0 && siteKeysets.has(s.id))
      .map((s) => ({ id: s.id, domain_names: [...s.domainNames].sort() }))
      .sort((a, b) => a.id - b.id)

  const servedKeys = () => keys.filter((k) => k.kind !== "refresh").sort((a, b) => a.id - b.id)

  const sharingBody = (client: ClientCredentials, nowMs: number): Record<string, unknown> => {
    const own = keysetOf(client.siteId, nowMs)
    return {
      caller_site_id: client.siteId,
      master_keyset_id: MASTER_KEYSET_ID,
      default_keyset_id: own,
      token_expiry_seconds: String(config.sharingExpirySeconds),
      ...(client.roles.includes("SHARER") ? { max_sharing_lifetime_seconds: config.maxSharingSeconds + 10 } : {}),
      identity_scope: scope,
      allow_clock_skew_seconds: config.skewSeconds,
      keys: servedKeys().map((k) => keyJson(k, k.kind === "master" || k.keysetId === own)),
      site_data: siteDataJson()
    }
  }

  const bidstreamBody = (): Record<string, unknown> => ({
    max_bidstream_lifetime_seconds: config.maxBidstreamSeconds + 10,
    identity_scope: scope,
    allow_clock_skew_seconds: config.skewSeconds,
    keys: servedKeys().map((k) => keyJson(k, false)),
    site_data: siteDataJson()
  })

  const latestBody = () =>
    servedKeys().map((k) => ({ ...keyJson(k, false), site_id: k.kind === "master" ? -1 : k.siteId }))

  const rotateKeys = (nowMs: number, activatesIn: number): ReadonlyArray<OperatorKey> => {
    const at = nowMs + activatesIn
    const added = [
      addKey("master", MASTER_KEYSET_ID, undefined, nowMs, at),
      addKey("refresh", REFRESH_KEYSET_ID, undefined, nowMs, at)
    ]
    for (const [siteId, keysetId] of siteKeysets) added.push(addKey("site", keysetId, siteId, nowMs, at))
    return added.map(publicKey)
  }

  /** Ends every key's life at `nowMs` (or its activation, if later). */
  const expireKeys = (nowMs: number): void => {
    const at = floorSecond(nowMs)
    for (const k of keys) if (k.expires > at) k.expires = Math.max(at, k.activates)
  }

  addKey("master", MASTER_KEYSET_ID, undefined, startMs - 3_600_000, startMs - 3_600_000)
  addKey("refresh", REFRESH_KEYSET_ID, undefined, startMs - 3_600_000, startMs - 3_600_000)
  for (const c of config.clients) keysetOf(c.siteId, startMs)
  for (const s of config.siteData) keysetOf(s.id, startMs)

  return {
    keysetOf,
    activeKey,
    keyById,
    keys: (): ReadonlyArray<OperatorKey> => keys.map(publicKey),
    sharingBody,
    bidstreamBody,
    latestBody,
    rotateKeys,
    expireKeys
  }
}

/** What {@link makeKeyRing} returns. */
export type KeyRingState = ReturnType<typeof makeKeyRing>
