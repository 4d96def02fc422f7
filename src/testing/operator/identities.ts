/**
 * The test operator's identities: DII parsing and hashing, salt buckets,
 * raw UID derivation and the opted-out identities. Private to the test kit.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { createHash } from "node:crypto"
import * as Dii from "../../Dii.js"
import { type IdentityType, scopeBit, typeBits } from "../../Identity.js"
import * as Base64 from "../../internal/base64.js"
import { readUint32 } from "../../internal/bytes.js"
import type { DiiInput, SaltBucket } from "../TestOperator.js"
import type { Config } from "./config.js"
import { TestOperatorError } from "./errors.js"

/**
 * Test identities with special behaviour, the same as the real operator's.
 *
 * @since 0.1.0
 * @category constants
 */
export const TestIdentities = {
  /** Generate → `optout`; identity map → unmapped `optout`. */
  optoutEmail: "optout@example.com",
  /** Generate → `optout`; identity map → unmapped `optout`. */
  optoutPhone: "+00000000000",
  /** Generate succeeds; refresh → `optout`. */
  refreshOptoutEmail: "refresh-optout@example.com",
  /** Generate succeeds; refresh → `optout`. */
  refreshOptoutPhone: "+00000000002",
  /** Always mapped / generated. */
  validateEmail: "validate@example.com",
  /** Always mapped / generated. */
  validatePhone: "+12345678901",
  /** A TCF string with sufficient consent for EUID. */
  sufficientConsent: "CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA",
  /** A TCF string an EUID operator answers with `insufficient_user_consent`. */
  insufficientConsent: "CPehXK9PehXK9ABAMBFRACBoADAAAEJAAIYgAKwAQAKgArABAAqAAA"
} as const

/**
 * The `opted_out_since` (epoch ms) that `/v2/optout/status` reports for the
 * raw UIDs of the built-in opt-out test identities.
 *
 * @since 0.1.0
 * @category constants
 */
export const TEST_IDENTITIES_OPTED_OUT_SINCE = 1_633_643_601_000

const DAY = 86_400_000
const SALT_REFRESH_MS = 30 * DAY
const PREVIOUS_UID_WINDOW_MS = 90 * DAY

/** An identity as the operator keeps it: its type and first-level hash. */
export interface ResolvedIdentity {
  readonly type: IdentityType
  readonly firstLevelHash: Uint8Array
}

interface Bucket {
  readonly index: number
  readonly id: string
  salt: string
  previousSalt: string | undefined
  generation: number
  lastUpdated: number
  refreshFrom: number
}

const utf8 = new TextEncoder()
const sha256 = (data: Uint8Array | string): Uint8Array =>
  new Uint8Array(createHash("sha256").update(typeof data === "string" ? utf8.encode(data) : data).digest())

/** The request fields that carry an identity. */
export const IDENTITY_FIELDS = ["email", "email_hash", "phone", "phone_hash"] as const
/** One of {@link IDENTITY_FIELDS}. */
export type IdentityField = (typeof IDENTITY_FIELDS)[number]
/** The error message when not exactly one identity field is given. */
export const MISSING_EXACTLY_ONE =
  "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified"

const HEX_64 = /^[0-9a-fA-F]{64}$/

/**
 * The identity hash the operator accepts for `field`: a valid email or a
 * normalized phone, hashed here; or a given hash of 44 Base64 characters or
 * 64 hex digits (anything else is an invalid identifier).
 */
const identityHash = (field: IdentityField, value: unknown): Uint8Array | undefined => {
  if (typeof value !== "string") return undefined
  switch (field) {
    case "email":
      return Either.match(Dii.normalizeEmail(value), { onLeft: () => undefined, onRight: (e) => sha256(e) })
    case "phone":
      return Dii.isPhoneNormalized(value) ? sha256(value) : undefined
    case "email_hash":
    case "phone_hash":
      if (value.length === 44) return Base64.decode(value, "standard")
      if (HEX_64.test(value)) return new Uint8Array(Buffer.from(value, "hex"))
      return undefined
  }
}

const fieldOf = (input: DiiInput): [IdentityField, string] =>
  "email" in input
    ? ["email", input.email]
    : "phone" in input
    ? ["phone", input.phone]
    : "emailHash" in input
    ? ["email_hash", input.emailHash]
    : ["phone_hash", input.phoneHash]

const typeOfField = (field: IdentityField): IdentityType =>
  field === "phone" || field === "phone_hash" ? "Phone" : "Email"

/** The salt buckets and opt-outs of one operator, with the raw UIDs they give. */
export const makeIdentities = (config: Config, startMs: number) => {
  const { scope } = config

  const firstLevelSalt = Base64.encode(sha256(`${config.seed}:first-level-salt`))
  const saltFor = (index: number, generation: number) =>
    Base64.encode(sha256(`${config.seed}:salt:${index}:${generation}`))
  const buckets: Array<Bucket> = Array.from({ length: config.bucketCount }, (_, index) => {
    const lastUpdated = startMs - ((index % 30) + 1) * DAY
    return {
      index,
      id: Base64.encode(sha256(`${config.seed}:bucket:${index}`)).replace(/[^A-Za-z0-9]/g, "").slice(0, 10),
      salt: saltFor(index, 0),
      previousSalt: undefined,
      generation: 0,
      lastUpdated,
      refreshFrom: lastUpdated + SALT_REFRESH_MS
    }
  })
  const publicBucket = (b: Bucket): SaltBucket => ({
    id: b.id,
    lastUpdated: b.lastUpdated,
    refreshFrom: b.refreshFrom,
    rotated: b.previousSalt !== undefined
  })

  const firstLevelHashOf = (identityHashBytes: Uint8Array): Uint8Array =>
    sha256(Base64.encode(identityHashBytes) + firstLevelSalt)
  const bucketOf = (flh: Uint8Array): Bucket => buckets[readUint32(flh, 0) % buckets.length]!
  const rawUidWith = (flh: Uint8Array, type: IdentityType, salt: string): string => {
    const out = new Uint8Array(33)
    out[0] = (scopeBit(scope) << 4) | (typeBits(type) << 2)
    out.set(sha256(Base64.encode(flh) + salt), 1)
    return Base64.encode(out)
  }
  const mapping = (id: ResolvedIdentity, nowMs: number) => {
    const bucket = bucketOf(id.firstLevelHash)
    const previous = bucket.previousSalt !== undefined && nowMs - bucket.lastUpdated < PREVIOUS_UID_WINDOW_MS
      ? rawUidWith(id.firstLevelHash, id.type, bucket.previousSalt)
      : null
    const refreshFromMs = bucket.refreshFrom >= nowMs
      ? bucket.refreshFrom
      : Math.floor(nowMs / DAY) * DAY + DAY // start of the next UTC day
    return {
      bucket,
      current: rawUidWith(id.firstLevelHash, id.type, bucket.salt),
      previous,
      refreshFromSeconds: Math.floor(refreshFromMs / 1000)
    }
  }

  const resolve = (field: IdentityField, value: unknown): ResolvedIdentity | undefined => {
    const hash = identityHash(field, value)
    return hash === undefined ? undefined : { type: typeOfField(field), firstLevelHash: firstLevelHashOf(hash) }
  }

  /** Opted-out identities by first-level hash, with the time they opted out. */
  const optedOut = new Map<string, { readonly id: ResolvedIdentity; readonly sinceMs: number }>()
  const refreshOptedOut = new Set<string>()
  const flhKey = (id: ResolvedIdentity) => Base64.encode(id.firstLevelHash)
  const optOut = (id: ResolvedIdentity, sinceMs: number) => {
    if (!optedOut.has(flhKey(id))) optedOut.set(flhKey(id), { id, sinceMs })
  }
  optOut(resolve("email", TestIdentities.optoutEmail)!, TEST_IDENTITIES_OPTED_OUT_SINCE)
  optOut(resolve("phone", TestIdentities.optoutPhone)!, TEST_IDENTITIES_OPTED_OUT_SINCE)
  refreshOptedOut.add(flhKey(resolve("email", TestIdentities.refreshOptoutEmail)!))
  refreshOptedOut.add(flhKey(resolve("phone", TestIdentities.refreshOptoutPhone)!))
  const isOptedOut = (id: ResolvedIdentity) => optedOut.has(flhKey(id))

  /** The raw UIDs (current, and previous while it is still reported) of every opted-out identity, with its time. */
  const optedOutRawUids = (nowMs: number): ReadonlyMap<string, number> => {
    const out = new Map<string, number>()
    for (const { id, sinceMs } of optedOut.values()) {
      const m = mapping(id, nowMs)
      out.set(m.current, sinceMs)
      if (m.previous !== null) out.set(m.previous, sinceMs)
    }
    return out
  }

  const rotateSalts = (bucketIds: ReadonlyArray<string> | undefined, nowMs: number): ReadonlyArray<SaltBucket> => {
    const selected = bucketIds === undefined ? buckets : buckets.filter((b) => bucketIds.includes(b.id))
    for (const b of selected) {
      b.previousSalt = b.salt
      b.generation++
      b.salt = saltFor(b.index, b.generation)
      b.lastUpdated = nowMs
      b.refreshFrom = nowMs + SALT_REFRESH_MS
    }
    return selected.map(publicBucket)
  }

  /** The identity of a scripting call's DII, or a `TestOperatorError`. */
  const resolveInput = (input: DiiInput): Effect.Effect<ResolvedIdentity, TestOperatorError> => {
    const [field, value] = fieldOf(input)
    const id = resolve(field, value)
    return id === undefined
      ? Effect.fail(new TestOperatorError({ detail: `invalid ${field.replace("_", " ")}` }))
      : Effect.succeed(id)
  }

  return {
    buckets: (): ReadonlyArray<Bucket> => buckets,
    saltBuckets: (): ReadonlyArray<SaltBucket> => buckets.map(publicBucket),
    rotateSalts,
    mapping,
    resolve,
    resolveInput,
    isOptedOut,
    isRefreshOptedOut: (id: ResolvedIdentity) => refreshOptedOut.has(flhKey(id)),
    optOut,
    optedOutRawUids
  }
}

/** What {@link makeIdentities} returns. */
export type Identities = ReturnType<typeof makeIdentities>
