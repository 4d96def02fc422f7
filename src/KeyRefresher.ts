/**
 * A client's key state: the ring it decrypts with, kept fresh in the
 * background. Fetch at start-up (or warm start from a persistent key store
 * when it holds keys that can still decrypt), then refresh on a jittered
 * schedule, retry failures with the shared capped, jittered backoff, keep the
 * last good ring whatever goes wrong, and never stop: a defect in one refresh
 * is logged, counted and survived.
 *
 * Every Bidstream and Sharing client builds its own, so clients merged into
 * one app never share keys; their `status`, `refresh` and `awaitReady` are on
 * the client services, and the options here are the `refresh` and `startup`
 * options of their layers. {@link metrics} are the counters and gauges every
 * client reports.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Bidstream, type KeyRefresher } from "effect-uid2"
 *
 * const Dsp = Bidstream.layer({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? ""),
 *   refresh: { interval: "30 minutes" },
 *   // Start without keys rather than fail when the operator is slow; decrypts answer NotInitialized meanwhile.
 *   startup: { timeout: "10 seconds", failOnTimeout: false }
 * })
 *
 * // A health check: keys loaded, and still usable for at least a minute.
 * const healthy = Effect.gen(function*() {
 *   const client = yield* Bidstream.BidstreamClient
 *   const status: KeyRefresher.Status = yield* client.status
 *   return status.ready && (status.keysUsableForMs ?? 0) > 60_000
 * }).pipe(Effect.provide(Dsp))
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Crypto } from "./Crypto.js"
import type { NotInitialized } from "./DecryptError.js"
import type { PreparedRing } from "./Decryption.js"
import { HttpTransport } from "./HttpTransport.js"
import { type KeyHolder, makeKeyHolder } from "./internal/keyHolder.js"
import { type Retryable, retrySchedule } from "./internal/retry.js"
import * as KeyRing from "./KeyRing.js"
import { KeyStore, type KeyStoreError, type KeyStoreShape, type Lease, type StoredRing } from "./KeyStore.js"
import type { TransportError } from "./TransportError.js"

/**
 * Where the ring in use came from: `"operator"` (fetched by this client),
 * `"store"` (loaded from the key store at start-up) or `"peer"` (saved to
 * the key store by another process).
 *
 * @since 0.1.0
 * @category models
 */
export type KeySource = "operator" | "store" | "peer"

/**
 * Which key endpoint to poll: DSPs use `/v2/key/bidstream`, sharers `/v2/key/sharing`.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyEndpoint = "/v2/key/bidstream" | "/v2/key/sharing"

/**
 * An authenticated key response held no key that can decrypt now (no keys,
 * or every key expired). The ring in use is kept and the refresh counts as
 * failed; it is retried, since the operator may simply not have issued keys yet.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoUsableKeys extends Data.TaggedError("NoUsableKeys")<{
  /** The key endpoint, or the key store slot, the ring came from. */
  readonly endpoint: string
  readonly keys: number
}> {
  /** Retried: the operator may not have issued keys yet. */
  readonly transient = true
  override get message() {
    return `the key response of ${this.endpoint} holds no key usable now (${this.keys} keys, none unexpired)`
  }
}

/**
 * A refresh died of an unexpected defect. It is logged and counted, the ring
 * in use is kept, and the refresher goes on.
 *
 * @since 0.1.0
 * @category errors
 */
export class RefreshDefect extends Data.TaggedError("RefreshDefect")<{ readonly endpoint: KeyEndpoint }> {
  readonly transient = true
  override get message() {
    return `key refresh of ${this.endpoint} failed unexpectedly`
  }
}

/**
 * Why a refresh failed. The previous ring stays in place.
 *
 * @since 0.1.0
 * @category errors
 */
export type RefreshError = TransportError | KeyRing.KeyRingParseError | NoUsableKeys | RefreshDefect | KeyStoreError

/**
 * A client could not get keys at start-up: the operator rejected it for
 * good (`"Rejected"`: wrong API key, wrong client secret, wrong base URL or
 * path), or no keys arrived within the start-up timeout (`"Timeout"`). The
 * message names the cause and what to check; it never carries a secret.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeysUnavailable extends Data.TaggedError("KeysUnavailable")<{
  readonly endpoint: string
  readonly reason: "Rejected" | "Timeout"
  /** The last refresh failure, when there was one. */
  readonly cause?: RefreshError | undefined
  readonly hint: string
}> {
  override get message() {
    return `UID2 keys from ${this.endpoint} unavailable at start-up: ${this.hint}`
  }
}

/**
 * `awaitReady` gave up: a permanent failure is known (`"Rejected"`), or its
 * timeout passed (`"Timeout"`), before any ring was loaded.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotReady extends Data.TaggedError("NotReady")<{
  readonly reason: "Rejected" | "Timeout"
  readonly lastFailure?: string | undefined
}> {
  override get message() {
    const failure = this.lastFailure === undefined ? "" : ` (last failure: ${this.lastFailure})`
    return this.reason === "Rejected"
      ? `UID2 keys will not arrive: the operator rejected the client${failure}`
      : `UID2 keys not loaded in time${failure}`
  }
}

/**
 * The refresh schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshOptions {
  /** Time between successful refreshes. Default 1 hour. */
  readonly interval?: Duration.DurationInput | undefined
  /** Each interval is scaled by a random factor in [1 − jitter, 1 + jitter]. Default 0.1. */
  readonly jitter?: number | undefined
  /** First retry delay after a failure, doubled per consecutive failure and jittered. Default 1 s. */
  readonly retryBase?: Duration.DurationInput | undefined
  /** Longest retry delay (a longer `Retry-After` is shortened to it). Default 5 minutes. */
  readonly retryMax?: Duration.DurationInput | undefined
}

/**
 * What happens at start-up, before the first keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartupOptions {
  /**
   * How long start-up waits for first keys while failures are transient
   * (network errors, timeouts, 5xx, 429). Default 30 s. A permanent rejection
   * fails start-up at once.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Whether start-up fails when the timeout passes without keys (default
   * `true`). With `false` the client starts without keys (decrypts answer
   * `NotInitialized` carrying the last failure) and keeps retrying.
   */
  readonly failOnTimeout?: boolean | undefined
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends RefreshOptions {
  readonly endpoint: KeyEndpoint
  /** The key store slot of this client's ring. Default: `"bidstream"` or `"sharing"`. */
  readonly slot?: string | undefined
  readonly startup?: StartupOptions | undefined
}

/**
 * A snapshot of a client's key health. Times are epoch milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface Status {
  /** A ring is loaded. */
  readonly ready: boolean
  /** Where the ring in use came from. */
  readonly source: KeySource | undefined
  /** How many keys the ring in use has. */
  readonly keyCount: number
  /** When the last refresh succeeded. */
  readonly lastSuccessAt: number | undefined
  /** The last failure, if it came after the last success. */
  readonly lastFailure: { readonly at: number; readonly reason: string; readonly error: RefreshError } | undefined
  /** Failures since the last success. */
  readonly consecutiveFailures: number
  /** Refreshes that died of a defect since start (each was survived). */
  readonly defects: number
  /** When the ring in use was fetched from the operator (by this or another process). */
  readonly ringFetchedAt: number | undefined
  /** How long ago that was. */
  readonly ringAgeMs: number | undefined
  /** How long until the ring in use can no longer decrypt (`KeysNotSynced`); 0 once it cannot. */
  readonly keysUsableForMs: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KeyRefresherShape {
  /** The prepared ring decrypts use now (synchronous; no I/O). */
  readonly current: () => PreparedRing | undefined
  /** What decrypts answer while no ring is loaded: `NotInitialized` with the last failure. */
  readonly notInitialized: () => NotInitialized
  /** Fetches and swaps in a new ring now; concurrent calls queue behind one another. */
  readonly refresh: Effect.Effect<KeyRing.KeyRing, RefreshError>
  /**
   * Completes once a ring is loaded; fails with {@link NotReady} once a
   * permanent failure is known, or when `timeout` passes first.
   */
  readonly awaitReady: (timeout?: Duration.DurationInput) => Effect.Effect<void, NotReady>
  /** The current health. */
  readonly status: Effect.Effect<Status>
  /**
   * Counts a decrypt or encrypt outcome for the `uid2_decrypt_total` metric
   * and hands it back: one integer increment, no Effect, so it fits the hot path.
   */
  readonly record: <R extends { readonly _tag: string }>(result: R) => R
}

const DEFAULT_INTERVAL = Duration.hours(1)
const DEFAULT_RETRY_BASE = Duration.seconds(1)
const DEFAULT_RETRY_MAX = Duration.minutes(5)
const DEFAULT_STARTUP_TIMEOUT = Duration.seconds(30)

/**
 * The metrics every client reports, tagged with its key `endpoint`:
 * `uid2_key_refresh_total` (counter; `outcome` success, failure or defect,
 * and `source`: `operator`, `store:NAME` for a ring loaded from the store at
 * start-up, `peer:NAME` for a ring another process saved), the age and key
 * count of the ring in use (gauges), and `uid2_decrypt_total` (counter;
 * `outcome` is `DecryptedToken` or the error's tag). Gauges and decrypt
 * counts are sampled every few seconds, off the hot path.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  refreshes: Metric.counter("uid2_key_refresh_total", {
    description: "UID2 key refreshes and ring installs, by endpoint, outcome and source",
    incremental: true
  }),
  ringAgeSeconds: Metric.gauge("uid2_key_ring_age_seconds", { description: "Age of the UID2 key ring in use" }),
  keyCount: Metric.gauge("uid2_key_count", { description: "Keys in the UID2 key ring in use" }),
  decrypts: Metric.counter("uid2_decrypt_total", {
    description: "UID2 decrypts (and failed encrypts), by endpoint and outcome",
    incremental: true
  })
}
const { decrypts, keyCount, refreshes, ringAgeSeconds } = metrics

/** How often a client copies its ring age, key count and decrypt counts into its metrics. */
const METRICS_EVERY = Duration.seconds(5)
/** The longest a lease is taken for: the leader extends it while it works, so a dead leader blocks the fleet this long. */
const MAX_LEASE_TTL_MS = 15_000

/** The default key store slot of an endpoint. */
export const defaultSlot = (endpoint: KeyEndpoint): string => endpoint === "/v2/key/bidstream" ? "bidstream" : "sharing"

// Transport and refresher errors say so themselves; a store failure may pass, a malformed ring will not.
const isTransient = (error: RefreshError): boolean =>
  "transient" in error ? error.transient : error._tag === "KeyStoreError"

// What the shared retry schedule reads of a refresh failure.
const retryable = (error: RefreshError, transient: boolean, maxRetryAfterMs: number): Retryable => ({
  transient,
  retryAfterMillis: "retryAfterMillis" in error && error.retryAfterMillis !== undefined
    ? Math.min(error.retryAfterMillis, maxRetryAfterMs)
    : undefined
})

// What to tell the user about a permanent start-up failure: the cause, and what to check.
const hintFor = (endpoint: string, error: RefreshError): string => {
  switch (error._tag) {
    case "OperatorRejected":
      return error.httpStatus === 401
        ? `the operator rejected the API key (HTTP 401): check the API key`
        : error.httpStatus === 403
        ? `the API key may not call ${endpoint} (HTTP 403): check the key's roles`
        : error.httpStatus === 404
        ? `${endpoint} was not found (HTTP 404): check the base URL`
        : error.message
    case "EnvelopeError":
      return error.reason === "Decrypt"
        ? "the operator's response could not be decrypted: check the client secret"
        : error.message
    default:
      return error.message
  }
}

interface FailureRecord {
  readonly at: number
  readonly reason: string
  readonly error: RefreshError
}

/** The bookkeeping behind `status`, `notInitialized` and `awaitReady`, shared by both kinds of key state. */
const makeTracker = (holder: KeyHolder, endpoint: string) =>
  Effect.gen(function*() {
    const rejected = yield* Deferred.make<void>()
    let lastSuccessAt: number | undefined
    let lastFailure: FailureRecord | undefined
    let consecutiveFailures = 0
    let defects = 0
    const tagged = (outcome: string, source: string) =>
      refreshes.pipe(
        Metric.tagged("endpoint", endpoint),
        Metric.tagged("outcome", outcome),
        Metric.tagged("source", source)
      )
    /** Counts a ring installed without a refresh of this client's own (warm start, change feed). */
    const counted = (source: string) => Metric.increment(tagged("success", source))

    const succeeded = (source: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          lastSuccessAt = now
          lastFailure = undefined
          consecutiveFailures = 0
          holder.setLastFailure(undefined)
          return Metric.increment(tagged("success", source))
        }))

    const failed = (error: RefreshError, source: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.suspend(() => {
          lastFailure = { at: now, reason: error.message, error }
          consecutiveFailures++
          if (error._tag === "RefreshDefect") defects++
          holder.setLastFailure(error.message)
          return Metric.increment(tagged(error._tag === "RefreshDefect" ? "defect" : "failure", source)).pipe(
            Effect.zipRight(isTransient(error) ? Effect.void : Deferred.succeed(rejected, undefined)),
            Effect.zipRight(
              Effect.logWarning("UID2 key refresh failed; keeping the previous keys").pipe(
                Effect.annotateLogs({ endpoint, error: error._tag, reason: error.message })
              )
            )
          )
        }))

    const ringAge = ringAgeSeconds.pipe(Metric.tagged("endpoint", endpoint))
    const keys = keyCount.pipe(Metric.tagged("endpoint", endpoint))
    const publishRing = (s: Status) =>
      s.ringAgeMs === undefined
        ? Effect.void
        : Effect.zipRight(Metric.set(ringAge, s.ringAgeMs / 1000), Metric.set(keys, s.keyCount))

    // Decrypt counts since the last sample, added to the counter per outcome.
    const published = new Map<string, number>()
    const publishDecrypts = Effect.suspend(() =>
      Effect.forEach(holder.tally.counts(), ([outcome, count]) => {
        const delta = count - (published.get(outcome) ?? 0)
        if (delta === 0) return Effect.void
        published.set(outcome, count)
        return Metric.incrementBy(
          decrypts.pipe(Metric.tagged("endpoint", endpoint), Metric.tagged("outcome", outcome)),
          delta
        )
      }, { discard: true })
    )
    const status = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync((): Status => {
        const ring = holder.current()?.ring
        const fetchedAt = holder.fetchedAt()
        return {
          ready: ring !== undefined,
          source: holder.source(),
          keyCount: ring?.keys.length ?? 0,
          lastSuccessAt,
          lastFailure,
          consecutiveFailures,
          defects,
          ringFetchedAt: fetchedAt,
          ringAgeMs: fetchedAt === undefined ? undefined : Math.max(0, now - fetchedAt),
          keysUsableForMs: ring === undefined ? undefined : Math.max(0, ring.latestKeyExpiry - now)
        }
      })).pipe(Effect.tap(publishRing))

    const publishMetrics = Effect.zipRight(Effect.asVoid(status), publishDecrypts)

    const notReady = (reason: "Rejected" | "Timeout") => new NotReady({ reason, lastFailure: lastFailure?.reason })

    const awaitReady = (timeout?: Duration.DurationInput): Effect.Effect<void, NotReady> => {
      const wait = Effect.raceFirst(
        Deferred.await(holder.ready),
        Effect.zipRight(Deferred.await(rejected), Effect.suspend(() => Effect.fail(notReady("Rejected"))))
      )
      const bounded = timeout === undefined
        ? wait
        : Effect.timeoutFail(wait, { duration: timeout, onTimeout: () => notReady("Timeout") })
      return Effect.flatMap(Deferred.isDone(holder.ready), (done) => done ? Effect.void : bounded)
    }

    return { succeeded, counted, failed, status, awaitReady, publishMetrics, lastFailure: () => lastFailure }
  })

type Tracker = Effect.Effect.Success<ReturnType<typeof makeTracker>>

// Samples are paced by the wall clock whatever Clock the client runs on: a test clock moved by hours
// would otherwise wake the sampler thousands of times for nothing.
const wallClock = Clock.make()
const betweenSamples = Effect.withClock(Effect.sleep(METRICS_EVERY), wallClock)

/** Copies ring age, key count and decrypt counts into the metrics now and then, and once more at the end. */
const forkMetrics = (publish: Effect.Effect<void>) =>
  Effect.zipRight(
    Effect.addFinalizer(() => publish),
    Effect.forkScoped(Effect.forever(Effect.zipRight(publish, betweenSamples)))
  )

interface Coordination {
  readonly store: KeyStoreShape
  readonly lease: NonNullable<KeyStoreShape["lease"]>
  readonly slot: string
  readonly endpoint: KeyEndpoint
  readonly holder: KeyHolder
  readonly tracker: Tracker
  readonly interval: number
  readonly jitter: number
  readonly peerSource: string
  /** This client's own fetch, with retries; never fails. */
  readonly refresh: Effect.Effect<void>
  readonly saveQuietly: (stored: StoredRing) => Effect.Effect<void>
}

/**
 * One background refresh of a client whose store coordinates a fleet: a ring
 * in the store fetched within the interval is taken as it is; otherwise the
 * process that gets the lease calls the operator and saves the ring (the
 * store keeps it only if it is newer), and the others wait for it on the
 * change feed. When the store fails, the client keeps its ring and, after a
 * jittered pause, fetches on its own; the next cycle tries the store again.
 */
const coordinatedRefresh = (c: Coordination): Effect.Effect<void> => {
  // A ring fetched less than this long ago needs no fetch: it leaves at least the shortest jittered interval between fetches.
  const freshForMs = c.interval * (1 - c.jitter)
  const ttl = Duration.millis(Math.min(Math.max(c.interval, 1_000), MAX_LEASE_TTL_MS))
  const isFresh = (fetchedAt: number, now: number) => now - fetchedAt < freshForMs

  // Takes the stored ring when it is fresh, or saves ours when ours is fresh and newer; answers whether a fetch is needed.
  const useFresh = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const stored = yield* c.store.load(c.slot)
    const own = c.holder.fetchedAt()
    const ownRing = c.holder.current()?.ring
    if (
      Option.isSome(stored) && isFresh(stored.value.fetchedAt, now) && stored.value.ring.isValid(now) &&
      stored.value.fetchedAt >= (own ?? -Infinity)
    ) {
      yield* c.holder.install(stored.value, "peer")
      yield* c.tracker.succeeded(c.peerSource)
      return false
    }
    if (own !== undefined && ownRing !== undefined && isFresh(own, now)) {
      // Back from an outage with a ring of our own that is fresh: share it instead of fetching again.
      yield* c.saveQuietly({ ring: ownRing, fetchedAt: own })
      return false
    }
    return true
  })

  const asLeader = (lease: Lease) => {
    // Keeps the lease while the fetch (and its retries) runs, so nobody else fetches meanwhile.
    const keepAlive = Effect.forever(
      Effect.zipRight(Effect.sleep(Duration.times(ttl, 0.5)), Effect.ignore(lease.extend))
    )
    // Someone may have refreshed between our look at the store and the lease: look again.
    const work = Effect.flatMap(useFresh, (needed) => needed ? c.refresh : Effect.void)
    return Effect.raceFirst(work, keepAlive).pipe(Effect.ensuring(Effect.ignore(lease.release)))
  }

  const attempt = (round: number): Effect.Effect<void, KeyStoreError> =>
    Effect.gen(function*() {
      if (!(yield* useFresh)) return
      const lease = yield* c.lease(c.slot, ttl)
      if (Option.isSome(lease)) return yield* asLeader(lease.value)
      // Another process is fetching: its ring arrives on the change feed (or a poll) within the lease's TTL.
      const before = c.holder.fetchedAt() ?? -Infinity
      const arrived = yield* Effect.timeout(c.holder.awaitNewerThan(before), ttl).pipe(Effect.option)
      if (Option.isSome(arrived)) return yield* c.tracker.succeeded(c.peerSource)
      // Nothing came (a leader that died, a lost message): look again, at most a few times per cycle.
      if (round < 2) return yield* attempt(round + 1)
    })

  const direct = (error: KeyStoreError) =>
    Effect.gen(function*() {
      yield* Effect.logWarning("UID2 key store unavailable for the fleet refresh; refreshing from the operator").pipe(
        Effect.annotateLogs({ endpoint: c.endpoint, store: c.store.name, reason: error.message })
      )
      // Spread the fleet's direct fetches out instead of all calling the operator at once.
      const pause = yield* Random.nextRange(0, Math.min(c.interval * 0.25, 30_000))
      yield* Effect.sleep(Duration.millis(pause))
      yield* c.refresh
    })

  return Effect.catchAll(attempt(0), direct)
}

/**
 * Builds a client's key state kept fresh from the operator, and forks its
 * schedule into the current scope (it stops when the scope closes).
 *
 * Start-up: a ring in the key store that can still decrypt makes the client
 * ready at once (warm start) and the first fetch runs in the background.
 * Otherwise start-up fetches first keys, retrying transient failures for
 * `startup.timeout`; a permanent rejection (401, 403, 404, a response that
 * does not decrypt under the client secret) fails with {@link KeysUnavailable}
 * at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<KeyRefresherShape, KeysUnavailable, HttpTransport | KeyStore | Crypto | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* HttpTransport
    const store = yield* KeyStore
    const crypto = yield* Crypto
    const { endpoint } = options
    const slot = options.slot ?? defaultSlot(endpoint)
    const interval = Duration.toMillis(options.interval ?? DEFAULT_INTERVAL)
    const jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 1)
    const retryBase = options.retryBase ?? DEFAULT_RETRY_BASE
    const retryMax = Duration.toMillis(options.retryMax ?? DEFAULT_RETRY_MAX)
    const startupTimeout = options.startup?.timeout ?? DEFAULT_STARTUP_TIMEOUT

    const holder = yield* makeKeyHolder(crypto, { endpoint, slot, store: store.name })
    const tracker = yield* makeTracker(holder, endpoint)
    const lock = yield* Effect.makeSemaphore(1)
    const peerSource = `peer:${store.name}`

    const fetchRing: Effect.Effect<StoredRing, RefreshError> = Effect.gen(function*() {
      const json = yield* transport.post(endpoint, undefined)
      const ring = yield* Either.match(KeyRing.fromJson(json), { onLeft: Effect.fail, onRight: Effect.succeed })
      const now = yield* Clock.currentTimeMillis
      if (!ring.isValid(now)) return yield* new NoUsableKeys({ endpoint, keys: ring.keys.length })
      return { ring, fetchedAt: now }
    })

    const saveQuietly = (stored: StoredRing) =>
      // A store that cannot save does not undo a good refresh: the ring is in use already.
      Effect.catchAll(store.save(slot, stored), (error) =>
        Effect.logWarning("UID2 key store could not save the new ring").pipe(
          Effect.annotateLogs({ endpoint, store: store.name, reason: error.message })
        ))

    // One fetch, recorded in status; a defect anywhere in it becomes a RefreshDefect.
    const refresh: Effect.Effect<KeyRing.KeyRing, RefreshError> = lock.withPermits(1)(
      fetchRing.pipe(
        Effect.tap((stored) => holder.install(stored, "operator")),
        Effect.tap(saveQuietly),
        Effect.catchAllDefect((defect) =>
          Effect.logError("UID2 key refresh died of a defect; the refresher goes on").pipe(
            Effect.annotateLogs({ endpoint }),
            Effect.annotateLogs("cause", Cause.die(defect)),
            Effect.zipRight(Effect.fail(new RefreshDefect({ endpoint })))
          )
        ),
        Effect.tapBoth({
          onFailure: (error) => tracker.failed(error, "operator"),
          onSuccess: () => tracker.succeeded("operator")
        }),
        Effect.map((stored) => stored.ring)
      )
    )

    // Rings other processes save (shared stores) are taken when newer than the one in use.
    yield* store.watch(slot).pipe(
      Stream.runForEach((stored) =>
        Effect.flatMap(holder.install(stored, "peer"), (taken) => taken ? tracker.counted(peerSource) : Effect.void)
      ),
      Effect.forkScoped
    )

    const warm = yield* Effect.either(store.load(slot))
    if (Either.isLeft(warm)) {
      yield* Effect.logWarning("UID2 key store could not be read at start-up").pipe(
        Effect.annotateLogs({ endpoint, store: store.name, reason: warm.left.message })
      )
    } else if (Option.isSome(warm.right)) {
      if (yield* holder.install(warm.right.value, "store")) yield* tracker.counted(`store:${store.name}`)
    }

    // Background retries treat every failure as worth another try, at most `retryMax` apart.
    const backoff = retrySchedule<Retryable>({ base: retryBase, cap: retryMax }).pipe(
      Schedule.mapInput((error: RefreshError) => retryable(error, true, retryMax))
    )
    const refreshWithRetries = Effect.ignore(Effect.retry(refresh, backoff))

    if (holder.current() === undefined) {
      // Start-up retries transient failures only: a permanent one fails the layer at once.
      const first = yield* refresh.pipe(
        Effect.retry(
          retrySchedule<Retryable>({ base: retryBase, cap: retryMax, maxRetryAfter: startupTimeout }).pipe(
            Schedule.mapInput((error: RefreshError) => retryable(error, isTransient(error), Infinity))
          )
        ),
        Effect.timeoutFail({ duration: startupTimeout, onTimeout: () => "timeout" as const }),
        Effect.either
      )
      if (Either.isLeft(first)) {
        const error = first.left
        if (error !== "timeout" && !isTransient(error)) {
          return yield* new KeysUnavailable({
            endpoint,
            reason: "Rejected",
            cause: error,
            hint: hintFor(endpoint, error)
          })
        }
        const last = tracker.lastFailure()
        const hint = `no keys within ${Duration.format(startupTimeout)}` +
          (last === undefined ? "" : `; last failure: ${last.reason}`)
        if (options.startup?.failOnTimeout ?? true) {
          return yield* new KeysUnavailable({ endpoint, reason: "Timeout", cause: last?.error, hint })
        }
        yield* Effect.logWarning("UID2 client started without keys; still retrying").pipe(
          Effect.annotateLogs({ endpoint, reason: hint })
        )
      }
    }

    const backgroundRefresh = store.lease === undefined
      ? refreshWithRetries
      : coordinatedRefresh({
        store,
        lease: store.lease,
        slot,
        endpoint,
        holder,
        tracker,
        interval,
        jitter,
        peerSource,
        refresh: refreshWithRetries,
        saveQuietly
      })

    const nextInterval = Effect.map(Random.nextRange(1 - jitter, 1 + jitter), (f) => Duration.millis(interval * f))
    // Never dies: failures are recorded by `refresh`, and anything else is logged before the loop goes on.
    const cycle = Effect.flatMap(nextInterval, Effect.sleep).pipe(
      Effect.zipRight(backgroundRefresh),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logError("UID2 key refresher survived an unexpected failure").pipe(
            Effect.annotateLogs("cause", cause)
          )
      )
    )
    // A client that is not yet fed by its own fetch (warm start, or started without keys) catches up right away.
    const catchUp = holder.source() === "operator" ? Effect.void : backgroundRefresh
    yield* Effect.forkScoped(Effect.zipRight(catchUp, Effect.forever(cycle)))
    yield* forkMetrics(tracker.publishMetrics)

    return {
      current: holder.current,
      notInitialized: holder.notInitialized,
      refresh,
      awaitReady: tracker.awaitReady,
      status: tracker.status,
      record: holder.tally.record
    }
  })

/**
 * Options of {@link makeFromStore}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** The key store slot to read. */
  readonly slot: string
}

/**
 * Key state fed by a key store alone, without an operator (offline use,
 * tests, or a process that only reads rings a fleet leader saves): the ring
 * saved under `slot` at start, then every newer ring saved there. `refresh`
 * loads the slot again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFromStore = (
  options: StoreOptions
): Effect.Effect<KeyRefresherShape, never, KeyStore | Crypto | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* KeyStore
    const crypto = yield* Crypto
    const { slot } = options
    const holder = yield* makeKeyHolder(crypto, { endpoint: "key store", slot, store: store.name })
    const tracker = yield* makeTracker(holder, `key store ${slot}`)

    const refresh: Effect.Effect<KeyRing.KeyRing, RefreshError> = store.load(slot).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail<RefreshError>(new NoUsableKeys({ endpoint: `key store slot ${slot}`, keys: 0 })),
        onSome: (stored) =>
          Effect.flatMap(holder.install(stored, "store"), (): Effect.Effect<KeyRing.KeyRing, RefreshError> =>
            holder.current() === undefined
              ? Effect.fail(new NoUsableKeys({ endpoint: `key store slot ${slot}`, keys: stored.ring.keys.length }))
              : Effect.succeed(stored.ring))
      })),
      Effect.tapBoth({
        onFailure: (error) =>
          tracker.failed(error, `store:${store.name}`),
        onSuccess: () =>
          tracker.succeeded(`store:${store.name}`)
      })
    )

    yield* store.watch(slot).pipe(
      Stream.runForEach((stored) =>
        Effect.flatMap(holder.install(stored, "peer"), (taken) =>
          taken ? tracker.counted(`peer:${store.name}`) : Effect.void)
      ),
      Effect.forkScoped
    )
    yield* Effect.ignore(refresh)
    yield* forkMetrics(tracker.publishMetrics)

    return {
      current: holder.current,
      notInitialized: holder.notInitialized,
      refresh,
      awaitReady: tracker.awaitReady,
      status: tracker.status,
      record: holder.tally.record
    }
  })
