/**
 * `/v2/token/validate` of the test operator: does an advertising token the
 * caller generated belong to the given DII? The token is opened with the
 * operator's own keys. Private to the test kit.
 */
import type { CryptoShape } from "../../Crypto.js"
import * as Base64 from "../../internal/base64.js"
import { readInt32 } from "../../internal/bytes.js"
import { VersionByte } from "../../Token.js"
import type { Client } from "./clients.js"
import { type Identities, IDENTITY_FIELDS, MISSING_EXACTLY_ONE } from "./identities.js"
import type { KeyEntry } from "./keys.js"
import { type Answer, clientError, isRecord, success } from "./protocol.js"

/** Site fields before the raw UID (site id, publisher id, client key id, privacy bits, established, refreshed). */
const SITE_FIELDS = 36
/** Master fields before the site blob (expiry, generated, operator identity, site key id). */
const MASTER_FIELDS = 33

/** The site and raw UID inside a V3/V4 token, or `undefined` when these keys do not open it. */
const openToken = (
  crypto: CryptoShape,
  keyById: (id: number) => KeyEntry | undefined,
  token: string
): { readonly siteId: number; readonly rawUid: string } | undefined => {
  const bytes = Base64.decode(token, "either")
  if (bytes === undefined || bytes.length < 6) return undefined
  if (bytes[1] !== VersionByte.v3 && bytes[1] !== VersionByte.v4) return undefined
  const masterKey = keyById(readInt32(bytes, 2))
  if (masterKey?.kind !== "master") return undefined
  const master = crypto.gcmDecrypt(masterKey.handle, bytes, 6, bytes.length)
  if (master === undefined || master.length < MASTER_FIELDS) return undefined
  const siteKey = keyById(readInt32(master, 29))
  if (siteKey?.kind !== "site") return undefined
  const site = crypto.gcmDecrypt(siteKey.handle, master, MASTER_FIELDS, master.length)
  if (site === undefined || site.length <= SITE_FIELDS) return undefined
  return { siteId: readInt32(site, 0), rawUid: Base64.encode(site.subarray(SITE_FIELDS)) }
}

/** The token validate handler over an operator's keys and identities. */
export const makeValidateEndpoint = (
  crypto: CryptoShape,
  keyById: (id: number) => KeyEntry | undefined,
  identities: Identities
) =>
(client: Client, payload: unknown, nowMs: number): Answer => {
  if (!isRecord(payload)) return clientError("Required Parameter Missing: token")
  const token = payload["token"]
  if (typeof token !== "string" || token.length === 0) return clientError("Required Parameter Missing: token")
  const present = IDENTITY_FIELDS.filter((f) => payload[f] !== undefined && payload[f] !== null)
  if (present.length !== 1) return clientError(MISSING_EXACTLY_ONE)
  const field = present[0]!
  const id = identities.resolve(field, payload[field])
  if (id === undefined) return clientError("Invalid Identifier")
  const opened = openToken(crypto, keyById, token)
  if (opened === undefined) return clientError("Invalid Token")
  if (opened.siteId !== client.siteId) return clientError("Unauthorized to validate token")
  const m = identities.mapping(id, nowMs)
  return success(opened.rawUid === m.current || opened.rawUid === m.previous)
}
