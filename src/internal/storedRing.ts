import * as Either from "effect/Either"
import type { IdentityScope } from "../Identity.js"
import * as KeyRing from "../KeyRing.js"
import type { StoredRing } from "../KeyStore.js"

/**
 * The document persistent key stores keep per slot: the ring in its wire
 * format, when it was fetched, and what it belongs to, so a store can tell a
 * ring of its own from a corrupt, truncated, foreign or other-slot entry.
 */
export interface StoredRingDocument {
  readonly format: typeof FORMAT
  readonly version: typeof VERSION
  readonly slot: string
  readonly identityScope: IdentityScope
  readonly fetchedAt: number
  readonly ring: unknown
}

export const FORMAT = "effect-uid2/key-ring"
export const VERSION = 1

/** What a stored document must belong to; `identityScope` unset accepts either scope. */
export interface Expected {
  readonly slot: string
  readonly identityScope?: IdentityScope | undefined
}

// The only two places the ring's wire format is used, so a codec change stays here.
const ringToWire = (ring: KeyRing.KeyRing): unknown => KeyRing.toBody(ring)
const ringFromWire = (body: unknown): Either.Either<KeyRing.KeyRing, KeyRing.KeyRingParseError> =>
  KeyRing.fromBody(body)

/** The document of `stored` under `slot`, as JSON text. Holds key secrets: encrypt or protect it. */
export const encode = (slot: string, stored: StoredRing): string =>
  JSON.stringify(
    {
      format: FORMAT,
      version: VERSION,
      slot,
      identityScope: stored.ring.identityScope,
      fetchedAt: stored.fetchedAt,
      ring: ringToWire(stored.ring)
    } satisfies StoredRingDocument
  )

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Reads a document back. The failure is a description safe to log: it names
 * what is wrong, never what the document holds.
 */
export const decode = (text: string, expected: Expected): Either.Either<StoredRing, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left("the stored ring is corrupt or truncated (not valid JSON)")
  }
  if (!isRecord(parsed) || parsed["format"] !== FORMAT) {
    return Either.left("the stored entry is not a key ring of this SDK")
  }
  if (parsed["version"] !== VERSION) {
    return Either.left(`the stored ring has format version ${safeNumber(parsed["version"])}, not ${VERSION}`)
  }
  if (parsed["slot"] !== expected.slot) {
    return Either.left("the stored ring belongs to another slot")
  }
  const scope = parsed["identityScope"]
  if (scope !== "UID2" && scope !== "EUID") return Either.left("the stored ring has no identity scope")
  if (expected.identityScope !== undefined && scope !== expected.identityScope) {
    return Either.left(`the stored ring is of identity scope ${scope}, not ${expected.identityScope}`)
  }
  const fetchedAt = parsed["fetchedAt"]
  if (typeof fetchedAt !== "number" || !Number.isSafeInteger(fetchedAt) || fetchedAt < 0) {
    return Either.left("the stored ring has no valid fetch time")
  }
  return Either.match(ringFromWire(parsed["ring"]), {
    onLeft: (error) => Either.left(`the stored ring is malformed: ${error.message}`),
    onRight: (ring) =>
      ring.identityScope === scope
        ? Either.right({ ring, fetchedAt })
        : Either.left("the stored ring's identity scope does not match its keys")
  })
}

// A version number as it may be shown in a message: short, and never a stored string.
const safeNumber = (value: unknown): string =>
  typeof value === "number" && Number.isSafeInteger(value) ? String(value) : "unknown"
