/**
 * Keeps the key ring fresh in the background: fetch at start-up (or warm
 * start from a persistent key store when the operator is down), then refresh
 * on a jittered schedule, retry failures with capped exponential backoff, and
 * keep the last good ring whatever goes wrong (keys.md §1, §7).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { KeyRingParseError } from "./KeyRing.js"
import type { TransportError } from "./TransportError.js"
import { HttpTransport, type Options as TransportOptions } from "./HttpTransport.js"
import * as KeyRing from "./KeyRing.js"
import { KeyStore, type KeyStoreError } from "./KeyStore.js"

/**
 * Why a refresh failed. The previous ring stays in place.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshError = TransportError | KeyRingParseError | KeyStoreError

/**
 * Which key endpoint to poll: DSPs use `/v2/key/bidstream`, sharers `/v2/key/sharing`.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyEndpoint = "/v2/key/bidstream" | "/v2/key/sharing"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly endpoint: KeyEndpoint
  /** Time between successful refreshes. Default 1 hour. */
  readonly interval?: Duration.DurationInput | undefined
  /** Each interval is scaled by a random factor in [1 − jitter, 1 + jitter]. Default 0.1. */
  readonly jitter?: number | undefined
  /** First retry delay after a failure, doubled per consecutive failure. Default 1 s. */
  readonly retryBase?: Duration.DurationInput | undefined
  /** Longest retry delay. Default 5 minutes. */
  readonly retryMax?: Duration.DurationInput | undefined
}

/**
 * Options of the operator-backed client layers (`BidstreamClient.layer`,
 * `SharingClient.layer`): operator URL and credentials, transport timeout and
 * retries, and the refresh schedule (the client picks the endpoint).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions extends TransportOptions {
  /** Background refresh schedule. */
  readonly refresh?: Omit<Options, "endpoint"> | undefined
}

/**
 * A snapshot of the refresher's health. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  /** A ring is loaded. */
  readonly ready: boolean
  /** When the last refresh succeeded. */
  readonly lastSuccessAt: number | undefined
  /** The last failure, if it came after the last success. */
  readonly lastFailure: { readonly at: number; readonly reason: string; readonly error: RefreshError } | undefined
  /** Failures since the last success. */
  readonly consecutiveFailures: number
  /** How long ago the current ring was fetched or loaded. */
  readonly ringAgeMs: number | undefined
  /** How long until the current ring can no longer decrypt (`KeysNotSynced`); 0 once it cannot. */
  readonly keysUsableForMs: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KeyRefresherShape {
  /** Fetches and swaps in a new ring now; concurrent calls wait for one fetch. */
  readonly refresh: Effect.Effect<KeyRing.KeyRing, RefreshError>
  /** Completes once a ring is loaded (fetched, warm-started or written by another process). */
  readonly awaitReady: Effect.Effect<void>
  /** The current health. */
  readonly status: Effect.Effect<Status>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class KeyRefresher extends Context.Tag("effect-uid2/KeyRefresher")<KeyRefresher, KeyRefresherShape>() {}

const refreshSuccesses = Metric.counter("uid2_key_refresh_success_total", {
  description: "Successful UID2 key refreshes",
  incremental: true
})
const refreshFailures = Metric.counter("uid2_key_refresh_failure_total", {
  description: "Failed UID2 key refreshes",
  incremental: true
})
const ringAgeSeconds = Metric.gauge("uid2_key_ring_age_seconds", {
  description: "Age of the UID2 key ring in use"
})

/**
 * Builds the refresher and forks its schedule into the current scope; the
 * schedule stops when the scope closes. The start-up fetch runs before this
 * returns, but its failure does not fail construction (the refresher keeps
 * retrying, and a warm-started ring may serve meanwhile).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<KeyRefresherShape, never, HttpTransport | KeyStore | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* HttpTransport
    const store = yield* KeyStore
    const interval = Duration.toMillis(options.interval ?? Duration.hours(1))
    const jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 1)
    const retryBase = Duration.toMillis(options.retryBase ?? Duration.seconds(1))
    const retryMax = Duration.toMillis(options.retryMax ?? Duration.minutes(5))

    const ready = yield* Deferred.make<void>()
    const state = {
      lastSuccessAt: undefined as number | undefined,
      lastFailure: undefined as Status["lastFailure"],
      consecutiveFailures: 0,
      ringSince: undefined as number | undefined
    }
    const lock = yield* Effect.makeSemaphore(1)

    const ringLoaded = Effect.clockWith((clock) =>
      Effect.sync(() => {
        state.ringSince = clock.unsafeCurrentTimeMillis()
      })
    ).pipe(Effect.zipRight(Deferred.succeed(ready, undefined)))

    const fetchRing: Effect.Effect<KeyRing.KeyRing, RefreshError> = transport.post(options.endpoint, undefined).pipe(
      Effect.flatMap((json) => Either.match(KeyRing.fromJson(json), { onLeft: Effect.fail, onRight: Effect.succeed })),
      Effect.tap((ring) => store.set(ring))
    )

    const refresh = lock.withPermits(1)(
      Effect.clockWith((clock) =>
        fetchRing.pipe(
          Effect.tap((ring) =>
            Effect.sync(() => {
              state.lastSuccessAt = clock.unsafeCurrentTimeMillis()
              state.lastFailure = undefined
              state.consecutiveFailures = 0
            }).pipe(
              Effect.zipRight(ringLoaded),
              Effect.zipRight(Metric.increment(refreshSuccesses)),
              Effect.zipRight(Metric.set(ringAgeSeconds, 0)),
              Effect.zipRight(Effect.logDebug("UID2 keys refreshed").pipe(
                Effect.annotateLogs({ endpoint: options.endpoint, keys: ring.keys.length })
              ))
            )
          ),
          Effect.tapError((error) =>
            Effect.sync(() => {
              state.lastFailure = { at: clock.unsafeCurrentTimeMillis(), reason: error.message, error }
              state.consecutiveFailures++
            }).pipe(
              Effect.zipRight(Metric.increment(refreshFailures)),
              Effect.zipRight(Effect.logWarning("UID2 key refresh failed; keeping the previous keys").pipe(
                Effect.annotateLogs({ endpoint: options.endpoint, error: error._tag, reason: error.message })
              ))
            )
          )
        )
      )
    )

    // A ring written by another process (shared stores) counts as loaded too.
    yield* store.changes.pipe(Stream.runForEach(() => ringLoaded), Effect.forkScoped)

    const warm = yield* Effect.either(store.load)
    if (Either.isRight(warm) && Option.isSome(warm.right)) yield* ringLoaded
    else if (Either.isLeft(warm)) {
      yield* Effect.logWarning("UID2 key store could not be read at start-up").pipe(
        Effect.annotateLogs({ reason: warm.left.message })
      )
    }

    const delayAfter = (succeeded: boolean) =>
      succeeded
        ? Effect.map(Random.nextRange(1 - jitter, 1 + jitter), (factor) => Math.round(interval * factor))
        : Effect.succeed(Math.min(retryMax, retryBase * 2 ** Math.min(state.consecutiveFailures - 1, 30)))

    const loop = (succeeded: boolean): Effect.Effect<never> =>
      delayAfter(succeeded).pipe(
        Effect.flatMap((ms) => Effect.sleep(Duration.millis(ms))),
        Effect.zipRight(Effect.either(refresh)),
        Effect.flatMap((result) => loop(Either.isRight(result)))
      )

    const first = yield* Effect.either(refresh)
    yield* Effect.forkScoped(loop(Either.isRight(first)))

    const status = Effect.clockWith((clock) =>
      Effect.sync((): Status => {
        const now = clock.unsafeCurrentTimeMillis()
        const ring = store.current()
        return {
          ready: ring !== undefined,
          lastSuccessAt: state.lastSuccessAt,
          lastFailure: state.lastFailure,
          consecutiveFailures: state.consecutiveFailures,
          ringAgeMs: state.ringSince === undefined ? undefined : now - state.ringSince,
          keysUsableForMs: ring === undefined ? undefined : Math.max(0, ring.latestKeyExpiry - now)
        }
      })
    ).pipe(Effect.tap((s) => s.ringAgeMs === undefined ? Effect.void : Metric.set(ringAgeSeconds, s.ringAgeMs / 1000)))

    return KeyRefresher.of({ refresh, awaitReady: Deferred.await(ready), status })
  })

/**
 * The refresher as a scoped layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<KeyRefresher, never, HttpTransport | KeyStore> =>
  Layer.scoped(KeyRefresher, make(options))
