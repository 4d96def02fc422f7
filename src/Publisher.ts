/**
 * Publisher programs: exchange a user's email or phone (hashed locally) for
 * an identity with `POST /v2/token/generate`, and keep that identity alive
 * with `POST /v2/token/refresh`.
 *
 * Opt-out is a normal outcome, not a failure: both calls succeed with a
 * {@link TokenResponse} that is either `Success` (with the new
 * {@link IdentityTokens.IdentityTokens}) or `OptOut`. Everything else is a
 * typed error: the operator's 400/401/403 answers are mapped to
 * {@link ClientError}, {@link Unauthorized}, {@link InvalidRefreshToken} and
 * {@link ExpiredRefreshToken}; other statuses, network failures, timeouts and
 * undecryptable responses stay transport errors (`OperatorRejected`,
 * `OperatorUnreachable`, `Timeout`, `EnvelopeError`).
 *
 * No error message ever contains a token, a key or DII.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdentityTokens, Publisher, TokenGenerateInput } from "effect-uid2"
 *
 * // At login: the identity's JSON to keep in the session; undefined on opt-out.
 * const login = (email: string) =>
 *   Effect.gen(function*() {
 *     const input = yield* TokenGenerateInput.fromEmail(email) // normalized and hashed locally
 *     const response = yield* Publisher.PublisherClient.generateToken(input)
 *     return Publisher.identityJsonString(response)
 *   })
 *
 * // On each later request: keep, refresh or drop the stored identity.
 * const onRequest = (stored: string) =>
 *   Effect.gen(function*() {
 *     const identity = yield* IdentityTokens.fromJsonString(stored)
 *     const session = yield* Publisher.PublisherClient.refreshIfNeeded(identity)
 *     return Publisher.SessionResult.$match(session, {
 *       Keep: (kept) => IdentityTokens.toJsonString(kept.identity),
 *       Refreshed: (refreshed) => IdentityTokens.toJsonString(refreshed.identity),
 *       Drop: () => undefined
 *     })
 *   })
 *
 * const program = login("user@example.com").pipe(
 *   Effect.provide(Publisher.layerConfig()) // UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
 * )
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Crypto from "./Crypto.js"
import * as Envelope from "./Envelope.js"
import type { InvalidClientSecret } from "./Envelope.js"
import * as HttpTransport from "./HttpTransport.js"
import * as IdentityTokens from "./IdentityTokens.js"
import { refreshResponseKeyBytes } from "./internal/envelopeBytes.js"
import * as Json from "./internal/jsonBounds.js"
import * as TokenGenerateInput from "./TokenGenerateInput.js"
import type { OperatorRejected, TransportError } from "./TransportError.js"

// ---------------------------------------------------------------------------
// Constants

/**
 * The token generate endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const GENERATE_PATH = "/v2/token/generate"

/**
 * The token refresh endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const REFRESH_PATH = "/v2/token/refresh"

/**
 * The token validate endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const VALIDATE_PATH = "/v2/token/validate"

// ---------------------------------------------------------------------------
// Results

/**
 * The outcome of a token generate or refresh:
 *
 * - `Success`: the operator issued a new identity; store
 *   {@link identityJsonString} in the user's session.
 * - `OptOut`: the user has opted out. Store nothing (generate) or discard the
 *   session identity (refresh).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenResponse = Data.TaggedEnum<{
  readonly Success: { readonly identity: IdentityTokens.IdentityTokens }
  readonly OptOut: {}
}>

/**
 * Constructors (`TokenResponse.Success({ identity })`,
 * `TokenResponse.OptOut()`), guards (`$is`) and `$match` for
 * {@link TokenResponse}.
 *
 * @since 0.1.0
 * @category models
 */
export const TokenResponse = Data.taggedEnum<TokenResponse>()

/**
 * The result of {@link PublisherClientShape.generateToken}.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenGenerateResponse = TokenResponse

/**
 * The result of {@link PublisherClientShape.refreshToken}.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenRefreshResponse = TokenResponse

/**
 * `true` for `Success` (Java `isSuccess()`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSuccess = (
  self: TokenResponse
): self is Data.TaggedEnum.Value<TokenResponse, "Success"> => self._tag === "Success"

/**
 * `true` for `OptOut` (Java `isOptout()`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isOptout = (self: TokenResponse): self is Data.TaggedEnum.Value<TokenResponse, "OptOut"> =>
  self._tag === "OptOut"

/**
 * The new identity, or `undefined` on opt-out (Java `getIdentity()`).
 *
 * @since 0.1.0
 * @category getters
 */
export const identity = (self: TokenResponse): IdentityTokens.IdentityTokens | undefined =>
  self._tag === "Success" ? self.identity : undefined

/**
 * The new identity's JSON text to store in the session, or `undefined` on
 * opt-out (Java `getIdentityJsonString()`).
 *
 * @since 0.1.0
 * @category getters
 */
export const identityJsonString = (self: TokenResponse): string | undefined =>
  self._tag === "Success" ? IdentityTokens.toJsonString(self.identity) : undefined

/**
 * Why {@link PublisherClientShape.refreshIfNeeded} dropped the identity:
 *
 * - `NotRefreshable`: the refresh token has expired (or is missing); no
 *   request was made.
 * - `OptOut`: the operator answered the refresh with `optout`.
 * - `InvalidRefreshToken` / `ExpiredRefreshToken`: the operator rejected the
 *   refresh token (400 `invalid_token` / `expired_token`).
 *
 * @since 0.1.0
 * @category models
 */
export type DropReason = "NotRefreshable" | "OptOut" | "InvalidRefreshToken" | "ExpiredRefreshToken"

/**
 * What to do with the session identity, decided on each request:
 *
 * - `Keep`: still fresh; keep using `identity` (the same one).
 * - `Refreshed`: it was due and has been refreshed; store the new `identity`.
 * - `Drop`: remove it from the session (`reason` says why).
 *
 * @since 0.1.0
 * @category models
 */
export type SessionResult = Data.TaggedEnum<{
  readonly Keep: { readonly identity: IdentityTokens.IdentityTokens }
  readonly Refreshed: { readonly identity: IdentityTokens.IdentityTokens }
  readonly Drop: { readonly reason: DropReason }
}>

/**
 * Constructors, guards (`$is`) and `$match` for {@link SessionResult}.
 *
 * @since 0.1.0
 * @category models
 */
export const SessionResult = Data.taggedEnum<SessionResult>()

// ---------------------------------------------------------------------------
// Errors

/**
 * Which publisher call failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type Operation = "generate" | "refresh" | "validate"

/**
 * The most characters of operator-provided text (a status, a message) an
 * error keeps; longer text is cut there and ends with `…`.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_OPERATOR_TEXT = 256

// Cut at a code point boundary, so the kept text is well-formed.
const clip = (text: string): string => {
  if (text.length <= MAX_OPERATOR_TEXT) return text
  const last = text.charCodeAt(MAX_OPERATOR_TEXT - 1)
  const end = last >= 0xd800 && last <= 0xdbff ? MAX_OPERATOR_TEXT - 1 : MAX_OPERATOR_TEXT
  return `${text.slice(0, end)}…`
}

const clipOptional = (text: string | undefined): string | undefined => text === undefined ? undefined : clip(text)

/**
 * The operator answered HTTP 200 with a status other than `success` or
 * `optout`, e.g. `insufficient_user_consent` from an EUID operator when the
 * TCF string lacks consent. `status` keeps at most {@link MAX_OPERATOR_TEXT}
 * characters.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedStatus extends Data.TaggedError("UnexpectedStatus")<{
  readonly operation: Operation
  readonly status: string
}> {
  constructor(args: { readonly operation: Operation; readonly status: string }) {
    super({ operation: args.operation, status: clip(args.status) })
  }
  override get message() {
    return `Got unexpected token ${this.operation} status: ${this.status}`
  }
}

/**
 * The operator rejected the request with HTTP 400 (`client_error`: missing or
 * invalid identifier, invalid consent string, malformed envelope…).
 * `operatorMessage` is the operator's explanation, e.g. `"Invalid Identifier"`.
 * Both texts keep at most {@link MAX_OPERATOR_TEXT} characters.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClientError extends Data.TaggedError("ClientError")<{
  readonly operation: Operation
  readonly httpStatus: number
  readonly status?: string | undefined
  readonly operatorMessage?: string | undefined
}> {
  constructor(args: {
    readonly operation: Operation
    readonly httpStatus: number
    readonly status?: string | undefined
    readonly operatorMessage?: string | undefined
  }) {
    super({
      operation: args.operation,
      httpStatus: args.httpStatus,
      status: clipOptional(args.status),
      operatorMessage: clipOptional(args.operatorMessage)
    })
  }
  override get message() {
    const status = this.status === undefined ? "" : ` ${this.status}`
    const text = this.operatorMessage === undefined ? "" : `: ${this.operatorMessage}`
    return `token ${this.operation} rejected with HTTP ${this.httpStatus}${status}${text}`
  }
}

/**
 * The operator refused the API key (HTTP 401 or 403): unknown or revoked key,
 * or a key without the GENERATOR role.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly operation: Operation
  readonly httpStatus: number
  readonly status?: string | undefined
}> {
  constructor(args: {
    readonly operation: Operation
    readonly httpStatus: number
    readonly status?: string | undefined
  }) {
    super({ operation: args.operation, httpStatus: args.httpStatus, status: clipOptional(args.status) })
  }
  override get message() {
    return `token ${this.operation} unauthorized (HTTP ${this.httpStatus}): check the API key and its roles`
  }
}

/**
 * The operator does not accept the refresh token (HTTP 400 `invalid_token`).
 * The identity cannot be refreshed; drop it.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRefreshToken extends Data.TaggedError("InvalidRefreshToken")<{
  readonly operatorMessage?: string | undefined
}> {
  constructor(args: { readonly operatorMessage?: string | undefined }) {
    super({ operatorMessage: clipOptional(args.operatorMessage) })
  }
  override get message() {
    return "the operator rejected the refresh token as invalid"
  }
}

/**
 * The operator says the refresh token has expired (HTTP 400 `expired_token`).
 * The identity cannot be refreshed; drop it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpiredRefreshToken extends Data.TaggedError("ExpiredRefreshToken")<{
  readonly operatorMessage?: string | undefined
}> {
  constructor(args: { readonly operatorMessage?: string | undefined }) {
    super({ operatorMessage: clipOptional(args.operatorMessage) })
  }
  override get message() {
    return "the operator rejected the refresh token as expired"
  }
}

/**
 * Refused locally, without a request: the identity is no longer refreshable
 * at the current time (its `refresh_expires` has passed, or it has no refresh
 * token). Drop it.
 *
 * @since 0.1.0
 * @category errors
 */
export class IdentityNotRefreshable extends Data.TaggedError("IdentityNotRefreshable")<{
  /** The identity's `refresh_expires`, epoch ms. */
  readonly refreshExpires: number
  /** The time of the check, epoch ms. */
  readonly nowMs: number
}> {
  override get message() {
    return `identity is not refreshable: refresh_expires ${this.refreshExpires} is before now ${this.nowMs}` +
      " or the refresh token is missing"
  }
}

/**
 * The (decrypted) response could not be used: too long or too deep, not a
 * JSON object, no `status`, or a `success` whose identity is unusable — an
 * invalid `body`, an empty token, a `refresh_response_key` that is not a key,
 * or (generate and refresh alike) an identity already expired or no longer
 * refreshable when it arrives ("Invalid identity in token refresh response:
 * identity_expires has passed"). `detail` names the problem without echoing
 * values.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidResponse extends Data.TaggedError("InvalidResponse")<{
  readonly operation: Operation
  readonly detail: string
}> {
  override get message() {
    return this.detail
  }
}

/**
 * Every way {@link PublisherClientShape.generateToken} can fail. `OperatorRejected`
 * remains for statuses other than 400/401/403 (e.g. 500 `unknown`, or 429/503
 * after the transport's retries).
 *
 * @since 0.1.0
 * @category errors
 */
export type GenerateTokenError = UnexpectedStatus | ClientError | Unauthorized | InvalidResponse | TransportError

/**
 * Every way {@link PublisherClientShape.refreshToken} can fail.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshTokenError =
  | UnexpectedStatus
  | ClientError
  | Unauthorized
  | InvalidRefreshToken
  | ExpiredRefreshToken
  | IdentityNotRefreshable
  | InvalidResponse
  | TransportError

/**
 * Every way {@link PublisherClientShape.refreshIfNeeded} can fail: the refresh
 * errors except those that mean "drop the identity", which become
 * `SessionResult.Drop`. On any of these the session identity is left as it
 * was, so a transient failure can be retried on the next request.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshIfNeededError = Exclude<
  RefreshTokenError,
  InvalidRefreshToken | ExpiredRefreshToken | IdentityNotRefreshable
>

// ---------------------------------------------------------------------------
// Response handling (pure)

/**
 * The longest decrypted generate or refresh response accepted, in UTF-16
 * code units (64 KiB: twice the longest identity
 * {@link IdentityTokens.MAX_JSON_LENGTH}). Longer text is rejected before it
 * is parsed, as is text nested deeper than
 * {@link IdentityTokens.MAX_JSON_DEPTH}.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_RESPONSE_LENGTH = 2 * IdentityTokens.MAX_JSON_LENGTH

const isJsonObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const invalid = (operation: Operation, detail: string) => Either.left(new InvalidResponse({ operation, detail }))

const invalidIdentity = (operation: Operation, problem: string) =>
  invalid(operation, `Invalid identity in token ${operation} response: ${problem}`)

const TEXT_PROBLEMS: Record<Json.TextViolation, string> = {
  TooLong: `is longer than ${MAX_RESPONSE_LENGTH} characters`,
  TooDeep: `nests arrays and objects more than ${Json.MAX_DEPTH} deep`,
  NotJson: "is not valid JSON"
}

/**
 * What makes an identity unusable whatever the time: an empty token, or a
 * `refresh_response_key` that is missing or not a key (the next refresh
 * could not be decrypted).
 */
const identityProblem = (identity: IdentityTokens.IdentityTokens): string | undefined =>
  identity.advertisingToken.length === 0
    ? "advertising_token is empty"
    : identity.refreshToken.length === 0
    ? "refresh_token is empty"
    : identity.refreshResponseKey === undefined
    ? "refresh_response_key is missing"
    : refreshResponseKeyBytes(identity.refreshResponseKey) === undefined
    ? "refresh_response_key is not standard Base64 of 32 bytes"
    : undefined

const parseUnguarded = (
  operation: Operation,
  json: string
): Either.Either<TokenResponse, UnexpectedStatus | InvalidResponse> => {
  if (typeof json !== "string") return invalid(operation, `token ${operation} response is not text`)
  const parsed = Json.parseText(json, MAX_RESPONSE_LENGTH, Json.MAX_DEPTH)
  if (!parsed.ok) return invalid(operation, `token ${operation} response ${TEXT_PROBLEMS[parsed.violation]}`)
  const response = parsed.value
  if (!isJsonObject(response)) return invalid(operation, `token ${operation} response is not a JSON object`)
  const status = response["status"]
  if (typeof status !== "string") return invalid(operation, `token ${operation} response has no status`)
  switch (status) {
    case "success":
      return Either.flatMap(
        Either.mapLeft(IdentityTokens.fromBody(response["body"]), (error) =>
          new InvalidResponse({
            operation,
            detail: `Invalid identity in token ${operation} response: ${error.message}`
          })),
        (identity) => {
          const problem = identityProblem(identity)
          return problem === undefined
            ? Either.right(TokenResponse.Success({ identity }))
            : invalidIdentity(operation, problem)
        }
      )
    case "optout":
      return Either.right(TokenResponse.OptOut())
    default:
      return Either.left(new UnexpectedStatus({ operation, status }))
  }
}

/**
 * Interprets the decrypted JSON text of a generate or refresh response:
 * `success` → `Success` with the identity from `body`, `optout` → `OptOut`,
 * any other status → {@link UnexpectedStatus}. A `success` must carry an
 * identity the publisher can use later: non-empty tokens and a
 * `refresh_response_key` that is standard Base64 of 32 bytes, else
 * {@link InvalidResponse}. Text longer than {@link MAX_RESPONSE_LENGTH} or
 * nested deeper than {@link IdentityTokens.MAX_JSON_DEPTH} is rejected before
 * it is parsed. Total: any input gives a result or one of the two errors.
 * The identity's times are checked by {@link validateIdentity}.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseResponse = (
  operation: Operation,
  json: string
): Either.Either<TokenResponse, UnexpectedStatus | InvalidResponse> => {
  try {
    return parseUnguarded(operation, json)
  } catch {
    // Last resort; every known input is handled above.
    return invalid(operation, `token ${operation} response could not be read`)
  }
}

/**
 * Checks a new identity, from a generate or a refresh, at `nowMs`: its
 * advertising token must not have expired (`identity_expires`) and it must be
 * refreshable (`refresh_expires`), else
 * `InvalidResponse("Invalid identity in token … response: …")` naming the
 * field. An `OptOut` passes unchanged.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateIdentity = (
  operation: Operation,
  response: TokenResponse,
  nowMs: number
): Either.Either<TokenResponse, InvalidResponse> => {
  if (response._tag !== "Success") return Either.right(response)
  if (IdentityTokens.hasIdentityExpired(response.identity, nowMs)) {
    return invalidIdentity(operation, "identity_expires has passed")
  }
  if (!IdentityTokens.isRefreshable(response.identity, nowMs)) {
    return invalidIdentity(operation, "refresh_expires has passed")
  }
  return Either.right(response)
}

const clientError = (operation: Operation, error: OperatorRejected): ClientError =>
  new ClientError({
    operation,
    httpStatus: error.httpStatus,
    status: error.status,
    operatorMessage: error.operatorMessage
  })

const isUnauthorized = (error: OperatorRejected): boolean => error.httpStatus === 401 || error.httpStatus === 403

/** 400 → ClientError, 401/403 → Unauthorized, anything else stays a transport error. */
const mapGenerateRejected = (error: OperatorRejected): ClientError | Unauthorized | OperatorRejected =>
  error.httpStatus === 400
    ? clientError("generate", error)
    : isUnauthorized(error)
    ? new Unauthorized({ operation: "generate", httpStatus: error.httpStatus, status: error.status })
    : error

/** Like {@link mapGenerateRejected}, plus 400 `invalid_token` / `expired_token`. */
const mapRefreshRejected = (
  error: OperatorRejected
): ClientError | Unauthorized | InvalidRefreshToken | ExpiredRefreshToken | OperatorRejected => {
  if (error.httpStatus === 400 && error.status === "invalid_token") {
    return new InvalidRefreshToken({ operatorMessage: error.operatorMessage })
  }
  if (error.httpStatus === 400 && error.status === "expired_token") {
    return new ExpiredRefreshToken({ operatorMessage: error.operatorMessage })
  }
  return error.httpStatus === 400
    ? clientError("refresh", error)
    : isUnauthorized(error)
    ? new Unauthorized({ operation: "refresh", httpStatus: error.httpStatus, status: error.status })
    : error
}

const fromEither = <A, E>(either: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.isRight(either) ? Effect.succeed(either.right) : Effect.fail(either.left)

const utf8 = new TextEncoder()

// ---------------------------------------------------------------------------
// Token validation

/**
 * The DII to check a token against with
 * {@link PublisherClientShape.validateToken}, sent exactly as given (this is
 * how a publisher tests its own normalization and hashing): an email
 * (normalized or not), the Base64 SHA-256 of a normalized email, a phone in
 * E.164 form, or the Base64 SHA-256 of one.
 *
 * @since 0.1.0
 * @category models
 */
export type ValidateDii =
  | { readonly email: string }
  | { readonly emailHash: string }
  | { readonly phone: string }
  | { readonly phoneHash: string }

/**
 * The longest advertising token {@link PublisherClientShape.validateToken}
 * sends (characters); real ones are a few hundred.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_VALIDATE_TOKEN_LENGTH = 4_096

/**
 * The longest DII value {@link PublisherClientShape.validateToken} sends
 * (characters).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_VALIDATE_DII_LENGTH = 1_024

/**
 * Refused locally, without a request: the token or the DII is not a string
 * within its bound ({@link MAX_VALIDATE_TOKEN_LENGTH},
 * {@link MAX_VALIDATE_DII_LENGTH}), or the DII does not have exactly one of
 * `email`, `emailHash`, `phone`, `phoneHash`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidValidateInput extends Data.TaggedError("InvalidValidateInput")<{ readonly detail: string }> {
  override get message() {
    return `token validate input rejected: ${this.detail}`
  }
}

/**
 * Every way {@link PublisherClientShape.validateToken} can fail. A token the
 * operator cannot attribute to the caller (another site's, or not one of its
 * tokens) is a 400: {@link ClientError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ValidateTokenError =
  | InvalidValidateInput
  | UnexpectedStatus
  | ClientError
  | Unauthorized
  | InvalidResponse
  | TransportError

const VALIDATE_FIELDS = [
  ["email", "email"],
  ["emailHash", "email_hash"],
  ["phone", "phone"],
  ["phoneHash", "phone_hash"]
] as const

/** The request JSON of a validate call, or why it cannot be sent. */
const validateRequestJson = (token: unknown, dii: unknown): Either.Either<string, InvalidValidateInput> => {
  const reject = (detail: string) => Either.left(new InvalidValidateInput({ detail }))
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_VALIDATE_TOKEN_LENGTH) {
    return reject(`the token must be a non-empty string of at most ${MAX_VALIDATE_TOKEN_LENGTH} characters`)
  }
  if (typeof dii !== "object" || dii === null) return reject("the DII must be an object")
  const present = VALIDATE_FIELDS.filter(([key]) => (dii as Record<string, unknown>)[key] !== undefined)
  if (present.length !== 1) return reject("the DII must have exactly one of email, emailHash, phone, phoneHash")
  const [key, field] = present[0]!
  const value = (dii as Record<string, unknown>)[key]
  if (typeof value !== "string" || value.length > MAX_VALIDATE_DII_LENGTH) {
    return reject(`${key} must be a string of at most ${MAX_VALIDATE_DII_LENGTH} characters`)
  }
  return Either.right(JSON.stringify({ token, [field]: value }))
}

/** `{"body": true|false, "status": "success"}` → the boolean. */
const parseValidateResponse = (json: string): Either.Either<boolean, UnexpectedStatus | InvalidResponse> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return invalid("validate", "token validate response is not valid JSON")
  }
  if (!isJsonObject(parsed)) return invalid("validate", "token validate response is not a JSON object")
  const status = parsed["status"]
  if (typeof status !== "string") return invalid("validate", "token validate response has no status")
  if (status !== "success") return Either.left(new UnexpectedStatus({ operation: "validate", status }))
  const body = parsed["body"]
  return typeof body === "boolean"
    ? Either.right(body)
    : invalid("validate", "token validate response body is not a boolean")
}

/** 400 → ClientError, 401/403 → Unauthorized, anything else stays a transport error. */
const mapValidateRejected = (error: OperatorRejected): ClientError | Unauthorized | OperatorRejected =>
  error.httpStatus === 400
    ? clientError("validate", error)
    : isUnauthorized(error)
    ? new Unauthorized({ operation: "validate", httpStatus: error.httpStatus, status: error.status })
    : error

// ---------------------------------------------------------------------------
// Service

/**
 * The publisher operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublisherClientShape {
  /**
   * `POST /v2/token/generate` with the input's request JSON in the envelope.
   * `optout` is a successful `OptOut`; `insufficient_user_consent` and other
   * statuses fail with {@link UnexpectedStatus}.
   */
  readonly generateToken: (
    input: TokenGenerateInput.TokenGenerateInput
  ) => Effect.Effect<TokenGenerateResponse, GenerateTokenError>
  /**
   * `POST /v2/token/refresh` with the identity's refresh token as the body;
   * the response is decrypted with its `refresh_response_key` (or read as
   * plain JSON for v1 sessions without one). A new identity is validated at
   * Effect's `Clock` time. An identity that is already not refreshable fails
   * with {@link IdentityNotRefreshable} without a request.
   */
  readonly refreshToken: (
    identity: IdentityTokens.IdentityTokens
  ) => Effect.Effect<TokenRefreshResponse, RefreshTokenError>
  /**
   * The per-request session step at Effect's `Clock`
   * time: `Drop` an identity that is not refreshable, refresh one that is due
   * (`Refreshed`, or `Drop` on opt-out or a rejected refresh token), else
   * `Keep` it.
   */
  readonly refreshIfNeeded: (
    identity: IdentityTokens.IdentityTokens
  ) => Effect.Effect<SessionResult, RefreshIfNeededError>
  /**
   * `POST /v2/token/validate`: `true` when `token` (an advertising token the
   * caller generated) was generated from `dii`, `false` otherwise. The DII is
   * sent exactly as given, so `false` for a hash points at the caller's
   * normalization or hashing. Meant for testing an integration, not for
   * production traffic.
   */
  readonly validateToken: (token: string, dii: ValidateDii) => Effect.Effect<boolean, ValidateTokenError>
}

/**
 * The publisher client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class PublisherClient extends Context.Tag("effect-uid2/PublisherClient")<
  PublisherClient,
  PublisherClientShape
>() {
  /** `yield* PublisherClient.generateToken(input)` */
  static generateToken(
    input: TokenGenerateInput.TokenGenerateInput
  ): Effect.Effect<TokenGenerateResponse, GenerateTokenError, PublisherClient> {
    return Effect.flatMap(PublisherClient, (client) => client.generateToken(input))
  }
  /** `yield* PublisherClient.refreshToken(identity)` */
  static refreshToken(
    identity: IdentityTokens.IdentityTokens
  ): Effect.Effect<TokenRefreshResponse, RefreshTokenError, PublisherClient> {
    return Effect.flatMap(PublisherClient, (client) => client.refreshToken(identity))
  }
  /** `yield* PublisherClient.refreshIfNeeded(identity)` */
  static refreshIfNeeded(
    identity: IdentityTokens.IdentityTokens
  ): Effect.Effect<SessionResult, RefreshIfNeededError, PublisherClient> {
    return Effect.flatMap(PublisherClient, (client) => client.refreshIfNeeded(identity))
  }
}

/**
 * Builds the client over the provided transport and crypto.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<PublisherClientShape, never, HttpTransport.HttpTransport | Crypto.Crypto> = Effect
  .gen(function*() {
    const transport = yield* HttpTransport.HttpTransport
    const crypto = yield* Crypto.Crypto

    // Parsed, then checked at the time it arrived: an identity that is already unusable is refused now,
    // rather than failing every later refresh.
    const accept = (operation: Operation, json: string) =>
      Effect.flatMap(
        fromEither(parseResponse(operation, json)),
        (response) =>
          Effect.flatMap(Clock.currentTimeMillis, (nowMs) => fromEither(validateIdentity(operation, response, nowMs)))
      )

    const generateToken = (input: TokenGenerateInput.TokenGenerateInput) =>
      transport.post(GENERATE_PATH, utf8.encode(TokenGenerateInput.toRequestJson(input))).pipe(
        Effect.catchTag("OperatorRejected", (error) => Effect.fail(mapGenerateRejected(error))),
        Effect.flatMap((json) => accept("generate", json)),
        Effect.withSpan("effect-uid2/Publisher.generateToken")
      )

    const decrypt = (self: IdentityTokens.IdentityTokens, body: string) =>
      self.refreshResponseKey === undefined
        ? Effect.succeed(body) // v1 session (no refresh response key): the operator answers in plain JSON
        : fromEither(Envelope.decodeRefreshResponse(crypto, self.refreshResponseKey, body))

    const refreshToken = (self: IdentityTokens.IdentityTokens) =>
      Effect.gen(function*() {
        const before = yield* Clock.currentTimeMillis
        if (!IdentityTokens.isRefreshable(self, before)) {
          return yield* new IdentityNotRefreshable({ refreshExpires: self.refreshExpires, nowMs: before })
        }
        const body = yield* transport.postRaw(REFRESH_PATH, self.refreshToken).pipe(
          Effect.catchTag("OperatorRejected", (error) => Effect.fail(mapRefreshRejected(error)))
        )
        const json = yield* decrypt(self, body)
        return yield* accept("refresh", json)
      }).pipe(Effect.withSpan("effect-uid2/Publisher.refreshToken"))

    type Step = Effect.Effect<SessionResult, RefreshIfNeededError>
    const refreshIfNeeded = (self: IdentityTokens.IdentityTokens): Step =>
      Effect.flatMap(IdentityTokens.sessionActionNow(self), (action): Step => {
        switch (action) {
          case "keep":
            return Effect.succeed(SessionResult.Keep({ identity: self }))
          case "drop":
            return Effect.succeed(SessionResult.Drop({ reason: "NotRefreshable" }))
          case "refresh":
            return refreshToken(self).pipe(
              Effect.map((response) =>
                response._tag === "Success"
                  ? SessionResult.Refreshed({ identity: response.identity })
                  : SessionResult.Drop({ reason: "OptOut" })
              ),
              Effect.catchTags({
                IdentityNotRefreshable: () => Effect.succeed(SessionResult.Drop({ reason: "NotRefreshable" })),
                InvalidRefreshToken: () => Effect.succeed(SessionResult.Drop({ reason: "InvalidRefreshToken" })),
                ExpiredRefreshToken: () => Effect.succeed(SessionResult.Drop({ reason: "ExpiredRefreshToken" }))
              })
            )
        }
      })

    const validateToken = (token: string, dii: ValidateDii) =>
      fromEither(validateRequestJson(token, dii)).pipe(
        Effect.flatMap((json) =>
          transport.post(VALIDATE_PATH, utf8.encode(json)).pipe(
            Effect.catchTag("OperatorRejected", (error) => Effect.fail(mapValidateRejected(error)))
          )
        ),
        Effect.flatMap((json) => fromEither(parseValidateResponse(json))),
        Effect.withSpan("effect-uid2/Publisher.validateToken")
      )

    return PublisherClient.of({ generateToken, refreshToken, refreshIfNeeded, validateToken })
  })

// ---------------------------------------------------------------------------
// Layers

/**
 * Options of the operator-backed layers: operator URL, API key, client secret,
 * timeout, retry policy and response body limit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpTransport.Options {}

/**
 * The client with its own transport, on the `Crypto` and `HttpClient` the app
 * provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<PublisherClient, InvalidClientSecret, Crypto.Crypto | HttpClient.HttpClient> =>
  Layer.effect(PublisherClient, make).pipe(Layer.provide(HttpTransport.layer(options)))

/**
 * Everything in one layer: node:crypto and Node's HTTP client
 * (`@effect/platform-node`, an optional peer, imported when the layer is
 * built).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<PublisherClient, InvalidClientSecret> =>
  Layer.effect(PublisherClient, make).pipe(
    Layer.provide(HttpTransport.layerNode(options)),
    Layer.provide(Crypto.layerNode)
  )

/**
 * {@link layer} configured from `config`; by default `UID2_BASE_URL`,
 * `UID2_API_KEY` and `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = HttpTransport.config
): Layer.Layer<PublisherClient, InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))
