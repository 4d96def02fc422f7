/**
 * The identity map endpoints of the test operator: `/v2/identity/map`,
 * `/v3/identity/map` and `/v2/identity/buckets`. Private to the test kit.
 */
import type { Client } from "./clients.js"
import { type Identities, IDENTITY_FIELDS, type IdentityField, MISSING_EXACTLY_ONE } from "./identities.js"
import { type Answer, clientError, isRecord, success } from "./protocol.js"

/** Largest identity map request. */
const MAX_MAP_ITEMS = 5_000

const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/

/** An ISO-8601 local date-time (`since_timestamp`) as UTC ms; `undefined` when invalid. */
const parseIsoLocal = (text: string): number | undefined => {
  const m = ISO_LOCAL.exec(text)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s, frac] = m.slice(1).map((x) => x ?? "0")
  const ms = Number((frac ?? "0").padEnd(3, "0").slice(0, 3))
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms)
  const check = new Date(t)
  return check.getUTCFullYear() === Number(y) && check.getUTCMonth() === Number(mo) - 1 &&
      check.getUTCDate() === Number(d) && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60
    ? t
    : undefined
}

/** The identity map and buckets handlers over an operator's identities. */
export const makeIdentityMapEndpoints = (identities: Identities) => {
  const { isOptedOut, mapping, resolve } = identities

  /** Checks map arrays: `undefined` when fine, else the error answer. */
  const checkArrays = (payload: Record<string, unknown>, fields: ReadonlyArray<IdentityField>): Answer | undefined => {
    let total = 0
    for (const f of fields) {
      const value = payload[f]
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        return clientError("Incorrect request format")
      }
      total += value.length
    }
    return total > MAX_MAP_ITEMS
      ? clientError(`Request too large: at most ${MAX_MAP_ITEMS} identifiers per request`)
      : undefined
  }

  const mapV3 = (_client: Client, payload: unknown, nowMs: number): Answer => {
    const missing =
      "Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified"
    if (!isRecord(payload)) return clientError(missing)
    const present = IDENTITY_FIELDS.filter((f) => payload[f] !== undefined)
    if (present.length === 0) return clientError(missing)
    const bad = checkArrays(payload, present)
    if (bad !== undefined) return bad
    const body: Record<string, unknown> = {}
    for (const f of IDENTITY_FIELDS) {
      const values = (payload[f] ?? []) as ReadonlyArray<string>
      body[f] = values.map((value) => {
        const id = resolve(f, value)
        if (id === undefined) return { e: "invalid identifier" }
        if (isOptedOut(id)) return { e: "optout" }
        const m = mapping(id, nowMs)
        return { u: m.current, p: m.previous, r: m.refreshFromSeconds }
      })
    }
    return success(body)
  }

  const mapV2 = (_client: Client, payload: unknown, nowMs: number): Answer => {
    if (!isRecord(payload)) return clientError(MISSING_EXACTLY_ONE)
    const present = IDENTITY_FIELDS.filter((f) => payload[f] !== undefined && payload[f] !== null)
    if (present.length === 0) return clientError(MISSING_EXACTLY_ONE)
    const bad = checkArrays(payload, present)
    if (bad !== undefined) return bad
    const nonEmpty = present.filter((f) => (payload[f] as ReadonlyArray<string>).length > 0)
    if (nonEmpty.length > 1) return clientError(MISSING_EXACTLY_ONE)
    const mapped: Array<unknown> = []
    const unmapped: Array<unknown> = []
    for (const f of nonEmpty) {
      for (const identifier of payload[f] as ReadonlyArray<string>) {
        const id = resolve(f, identifier)
        if (id === undefined) unmapped.push({ identifier, reason: "invalid identifier" })
        else if (isOptedOut(id)) unmapped.push({ identifier, reason: "optout" })
        else {
          const m = mapping(id, nowMs)
          mapped.push({ identifier, advertising_id: m.current, bucket_id: m.bucket.id })
        }
      }
    }
    return success(unmapped.length === 0 ? { mapped } : { mapped, unmapped })
  }

  const bucketsSince = (_client: Client, payload: unknown): Answer => {
    const since = isRecord(payload) ? payload["since_timestamp"] : undefined
    if (since === undefined || since === null) return clientError("missing parameter since_timestamp")
    const sinceMs = typeof since === "string" ? parseIsoLocal(since) : undefined
    if (sinceMs === undefined) return clientError("invalid date, must conform to ISO 8601")
    return success(
      identities.buckets()
        .filter((b) => b.lastUpdated >= sinceMs)
        .map((b) => ({ bucket_id: b.id, last_updated: new Date(b.lastUpdated).toISOString().slice(0, 23) }))
    )
  }

  return { mapV2, mapV3, bucketsSince }
}
