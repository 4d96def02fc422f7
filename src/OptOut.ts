/**
 * Opt-out status of raw UID2s (`POST /v2/optout/status`), for DSPs,
 * sharers, advertisers and data providers who hold raw UID2s without the
 * email or phone behind them and must honour opt-outs.
 *
 * - **One result per raw UID**, carrying it: `OptedOut` (since when),
 *   `NotOptedOut`, `Invalid` (not a raw UID2; never sent) or `Failed` (its
 *   request still failed after the transport's retries).
 * - **{@link OptOutClientShape.statusStream}** sends requests of at most
 *   5,000 raw UIDs, **one at a time**, as the operator requires: requests in
 *   parallel only when the caller declares a Private Operator
 *   ({@link ClientOptions.privateOperator}). Memory stays bounded however
 *   long the input is. Retries of 429, 5xx and timeouts (honouring
 *   `Retry-After`) are the transport's.
 * - **{@link OptOutClientShape.status}** does the same for a list and
 *   returns the results keyed by raw UID.
 *
 * `optedOutSince` is a real time value. The operator sends it in
 * milliseconds, unlike the opt-out webhook, which sends seconds.
 *
 * @example
 * ```ts
 * import { DateTime, Effect } from "effect"
 * import { OptOut } from "effect-uid2"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* OptOut.OptOutClient
 *   const response = yield* client.status(["ufv1uGRovNiJNbJqiE/xzM+aKE7jP69MgspOZoEQ3xc="])
 *   for (const [rawUid, result] of response.optedOut) {
 *     console.log(`stop using ${rawUid}: opted out at ${DateTime.formatIso(result.optedOutSince)}`)
 *   }
 *   return response.failed.size // raw UIDs whose request failed after the retries: ask again later
 * }).pipe(Effect.provide(OptOut.layerConfig())) // UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Chunk from "effect/Chunk"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Crypto from "./Crypto.js"
import type { InvalidClientSecret } from "./Envelope.js"
import * as HttpTransport from "./HttpTransport.js"
import { layerNodeReportingAttempts, layerReportingAttempts, observeAttempts } from "./internal/attempts.js"
import * as Base64 from "./internal/base64.js"
import { batches, clampInt, resultChunks, runBatches, updateProgress } from "./internal/batching.js"
import type { TransportError } from "./TransportError.js"

// ---------------------------------------------------------------------------
// Constants

/**
 * The opt-out status endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const STATUS_PATH = "/v2/optout/status"

/**
 * The most raw UIDs the operator accepts in one request.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BATCH_ITEMS = 5_000

/**
 * The most requests in parallel, even against a Private Operator.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_CONCURRENCY = 20

// ---------------------------------------------------------------------------
// Errors

const MAX_TEXT = 200
const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text)

/**
 * The value is not a raw UID2: it must be the canonical standard Base64
 * (44 characters) of 32 or 33 bytes. It is reported `Invalid` and never sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRawUid extends Data.TaggedError("InvalidRawUid")<{
  readonly reason: "NotAString" | "NotRawUid"
}> {
  override get message() {
    return this.reason === "NotAString"
      ? "invalid raw UID2: not a string"
      : "invalid raw UID2: expected 44 characters of standard Base64 (32 or 33 bytes)"
  }
}

/**
 * The operator's answer could not be used:
 *
 * - `UnexpectedStatus`: a `status` other than `success`.
 * - `Malformed`: not JSON, not an object, an entry without a string
 *   `advertising_id` and a time `opted_out_since`, or an id that was not in
 *   the request. `detail` says which, without echoing ids.
 *
 * @since 0.1.0
 * @category errors
 */
export class OptOutResponseError extends Data.TaggedError("OptOutResponseError")<{
  readonly reason: "UnexpectedStatus" | "Malformed"
  readonly status?: string | undefined
  readonly detail?: string | undefined
}> {
  override get message() {
    return this.reason === "UnexpectedStatus"
      ? `Got unexpected opt-out status response status: ${clip(this.status ?? "")}`
      : `invalid opt-out status response: ${this.detail ?? "malformed"}`
  }
}

/**
 * Why the request a raw UID travelled in failed: the transport's error
 * after its retries, or an unusable answer.
 *
 * @since 0.1.0
 * @category errors
 */
export type BatchError = TransportError | OptOutResponseError

// ---------------------------------------------------------------------------
// Results

/**
 * The answer for one raw UID:
 *
 * - `OptedOut`: the user behind it opted out at `optedOutSince`; stop using it.
 * - `NotOptedOut`: no opt-out is recorded.
 * - `Invalid`: not a raw UID2; never sent.
 * - `Failed`: its request failed after the transport's retries; `error` says
 *   why. Every other raw UID of that request failed the same way.
 *
 * @since 0.1.0
 * @category models
 */
export type StatusResult = Data.TaggedEnum<{
  readonly OptedOut: { readonly rawUid: string; readonly optedOutSince: DateTime.Utc }
  readonly NotOptedOut: { readonly rawUid: string }
  readonly Invalid: { readonly rawUid: string; readonly error: InvalidRawUid }
  readonly Failed: { readonly rawUid: string; readonly error: BatchError }
}>

/**
 * Constructors, guards (`$is`) and `$match` for {@link StatusResult}.
 *
 * @since 0.1.0
 * @category models
 */
export const StatusResult = Data.taggedEnum<StatusResult>()

/**
 * An opted-out raw UID.
 *
 * @since 0.1.0
 * @category models
 */
export type OptedOut = Data.TaggedEnum.Value<StatusResult, "OptedOut">

/**
 * A raw UID without an opt-out.
 *
 * @since 0.1.0
 * @category models
 */
export type NotOptedOut = Data.TaggedEnum.Value<StatusResult, "NotOptedOut">

/**
 * A value rejected locally.
 *
 * @since 0.1.0
 * @category models
 */
export type Invalid = Data.TaggedEnum.Value<StatusResult, "Invalid">

/**
 * A raw UID whose request failed.
 *
 * @since 0.1.0
 * @category models
 */
export type Failed = Data.TaggedEnum.Value<StatusResult, "Failed">

/**
 * The results of {@link OptOutClientShape.status}: all of them in input
 * order, and each kind keyed by raw UID (a raw UID given twice is one key).
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusResponse {
  readonly results: ReadonlyArray<StatusResult>
  readonly optedOut: ReadonlyMap<string, OptedOut>
  readonly notOptedOut: ReadonlyMap<string, NotOptedOut>
  readonly invalid: ReadonlyMap<string, Invalid>
  readonly failed: ReadonlyMap<string, Failed>
}

/**
 * Groups results by kind, keyed by raw UID.
 *
 * @since 0.1.0
 * @category constructors
 */
export const responseOf = (results: ReadonlyArray<StatusResult>): StatusResponse => {
  const optedOut = new Map<string, OptedOut>()
  const notOptedOut = new Map<string, NotOptedOut>()
  const invalid = new Map<string, Invalid>()
  const failed = new Map<string, Failed>()
  for (const r of results) {
    switch (r._tag) {
      case "OptedOut":
        optedOut.set(r.rawUid, r)
        break
      case "NotOptedOut":
        notOptedOut.set(r.rawUid, r)
        break
      case "Invalid":
        invalid.set(r.rawUid, r)
        break
      case "Failed":
        failed.set(r.rawUid, r)
        break
    }
  }
  return { results, optedOut, notOptedOut, invalid, failed }
}

// ---------------------------------------------------------------------------
// Progress

/**
 * Counters of a running {@link OptOutClientShape.statusStream}, updated once
 * per request (never per raw UID). `retries` counts attempts beyond each
 * request's first, as reported by the HTTP client this module's layers build
 * the transport on (a transport passed to {@link make} does not report them).
 *
 * @since 0.1.0
 * @category progress
 */
export interface Progress {
  readonly read: number
  readonly optedOut: number
  readonly notOptedOut: number
  readonly invalid: number
  readonly failed: number
  readonly requests: number
  readonly inFlight: number
  readonly retries: number
}

/**
 * All counters at zero.
 *
 * @since 0.1.0
 * @category progress
 */
export const initialProgress: Progress = {
  read: 0,
  optedOut: 0,
  notOptedOut: 0,
  invalid: 0,
  failed: 0,
  requests: 0,
  inFlight: 0,
  retries: 0
}

/**
 * A `SubscriptionRef` for {@link StatusOptions.progress}: poll it with
 * `SubscriptionRef.get` or follow `ref.changes`.
 *
 * @since 0.1.0
 * @category progress
 */
export const makeProgress: Effect.Effect<SubscriptionRef.SubscriptionRef<Progress>> = SubscriptionRef.make(
  initialProgress
)

// ---------------------------------------------------------------------------
// Wire (pure)

const notAString = new InvalidRawUid({ reason: "NotAString" })
const notRawUid = new InvalidRawUid({ reason: "NotRawUid" })
const RAW_UID_LENGTH = 44

/** Why `value` is not a raw UID2, or `undefined` when it is one. */
const rawUidProblem = (value: unknown): InvalidRawUid | undefined => {
  if (typeof value !== "string") return notAString
  if (value.length !== RAW_UID_LENGTH) return notRawUid
  const bytes = Base64.decode(value, "standard")
  return bytes !== undefined && (bytes.length === 32 || bytes.length === 33) ? undefined : notRawUid
}

/** One raw UID, checked: `invalid` set for those that stay local. */
interface Prepared {
  readonly rawUid: string
  readonly invalid: InvalidRawUid | undefined
}

const prepare = (rawUid: string): Prepared => ({ rawUid, invalid: rawUidProblem(rawUid) })

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const malformed = (detail: string) => new OptOutResponseError({ reason: "Malformed", detail })

const utf8 = new TextEncoder()

/** The distinct raw UIDs to send, in first-seen order. */
const sentOf = (items: ReadonlyArray<Prepared>): Array<string> => {
  const seen = new Set<string>()
  for (const item of items) if (item.invalid === undefined) seen.add(item.rawUid)
  return Array.from(seen)
}

const settle = (
  items: ReadonlyArray<Prepared>,
  answer: (rawUid: string) => StatusResult
): Array<StatusResult> =>
  items.map((item) =>
    item.invalid !== undefined
      ? StatusResult.Invalid({ rawUid: item.rawUid, error: item.invalid })
      : answer(item.rawUid)
  )

/** Every raw UID of the batch failed with `error`; invalid ones stay `Invalid`. */
const failAll = (items: ReadonlyArray<Prepared>, error: BatchError) =>
  settle(items, (rawUid) => StatusResult.Failed({ rawUid, error }))

/**
 * The results of a batch from the decrypted response JSON. A missing
 * `opted_out` counts as empty (nobody opted out); any entry that cannot be
 * trusted fails the whole batch, since ids absent from the list are read as
 * "not opted out".
 */
const resultsOf = (items: ReadonlyArray<Prepared>, sent: ReadonlyArray<string>, json: string): Array<StatusResult> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return failAll(items, malformed("not valid JSON"))
  }
  if (!isRecord(parsed)) return failAll(items, malformed("not a JSON object"))
  const status = parsed["status"]
  if (status !== "success") {
    return failAll(
      items,
      typeof status === "string"
        ? new OptOutResponseError({ reason: "UnexpectedStatus", status })
        : malformed("no status")
    )
  }
  const body = parsed["body"] ?? {}
  if (!isRecord(body)) return failAll(items, malformed("body is not an object"))
  const list = body["opted_out"] ?? []
  if (!Array.isArray(list)) return failAll(items, malformed("opted_out is not an array"))
  const requested = new Set(sent)
  const since = new Map<string, DateTime.Utc>()
  for (let i = 0; i < list.length; i++) {
    const entry: unknown = list[i]
    if (!isRecord(entry)) return failAll(items, malformed(`entry ${i} is not an object`))
    const id = entry["advertising_id"]
    const at = entry["opted_out_since"]
    if (typeof id !== "string" || !requested.has(id)) {
      return failAll(items, malformed(`entry ${i} names an id that was not requested`))
    }
    const time = typeof at === "number" ? DateTime.make(at) : Option.none()
    if (Option.isNone(time)) return failAll(items, malformed(`entry ${i} has no valid opted_out_since`))
    since.set(id, time.value)
  }
  return settle(items, (rawUid) => {
    const at = since.get(rawUid)
    return at === undefined
      ? StatusResult.NotOptedOut({ rawUid })
      : StatusResult.OptedOut({ rawUid, optedOutSince: at })
  })
}

const countResults = (results: ReadonlyArray<StatusResult>) => {
  let optedOut = 0
  let notOptedOut = 0
  let invalid = 0
  let failed = 0
  for (const r of results) {
    if (r._tag === "OptedOut") optedOut++
    else if (r._tag === "NotOptedOut") notOptedOut++
    else if (r._tag === "Invalid") invalid++
    else failed++
  }
  return (p: Progress): Progress => ({
    ...p,
    optedOut: p.optedOut + optedOut,
    notOptedOut: p.notOptedOut + notOptedOut,
    invalid: p.invalid + invalid,
    failed: p.failed + failed
  })
}

// ---------------------------------------------------------------------------
// Service

/**
 * Tuning of the client. Every value is clamped to its documented range.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /**
   * Declares that the base URL is a Private Operator, which may take several
   * requests at once: up to `concurrency` (1 to {@link MAX_CONCURRENCY}) are
   * then in flight. Without it, requests are sent one at a time, as the
   * public operators require.
   */
  readonly privateOperator?: { readonly concurrency: number } | undefined
  /** Raw UIDs per request: 1 to {@link MAX_BATCH_ITEMS} (the default). */
  readonly maxBatchItems?: number | undefined
  /**
   * `true` (default): results in input order. `false`: with a Private
   * Operator's parallel requests, each request's results come out as soon as
   * it finishes.
   */
  readonly ordered?: boolean | undefined
}

/**
 * Options of one {@link OptOutClientShape.statusStream} or
 * {@link OptOutClientShape.status}: the client's tuning, overridden, and
 * where to report progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusOptions extends ClientOptions {
  /** Updated once per request; pass a `SubscriptionRef` ({@link makeProgress}) to subscribe. */
  readonly progress?: Ref.Ref<Progress> | undefined
}

/**
 * The opt-out status operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface OptOutClientShape {
  /**
   * The status of a stream of raw UIDs; one result per input, emitted as
   * requests finish. The stream fails only when `rawUids` fails.
   */
  readonly statusStream: <E, R>(
    rawUids: Stream.Stream<string, E, R>,
    options?: StatusOptions
  ) => Stream.Stream<StatusResult, E, R>
  /** The status of a list (split into requests as `statusStream` does), grouped by kind. */
  readonly status: (rawUids: Iterable<string>, options?: StatusOptions) => Effect.Effect<StatusResponse>
}

/**
 * The opt-out status client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class OptOutClient extends Context.Tag("effect-uid2/OptOutClient")<OptOutClient, OptOutClientShape>() {}

interface Settings {
  readonly concurrency: number
  readonly maxItems: number
  readonly ordered: boolean
}

const settingsOf = (options: ClientOptions | undefined, base: Settings): Settings => ({
  concurrency: options?.privateOperator === undefined
    ? base.concurrency
    : clampInt(options.privateOperator.concurrency, 1, MAX_CONCURRENCY, 1),
  maxItems: clampInt(options?.maxBatchItems, 1, MAX_BATCH_ITEMS, base.maxItems),
  ordered: options?.ordered ?? base.ordered
})

/**
 * Builds the client over the provided transport.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientOptions = {}
): Effect.Effect<OptOutClientShape, never, HttpTransport.HttpTransport> =>
  Effect.gen(function*() {
    const transport = yield* HttpTransport.HttpTransport
    const defaults = settingsOf(options, { concurrency: 1, maxItems: MAX_BATCH_ITEMS, ordered: true })

    const runBatch = (items: ReadonlyArray<Prepared>, progress: Ref.Ref<Progress> | undefined) =>
      Effect.suspend(() => {
        const sent = sentOf(items)
        if (sent.length === 0) {
          const results = settle(items, (rawUid) => StatusResult.NotOptedOut({ rawUid }))
          return Effect.as(updateProgress(progress, countResults(results)), results)
        }
        let attempts = 0
        const onAttempt = Effect.suspend(() =>
          ++attempts > 1 ? updateProgress(progress, (p) => ({ ...p, retries: p.retries + 1 })) : Effect.void
        )
        const payload = utf8.encode(JSON.stringify({ advertising_ids: sent }))
        return updateProgress(progress, (p) => ({ ...p, requests: p.requests + 1, inFlight: p.inFlight + 1 })).pipe(
          Effect.zipRight(
            observeAttempts(transport.post(STATUS_PATH, payload), onAttempt).pipe(
              Effect.ensuring(updateProgress(progress, (p) => ({ ...p, inFlight: p.inFlight - 1 })))
            )
          ),
          Effect.match({
            onFailure: (error) => failAll(items, error),
            onSuccess: (json) => resultsOf(items, sent, json)
          }),
          Effect.tap((results) => updateProgress(progress, countResults(results))),
          Effect.withSpan("effect-uid2/OptOut.request", { attributes: { "uid2.items": items.length } })
        )
      })

    const statusStream = <E, R>(rawUids: Stream.Stream<string, E, R>, callOptions?: StatusOptions) => {
      const settings = settingsOf(callOptions, defaults)
      const progress = callOptions?.progress
      const prepared = Stream.mapChunks(rawUids, Chunk.map(prepare))
      const cut = Stream.tap(
        batches(prepared, { maxItems: settings.maxItems, maxBytes: Infinity }, () => 0),
        (batch) => updateProgress(progress, (p) => ({ ...p, read: p.read + batch.length }))
      )
      return runBatches(cut, settings, (batch) =>
        runBatch(batch, progress), (results) =>
        resultChunks(results.length, (i) =>
          results[i]!))
    }

    const status = (rawUids: Iterable<string>, callOptions?: StatusOptions) =>
      Effect.map(
        Stream.runCollect(statusStream(Stream.fromIterable(rawUids), callOptions)),
        (chunk) =>
          responseOf(Chunk.toReadonlyArray(chunk))
      )

    return OptOutClient.of({ statusStream, status })
  })

// ---------------------------------------------------------------------------
// Layers

/**
 * Options of the layers: the operator (URL, API key, client secret, timeout,
 * retry policy) and the client's tuning.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpTransport.Options, ClientOptions {}

/**
 * The client with its own transport, on the `Crypto` and `HttpClient` the app
 * provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<OptOutClient, InvalidClientSecret, Crypto.Crypto | HttpClient.HttpClient> =>
  Layer.effect(OptOutClient, make(options)).pipe(
    Layer.provide(HttpTransport.layer(options).pipe(Layer.provide(layerReportingAttempts)))
  )

/**
 * Everything in one layer: node:crypto and Node's HTTP client
 * (`@effect/platform-node`, an optional peer, imported when the layer is
 * built).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<OptOutClient, InvalidClientSecret> =>
  layerWith(options).pipe(Layer.provide(layerNodeReportingAttempts), Layer.provide(Crypto.layerNode))

/**
 * {@link layer} configured from `config`; by default `UID2_BASE_URL`,
 * `UID2_API_KEY` and `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = HttpTransport.config
): Layer.Layer<OptOutClient, InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))
