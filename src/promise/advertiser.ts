/**
 * The identity map and opt-out status clients of the Promise API, with
 * results as plain values.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as IdentityMap from "../IdentityMap.js"
import {
  dueForRemap as plainDueForRemap,
  mapResponseOf,
  mapResultOf,
  optOutResponseOf,
  optOutResultOf,
  progressRef
} from "../internal/plainResults.js"
import { start, transportOptions } from "../internal/promiseRuntime.js"
import * as OptOut from "../OptOut.js"
import {
  type CallOptions,
  type Closable,
  type ConnectionOptions,
  type ErrorInfo,
  type Identity,
  Uid2Error
} from "./common.js"

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
