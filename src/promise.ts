/**
 * The SDK for plain Node backends, without Effect in sight. Each
 * `create…Client` starts a client and rejects with a clear {@link Uid2Error}
 * on bad credentials, following the same start-up rules as the Effect
 * layers. Decrypts and encrypts are synchronous and never throw for token
 * problems: they return `{ ok: true, … }` or `{ ok: false, reason, message }`.
 * Async methods take an `AbortSignal`; their errors are `Uid2Error`s whose
 * `code` is the SDK error's tag. Identity map and opt-out results come as
 * `AsyncIterable`s with bounded memory. `close()` (or `await using`) stops
 * the background key refresh and releases everything.
 *
 * @example
 * ```ts
 * import { createBidstreamClient, createPublisherClient } from "effect-uid2/promise"
 *
 * const credentials = {
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: process.env.UID2_API_KEY ?? "",
 *   secretKey: process.env.UID2_SECRET_KEY ?? ""
 * }
 *
 * // A DSP: decrypt on the hot path, no await.
 * await using dsp = await createBidstreamClient(credentials)
 * const result = dsp.decrypt("A4AAAACk…", "example.com")
 * if (result.ok) console.log(result.uid, result.identityType)
 * else console.log(result.reason) // e.g. "ExpiredToken"
 *
 * // A publisher: generate at login, then keep, refresh or drop on each request.
 * await using publisher = await createPublisherClient(credentials)
 * const generated = await publisher.generateToken({ email: "user@example.com" })
 * if (generated.status === "success") {
 *   const step = await publisher.refreshIfNeeded(generated.identityJson, { signal: AbortSignal.timeout(5_000) })
 *   if (step.action !== "drop") console.log(step.advertisingToken)
 * }
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/promise
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bidstream from "./Bidstream.js"
import { Crypto } from "./Crypto.js"
import type { DecryptError, EncryptError } from "./DecryptError.js"
import type { DecryptResult as CoreDecryptResult } from "./Decryption.js"
import type * as Dii from "./Dii.js"
import * as HttpTransport from "./HttpTransport.js"
import * as IdentityMap from "./IdentityMap.js"
import * as IdentityTokens from "./IdentityTokens.js"
import { layerBestCrypto } from "./internal/bestCrypto.js"
import {
  dueForRemap as plainDueForRemap,
  mapResponseOf,
  mapResultOf,
  optOutResponseOf,
  optOutResultOf,
  progressRef
} from "./internal/plainResults.js"
import type * as KeyRefresher from "./KeyRefresher.js"
import * as KeyStore from "./KeyStore.js"
import * as OptOut from "./OptOut.js"
import * as Publisher from "./Publisher.js"
import * as Sharing from "./Sharing.js"
import type { TokenDetails } from "./Token.js"
import * as TokenGenerateInput from "./TokenGenerateInput.js"

/**
 * What every async method throws: an `Error` whose `code` is the tag of
 * the SDK's typed error (`"KeysUnavailable"`, `"OperatorRejected"`,
 * `"InvalidEmail"`, …) and whose `cause` is that error.
 *
 * @since 0.1.0
 * @category errors
 */
export class Uid2Error extends Error {
  override readonly name = "Uid2Error"
  constructor(
    message: string,
    /** The tag of the SDK error, or `"Aborted"` / `"Defect"`. */
    readonly code: string,
    options?: { readonly cause?: unknown }
  ) {
    super(message, options)
  }
}

/**
 * The operator and credentials, as plain values.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  /** e.g. `https://prod.uidapi.com`. */
  readonly baseUrl: string
  readonly apiKey: string
  /** The client secret (standard Base64 of 32 bytes). */
  readonly secretKey: string
  /** Per-attempt timeout, e.g. `5000` (ms) or `"5 seconds"`. Default 10 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Retries of transient failures. */
  readonly retry?: HttpTransport.RetryOptions | undefined
  /** The least severe SDK log lines written to the console. Default `"Warning"`; `"None"` for silence. */
  readonly logLevel?: LogLevel.Literal | undefined
}

/**
 * Options of the key-based clients (bidstream and sharing).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedClientOptions extends ConnectionOptions {
  /** Background refresh schedule (default hourly). */
  readonly refresh?: KeyRefresher.RefreshOptions | undefined
  /** How long `create…` waits for first keys (default 30 s) and whether it fails then. */
  readonly startup?: KeyRefresher.StartupOptions | undefined
  /** Where rings are kept between refreshes, e.g. a file or Redis key store layer. Default: this client's memory. */
  readonly keyStore?: Layer.Layer<KeyStore.KeyStore, unknown> | undefined
  /** The key store slot of this client's ring (when several clients share one store). */
  readonly keyStoreSlot?: string | undefined
}

/**
 * A decrypt's outcome: the raw UID and every token field, or why not.
 *
 * @since 0.1.0
 * @category models
 */
export type DecryptResult =
  | ({ readonly ok: true; readonly uid: string } & TokenDetails)
  | { readonly ok: false; readonly reason: DecryptError["_tag"]; readonly message: string }

/**
 * An encrypt's outcome: the sharing token, or why not.
 *
 * @since 0.1.0
 * @category models
 */
export type EncryptResult =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly reason: EncryptError["_tag"]; readonly message: string }

/**
 * Options of one async call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Aborting it interrupts the call, which then rejects with code `"Aborted"`. */
  readonly signal?: AbortSignal | undefined
}

/**
 * What every client has.
 *
 * @since 0.1.0
 * @category models
 */
export interface Closable {
  /** Stops background work and releases keys and connections. Idempotent. */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * A DSP client.
 *
 * @since 0.1.0
 * @category models
 */
export interface BidstreamClient extends Closable {
  /** Decrypts a bidstream token for the bid request's domain or app name; synchronous, never throws. */
  readonly decrypt: (token: string, domainOrAppName?: string | null) => DecryptResult
  /** Fetches fresh keys now. */
  readonly refresh: (options?: CallOptions) => Promise<void>
  /** Key health: readiness, source, last success and failure, ring age. */
  readonly status: () => Promise<KeyRefresher.Status>
  /**
   * The Crypto implementation in use, `"native"` or `"node"`:
   * the native addon when it loads, else node:crypto.
   */
  readonly crypto: string
}

/**
 * A sharer client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharingClient extends Closable {
  /** Encrypts a raw UID into a sharing token; synchronous, never throws. */
  readonly encrypt: (rawUid: string) => EncryptResult
  /** Decrypts a sharing token; synchronous, never throws. */
  readonly decrypt: (token: string) => DecryptResult
  readonly refresh: (options?: CallOptions) => Promise<void>
  readonly status: () => Promise<KeyRefresher.Status>
  /**
   * The Crypto implementation in use, `"native"` or `"node"`:
   * the native addon when it loads, else node:crypto.
   */
  readonly crypto: string
}

/**
 * Who a token is generated for: an email or phone (normalized and hashed
 * locally), or their hashes.
 *
 * @since 0.1.0
 * @category models
 */
export type Identity =
  | { readonly email: string }
  | { readonly phone: string }
  | { readonly emailHash: string }
  | { readonly phoneHash: string }

/**
 * The outcome of a generate or refresh: a new identity (store `identityJson`
 * in the user's session), or an opt-out (store nothing, drop the session).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenResult =
  | {
    readonly status: "success"
    readonly advertisingToken: string
    readonly identityJson: string
    readonly identity: IdentityTokens.IdentityTokens
  }
  | { readonly status: "optout" }

/**
 * What to do with a stored session identity on this request.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionResult =
  | { readonly action: "keep"; readonly identityJson: string; readonly advertisingToken: string }
  | { readonly action: "refreshed"; readonly identityJson: string; readonly advertisingToken: string }
  | { readonly action: "drop"; readonly reason: Publisher.DropReason }

/**
 * Options of one `generateToken`.
 *
 * @since 0.1.0
 * @category models
 */
export interface GenerateOptions extends CallOptions {
  /** The user's IAB TCF v2 consent string, sent as `tcf_consent_string`; EUID operators evaluate it, UID2 ones ignore it. */
  readonly tcfConsentString?: string | undefined
}

/**
 * A publisher client.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublisherClient extends Closable {
  readonly generateToken: (identity: Identity, options?: GenerateOptions) => Promise<TokenResult>
  /** Refreshes a stored identity (its JSON, as `identityJson` gave it). */
  readonly refreshToken: (identityJson: string, options?: CallOptions) => Promise<TokenResult>
  /** Keeps, refreshes or drops a stored identity: the per-request session step. */
  readonly refreshIfNeeded: (identityJson: string, options?: CallOptions) => Promise<SessionResult>
  /**
   * `/v2/token/validate`: whether `token` was generated for `dii`, sent
   * exactly as given (an email, a phone, or their hashes).
   */
  readonly validateToken: (token: string, dii: Publisher.ValidateDii, options?: CallOptions) => Promise<boolean>
}

/**
 * A problem with one input or one request, as plain values: `code` is the
 * tag of the SDK error (`"InvalidEmail"`, `"OperatorUnavailable"`, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorInfo {
  readonly code: string
  readonly message: string
}

/**
 * The answer for one identity of an identity map:
 *
 * - `mapped`: `currentRawUid`; `previousRawUid` for 90 days after the
 *   identity's salt rotated (else `undefined`); `refreshFrom`, the time
 *   before which the raw UID will not change (re-map after it:
 *   {@link dueForRemap}).
 * - `unmapped`: the operator did not map it; `reason` is `"OptOut"`,
 *   `"InvalidIdentifier"` or `"Unknown"` (`rawReason` is the operator's word).
 * - `invalid`: rejected locally before any request.
 * - `failed`: its request still failed after the retries; every other input
 *   of that request failed the same way.
 *
 * `input` is the identity as the caller gave it.
 *
 * @since 0.1.0
 * @category models
 */
export type MapResult =
  | {
    readonly status: "mapped"
    readonly input: Identity
    readonly currentRawUid: string
    readonly previousRawUid: string | undefined
    readonly refreshFrom: Date
  }
  | {
    readonly status: "unmapped"
    readonly input: Identity
    readonly reason: IdentityMap.UnmappedReason
    readonly rawReason: string
  }
  | { readonly status: "invalid"; readonly input: Identity; readonly error: ErrorInfo }
  | { readonly status: "failed"; readonly input: Identity; readonly error: ErrorInfo }

/**
 * All results of a `mapAll`, in input order, and each kind keyed by the
 * identity's string as given (the email, phone or hash).
 *
 * @since 0.1.0
 * @category models
 */
export interface MapResponse {
  readonly results: ReadonlyArray<MapResult>
  readonly mapped: ReadonlyMap<string, Extract<MapResult, { status: "mapped" }>>
  readonly unmapped: ReadonlyMap<string, Extract<MapResult, { status: "unmapped" }>>
  readonly invalid: ReadonlyMap<string, Extract<MapResult, { status: "invalid" }>>
  readonly failed: ReadonlyMap<string, Extract<MapResult, { status: "failed" }>>
}

/**
 * Options of one `map` or `mapAll`: the client's tuning, overridden, and a
 * callback for progress (called as counters change, and once more with the
 * final counts).
 *
 * @since 0.1.0
 * @category models
 */
export interface MapCallOptions extends CallOptions, IdentityMap.ClientOptions {
  readonly onProgress?: ((progress: IdentityMap.Progress) => void) | undefined
}

/**
 * An advertiser's identity map client.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdentityMapClient extends Closable {
  /**
   * Maps identities as they come (a list, a generator, a stream read line by
   * line…), yielding one result per input as requests finish, with bounded
   * memory however long the input.
   */
  readonly map: (
    inputs: Iterable<Identity> | AsyncIterable<Identity>,
    options?: MapCallOptions
  ) => AsyncIterable<MapResult>
  /** Maps a small list and groups the results. */
  readonly mapAll: (inputs: Iterable<Identity>, options?: MapCallOptions) => Promise<MapResponse>
}

/**
 * What a stored mapping must keep for {@link dueForRemap}: a `mapped`
 * result is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredIdentity {
  readonly input: Identity
  readonly refreshFrom: Date
}

/**
 * The identities of stored mappings whose refresh-from time has come at
 * `at` (default now), in the order given: map them again.
 *
 * @since 0.1.0
 * @category re-mapping
 */
export const dueForRemap: (stored: Iterable<StoredIdentity>, at?: Date | number) => Array<Identity> = plainDueForRemap

/**
 * The opt-out status of one raw UID2: `optedOut` (since `optedOutSince`),
 * `notOptedOut`, `invalid` (not a raw UID2; nothing was sent) or `failed`
 * (its request still failed after the retries).
 *
 * @since 0.1.0
 * @category models
 */
export type OptOutResult =
  | { readonly status: "optedOut"; readonly rawUid: string; readonly optedOutSince: Date }
  | { readonly status: "notOptedOut"; readonly rawUid: string }
  | { readonly status: "invalid"; readonly rawUid: string; readonly error: ErrorInfo }
  | { readonly status: "failed"; readonly rawUid: string; readonly error: ErrorInfo }

/**
 * All results of an `optOutAll`, in input order, and each kind keyed by raw UID.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptOutResponse {
  readonly results: ReadonlyArray<OptOutResult>
  readonly optedOut: ReadonlyMap<string, Extract<OptOutResult, { status: "optedOut" }>>
  readonly notOptedOut: ReadonlyMap<string, Extract<OptOutResult, { status: "notOptedOut" }>>
  readonly invalid: ReadonlyMap<string, Extract<OptOutResult, { status: "invalid" }>>
  readonly failed: ReadonlyMap<string, Extract<OptOutResult, { status: "failed" }>>
}

/**
 * Options of one `optOut` or `optOutAll`, like {@link MapCallOptions}.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptOutCallOptions extends CallOptions, OptOut.ClientOptions {
  readonly onProgress?: ((progress: OptOut.Progress) => void) | undefined
}

/**
 * An opt-out status client.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptOutClient extends Closable {
  /** The opt-out status of raw UID2s as they come, one result per raw UID. */
  readonly optOut: (
    rawUids: Iterable<string> | AsyncIterable<string>,
    options?: OptOutCallOptions
  ) => AsyncIterable<OptOutResult>
  /** The opt-out status of a small list, grouped. */
  readonly optOutAll: (rawUids: Iterable<string>, options?: OptOutCallOptions) => Promise<OptOutResponse>
}

// ---------------------------------------------------------------------------
// internals

const toError = (cause: Cause.Cause<unknown>): Uid2Error => {
  if (Cause.isInterruptedOnly(cause)) return new Uid2Error("the call was aborted", "Aborted", { cause })
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && failure.value instanceof Uid2Error) return failure.value
  if (failure._tag === "Some") {
    const error = failure.value as { readonly _tag?: unknown; readonly message?: unknown }
    const code = typeof error._tag === "string" ? error._tag : "Error"
    const message = typeof error.message === "string" && error.message.length > 0 ? error.message : code
    return new Uid2Error(message, code, { cause: failure.value })
  }
  return new Uid2Error("unexpected failure inside the SDK", "Defect", { cause: Cause.squash(cause) })
}

interface Started<S, R> {
  readonly service: S
  readonly run: <A, E>(effect: Effect.Effect<A, E, R>, options?: CallOptions) => Promise<A>
  /** A stream's elements as an async iterable; aborting the signal ends it. */
  readonly iterate: <A, E>(stream: Stream.Stream<A, E>, options?: CallOptions) => AsyncIterable<A>
  readonly closable: Closable
}

/** Builds `layer` once, reads the client service, and keeps the runtime for async calls until closed. */
const start = async <I extends R, S, E, R = I>(
  tag: Context.Tag<I, S>,
  layer: Layer.Layer<R, E>,
  options: ConnectionOptions
): Promise<Started<S, R>> => {
  const logLevel = LogLevel.fromLiteral(options.logLevel ?? "Warning")
  const runtime = ManagedRuntime.make(Layer.provide(layer, Logger.minimumLogLevel(logLevel)))
  const run = async <A, E2>(effect: Effect.Effect<A, E2, R>, options?: CallOptions): Promise<A> => {
    const exit = await runtime.runPromiseExit(
      effect,
      options?.signal === undefined ? undefined : { signal: options.signal }
    )
    if (Exit.isSuccess(exit)) return exit.value
    throw toError(exit.cause)
  }
  let closing: Promise<void> | undefined
  const close = () => (closing ??= runtime.dispose())
  const iterateOn =
    (rt: Runtime.Runtime<R>) => <A, E2>(stream: Stream.Stream<A, E2, R>, options?: CallOptions): AsyncIterable<A> => {
      const signal = options?.signal
      const bounded = signal === undefined ? stream : Stream.interruptWhen(
        stream,
        Effect.async<void>((resume) => {
          if (signal.aborted) return resume(Effect.void)
          const onAbort = () => resume(Effect.void)
          signal.addEventListener("abort", onAbort, { once: true })
          return Effect.sync(() => signal.removeEventListener("abort", onAbort))
        })
      )
      return Stream.toAsyncIterableRuntime<A, R>(rt)(Stream.mapError(bounded, (e) => toError(Cause.fail(e))))
    }
  try {
    const service = await run(tag)
    const iterate = iterateOn(await runtime.runtime())
    return { service, run, iterate, closable: { close, [Symbol.asyncDispose]: close } }
  } catch (error) {
    await close()
    throw error
  }
}

const transportOptions = (options: ConnectionOptions): HttpTransport.Options => ({
  baseUrl: String(options.baseUrl),
  apiKey: Redacted.make(String(options.apiKey)),
  secretKey: Redacted.make(String(options.secretKey)),
  timeout: options.timeout,
  retry: options.retry
})

const clientOptions = (options: KeyedClientOptions) => ({
  refresh: options.refresh,
  startup: options.startup,
  keyStoreSlot: options.keyStoreSlot
})

/**
 * A keyed client's layer on the caller's key store (else its own memory), the best Crypto and Node's HTTP
 * client; the Crypto stays in the output so that the client can say which implementation is active.
 */
const keyedLayer = <I, S, E>(
  tag: Context.Tag<I, S>,
  make: Effect.Effect<S, E, HttpTransport.HttpTransport | KeyStore.KeyStore | Crypto | Scope.Scope>,
  options: KeyedClientOptions
): Layer.Layer<I | Crypto, unknown> =>
  Layer.scoped(tag, make).pipe(
    Layer.provide(HttpTransport.layerNode(transportOptions(options))),
    Layer.provide(options.keyStore ?? Layer.effect(KeyStore.KeyStore, KeyStore.makeMemory())),
    Layer.provideMerge(layerBestCrypto)
  )

const cryptoName = Effect.map(Crypto, (crypto) => crypto.name)

const decryptResult = (result: CoreDecryptResult): DecryptResult => {
  if (result._tag === "DecryptedToken") {
    const { _tag: _, ...token } = result
    return { ok: true, ...token }
  }
  return { ok: false, reason: result._tag, message: result.message }
}

const encryptResult = (result: string | EncryptError): EncryptResult =>
  typeof result === "string" ? { ok: true, token: result } : { ok: false, reason: result._tag, message: result.message }

// ---------------------------------------------------------------------------
// clients

/**
 * Starts a DSP client: fetches keys from `/v2/key/bidstream` (rejecting
 * with a `Uid2Error` of code `"KeysUnavailable"` on bad credentials, a wrong
 * base URL, or no keys within the start-up timeout) and refreshes them in
 * the background until `close()`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createBidstreamClient = async (options: KeyedClientOptions): Promise<BidstreamClient> => {
  const { closable, run, service } = await start(
    Bidstream.BidstreamClient,
    keyedLayer(Bidstream.BidstreamClient, Bidstream.make(clientOptions(options)), options),
    options
  )
  return {
    decrypt: (token, domainOrAppName) => decryptResult(service.decryptSync(token, domainOrAppName)),
    crypto: await run(cryptoName),
    refresh: (callOptions) => run(service.refresh, callOptions),
    status: () => run(service.status),
    ...closable
  }
}

/**
 * Starts a sharer client on `/v2/key/sharing`, like {@link createBidstreamClient}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createSharingClient = async (options: KeyedClientOptions): Promise<SharingClient> => {
  const { closable, run, service } = await start(
    Sharing.SharingClient,
    keyedLayer(Sharing.SharingClient, Sharing.make(clientOptions(options)), options),
    options
  )
  return {
    encrypt: (rawUid) => encryptResult(service.encryptSync(rawUid)),
    decrypt: (token) => decryptResult(service.decryptSync(token)),
    crypto: await run(cryptoName),
    refresh: (callOptions) => run(service.refresh, callOptions),
    status: () => run(service.status),
    ...closable
  }
}

const generateInput = (
  identity: Identity,
  tcfConsentString: string | undefined
): Effect.Effect<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii | Uid2Error> =>
  Effect.suspend(() => {
    const value = (typeof identity === "object" && identity !== null ? identity : {}) as Partial<
      Record<"email" | "phone" | "emailHash" | "phoneHash", string>
    >
    const input: Either.Either<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii | Uid2Error> =
      value.email !== undefined
        ? TokenGenerateInput.fromEmail(value.email)
        : value.phone !== undefined
        ? TokenGenerateInput.fromPhone(value.phone)
        : value.emailHash !== undefined
        ? TokenGenerateInput.fromHashedEmail(value.emailHash)
        : value.phoneHash !== undefined
        ? TokenGenerateInput.fromHashedPhone(value.phoneHash)
        : Either.left(new Uid2Error("give one of email, phone, emailHash or phoneHash", "InvalidIdentity"))
    const withConsent = tcfConsentString === undefined
      ? input
      : Either.map(input, TokenGenerateInput.withTransparencyAndConsentString(tcfConsentString))
    return Either.match(withConsent, { onLeft: Effect.fail, onRight: Effect.succeed })
  })

const tokenResult = (response: Publisher.TokenResponse): TokenResult =>
  response._tag === "Success"
    ? {
      status: "success",
      advertisingToken: response.identity.advertisingToken,
      identityJson: IdentityTokens.toJsonString(response.identity),
      identity: response.identity
    }
    : { status: "optout" }

const storedIdentity = (identityJson: string) =>
  Effect.suspend(() =>
    Either.match(IdentityTokens.fromJsonString(identityJson), { onLeft: Effect.fail, onRight: Effect.succeed })
  )

/**
 * Starts a publisher client. It fetches nothing at start-up; it rejects only
 * on a client secret that is not standard Base64 of 32 bytes
 * (`"InvalidClientSecret"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const createPublisherClient = async (options: ConnectionOptions): Promise<PublisherClient> => {
  const { closable, run, service } = await start(
    Publisher.PublisherClient,
    Publisher.layer(transportOptions(options)),
    options
  )
  return {
    generateToken: (identity, callOptions) =>
      run(
        Effect.map(
          Effect.flatMap(generateInput(identity, callOptions?.tcfConsentString), service.generateToken),
          tokenResult
        ),
        callOptions
      ),
    refreshToken: (identityJson, callOptions) =>
      run(Effect.map(Effect.flatMap(storedIdentity(identityJson), service.refreshToken), tokenResult), callOptions),
    refreshIfNeeded: (identityJson, callOptions) =>
      run(
        Effect.map(Effect.flatMap(storedIdentity(identityJson), service.refreshIfNeeded), (result): SessionResult => {
          switch (result._tag) {
            case "Keep":
              return {
                action: "keep",
                identityJson: IdentityTokens.toJsonString(result.identity),
                advertisingToken: result.identity.advertisingToken
              }
            case "Refreshed":
              return {
                action: "refreshed",
                identityJson: IdentityTokens.toJsonString(result.identity),
                advertisingToken: result.identity.advertisingToken
              }
            case "Drop":
              return { action: "drop", reason: result.reason }
          }
        }),
        callOptions
      ),
    validateToken: (token, dii, callOptions) => run(service.validateToken(token, dii), callOptions),
    ...closable
  }
}

const toInput = (identity: Identity): IdentityMap.Input => {
  const value = (typeof identity === "object" && identity !== null ? identity : {}) as Partial<
    Record<"email" | "phone" | "emailHash" | "phoneHash", string>
  >
  return value.email !== undefined
    ? IdentityMap.Input.Email({ value: value.email })
    : value.phone !== undefined
    ? IdentityMap.Input.Phone({ value: value.phone })
    : value.emailHash !== undefined
    ? IdentityMap.Input.EmailHash({ value: value.emailHash })
    // Anything else is sent as a phone hash and comes back as that item's invalid-input result.
    : IdentityMap.Input.PhoneHash({ value: value.phoneHash as string })
}

/** The Effect client's options of one call: the caller's tuning and the progress ref, without the facade's fields. */
const mapOptions = <O extends CallOptions & { readonly onProgress?: unknown }, P>(
  callOptions: O | undefined,
  progress: P | undefined
): Omit<O, "signal" | "onProgress"> & { readonly progress: P | undefined } => {
  const { onProgress: _onProgress, signal: _signal, ...tuning } = callOptions ?? ({} as O)
  return { ...tuning, progress }
}

const streamOf = <A>(items: Iterable<A> | AsyncIterable<A>): Stream.Stream<A, Uid2Error> =>
  Symbol.asyncIterator in Object(items)
    ? Stream.fromAsyncIterable(
      items as AsyncIterable<A>,
      (cause) => new Uid2Error("the input iterable failed", "InputFailed", { cause })
    )
    : Stream.fromIterable(items as Iterable<A>)

/**
 * Starts an identity map client (v3): emails, phones and their hashes to
 * raw UID2s, in requests of at most 5,000 items, at most 20 in flight,
 * retrying 429, 5xx and timeouts.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createIdentityMapClient = async (
  options: ConnectionOptions & IdentityMap.ClientOptions
): Promise<IdentityMapClient> => {
  const { closable, iterate, run, service } = await start(
    IdentityMap.IdentityMapClient,
    IdentityMap.layer({ ...options, ...transportOptions(options) }),
    options
  )
  const mapStream = (inputs: Iterable<Identity> | AsyncIterable<Identity>, callOptions: MapCallOptions | undefined) =>
    Stream.unwrapScoped(
      Effect.map(
        progressRef(IdentityMap.initialProgress, callOptions?.onProgress),
        (progress) =>
          Stream.map(
            service.mapStream(Stream.map(streamOf(inputs), toInput), mapOptions(callOptions, progress)),
            mapResultOf
          )
      )
    )
  return {
    map: (inputs, callOptions) => iterate(mapStream(inputs, callOptions), callOptions),
    mapAll: (inputs, callOptions) =>
      run(
        Effect.map(Stream.runCollect(mapStream(inputs, callOptions)), (r) => mapResponseOf(Chunk.toArray(r))),
        callOptions
      ),
    ...closable
  }
}

/**
 * Starts an opt-out status client: requests of at most 5,000 raw UID2s,
 * one at a time unless `privateOperator` allows more.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createOptOutClient = async (
  options: ConnectionOptions & OptOut.ClientOptions
): Promise<OptOutClient> => {
  const { closable, iterate, run, service } = await start(
    OptOut.OptOutClient,
    OptOut.layer({ ...options, ...transportOptions(options) }),
    options
  )
  const statusStream = (
    rawUids: Iterable<string> | AsyncIterable<string>,
    callOptions: OptOutCallOptions | undefined
  ) =>
    Stream.unwrapScoped(
      Effect.map(
        progressRef(OptOut.initialProgress, callOptions?.onProgress),
        (progress) =>
          Stream.map(service.statusStream(streamOf(rawUids), mapOptions(callOptions, progress)), optOutResultOf)
      )
    )
  return {
    optOut: (rawUids, callOptions) => iterate(statusStream(rawUids, callOptions), callOptions),
    optOutAll: (rawUids, callOptions) =>
      run(
        Effect.map(Stream.runCollect(statusStream(rawUids, callOptions)), (r) => optOutResponseOf(Chunk.toArray(r))),
        callOptions
      ),
    ...closable
  }
}
