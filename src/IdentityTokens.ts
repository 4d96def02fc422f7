/**
 * The identity a publisher keeps in the user's session: the
 * `body` of a successful token generate/refresh response, kept as its exact
 * JSON text so that fields the SDK does not know (e.g. `user_token`) survive a
 * round trip, plus the time predicates that drive the refresh loop.
 *
 * All timestamps are epoch **milliseconds**; the pure predicates take `nowMs`
 * and the `…Now` variants read Effect's `Clock`.
 *
 * @example
 * ```ts
 * import { Either } from "effect"
 * import { IdentityTokens } from "effect-uid2"
 *
 * declare const stored: string // the identity JSON kept in the user's session
 *
 * const parsed = IdentityTokens.fromJsonString(stored)
 * if (Either.isRight(parsed)) {
 *   const identity = parsed.right
 *   console.log(identity.advertisingToken) // for the ad request
 *   console.log(IdentityTokens.sessionAction(identity, Date.now())) // "keep", "refresh" or "drop"
 *   console.log(IdentityTokens.toJsonString(identity) === stored) // true: the text is kept verbatim
 * } else {
 *   console.log(parsed.left.reason) // e.g. "MissingField"
 * }
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Inspectable from "effect/Inspectable"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as Json from "./internal/jsonBounds.js"
import { locate } from "./internal/parseIssue.js"

// ---------------------------------------------------------------------------
// Errors

/**
 * Why an identity JSON was rejected.
 *
 * - `NotAString`: the value is not a string (e.g. `null` from untyped code).
 * - `TooLong`: the text (or the body's JSON) is longer than
 *   {@link MAX_JSON_LENGTH}; rejected before it is parsed.
 * - `TooDeep`: arrays and objects nest deeper than {@link MAX_JSON_DEPTH};
 *   rejected before it is parsed.
 * - `NotJson`: the text is not valid JSON (or the body cannot be serialized,
 *   or cannot be read).
 * - `NotAnObject`: valid JSON, but not an object.
 * - `MissingField`: a required field is absent.
 * - `InvalidField`: a field has the wrong type (times must be integers).
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidIdentityJsonReason =
  | "NotAString"
  | "TooLong"
  | "TooDeep"
  | "NotJson"
  | "NotAnObject"
  | "MissingField"
  | "InvalidField"

/**
 * The text or body is not a usable identity. The message names the field at
 * fault but never echoes a value: tokens and keys are credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidIdentityJson extends Data.TaggedError("InvalidIdentityJson")<{
  readonly reason: InvalidIdentityJsonReason
  readonly field?: string
}> {
  override get message() {
    switch (this.reason) {
      case "NotAString":
        return "invalid identity JSON: not a string"
      case "TooLong":
        return `invalid identity JSON: longer than ${MAX_JSON_LENGTH} characters`
      case "TooDeep":
        return `invalid identity JSON: nested more than ${MAX_JSON_DEPTH} deep`
      case "NotJson":
        return "invalid identity JSON: not valid JSON"
      case "NotAnObject":
        return "invalid identity JSON: not a JSON object"
      case "MissingField":
        return `invalid identity JSON: missing field ${JSON.stringify(this.field ?? "")}`
      case "InvalidField":
        return `invalid identity JSON: field ${JSON.stringify(this.field ?? "")} has the wrong type`
    }
  }
}

// ---------------------------------------------------------------------------
// Bounds

/**
 * The longest identity JSON accepted, in UTF-16 code units (32 KiB). A real
 * identity is under 2 KB; the session text may come from a cookie the user
 * controls, so longer text is rejected before it is parsed.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_JSON_LENGTH = 32_768

/**
 * The deepest nesting of arrays and objects accepted in identity JSON (an
 * identity is one flat object). Checked without recursion before parsing.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_JSON_DEPTH: number = Json.MAX_DEPTH

// ---------------------------------------------------------------------------
// Schema

/**
 * The wire shape of the identity (the response `body`). Unknown fields are
 * ignored by the decoder; they are kept in the stored JSON text instead.
 *
 * @since 0.1.0
 * @category schemas
 */
export const IdentityTokensJson = Schema.Struct({
  advertising_token: Schema.String,
  refresh_token: Schema.String,
  identity_expires: Schema.Int,
  refresh_expires: Schema.Int,
  refresh_from: Schema.Int,
  refresh_response_key: Schema.optionalWith(Schema.String, { exact: true })
})

/**
 * @since 0.1.0
 * @category schemas
 */
export type IdentityTokensJson = typeof IdentityTokensJson.Type

// ---------------------------------------------------------------------------
// Model

/**
 * Marks {@link IdentityTokens} values.
 *
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("effect-uid2/IdentityTokens")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A parsed identity. Two identities are `Equal` iff their JSON texts are
 * identical. Printing or logging one shows the advertising token and the
 * times, and redacts the refresh token, the refresh response key and the JSON
 * text.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityTokens extends Equal.Equal, Pipeable, Inspectable.Inspectable {
  readonly [TypeId]: TypeId
  /** The token for the bidstream (`advertising_token`). */
  readonly advertisingToken: string
  /** Opaque; the body of the next `/v2/token/refresh` (`refresh_token`). */
  readonly refreshToken: string
  /** When the advertising token expires, epoch ms (`identity_expires`). */
  readonly identityExpires: number
  /** When the refresh token expires, epoch ms (`refresh_expires`). */
  readonly refreshExpires: number
  /** From when the identity should be refreshed, epoch ms (`refresh_from`). */
  readonly refreshFrom: number
  /** Base64 key for the next refresh response; absent in v1 sessions (`refresh_response_key`). */
  readonly refreshResponseKey?: string
  /** The exact JSON text the identity was built from; see {@link toJsonString}. */
  readonly jsonString: string
}

const REDACTED = "<redacted>"

const Proto = {
  [TypeId]: TypeId,
  [Equal.symbol](this: IdentityTokens, that: unknown): boolean {
    return isIdentityTokens(that) && this.jsonString === that.jsonString
  },
  [Hash.symbol](this: IdentityTokens): number {
    return Hash.cached(this, Hash.string(this.jsonString))
  },
  toJSON(this: IdentityTokens) {
    return {
      _id: "IdentityTokens",
      advertisingToken: this.advertisingToken,
      refreshToken: REDACTED,
      identityExpires: this.identityExpires,
      refreshExpires: this.refreshExpires,
      refreshFrom: this.refreshFrom,
      refreshResponseKey: this.refreshResponseKey === undefined ? undefined : REDACTED
    }
  },
  toString(this: IdentityTokens): string {
    return Inspectable.format(this.toJSON())
  },
  [Inspectable.NodeInspectSymbol](this: IdentityTokens) {
    return this.toJSON()
  },
  pipe(this: IdentityTokens) {
    return pipeArguments(this, arguments)
  }
}

const make = (fields: IdentityTokensJson, jsonString: string): IdentityTokens => {
  const self = Object.create(Proto)
  self.advertisingToken = fields.advertising_token
  self.refreshToken = fields.refresh_token
  self.identityExpires = fields.identity_expires
  self.refreshExpires = fields.refresh_expires
  self.refreshFrom = fields.refresh_from
  if (fields.refresh_response_key !== undefined) self.refreshResponseKey = fields.refresh_response_key
  self.jsonString = jsonString
  return self
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isIdentityTokens = (u: unknown): u is IdentityTokens => typeof u === "object" && u !== null && TypeId in u

const decodeFields = Schema.decodeUnknownEither(IdentityTokensJson)

const isJsonObject = (u: unknown): u is object => typeof u === "object" && u !== null && !Array.isArray(u)

const invalid = (reason: InvalidIdentityJsonReason, field?: string) =>
  Either.left(field === undefined ? new InvalidIdentityJson({ reason }) : new InvalidIdentityJson({ reason, field }))

// Last resort for values that throw when read (proxies, getters): still the typed error.
const guarded = (
  parse: () => Either.Either<IdentityTokens, InvalidIdentityJson>
): Either.Either<IdentityTokens, InvalidIdentityJson> => {
  try {
    return parse()
  } catch {
    return invalid("NotJson")
  }
}

const fromParsed = (parsed: unknown, jsonString: () => string): Either.Either<IdentityTokens, InvalidIdentityJson> => {
  if (!isJsonObject(parsed)) return invalid("NotAnObject")
  const decoded = decodeFields(parsed)
  if (Either.isLeft(decoded)) {
    const located = locate(decoded.left.issue)
    const key = located.path[0]
    return invalid(located.missing ? "MissingField" : "InvalidField", typeof key === "string" ? key : undefined)
  }
  let text: string
  try {
    text = jsonString()
  } catch {
    return invalid("NotJson")
  }
  if (text.length > MAX_JSON_LENGTH) return invalid("TooLong")
  return Either.right(make(decoded.right, text))
}

/**
 * Parses a stored identity JSON string (what {@link toJsonString} returned).
 * The required fields are `advertising_token`, `refresh_token`,
 * `identity_expires`, `refresh_expires` and `refresh_from` (integers, epoch
 * ms); `refresh_response_key` may be absent (v1 sessions). The text itself is
 * kept verbatim. Text longer than {@link MAX_JSON_LENGTH} or nested deeper
 * than {@link MAX_JSON_DEPTH} is rejected before it is parsed; any input
 * gives an identity or an {@link InvalidIdentityJson}, never a throw.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJsonString = (json: string): Either.Either<IdentityTokens, InvalidIdentityJson> =>
  guarded(() => {
    if (typeof json !== "string") return invalid("NotAString")
    const parsed = Json.parseText(json, MAX_JSON_LENGTH, MAX_JSON_DEPTH)
    return parsed.ok ? fromParsed(parsed.value, () => json) : invalid(parsed.violation)
  })

/**
 * Builds an identity from the already-parsed `body` object of a generate or
 * refresh response. Its JSON text is the body serialized compactly, keeping
 * the operator's key order and any unknown fields (like the Java SDK's
 * `body.toString()`). A body nested deeper than {@link MAX_JSON_DEPTH}, or
 * whose JSON would be longer than {@link MAX_JSON_LENGTH}, is rejected before
 * it is serialized.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBody = (body: unknown): Either.Either<IdentityTokens, InvalidIdentityJson> =>
  guarded(() => {
    if (!isJsonObject(body)) return invalid("NotAnObject")
    const violation = Json.checkValue(body, MAX_JSON_DEPTH, MAX_JSON_LENGTH)
    if (violation !== undefined) return invalid(violation === "TooDeep" ? "TooDeep" : "TooLong")
    return fromParsed(body, () => {
      const text: unknown = JSON.stringify(body)
      if (typeof text !== "string") throw new Error("not serializable")
      return text
    })
  })

/**
 * The identity's JSON text, byte for byte as it was parsed (or as
 * {@link fromBody} serialized it). Store this in the user's session; the UID2
 * JavaScript SDK accepts it as its `identity` option.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJsonString = (self: IdentityTokens): string => self.jsonString

// ---------------------------------------------------------------------------
// Time predicates

/**
 * `nowMs > identity_expires`: the advertising token has expired.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasIdentityExpired: {
  (nowMs: number): (self: IdentityTokens) => boolean
  (self: IdentityTokens, nowMs: number): boolean
} = dual(2, (self: IdentityTokens, nowMs: number): boolean => nowMs > self.identityExpires)

/**
 * `nowMs > refresh_from`, or the identity has expired. Exactly at
 * `refresh_from` it is not yet due.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDueForRefresh: {
  (nowMs: number): (self: IdentityTokens) => boolean
  (self: IdentityTokens, nowMs: number): boolean
} = dual(
  2,
  (self: IdentityTokens, nowMs: number): boolean => nowMs > self.refreshFrom || hasIdentityExpired(self, nowMs)
)

/**
 * `nowMs <= refresh_expires` and there is a (non-empty) refresh token.
 * Exactly at `refresh_expires` it is still refreshable.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRefreshable: {
  (nowMs: number): (self: IdentityTokens) => boolean
  (self: IdentityTokens, nowMs: number): boolean
} = dual(
  2,
  (self: IdentityTokens, nowMs: number): boolean => nowMs <= self.refreshExpires && self.refreshToken.length > 0
)

/**
 * What to do with a session identity: `"drop"` it if it
 * is not refreshable, `"refresh"` it if it is due, else `"keep"` it.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionAction = "keep" | "refresh" | "drop"

/**
 * The {@link SessionAction} at `nowMs`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const sessionAction: {
  (nowMs: number): (self: IdentityTokens) => SessionAction
  (self: IdentityTokens, nowMs: number): SessionAction
} = dual(
  2,
  (self: IdentityTokens, nowMs: number): SessionAction =>
    !isRefreshable(self, nowMs) ? "drop" : isDueForRefresh(self, nowMs) ? "refresh" : "keep"
)

const atNow = <A>(f: (nowMs: number) => A): Effect.Effect<A> => Effect.map(Clock.currentTimeMillis, f)

/**
 * {@link hasIdentityExpired} at `Clock.currentTimeMillis`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasIdentityExpiredNow = (self: IdentityTokens): Effect.Effect<boolean> =>
  atNow((nowMs) => hasIdentityExpired(self, nowMs))

/**
 * {@link isDueForRefresh} at `Clock.currentTimeMillis`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDueForRefreshNow = (self: IdentityTokens): Effect.Effect<boolean> =>
  atNow((nowMs) => isDueForRefresh(self, nowMs))

/**
 * {@link isRefreshable} at `Clock.currentTimeMillis`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRefreshableNow = (self: IdentityTokens): Effect.Effect<boolean> =>
  atNow((nowMs) => isRefreshable(self, nowMs))

/**
 * {@link sessionAction} at `Clock.currentTimeMillis`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const sessionActionNow = (self: IdentityTokens): Effect.Effect<SessionAction> =>
  atNow((nowMs) => sessionAction(self, nowMs))
