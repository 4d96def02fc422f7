/**
 * `TestOperator`: a real UID2/EUID operator for tests. It serves the operator
 * endpoints the SDK uses (key refresh, token generate and refresh, identity
 * map v2/v3 and buckets) over HTTP on 127.0.0.1 with the real envelope
 * (envelope.md), the real credentials checks, its own key ring and salt
 * buckets, the opt-out test identities, and scripted faults and key rotation.
 * The same handlers are reachable without sockets through
 * {@link httpClient} / {@link layerInProcess}, for deterministic tests under
 * `TestClock`.
 *
 * ```ts
 * import { TestOperator } from "effect-uid2/testing"
 *
 * Effect.gen(function*() {
 *   const operator = yield* TestOperator.make() // scoped: stops with the scope
 *   operator.baseUrl // "http://127.0.0.1:54321"
 *   yield* operator.failNext(2, 503, { retryAfterSeconds: 1 })
 *   const issued = yield* operator.issueToken({ email: "user@example.com" })
 * })
 * ```
 *
 * Behaviour worth knowing (where the real operator is configurable or
 * unclear, this is what the test operator does):
 *
 * - **Auth.** `Authorization: Bearer <api key>` (prefix case-insensitive).
 *   Unknown or absent key → 401 `{"status":"unauthorized"}`. A known key
 *   without the endpoint's role also gets 401 `{"status":"unauthorized"}`,
 *   as the real operator's auth middleware answers. Roles: `/v2/key/sharing`
 *   SHARER or ID_READER; `/v2/key/bidstream` and `/v2/key/latest` ID_READER;
 *   `/v2/token/generate` GENERATOR; identity map and buckets MAPPER.
 *   `/v2/token/refresh` needs no role and no key: without an `Authorization`
 *   header its errors carry the generic status `error` instead of
 *   `invalid_token`/`expired_token`; a header with an unknown key gets 401.
 * - **Clock.** "now" is Effect's `Clock` (or the `now` option) plus an offset
 *   moved by `advanceTime`/`setNow`. The socket server runs on the clock of
 *   the fiber that called {@link make}; the in-process client runs the
 *   handlers in the caller's fiber, so `TestClock` drives them (set it to a
 *   realistic date first: identities established before 2021-03-08T17:00Z
 *   refresh to `optout`, as on the real operator).
 * - **Keys.** One master keyset (sent as `master_keyset_id` 9999999), one
 *   keyset per site (every client's site, every `siteData` site, and any site
 *   `issueToken` is asked for), and a refresh keyset that is never served.
 *   Every DSP may read every site's keys and every site shares with every
 *   other: `/v2/key/sharing` returns all master and site keys, with
 *   `keyset_id` only on the master keys and the caller's own keys.
 * - **Raw UIDs.** v3-style, 33 bytes: metadata byte `(scope << 4) | (type <<
 *   2)` then `SHA-256(Base64(firstLevelHash) ‖ bucketSalt)`, where
 *   `firstLevelHash = SHA-256(Base64(SHA-256(dii)) ‖ firstLevelSalt)` and the
 *   salt bucket is chosen by the first-level hash: deterministic per
 *   (identity, bucket salt). {@link TestOperatorShape.rotateSalts} changes it.
 * - **Refresh tokens.** The 388-character wrapper of tokens.md §8, encrypted
 *   with an operator refresh key; stateless, so they survive key rotation.
 * - **Faults** are queued in the order scripted. Each request takes at most
 *   one of the drop / fail / malformed faults (the oldest that matches its
 *   path); wrong-nonce faults are taken only by requests that would get an
 *   enveloped 200 answer.
 *
 * @since 0.1.0
 */
import * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createHash, randomBytes } from "node:crypto"
import { createServer, IncomingMessage } from "node:http"
import { type CryptoShape, type KeyHandle, makeNode } from "../Crypto.js"
import * as Dii from "../Dii.js"
import * as Envelope from "../Envelope.js"
import type { EnvelopeError, InvalidClientSecret } from "../Errors.js"
import { type IdentityScope, type IdentityType, scopeBit, typeBits } from "../Identity.js"
import * as Base64 from "../internal/base64.js"
import { readUint32 } from "../internal/bytes.js"
import * as KeyRing from "../KeyRing.js"
import * as Token from "../Token.js"
import * as RefreshToken from "./operator/refreshToken.js"
import { checkConsent } from "./operator/tcf.js"

// ---------------------------------------------------------------------------
// Constants

/**
 * A role an API key may hold.
 *
 * @since 0.1.0
 * @category models
 */
export type Role = "GENERATOR" | "ID_READER" | "SHARER" | "MAPPER"

/**
 * Every role.
 *
 * @since 0.1.0
 * @category constants
 */
export const ALL_ROLES: ReadonlyArray<Role> = ["GENERATOR", "ID_READER", "SHARER", "MAPPER"]

/**
 * An API client the operator knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCredentials {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string
  /** The client secret: standard Base64 of 32 bytes. */
  readonly secret: string
  /** The site the key belongs to (`caller_site_id`, the site of generated tokens). */
  readonly siteId: number
  readonly roles: ReadonlyArray<Role>
}

/**
 * Site of {@link DEFAULT_CLIENT}.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_SITE_ID = 999

/**
 * A client holding every role, on site {@link DEFAULT_SITE_ID}.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-999-test-all-roles",
  secret: "zOJwVptPdsfChX+vCr7DnYnEzM3QkAu37dAVpxRemU0=",
  siteId: DEFAULT_SITE_ID,
  roles: ALL_ROLES
}

/**
 * A publisher (GENERATOR) on site 1001.
 *
 * @since 0.1.0
 * @category constants
 */
export const PUBLISHER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1001-test-publisher",
  secret: "FehHyur8ShQg33MhOe4IC6WccPXju7JYyQJuJy5k/o4=",
  siteId: 1001,
  roles: ["GENERATOR"]
}

/**
 * A DSP (ID_READER) on site 1002.
 *
 * @since 0.1.0
 * @category constants
 */
export const DSP_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1002-test-dsp",
  secret: "84sPXs/BIL87TUPRaOks1EGsacSgHSVzfQA9ERiO9eM=",
  siteId: 1002,
  roles: ["ID_READER"]
}

/**
 * A sharer (SHARER) on site 1003.
 *
 * @since 0.1.0
 * @category constants
 */
export const SHARER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1003-test-sharer",
  secret: "njX1tSOV5rILit9U8tAjWF0DvG/dG+pGjjNW891vgIs=",
  siteId: 1003,
  roles: ["SHARER"]
}

/**
 * An advertiser / data provider (MAPPER) on site 1004.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAPPER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1004-test-mapper",
  secret: "XTaoeDlNbQXTP8YrfzckZT/tjOKGS0EQn5c9eR97LJA=",
  siteId: 1004,
  roles: ["MAPPER"]
}

/**
 * The clients an operator knows unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CLIENTS: ReadonlyArray<ClientCredentials> = [
  DEFAULT_CLIENT,
  PUBLISHER_CLIENT,
  DSP_CLIENT,
  SHARER_CLIENT,
  MAPPER_CLIENT
]

/**
 * The allowed domains / app names of a site (`site_data` in key responses).
 *
 * @since 0.1.0
 * @category models
 */
export interface SiteData {
  readonly id: number
  readonly domainNames: ReadonlyArray<string>
}

/**
 * `site_data` unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_SITE_DATA: ReadonlyArray<SiteData> = [
  { id: DEFAULT_SITE_ID, domainNames: ["example.com", "example.org", "com.example.app"] },
  { id: PUBLISHER_CLIENT.siteId, domainNames: ["publisher.example"] }
]

/**
 * The keyset id of the master keys as SDKs see it.
 *
 * @since 0.1.0
 * @category constants
 */
export const MASTER_KEYSET_ID = 9_999_999

/**
 * Test identities with special behaviour (publisher.md §5).
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
 * The endpoint paths the operator serves.
 *
 * @since 0.1.0
 * @category constants
 */
export const Paths = {
  keySharing: "/v2/key/sharing",
  keyBidstream: "/v2/key/bidstream",
  keyLatest: "/v2/key/latest",
  tokenGenerate: "/v2/token/generate",
  tokenRefresh: "/v2/token/refresh",
  identityMap: "/v2/identity/map",
  identityBuckets: "/v2/identity/buckets",
  identityMapV3: "/v3/identity/map"
} as const

/**
 * Base URL reported when the operator does not listen on a socket.
 *
 * @since 0.1.0
 * @category constants
 */
export const IN_PROCESS_BASE_URL = "http://test-operator.invalid"

/** Largest request body accepted (1 MiB). */
const MAX_BODY = 1_048_576
/** Largest identity map request. */
const MAX_MAP_ITEMS = 5_000
/** Identities established before this are answered `optout` on refresh. */
const OPTOUT_CUTOFF_MS = Date.UTC(2021, 2, 8, 17, 0, 0)
const REFRESH_KEYSET_ID = -2
const FIRST_SITE_KEYSET_ID = 100
const DAY = 86_400_000
const SALT_REFRESH_MS = 30 * DAY
const PREVIOUS_UID_WINDOW_MS = 90 * DAY

// ---------------------------------------------------------------------------
// Models

/**
 * Options of {@link make}. Durations accept anything `Duration.decode` does
 * (`"1 hour"`, milliseconds, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Port to listen on; default 0 (a free port). */
  readonly port?: number | undefined
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string | undefined
  /** `false`: no socket at all, only the in-process client reaches it. Default `true`. */
  readonly listen?: boolean | undefined
  /** Default `"UID2"`. */
  readonly identityScope?: IdentityScope | undefined
  /** Default {@link DEFAULT_CLIENTS}. */
  readonly clients?: ReadonlyArray<ClientCredentials> | undefined
  /** Default {@link DEFAULT_SITE_DATA}. */
  readonly siteData?: ReadonlyArray<SiteData> | undefined
  /** The operator's clock in epoch ms; default Effect's `Clock`. */
  readonly now?: (() => number) | undefined
  /** AES/SHA primitives and the random source of keys, nonces and IVs; default node:crypto. */
  readonly crypto?: CryptoShape | undefined
  /** Advertising token lifetime (`identity_expires`); default 1 hour. */
  readonly identityTokenLifetime?: Duration.DurationInput | undefined
  /** `refresh_from` after generation; default 15 minutes. */
  readonly refreshIdentityAfter?: Duration.DurationInput | undefined
  /** Refresh token lifetime (`refresh_expires`); default 24 hours. */
  readonly refreshTokenLifetime?: Duration.DurationInput | undefined
  /** `token_expiry_seconds` of `/v2/key/sharing`; default 30 days. */
  readonly sharingTokenExpiry?: Duration.DurationInput | undefined
  /** Sent as `max_bidstream_lifetime_seconds` − 10; default the identity token lifetime. */
  readonly maxBidstreamLifetime?: Duration.DurationInput | undefined
  /** Sent as `max_sharing_lifetime_seconds` − 10; default the sharing token expiry. */
  readonly maxSharingLifetime?: Duration.DurationInput | undefined
  /** `allow_clock_skew_seconds`; default 30 minutes. */
  readonly allowClockSkew?: Duration.DurationInput | undefined
  /** Lifetime of each key from its activation; default 30 days. */
  readonly keyLifetime?: Duration.DurationInput | undefined
  /** Number of salt buckets; default 64. */
  readonly saltBuckets?: number | undefined
  /** Seed of the salts (raw UIDs are deterministic per seed); default `"effect-uid2"`. */
  readonly seed?: string | undefined
  /** Largest accepted request-timestamp drift in whole minutes; default 1 (envelope.md §5). */
  readonly maxDriftMinutes?: number | undefined
}

/**
 * One key of the operator, as tests see it. Times are epoch ms (whole seconds).
 *
 * @since 0.1.0
 * @category models
 */
export interface OperatorKey {
  readonly id: number
  readonly kind: "master" | "site" | "refresh"
  /** {@link MASTER_KEYSET_ID} for master keys, the site's keyset for site keys, −2 for refresh keys. */
  readonly keysetId: number
  /** The owning site, for site keys. */
  readonly siteId: number | undefined
  readonly created: number
  readonly activates: number
  readonly expires: number
  /** Standard Base64 of the 32 key bytes. */
  readonly secret: string
}

/**
 * A salt bucket. Times are epoch ms.
 *
 * @since 0.1.0
 * @category models
 */
export interface SaltBucket {
  /** The `bucket_id` of identity map v2 and the buckets endpoint. */
  readonly id: string
  /** When the salt last rotated (`last_updated`). */
  readonly lastUpdated: number
  /** Scheduled refresh (`r` of identity map v3, before the next-day rule). */
  readonly refreshFrom: number
  /** Whether a previous salt exists (then `p` is set for 90 days after rotation). */
  readonly rotated: boolean
}

/**
 * One request the operator received.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestLogEntry {
  readonly method: string
  readonly path: string
  /** The bearer API key as sent, if any. */
  readonly apiKey: string | undefined
  /** Operator time of arrival (ms). */
  readonly atMs: number
  /** HTTP status answered, or `"dropped"`. `undefined` while in flight. */
  readonly status: number | "dropped" | undefined
  /** The scripted fault this request took, if any. */
  readonly fault: "fail" | "malformed" | "wrongNonce" | "drop" | undefined
}

/**
 * Which requests a scripted fault applies to.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultOptions {
  /** Only requests to this path (e.g. {@link Paths}.keySharing); default any path. */
  readonly path?: string | undefined
}

/**
 * Options of {@link TestOperatorShape.failNext}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailOptions extends FaultOptions {
  /** Sets a `Retry-After` header (seconds). */
  readonly retryAfterSeconds?: number | undefined
}

/**
 * An identity given as DII or its hash (Base64 or hex of SHA-256).
 *
 * @since 0.1.0
 * @category models
 */
export type DiiInput =
  | { readonly email: string }
  | { readonly phone: string }
  | { readonly emailHash: string }
  | { readonly phoneHash: string }

/**
 * What {@link TestOperatorShape.issueToken} builds a token for: DII (then a
 * full identity with a refresh token is issued too) or a raw UID.
 *
 * @since 0.1.0
 * @category models
 */
export type IssueTokenInput = (DiiInput | { readonly rawUid: string; readonly identityType?: IdentityType }) & {
  /** Publisher site written into the token; default the first client's site. */
  readonly siteId?: number | undefined
  /** 2, 3 or 4 (default). */
  readonly version?: Token.TokenVersion | undefined
  /** Default 1 (what the operator sets); 3 for a client-side generated token. */
  readonly privacyBits?: number | undefined
  /** "Token generated" (ms); default operator now. */
  readonly generated?: number | undefined
  /** "Identity established" (ms); default `generated`. */
  readonly established?: number | undefined
  /** Token expiry (ms); default `generated` + identity token lifetime. */
  readonly expiry?: number | undefined
  /** Default the operator's scope. */
  readonly identityScope?: IdentityScope | undefined
  /** Use this master key instead of the active one. */
  readonly masterKeyId?: number | undefined
  /** Use this site key instead of the site's active one. */
  readonly siteKeyId?: number | undefined
}

/**
 * The `body` of a successful generate/refresh answer (publisher.md §1.3).
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityBody {
  readonly advertising_token: string
  readonly refresh_token: string
  readonly identity_expires: number
  readonly refresh_expires: number
  readonly refresh_from: number
  readonly refresh_response_key: string
}

/**
 * A token built by {@link TestOperatorShape.issueToken}.
 *
 * @since 0.1.0
 * @category models
 */
export interface IssuedToken {
  readonly advertisingToken: string
  /** The raw UID inside the token (standard Base64). */
  readonly rawUid: string
  readonly identityScope: IdentityScope
  readonly identityType: IdentityType
  readonly siteId: number
  readonly masterKeyId: number
  readonly siteKeyId: number
  readonly generated: number
  readonly established: number
  readonly expiry: number
  /** For DII input: the whole identity, with a refresh token the operator accepts. */
  readonly identity: IdentityBody | undefined
}

/**
 * What {@link TestOperatorShape.issueToken} and friends fail with: bad input
 * or no usable key.
 *
 * @since 0.1.0
 * @category errors
 */
export class TestOperatorError extends Data.TaggedError("TestOperatorError")<{ readonly detail: string }> {
  override get message() {
    return `test operator: ${this.detail}`
  }
}

/**
 * A running operator and its scripting API. Every scripting method is an
 * Effect (run it with `yield*`); nothing happens until it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestOperatorShape {
  /** `http://127.0.0.1:PORT`, or {@link IN_PROCESS_BASE_URL} when not listening. */
  readonly baseUrl: string
  /** The port listened on, if any. */
  readonly port: number | undefined
  readonly identityScope: IdentityScope
  readonly clients: ReadonlyArray<ClientCredentials>
  /** The operator as an `HttpApp` (what the socket server and the in-process client run). */
  readonly app: HttpApp.Default
  /** An `HttpClient` that reaches {@link TestOperatorShape.app} without sockets (any base URL). */
  readonly httpClient: HttpClient.HttpClient

  /** The operator's current time (ms). */
  readonly now: Effect.Effect<number>
  /** Moves the operator's clock forward (or back, if negative). */
  readonly advanceTime: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** Sets the operator's clock to `nowMs`; it keeps running from there. */
  readonly setNow: (nowMs: number) => Effect.Effect<void>

  /** Every key, including refresh keys and expired ones. */
  readonly keys: Effect.Effect<ReadonlyArray<OperatorKey>>
  /** The keyset of a site's keys (created on first use). */
  readonly keysetIdOf: (siteId: number) => Effect.Effect<number>
  /**
   * The `body` `/v2/key/sharing` or `/v2/key/bidstream` would return to
   * `apiKey` (default the first client) right now.
   */
  readonly keyResponseBody: (
    endpoint: "sharing" | "bidstream",
    apiKey?: string
  ) => Effect.Effect<Record<string, unknown>, TestOperatorError>
  /** {@link TestOperatorShape.keyResponseBody} parsed into a `KeyRing`. */
  readonly keyRing: (endpoint: "sharing" | "bidstream", apiKey?: string) => Effect.Effect<KeyRing.KeyRing, TestOperatorError>
  /**
   * Adds a new master, refresh and per-site key, active from now (or after
   * `activatesIn`); older keys stay for decryption. Returns the new keys.
   */
  readonly rotateKeys: (options?: {
    readonly activatesIn?: Duration.DurationInput | undefined
  }) => Effect.Effect<ReadonlyArray<OperatorKey>>
  /** Expires every key now: SDK key rings become invalid and generate answers 500 until `rotateKeys`. */
  readonly expireKeys: () => Effect.Effect<void>

  /** The salt buckets. */
  readonly saltBuckets: Effect.Effect<ReadonlyArray<SaltBucket>>
  /** Rotates the salts of the given buckets (default all): raw UIDs change, `p` becomes the old one. */
  readonly rotateSalts: (bucketIds?: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<SaltBucket>>
  /** The current raw UID of an identity (what identity map would return). */
  readonly rawUidOf: (input: DiiInput) => Effect.Effect<string, TestOperatorError>
  /** Opts an identity out: generate, identity map and refresh answer `optout` from now on. */
  readonly optOut: (input: DiiInput) => Effect.Effect<void, TestOperatorError>
  /** Builds an advertising token (and, for DII, a whole identity) with the operator's keys. */
  readonly issueToken: (input: IssueTokenInput) => Effect.Effect<IssuedToken, TestOperatorError>

  /** Delays every response by `duration` (0 to stop). */
  readonly setLatency: (duration: Duration.DurationInput) => Effect.Effect<void>
  /** The next `n` requests get `status` with a plain JSON error body (no body for 429). */
  readonly failNext: (n: number, status: number, options?: FailOptions) => Effect.Effect<void>
  /** The next `n` requests get a 200 whose body is not an envelope. */
  readonly sendMalformedBodyNext: (n: number, options?: FaultOptions) => Effect.Effect<void>
  /** The next `n` enveloped 200 answers echo a nonce other than the request's. */
  readonly wrongNonceNext: (n: number, options?: FaultOptions) => Effect.Effect<void>
  /** The next `n` requests have their connection destroyed without an answer. */
  readonly dropConnectionNext: (n: number, options?: FaultOptions) => Effect.Effect<void>
  /** Forgets every pending fault and the latency. */
  readonly clearFaults: () => Effect.Effect<void>

  /** Every request received, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  /** How many requests reached `path` (default: any path). */
  readonly requestCount: (path?: string) => Effect.Effect<number>
  /** Forgets the request log. */
  readonly clearRequests: () => Effect.Effect<void>
}

/**
 * The operator as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class TestOperator extends Context.Tag("effect-uid2/testing/TestOperator")<TestOperator, TestOperatorShape>() {}

// ---------------------------------------------------------------------------
// Internal state

interface KeyEntry {
  readonly id: number
  readonly kind: "master" | "site" | "refresh"
  readonly keysetId: number
  readonly siteId: number | undefined
  readonly created: number
  readonly activates: number
  expires: number
  readonly secret: Uint8Array
  readonly handle: KeyHandle
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

interface Fault {
  readonly kind: "fail" | "malformed" | "wrongNonce" | "drop"
  remaining: number
  readonly path: string | undefined
  readonly status: number
  readonly retryAfterSeconds: number | undefined
}

interface MutableLogEntry {
  readonly method: string
  readonly path: string
  readonly apiKey: string | undefined
  readonly atMs: number
  status: number | "dropped" | undefined
  fault: RequestLogEntry["fault"]
}

interface Client extends ClientCredentials {
  readonly envelopeKey: Envelope.EnvelopeKey
}

/** A request as the handlers see it. */
interface CoreRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: Uint8Array
}

type CoreOutcome =
  | {
    readonly _tag: "Response"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string | Uint8Array
  }
  | { readonly _tag: "Drop" }

/** What an enveloped endpoint answers: JSON to encrypt, or a plain outcome. */
type Answer = { readonly _tag: "Answer"; readonly json: string } | CoreOutcome

interface ResolvedIdentity {
  readonly type: IdentityType
  readonly firstLevelHash: Uint8Array
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()
const sha256 = (data: Uint8Array | string): Uint8Array =>
  new Uint8Array(createHash("sha256").update(typeof data === "string" ? utf8.encode(data) : data).digest())
const millis = (d: Duration.DurationInput): number => Duration.toMillis(Duration.decode(d))
const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000

const json = (status: number, body: unknown, headers: Record<string, string> = {}): CoreOutcome => ({
  _tag: "Response",
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})
const unauthorized = (): CoreOutcome => json(401, { status: "unauthorized" })
const clientError = (message: string): CoreOutcome => json(400, { status: "client_error", message })
const answer = (value: unknown): Answer => ({ _tag: "Answer", json: JSON.stringify(value) })
const success = (body: unknown): Answer => answer({ body, status: "success" })
const noKey = (): CoreOutcome => json(500, { status: "unknown", message: "No active encryption key available" })

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const IDENTITY_FIELDS = ["email", "email_hash", "phone", "phone_hash"] as const
type IdentityField = (typeof IDENTITY_FIELDS)[number]
const MISSING_EXACTLY_ONE =
  "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified"

const HEX_64 = /^[0-9a-fA-F]{64}$/
const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/

/** The identity hash the operator accepts for `field` (publisher.md §1.1, §3.4). */
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

const mediaType = (value: string | undefined): string => (value ?? "").split(";")[0]!.trim().toLowerCase()

const bearer = (headers: CoreRequest["headers"]): string | undefined => {
  const value = headers["authorization"]
  if (value === undefined) return undefined
  const text = value.trim()
  return text.slice(0, 7).toLowerCase() === "bearer " ? text.slice(7).trim() : ""
}

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

// ---------------------------------------------------------------------------
// The operator core

interface Config {
  readonly crypto: CryptoShape
  readonly scope: IdentityScope
  readonly clients: ReadonlyArray<Client>
  readonly siteData: ReadonlyArray<SiteData>
  readonly clock: (() => number) | undefined
  readonly identityLifetime: number
  readonly refreshAfter: number
  readonly refreshLifetime: number
  readonly sharingExpirySeconds: number
  readonly maxBidstreamSeconds: number
  readonly maxSharingSeconds: number
  readonly skewSeconds: number
  readonly keyLifetime: number
  readonly bucketCount: number
  readonly seed: string
  readonly maxDriftMinutes: number
}

const makeCore = (config: Config, startMs: number) => {
  const { crypto, scope } = config
  const clientsByKey = new Map(config.clients.map((c) => [c.apiKey, c]))
  const keys: Array<KeyEntry> = []
  const siteKeysets = new Map<number, number>()
  let nextKeyId = 1
  let nextKeysetId = FIRST_SITE_KEYSET_ID
  let offset = 0
  let latencyMs = 0
  let faults: Array<Fault> = []
  let log: Array<MutableLogEntry> = []

  const baseNow = config.clock === undefined ? Clock.currentTimeMillis : Effect.sync(config.clock)
  const now = Effect.map(baseNow, (t) => t + offset)

  // -- keys --------------------------------------------------------------

  const addKey = (kind: KeyEntry["kind"], keysetId: number, siteId: number | undefined, createdMs: number, activatesMs: number) => {
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

  // keys.md §6.3: the most recently activated key that is active at `now`.
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

  const latestBody = () => servedKeys().map((k) => ({ ...keyJson(k, false), site_id: k.kind === "master" ? -1 : k.siteId }))

  const rotateKeys = (nowMs: number, activatesIn: number): ReadonlyArray<OperatorKey> => {
    const at = nowMs + activatesIn
    const added = [addKey("master", MASTER_KEYSET_ID, undefined, nowMs, at), addKey("refresh", REFRESH_KEYSET_ID, undefined, nowMs, at)]
    for (const [siteId, keysetId] of siteKeysets) added.push(addKey("site", keysetId, siteId, nowMs, at))
    return added.map(publicKey)
  }

  // -- salts and raw UIDs --------------------------------------------------

  const firstLevelSalt = Base64.encode(sha256(`${config.seed}:first-level-salt`))
  const saltFor = (index: number, generation: number) => Base64.encode(sha256(`${config.seed}:salt:${index}:${generation}`))
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

  const optedOut = new Set<string>()
  const refreshOptedOut = new Set<string>()
  const flhKey = (id: ResolvedIdentity) => Base64.encode(id.firstLevelHash)
  optedOut.add(flhKey(resolve("email", TestIdentities.optoutEmail)!))
  optedOut.add(flhKey(resolve("phone", TestIdentities.optoutPhone)!))
  refreshOptedOut.add(flhKey(resolve("email", TestIdentities.refreshOptoutEmail)!))
  refreshOptedOut.add(flhKey(resolve("phone", TestIdentities.refreshOptoutPhone)!))
  const isOptedOut = (id: ResolvedIdentity) => optedOut.has(flhKey(id))

  // -- initial keys --------------------------------------------------------

  addKey("master", MASTER_KEYSET_ID, undefined, startMs - 3_600_000, startMs - 3_600_000)
  addKey("refresh", REFRESH_KEYSET_ID, undefined, startMs - 3_600_000, startMs - 3_600_000)
  for (const c of config.clients) keysetOf(c.siteId, startMs)
  for (const s of config.siteData) keysetOf(s.id, startMs)

  // -- identities ----------------------------------------------------------

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
    const advertisingToken = Token.encode(crypto, {
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
    }, masterKey.handle, siteKey.handle, {
      master: crypto.randomBytes(nonceLength),
      site: crypto.randomBytes(nonceLength)
    })
    if (advertisingToken === undefined) return { error: "BadUid" }
    let identity: IdentityBody | undefined
    if (p.id !== undefined) {
      const refreshKey = activeKey(REFRESH_KEYSET_ID, p.generated)
      if (refreshKey === undefined) return { error: "NoKey" }
      const responseKey = crypto.randomBytes(32)
      const refreshExpires = p.generated + config.refreshLifetime
      const refreshToken = RefreshToken.encode(crypto, p.scope, refreshKey, {
        expiry: refreshExpires,
        created: p.generated,
        siteId: p.siteId,
        privacyBits: p.privacyBits,
        established: p.established,
        identityType: p.type,
        firstLevelHash: p.id.firstLevelHash
      }, responseKey, { inner: crypto.randomBytes(12), outer: crypto.randomBytes(12) })
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

  // -- faults and log ------------------------------------------------------

  const takeFault = (kinds: ReadonlyArray<Fault["kind"]>, path: string): Fault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && kinds.includes(f.kind) && (f.path === undefined || f.path === path))
    if (fault === undefined) return undefined
    fault.remaining--
    faults = faults.filter((f) => f.remaining > 0)
    return fault
  }

  const failure = (fault: Fault): CoreOutcome => {
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined
      ? {}
      : { "retry-after": String(fault.retryAfterSeconds) }
    if (fault.status === 429) return { _tag: "Response", status: 429, headers, body: "" }
    const status = fault.status === 401 ? "unauthorized" : fault.status >= 500 ? "unknown" : "client_error"
    return json(fault.status, status === "unauthorized" ? { status } : { status, message: "scripted failure" }, headers)
  }

  // -- endpoints -----------------------------------------------------------

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
    const decoded = Envelope.decodeRequest(crypto, client.envelopeKey, req.body, {
      nowMs,
      binary,
      maxDriftMinutes: config.maxDriftMinutes
    })
    if (Either.isLeft(decoded)) return envelopeError(decoded.left)
    const request = decoded.right
    const result = handler(client, request.json === undefined ? undefined : JSON.parse(request.json), nowMs)
    if (result._tag !== "Answer") return result
    let nonce = request.nonce
    if (takeFault(["wrongNonce"], req.path) !== undefined) {
      entry.fault = "wrongNonce"
      nonce = nonce.map((b) => b ^ 0xff)
    }
    const encoded = Envelope.encodeResponse(crypto, client.envelopeKey, {
      nowMs,
      nonce,
      iv: crypto.randomBytes(Envelope.IV_LENGTH),
      json: result.json
    })
    return binary
      ? { _tag: "Response", status: 200, headers: { "content-type": "application/octet-stream" }, body: encoded.bytes }
      : { _tag: "Response", status: 200, headers: { "content-type": "text/plain" }, body: encoded.text }
  }

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
    if (decoded === undefined || decoded.identityScope !== scope) return reject("invalid_token", "Invalid Token presented")
    const { payload } = decoded
    if (nowMs > payload.expiry) return reject("expired_token", "Expired Token presented")
    const respond = (value: unknown): CoreOutcome => ({
      _tag: "Response",
      status: 200,
      headers: { "content-type": "text/plain" },
      body: Envelope.encodeRefreshResponse(crypto, decoded.refreshResponseKey, {
        iv: crypto.randomBytes(Envelope.IV_LENGTH),
        json: JSON.stringify(value)
      }).text
    })
    const id: ResolvedIdentity = { type: payload.identityType, firstLevelHash: payload.firstLevelHash }
    if (payload.established < OPTOUT_CUTOFF_MS || isOptedOut(id) || refreshOptedOut.has(flhKey(id))) {
      return respond({ status: "optout" })
    }
    const identity = issueIdentity(id, payload.siteId, payload.privacyBits, payload.established, nowMs)
    return identity === undefined ? noKey() : respond({ body: identity, status: "success" })
  }

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
    const missing = "Required Parameter Missing: one or more of [email, email_hash, phone, phone_hash] must be specified"
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
      buckets
        .filter((b) => b.lastUpdated >= sinceMs)
        .map((b) => ({ bucket_id: b.id, last_updated: new Date(b.lastUpdated).toISOString().slice(0, 23) }))
    )
  }

  const KNOWN = new Set<string>(Object.values(Paths))

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
      default:
        return enveloped(req, nowMs, ["MAPPER"], entry, mapV3)
    }
  }

  const MALFORMED = "%%% this is not a UID2 envelope %%%"

  const handle = (req: CoreRequest): Effect.Effect<CoreOutcome> =>
    Effect.flatMap(now, (nowMs) => {
      const entry: MutableLogEntry = {
        method: req.method,
        path: req.path,
        apiKey: bearer(req.headers),
        atMs: nowMs,
        status: undefined,
        fault: undefined
      }
      log.push(entry)
      const fault = takeFault(["drop", "fail", "malformed"], req.path)
      let outcome: CoreOutcome
      if (fault !== undefined) {
        entry.fault = fault.kind
        outcome = fault.kind === "drop"
          ? { _tag: "Drop" }
          : fault.kind === "fail"
          ? failure(fault)
          : { _tag: "Response", status: 200, headers: { "content-type": "text/plain" }, body: MALFORMED }
      } else {
        try {
          outcome = route(req, nowMs, entry)
        } catch {
          outcome = json(500, { status: "unknown", message: "internal error in the test operator" })
        }
      }
      entry.status = outcome._tag === "Drop" ? "dropped" : outcome.status
      return latencyMs > 0 ? Effect.as(Effect.sleep(Duration.millis(latencyMs)), outcome) : Effect.succeed(outcome)
    })

  // -- scripting -----------------------------------------------------------

  const clientFor = (apiKey: string | undefined): Effect.Effect<Client, TestOperatorError> => {
    const client = apiKey === undefined ? config.clients[0] : clientsByKey.get(apiKey)
    return client === undefined
      ? Effect.fail(new TestOperatorError({ detail: "unknown API key" }))
      : Effect.succeed(client)
  }

  const resolveInput = (input: DiiInput): Effect.Effect<ResolvedIdentity, TestOperatorError> => {
    const [field, value] = fieldOf(input)
    const id = resolve(field, value)
    return id === undefined
      ? Effect.fail(new TestOperatorError({ detail: `invalid ${field.replace("_", " ")}` }))
      : Effect.succeed(id)
  }

  const keyResponseBody = (endpoint: "sharing" | "bidstream", apiKey?: string) =>
    Effect.flatMap(clientFor(apiKey), (client) =>
      Effect.map(now, (nowMs) => endpoint === "sharing" ? sharingBody(client, nowMs) : bidstreamBody()))

  const addFault = (kind: Fault["kind"], n: number, options: FailOptions | undefined, status = 200) =>
    Effect.sync(() => {
      if (n > 0) {
        faults.push({
          kind,
          remaining: Math.floor(n),
          path: options?.path,
          status,
          retryAfterSeconds: options?.retryAfterSeconds
        })
      }
    })

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

  return {
    now,
    handle,
    scripting: {
      now,
      advanceTime: (duration: Duration.DurationInput) => Effect.sync(() => void (offset += millis(duration))),
      setNow: (nowMs: number) => Effect.map(baseNow, (base) => void (offset = nowMs - base)),
      keys: Effect.sync(() => keys.map(publicKey)),
      keysetIdOf: (siteId: number) => Effect.map(now, (nowMs) => keysetOf(siteId, nowMs)),
      keyResponseBody,
      keyRing: (endpoint: "sharing" | "bidstream", apiKey?: string) =>
        Effect.flatMap(keyResponseBody(endpoint, apiKey), (body) =>
          Either.match(KeyRing.fromBody(body), {
            onLeft: (e) => Effect.fail(new TestOperatorError({ detail: e.message })),
            onRight: Effect.succeed
          })),
      rotateKeys: (options?: { readonly activatesIn?: Duration.DurationInput | undefined }) =>
        Effect.map(now, (nowMs) => rotateKeys(nowMs, options?.activatesIn === undefined ? 0 : millis(options.activatesIn))),
      expireKeys: () =>
        Effect.map(now, (nowMs) => {
          const at = floorSecond(nowMs)
          for (const k of keys) if (k.expires > at) k.expires = Math.max(at, k.activates)
        }),
      saltBuckets: Effect.sync(() => buckets.map(publicBucket)),
      rotateSalts: (bucketIds?: ReadonlyArray<string>) =>
        Effect.map(now, (nowMs) => {
          const selected = bucketIds === undefined ? buckets : buckets.filter((b) => bucketIds.includes(b.id))
          for (const b of selected) {
            b.previousSalt = b.salt
            b.generation++
            b.salt = saltFor(b.index, b.generation)
            b.lastUpdated = nowMs
            b.refreshFrom = nowMs + SALT_REFRESH_MS
          }
          return selected.map(publicBucket)
        }),
      rawUidOf: (input: DiiInput) =>
        Effect.flatMap(resolveInput(input), (id) => Effect.map(now, (nowMs) => mapping(id, nowMs).current)),
      optOut: (input: DiiInput) => Effect.map(resolveInput(input), (id) => void optedOut.add(flhKey(id))),
      issueToken,
      setLatency: (duration: Duration.DurationInput) => Effect.sync(() => void (latencyMs = millis(duration))),
      failNext: (n: number, status: number, options?: FailOptions) => addFault("fail", n, options, status),
      sendMalformedBodyNext: (n: number, options?: FaultOptions) => addFault("malformed", n, options),
      wrongNonceNext: (n: number, options?: FaultOptions) => addFault("wrongNonce", n, options),
      dropConnectionNext: (n: number, options?: FaultOptions) => addFault("drop", n, options),
      clearFaults: () =>
        Effect.sync(() => {
          faults = []
          latencyMs = 0
        }),
      requests: Effect.sync((): ReadonlyArray<RequestLogEntry> => log.map((e) => ({ ...e }))),
      requestCount: (path?: string) =>
        Effect.sync(() => path === undefined ? log.length : log.filter((e) => e.path === path).length),
      clearRequests: () => Effect.sync(() => void (log = []))
    }
  }
}

// ---------------------------------------------------------------------------
// HTTP

/** Thrown (as a defect) by the app to make the in-process client fail like a dropped socket. */
const DROPPED = Symbol.for("effect-uid2/testing/TestOperator/dropped")

const toServerResponse = (outcome: Extract<CoreOutcome, { _tag: "Response" }>): HttpServerResponse.HttpServerResponse => {
  const { "content-type": contentType, ...headers } = outcome.headers
  const options = { status: outcome.status, headers, ...(contentType === undefined ? {} : { contentType }) }
  return typeof outcome.body === "string"
    ? outcome.body.length === 0 && outcome.status !== 200
      ? HttpServerResponse.empty({ status: outcome.status, headers })
      : HttpServerResponse.text(outcome.body, options)
    : HttpServerResponse.uint8Array(outcome.body, options)
}

const makeApp = (handle: (req: CoreRequest) => Effect.Effect<CoreOutcome>): HttpApp.Default => {
  const serve = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const body = yield* Effect.either(request.arrayBuffer)
    if (Either.isLeft(body)) {
      return HttpServerResponse.unsafeJson({ status: "client_error", message: "Invalid body: unreadable" }, { status: 400 })
    }
    const path = new URL(request.url, "http://localhost").pathname
    const outcome = yield* handle({
      method: request.method,
      path,
      headers: request.headers,
      body: new Uint8Array(body.right)
    })
    if (outcome._tag === "Drop") {
      const source = request.source
      if (source instanceof IncomingMessage) {
        source.socket.destroy()
        // The server interrupts this fiber when it sees the socket close.
        return yield* Effect.never
      }
      return yield* Effect.die(DROPPED)
    }
    return toServerResponse(outcome)
  })
  const router = Object.values(Paths).reduce(
    (r: HttpRouter.HttpRouter, path) => HttpRouter.post(r, path, serve),
    HttpRouter.empty
  ).pipe(HttpRouter.all("*", serve))
  return Effect.catchTag(
    router,
    "RouteNotFound",
    () => Effect.succeed(HttpServerResponse.unsafeJson({ status: "unknown", message: "Not found" }, { status: 404 }))
  )
}

const bodyOf = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Uint8Array | string | FormData | undefined, HttpClientError.RequestError> => {
  const body: HttpBody.HttpBody = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(undefined)
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
        ? Effect.succeed(body.body)
        : Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Encode", description: "unsupported raw body" })
        )
    case "FormData":
      return Effect.succeed(body.formData)
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks) => {
          const parts = Chunk.toReadonlyArray(chunks)
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
          let offset = 0
          for (const p of parts) {
            out.set(p, offset)
            offset += p.length
          }
          return out
        }),
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause }))
      )
  }
}

const inProcessClient = (app: HttpApp.Default): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = yield* bodyOf(request)
      const headers = new Headers()
      for (const [name, value] of Object.entries(request.headers)) {
        if (name !== "content-length") headers.set(name, value)
      }
      const hasBody = body !== undefined && request.method !== "GET" && request.method !== "HEAD"
      const web = new Request(url, { method: request.method, headers, ...(hasBody ? { body } : {}) })
      const response = yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web)),
        Effect.catchAllDefect((defect) =>
          defect === DROPPED
            ? Effect.fail(
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                description: "connection dropped by the test operator"
              })
            )
            : Effect.die(defect)
        )
      )
      return HttpClientResponse.fromWeb(request, HttpServerResponse.toWeb(response))
    })
  )

// ---------------------------------------------------------------------------
// Constructors

/**
 * Starts an operator: on a loopback socket unless `listen: false`, stopped
 * when the scope closes. Fails with `InvalidClientSecret` when a client's
 * secret is not Base64 of 32 bytes, or `ServeError` when the port is taken.
 * The socket server needs `@effect/platform-node` (imported only when
 * listening); `listen: false` needs nothing beyond `@effect/platform`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<TestOperatorShape, HttpServerError.ServeError | InvalidClientSecret, Scope.Scope> =>
  Effect.gen(function*() {
    const crypto = options.crypto ?? makeNode((n) => new Uint8Array(randomBytes(n)))
    const credentials = options.clients ?? DEFAULT_CLIENTS
    const clients: Array<Client> = []
    for (const c of credentials) {
      const secret = yield* Envelope.parseClientSecret(c.secret)
      clients.push({ ...c, envelopeKey: Envelope.importKey(crypto, secret) })
    }
    const identityLifetime = millis(options.identityTokenLifetime ?? "1 hour")
    const sharingExpiry = millis(options.sharingTokenExpiry ?? "30 days")
    const config: Config = {
      crypto,
      scope: options.identityScope ?? "UID2",
      clients,
      siteData: options.siteData ?? DEFAULT_SITE_DATA,
      clock: options.now,
      identityLifetime,
      refreshAfter: millis(options.refreshIdentityAfter ?? "15 minutes"),
      refreshLifetime: millis(options.refreshTokenLifetime ?? "24 hours"),
      sharingExpirySeconds: Math.floor(sharingExpiry / 1000),
      maxBidstreamSeconds: Math.floor(millis(options.maxBidstreamLifetime ?? identityLifetime) / 1000),
      maxSharingSeconds: Math.floor(millis(options.maxSharingLifetime ?? sharingExpiry) / 1000),
      skewSeconds: Math.floor(millis(options.allowClockSkew ?? "30 minutes") / 1000),
      keyLifetime: millis(options.keyLifetime ?? "30 days"),
      bucketCount: Math.max(1, Math.floor(options.saltBuckets ?? 64)),
      seed: options.seed ?? "effect-uid2",
      maxDriftMinutes: options.maxDriftMinutes ?? Envelope.MAX_DRIFT_MINUTES
    }
    const startMs = options.now === undefined ? yield* Clock.currentTimeMillis : options.now()
    const core = makeCore(config, startMs)
    const app = makeApp(core.handle)

    let baseUrl = IN_PROCESS_BASE_URL
    let port: number | undefined
    if (options.listen !== false) {
      const host = options.host ?? "127.0.0.1"
      const NodeHttpServer = yield* Effect.promise(() => import("@effect/platform-node/NodeHttpServer"))
      const context = yield* Layer.build(
        HttpServer.serve(app).pipe(
          Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port: options.port ?? 0, host }))
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag === "TcpAddress") {
        port = address.port
        baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`
      }
    }

    return {
      baseUrl,
      port,
      identityScope: config.scope,
      clients: credentials,
      app,
      httpClient: inProcessClient(app),
      ...core.scripting
    }
  })

/**
 * {@link make} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<TestOperator, HttpServerError.ServeError | InvalidClientSecret> =>
  Layer.scoped(TestOperator, make(options))

/**
 * An `HttpClient` that runs the operator's handlers in the calling fiber,
 * without sockets: under `TestClock`, latency and the operator's clock follow
 * the test clock. A dropped connection fails with a `RequestError` of reason
 * `"Transport"`.
 *
 * @since 0.1.0
 * @category in-process
 */
export const httpClient = (operator: TestOperatorShape): HttpClient.HttpClient => operator.httpClient

/**
 * Provides {@link httpClient} of the operator in context as the `HttpClient`.
 *
 * @since 0.1.0
 * @category in-process
 */
export const layerInProcess: Layer.Layer<HttpClient.HttpClient, never, TestOperator> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(TestOperator, httpClient)
)
