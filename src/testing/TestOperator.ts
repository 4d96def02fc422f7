/**
 * `TestOperator`: a real UID2/EUID operator for tests. It serves the operator
 * endpoints the SDK uses (key refresh, token generate, refresh and validate,
 * identity map v2/v3 and buckets, opt-out status) over HTTP on 127.0.0.1
 * with the real envelope (AES-GCM under the client secret, request timestamp
 * checked), the real credentials checks, its own key ring and salt buckets,
 * the opt-out test identities, and scripted faults and key rotation. The
 * same handlers are reachable without sockets through
 * {@link httpClient} / {@link layerInProcess}, for deterministic tests under
 * `TestClock`.
 *
 * Behaviour worth knowing (where the real operator is configurable or
 * unclear, this is what the test operator does):
 *
 * - **Auth.** `Authorization: Bearer <api key>` (prefix case-insensitive).
 *   Unknown or absent key → 401 `{"status":"unauthorized"}`. A known key
 *   without the endpoint's role also gets 401 `{"status":"unauthorized"}`,
 *   as the real operator's auth middleware answers. Roles: `/v2/key/sharing`
 *   SHARER or ID_READER; `/v2/key/bidstream` and `/v2/key/latest` ID_READER;
 *   `/v2/token/generate` and `/v2/token/validate` GENERATOR; identity map
 *   and buckets MAPPER; `/v2/optout/status` MAPPER, ID_READER or SHARER.
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
 * - **Refresh tokens.** Exactly 388 characters, as the real operator's:
 *   Base64 of a scope byte, a key id and an AES-GCM blob holding the refresh
 *   response key and the inner refresh token, encrypted
 *   with an operator refresh key; stateless, so they survive key rotation.
 * - **Opt-out status** reports the raw UIDs (current, and previous while
 *   identity map still reports it) of every opted-out identity: the built-in
 *   test identities since {@link TEST_IDENTITIES_OPTED_OUT_SINCE}, those of
 *   `optOut` since the operator time of that call. More than 5,000
 *   `advertising_ids` → 400.
 * - **Token validate** decrypts the token with the operator's own keys (V3
 *   and V4 tokens, as generate issues) and answers whether its raw UID is the
 *   DII's current or previous one. 400 when not exactly one DII field is
 *   given, the DII is invalid, the token does not decrypt, or its site is not
 *   the caller's.
 * - **Faults** are queued in the order scripted. Each request takes at most
 *   one of the drop / fail / malformed faults (the oldest that matches its
 *   path); wrong-nonce faults are taken only by requests that would get an
 *   enveloped 200 answer. Rules of {@link TestOperatorShape.scriptRequests}
 *   are matched on the decrypted request, after those faults, auth and the
 *   envelope: the oldest matching rule is taken.
 * - **In flight**: a request counts from the moment its body has been read
 *   until its answer is ready to send (after latency and stalls);
 *   {@link TestOperatorShape.maxInFlight} reports the most seen at once.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestOperator } from "effect-uid2/testing"
 *
 * const scenario = Effect.scoped(
 *   Effect.gen(function*() {
 *     const operator = yield* TestOperator.make() // stops with the scope
 *     console.log(operator.baseUrl) // e.g. "http://127.0.0.1:54321"
 *     yield* operator.failNext(2, 503, { retryAfterSeconds: 1 }) // the next two requests get 503
 *     const issued = yield* operator.issueToken({ email: "user@example.com" })
 *     yield* operator.rotateKeys() // clients see new keys on their next refresh
 *     return issued.rawUid
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import { type CryptoShape, makeNode } from "../Crypto.js"
import type { InvalidClientSecret } from "../Envelope.js"
import type { IdentityScope, IdentityType } from "../Identity.js"
import type * as KeyRing from "../KeyRing.js"
import type * as Token from "../Token.js"
import {
  type ClientCredentials,
  DEFAULT_CLIENTS,
  DEFAULT_SITE_DATA,
  importClients,
  type SiteData
} from "./operator/clients.js"
import { makeConfig } from "./operator/config.js"
import { makeCore } from "./operator/core.js"
import { TestOperatorError } from "./operator/errors.js"
import { inProcessClient, makeApp } from "./operator/http.js"
import { MASTER_KEYSET_ID } from "./operator/keys.js"
import { Paths } from "./operator/protocol.js"

// ---------------------------------------------------------------------------
// Constants
//
// Roles, clients and sites live in operator/clients.ts, the master keyset id
// in operator/keys.ts, the test identities in operator/identities.ts, the
// paths in operator/protocol.ts and the error in operator/errors.ts; they are
// public here.

export {
  ALL_ROLES,
  DEFAULT_CLIENT,
  DEFAULT_SITE_ID,
  DSP_CLIENT,
  MAPPER_CLIENT,
  PUBLISHER_CLIENT,
  type Role,
  SHARER_CLIENT
} from "./operator/clients.js"
export { TEST_IDENTITIES_OPTED_OUT_SINCE, TestIdentities } from "./operator/identities.js"
// Imported above for the links and signatures of this module.
export {
  type ClientCredentials,
  DEFAULT_CLIENTS,
  DEFAULT_SITE_DATA,
  MASTER_KEYSET_ID,
  Paths,
  type SiteData,
  TestOperatorError
}

/**
 * Base URL reported when the operator does not listen on a socket.
 *
 * @since 0.1.0
 * @category constants
 */
export const IN_PROCESS_BASE_URL = "http://test-operator.invalid"

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
  /**
   * Largest accepted request-timestamp drift in whole minutes (the difference
   * is truncated to minutes first, so 1 tolerates almost 2); default 1, as the
   * real operator.
   */
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
  /** The scripted fault this request took, if any (`scripted`: a {@link RequestRule}). */
  readonly fault: "fail" | "malformed" | "wrongNonce" | "drop" | "scripted" | undefined
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
 * A scripted answer for particular requests, matched on their decrypted
 * content: e.g. "429 for the identity-map request that carries this hash",
 * or "hold the answer to the next opt-out request for a minute". Durations
 * accept anything `Duration.decode` does.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestRule {
  /** Only requests to this path; default any enveloped endpoint. */
  readonly path?: string | undefined
  /** Which requests, by their decrypted request JSON (`undefined` for key refreshes); default all. */
  readonly when?: ((payload: unknown) => boolean) | undefined
  /** How many matching requests take the rule; default 1, `Infinity` for every one. */
  readonly times?: number | undefined
  /** Answer this status (429 with no body, others a plain JSON error) instead of the real answer. */
  readonly status?: number | undefined
  /** Sets a `Retry-After` header (seconds) on the `status` answer. */
  readonly retryAfterSeconds?: number | undefined
  /** Hold the answer this long before sending it: a stalled request (the client's timeout may fire first). */
  readonly stall?: Duration.DurationInput | undefined
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
 * The `body` of a successful generate/refresh answer: the advertising token,
 * the refresh token and its response key, and the three epoch-millisecond
 * times (identity expiry, refresh expiry, refresh from).
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
  readonly keyRing: (
    endpoint: "sharing" | "bidstream",
    apiKey?: string
  ) => Effect.Effect<KeyRing.KeyRing, TestOperatorError>
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
  /** Adds a rule that answers (or stalls) the requests it matches; see {@link RequestRule}. */
  readonly scriptRequests: (rule: RequestRule) => Effect.Effect<void>
  /** Forgets every pending fault and rule, and the latency. */
  readonly clearFaults: () => Effect.Effect<void>

  /** Every request received, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>>
  /** How many requests reached `path` (default: any path). */
  readonly requestCount: (path?: string) => Effect.Effect<number>
  /** The most requests to `path` (default: any path) that were in flight at once. */
  readonly maxInFlight: (path?: string) => Effect.Effect<number>
  /** Forgets the request log, and resets {@link TestOperatorShape.maxInFlight} to the requests in flight now. */
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
    const clients = yield* importClients(crypto, credentials)
    const config = makeConfig(options, crypto, clients)
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
