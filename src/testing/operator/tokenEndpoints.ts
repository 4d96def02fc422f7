/**
 * The token endpoints of the test operator: `/v2/token/generate` (with the
 * EUID consent check) and `/v2/token/refresh`. Private to the test kit.
 */
import * as Envelope from "../../Envelope.js"
import * as OperatorEnvelope from "../../internal/operatorEnvelope.js"
import { bearer, type Client } from "./clients.js"
import type { Config } from "./config.js"
import { type Identities, IDENTITY_FIELDS, MISSING_EXACTLY_ONE, type ResolvedIdentity } from "./identities.js"
import type { KeyRingState } from "./keys.js"
import {
  type Answer,
  answer,
  clientError,
  type CoreOutcome,
  type CoreRequest,
  isRecord,
  json,
  noKey,
  success,
  unauthorized
} from "./protocol.js"
import * as RefreshToken from "./refreshToken.js"
import { checkConsent } from "./tcf.js"
import type { Tokens } from "./tokens.js"

/** Identities established before this are answered `optout` on refresh. */
const OPTOUT_CUTOFF_MS = Date.UTC(2021, 2, 8, 17, 0, 0)

const utf8Decoder = new TextDecoder()

/** The generate and refresh handlers of one operator. */
export const makeTokenEndpoints = (
  config: Config,
  clientsByKey: ReadonlyMap<string, Client>,
  keyRing: KeyRingState,
  identities: Identities,
  tokens: Tokens
) => {
  const { crypto, scope } = config
  const { keyById } = keyRing
  const { isOptedOut, isRefreshOptedOut, resolve } = identities
  const { issueIdentity } = tokens

  const generate = (client: Client, payload: unknown, nowMs: number): Answer => {
    if (!isRecord(payload)) return clientError(MISSING_EXACTLY_ONE)
    const present = IDENTITY_FIELDS.filter((f) => payload[f] !== undefined && payload[f] !== null)
    if (present.length !== 1) return clientError(MISSING_EXACTLY_ONE)
    const field = present[0]!
    const id = resolve(field, payload[field])
    if (id === undefined) return clientError("Invalid Identifier")
    const consent = payload["tcf_consent_string"]
    if (scope === "EUID" && consent !== undefined && consent !== null) {
      const outcome = typeof consent === "string" ? checkConsent(consent) : "invalid"
      if (outcome === "invalid") return clientError("User consent is invalid")
      if (outcome === "insufficient") return answer({ status: "insufficient_user_consent" })
    }
    if (isOptedOut(id)) return answer({ status: "optout" })
    const identity = issueIdentity(id, client.siteId, 1, nowMs, nowMs)
    return identity === undefined ? noKey() : success(identity)
  }

  const refresh = (req: CoreRequest, nowMs: number): CoreOutcome => {
    const apiKey = bearer(req.headers)
    const authenticated = apiKey !== undefined
    if (authenticated && !clientsByKey.has(apiKey)) return unauthorized()
    const reject = (status: "invalid_token" | "expired_token", message: string) =>
      json(400, { status: authenticated ? status : "error", message })
    const text = utf8Decoder.decode(req.body).trim()
    if (text.length === 0) return reject("invalid_token", "Required Parameter Missing: refresh_token")
    const decoded = RefreshToken.decode(crypto, text, (id) => {
      const key = keyById(id)
      return key?.kind === "refresh" ? key.handle : undefined
    })
    if (decoded === undefined || decoded.identityScope !== scope) {
      return reject("invalid_token", "Invalid Token presented")
    }
    const { payload } = decoded
    if (nowMs > payload.expiry) return reject("expired_token", "Expired Token presented")
    const respond = (value: unknown): CoreOutcome => ({
      _tag: "Response",
      status: 200,
      headers: { "content-type": "text/plain" },
      body: OperatorEnvelope.encodeRefreshResponse(crypto, decoded.refreshResponseKey, {
        iv: crypto.randomBytes(Envelope.IV_LENGTH),
        json: JSON.stringify(value)
      }).text
    })
    const id: ResolvedIdentity = { type: payload.identityType, firstLevelHash: payload.firstLevelHash }
    if (payload.established < OPTOUT_CUTOFF_MS || isOptedOut(id) || isRefreshOptedOut(id)) {
      return respond({ status: "optout" })
    }
    const identity = issueIdentity(id, payload.siteId, payload.privacyBits, payload.established, nowMs)
    return identity === undefined ? noKey() : respond({ body: identity, status: "success" })
  }

  return { generate, refresh }
}
