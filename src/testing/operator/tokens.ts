/**
 * Token issuing of the test operator: advertising tokens and whole
 * identities (with refresh tokens) under the operator's keys, for the
 * generate and refresh endpoints and for `issueToken`. Private to the test kit.
 */
import * as Effect from "effect/Effect"
import type { IdentityScope, IdentityType } from "../../Identity.js"
import * as Base64 from "../../internal/base64.js"
import * as Token from "../../Token.js"
import type { IdentityBody, IssuedToken, IssueTokenInput } from "../TestOperator.js"
import { DEFAULT_SITE_ID } from "./clients.js"
import type { Config } from "./config.js"
import { TestOperatorError } from "./errors.js"
import type { Identities, ResolvedIdentity } from "./identities.js"
import { type KeyEntry, type KeyRingState, MASTER_KEYSET_ID, REFRESH_KEYSET_ID } from "./keys.js"
import * as RefreshToken from "./refreshToken.js"

/** Token issuing over an operator's key ring and identities; `now` is the operator's clock. */
export const makeTokens = (
  config: Config,
  keyRing: KeyRingState,
  identities: Identities,
  now: Effect.Effect<number>
) => {
  const { crypto, scope } = config
  const { activeKey, keyById, keysetOf } = keyRing
  const { mapping, resolveInput } = identities

  interface BuildParams {
    readonly id: ResolvedIdentity | undefined
    readonly rawUid: string
    readonly type: IdentityType
    readonly scope: IdentityScope
    readonly siteId: number
    readonly privacyBits: number
    readonly established: number
    readonly generated: number
    readonly expiry: number
    readonly version: Token.TokenVersion
    readonly masterKey: KeyEntry | undefined
    readonly siteKey: KeyEntry | undefined
  }

  type Built = { readonly token: IssuedToken } | { readonly error: "NoKey" | "BadUid" }

  const build = (p: BuildParams): Built => {
    const { masterKey, siteKey } = p
    if (masterKey === undefined || siteKey === undefined) return { error: "NoKey" }
    const nonceLength = p.version === 2 ? 16 : 12
    const advertisingToken = Token.encode(
      crypto,
      {
        version: p.version,
        uid: p.rawUid,
        identityScope: p.scope,
        identityType: p.type,
        masterKeyId: masterKey.id,
        siteKeyId: siteKey.id,
        siteId: p.siteId,
        expiry: p.expiry,
        generated: p.generated,
        established: p.established,
        refreshed: p.generated,
        privacyBits: p.privacyBits
      },
      masterKey.handle,
      siteKey.handle,
      {
        master: crypto.randomBytes(nonceLength),
        site: crypto.randomBytes(nonceLength)
      }
    )
    if (advertisingToken === undefined) return { error: "BadUid" }
    let identity: IdentityBody | undefined
    if (p.id !== undefined) {
      const refreshKey = activeKey(REFRESH_KEYSET_ID, p.generated)
      if (refreshKey === undefined) return { error: "NoKey" }
      const responseKey = crypto.randomBytes(32)
      const refreshExpires = p.generated + config.refreshLifetime
      const refreshToken = RefreshToken.encode(
        crypto,
        p.scope,
        refreshKey,
        {
          expiry: refreshExpires,
          created: p.generated,
          siteId: p.siteId,
          privacyBits: p.privacyBits,
          established: p.established,
          identityType: p.type,
          firstLevelHash: p.id.firstLevelHash
        },
        responseKey,
        { inner: crypto.randomBytes(12), outer: crypto.randomBytes(12) }
      )
      identity = {
        advertising_token: advertisingToken,
        refresh_token: refreshToken,
        identity_expires: p.expiry,
        refresh_expires: refreshExpires,
        refresh_from: p.generated + config.refreshAfter,
        refresh_response_key: Base64.encode(responseKey)
      }
    }
    return {
      token: {
        advertisingToken,
        rawUid: p.rawUid,
        identityScope: p.scope,
        identityType: p.type,
        siteId: p.siteId,
        masterKeyId: masterKey.id,
        siteKeyId: siteKey.id,
        generated: p.generated,
        established: p.established,
        expiry: p.expiry,
        identity
      }
    }
  }

  /** A fresh identity as generate and refresh hand out. */
  const issueIdentity = (
    id: ResolvedIdentity,
    siteId: number,
    privacyBits: number,
    established: number,
    nowMs: number
  ): IdentityBody | undefined => {
    const built = build({
      id,
      rawUid: mapping(id, nowMs).current,
      type: id.type,
      scope,
      siteId,
      privacyBits,
      established,
      generated: nowMs,
      expiry: nowMs + config.identityLifetime,
      version: 4,
      masterKey: activeKey(MASTER_KEYSET_ID, nowMs),
      siteKey: activeKey(keysetOf(siteId, nowMs), nowMs)
    })
    return "token" in built ? built.token.identity : undefined
  }

  const issueToken = (input: IssueTokenInput): Effect.Effect<IssuedToken, TestOperatorError> =>
    Effect.gen(function*() {
      const nowMs = yield* now
      const generated = input.generated ?? nowMs
      const siteId = input.siteId ?? config.clients[0]?.siteId ?? DEFAULT_SITE_ID
      const tokenScope = input.identityScope ?? scope
      let id: ResolvedIdentity | undefined
      let rawUid: string
      let type: IdentityType
      if ("rawUid" in input) {
        rawUid = input.rawUid
        const info = Token.rawUidInfo(rawUid)
        type = input.identityType ??
          (info !== undefined && info.generation !== 2 ? info.identityType : Token.identityTypeOfRawUid(rawUid))
      } else {
        id = yield* resolveInput(input)
        rawUid = mapping(id, generated).current
        type = id.type
      }
      const pick = (keyId: number | undefined, fallback: () => KeyEntry | undefined) =>
        keyId === undefined ? fallback() : keyById(keyId)
      const built = build({
        id,
        rawUid,
        type,
        scope: tokenScope,
        siteId,
        privacyBits: input.privacyBits ?? 1,
        established: input.established ?? generated,
        generated,
        expiry: input.expiry ?? generated + config.identityLifetime,
        version: input.version ?? 4,
        masterKey: pick(input.masterKeyId, () => activeKey(MASTER_KEYSET_ID, generated)),
        siteKey: pick(input.siteKeyId, () => activeKey(keysetOf(siteId, nowMs), generated))
      })
      if ("error" in built) {
        return yield* new TestOperatorError({
          detail: built.error === "NoKey" ? "no active (or no such) key" : "the raw UID is not valid Base64"
        })
      }
      return built.token
    })

  return { issueIdentity, issueToken }
}

/** What {@link makeTokens} returns. */
export type Tokens = ReturnType<typeof makeTokens>
