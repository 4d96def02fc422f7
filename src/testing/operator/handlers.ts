/**
 * Request routing of the test operator: auth and roles, the request and
 * response envelopes (with the wrong-nonce fault) and the dispatch to the
 * endpoints; the key endpoints are answered here. Private to the test kit.
 */
import * as Either from "effect/Either"
import * as Envelope from "../../Envelope.js"
import * as OperatorEnvelope from "../../internal/operatorEnvelope.js"
import type { EnvelopeError } from "../../TransportError.js"
import { bearer, type Client, type Role } from "./clients.js"
import type { Config } from "./config.js"
import type { Faults, MutableLogEntry } from "./faults.js"
import type { Identities } from "./identities.js"
import { makeIdentityMapEndpoints } from "./identityMap.js"
import type { KeyRingState } from "./keys.js"
import { makeOptOutEndpoint } from "./optout.js"
import {
  type Answer,
  clientError,
  type CoreOutcome,
  type CoreRequest,
  json,
  Paths,
  success,
  unauthorized
} from "./protocol.js"
import { makeTokenEndpoints } from "./tokenEndpoints.js"
import type { Tokens } from "./tokens.js"
import { makeValidateEndpoint } from "./validate.js"

/** Largest request body accepted (1 MiB). */
const MAX_BODY = 1_048_576

/** The media type of a `Content-Type` header, lower-cased, without parameters. */
const mediaType = (value: string | undefined): string => (value ?? "").split(";")[0]!.trim().toLowerCase()

const KNOWN = new Set<string>(Object.values(Paths))

/** The router of one operator: every request that no fault took ends here. */
export const makeRoute = (
  config: Config,
  clientsByKey: ReadonlyMap<string, Client>,
  keyRing: KeyRingState,
  identities: Identities,
  tokens: Tokens,
  faults: Faults
) => {
  const { crypto } = config
  const { bidstreamBody, latestBody, sharingBody } = keyRing
  const { applyRule, takeFault } = faults
  const { generate, refresh } = makeTokenEndpoints(config, clientsByKey, keyRing, identities, tokens)
  const { bucketsSince, mapV2, mapV3 } = makeIdentityMapEndpoints(identities)
  const optoutStatus = makeOptOutEndpoint(identities)
  const validate = makeValidateEndpoint(crypto, keyRing.keyById, identities)

  const envelopeError = (e: EnvelopeError): CoreOutcome => {
    switch (e.reason) {
      case "Timestamp":
        return clientError("Invalid timestamp: Request too old or client time drift.")
      case "Json":
        return clientError("Invalid payload in body: Data is not valid json string.")
      case "Missing":
        return clientError("Invalid body: Body is missing.")
      case "Base64":
        return clientError("Invalid body: Body is not valid base64.")
      case "UnencryptedJson":
        return clientError("Invalid body: The request body is unencrypted JSON.")
      case "TooShort":
        return clientError("Invalid body: Body too short. Check encryption method.")
      case "Decrypt":
        return clientError("Invalid body: Check encryption key (ClientSecret).")
      case "Version":
      case "NonceMismatch":
      case "Key":
        return clientError(`Invalid body: ${e.detail ?? "invalid envelope"}`)
    }
  }

  /** Auth, role, envelope, handler, encrypted answer (with the wrong-nonce fault). */
  const enveloped = (
    req: CoreRequest,
    nowMs: number,
    roles: ReadonlyArray<Role>,
    entry: MutableLogEntry,
    handler: (client: Client, payload: unknown, nowMs: number) => Answer
  ): CoreOutcome => {
    const apiKey = bearer(req.headers)
    const client = apiKey === undefined ? undefined : clientsByKey.get(apiKey)
    if (client === undefined || !client.roles.some((r) => roles.includes(r))) return unauthorized()
    if (req.body.length > MAX_BODY) return json(413, { status: "client_error", message: "Request body too large" })
    const binary = mediaType(req.headers["content-type"]) === "application/octet-stream"
    const decoded = OperatorEnvelope.decodeRequest(crypto, client.envelopeKey, req.body, {
      nowMs,
      binary,
      maxDriftMinutes: config.maxDriftMinutes
    })
    if (Either.isLeft(decoded)) return envelopeError(decoded.left)
    const request = decoded.right
    const payload: unknown = request.json === undefined ? undefined : JSON.parse(request.json)
    const scripted = applyRule(req.path, payload, entry)
    if (scripted !== undefined) return scripted
    const result = handler(client, payload, nowMs)
    if (result._tag !== "Answer") return result
    let nonce = request.nonce
    if (takeFault(["wrongNonce"], req.path) !== undefined) {
      entry.fault = "wrongNonce"
      nonce = nonce.map((b) => b ^ 0xff)
    }
    const encoded = OperatorEnvelope.encodeResponse(crypto, client.envelopeKey, {
      nowMs,
      nonce,
      iv: crypto.randomBytes(Envelope.IV_LENGTH),
      json: result.json
    })
    return binary
      ? { _tag: "Response", status: 200, headers: { "content-type": "application/octet-stream" }, body: encoded.bytes }
      : { _tag: "Response", status: 200, headers: { "content-type": "text/plain" }, body: encoded.text }
  }

  const route = (req: CoreRequest, nowMs: number, entry: MutableLogEntry): CoreOutcome => {
    if (!KNOWN.has(req.path)) return json(404, { status: "unknown", message: "Not found" })
    if (req.method !== "POST") return json(405, { status: "client_error", message: "Method not allowed" })
    switch (req.path) {
      case Paths.keySharing:
        return enveloped(req, nowMs, ["SHARER", "ID_READER"], entry, (c, _, t) => success(sharingBody(c, t)))
      case Paths.keyBidstream:
        return enveloped(req, nowMs, ["ID_READER"], entry, () => success(bidstreamBody()))
      case Paths.keyLatest:
        return enveloped(req, nowMs, ["ID_READER"], entry, () => success(latestBody()))
      case Paths.tokenGenerate:
        return enveloped(req, nowMs, ["GENERATOR"], entry, generate)
      case Paths.tokenRefresh:
        return refresh(req, nowMs)
      case Paths.identityMap:
        return enveloped(req, nowMs, ["MAPPER"], entry, mapV2)
      case Paths.identityBuckets:
        return enveloped(req, nowMs, ["MAPPER"], entry, bucketsSince)
      case Paths.optoutStatus:
        return enveloped(req, nowMs, ["MAPPER", "ID_READER", "SHARER"], entry, optoutStatus)
      case Paths.tokenValidate:
        return enveloped(req, nowMs, ["GENERATOR"], entry, validate)
      default:
        return enveloped(req, nowMs, ["MAPPER"], entry, mapV3)
    }
  }

  return route
}
