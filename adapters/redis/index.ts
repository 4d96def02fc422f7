/**
 * A `KeyStore` on Redis that lets a fleet share one key ring: per refresh
 * interval one process calls the operator under a lease and saves the ring;
 * the others take it from Redis through a change feed (pub/sub of the ring's
 * version, with polling as the fallback, since pub/sub loses messages while
 * disconnected).
 *
 * Each slot has three names under one Redis Cluster hash tag:
 * `{prefix:slot}:ring` (a hash of the version, the fetch time and the sealed
 * ring), `{prefix:slot}:lease` and the channel `{prefix:slot}:changed`. The
 * ring is encrypted at rest with AES-256-GCM under a key derived from the
 * client secret (HKDF-SHA256), bound to its key name; a save keeps the newer
 * ring (a compare-and-set in Lua on the fetch time), so a slow former leader
 * never overwrites a newer ring.
 *
 * Redis being down or slow never stops decryption: clients decrypt from
 * their own memory, every Redis call is bounded (connect and command
 * timeouts, no offline queue, one retry), the connection reconnects with
 * backoff, and a client whose store fails refreshes from the operator on its
 * own until Redis answers again.
 *
 * Needs the optional peer dependency `ioredis` (5.x), loaded when the store
 * is built.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 * import { Bidstream } from "effect-uid2"
 * import * as RedisKeyStore from "effect-uid2/adapters/redis"
 * import * as NativeCrypto from "effect-uid2/native-crypto"
 *
 * const secretKey = Redacted.make(process.env.UID2_SECRET_KEY ?? "")
 *
 * // Every process of the fleet: one of them refreshes per interval, the others read its ring.
 * const Dsp = Bidstream.layerWith({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey
 * }).pipe(Layer.provide(Layer.mergeAll(
 *   RedisKeyStore.layer({ url: "redis://redis.internal:6379", clientSecret: secretKey }),
 *   NativeCrypto.layerBest,
 *   NodeHttpClient.layerUndici
 * )))
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/adapters/redis
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { RedisOptions } from "ioredis"
import { randomBytes } from "node:crypto"
import type { IdentityScope } from "../../src/Identity.js"
import * as StoredRing from "../../src/internal/storedRing.js"
import * as KeyStore from "../../src/KeyStore.js"
import { connect, type ConnectionOptions } from "./connection.js"
import { type SlotNames, slotNames } from "./names.js"
import { EXTEND_LEASE, RELEASE_LEASE, SAVE_IF_NEWER } from "./scripts.js"
import { deriveKey, open, seal } from "./sealing.js"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The Redis URL. Default `redis://127.0.0.1:6379`. */
  readonly url?: string | undefined
  /**
   * The client secret (as given by UID2, Base64 text): the key rings are
   * sealed under is derived from it, so only clients with this secret can
   * read them. A plain string (from the Promise API) is accepted too.
   */
  readonly clientSecret: Redacted.Redacted<string> | string
  /** Prefix of every Redis name (inside the hash tag). Default `"uid2"`. */
  readonly keyPrefix?: string | undefined
  /** Accept only rings of this identity scope (default: either). */
  readonly identityScope?: IdentityScope | undefined
  /** How often the change feed polls, covering pub/sub messages lost while disconnected. Default 30 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** Longest wait for a connection. Default 2 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Longest wait for one command. Default 1 s. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** More ioredis options (TLS, username, password, …); the bounds above override theirs. */
  readonly redis?: RedisOptions | undefined
  /** Bounds of every load, save and lease call (see `KeyStore.make`; default timeout 3 s). */
  readonly store?: KeyStore.MakeOptions | undefined
}

/**
 * The store cannot be built: `ioredis` is not installed, or the key prefix
 * would break the Redis Cluster hash tag (`{` or `}`).
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisKeyStoreUnavailable extends Data.TaggedError("RedisKeyStoreUnavailable")<{
  readonly reason: "MissingDependency" | "InvalidOptions"
  readonly detail: string
}> {
  override get message() {
    return `Redis key store unavailable: ${this.detail}`
  }
}

const DEFAULT_URL = "redis://127.0.0.1:6379"
const DEFAULT_PREFIX = "uid2"
const DEFAULT_POLL = Duration.seconds(30)
const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(2)
const DEFAULT_COMMAND_TIMEOUT = Duration.seconds(1)
const DEFAULT_STORE_TIMEOUT = Duration.seconds(3)

const NOT_A_RING = "the stored entry is not a key ring of this SDK"
const DOES_NOT_OPEN =
  "the stored ring does not open under this client secret (corrupt, or saved by a client with another secret)"

// A Redis failure in words that carry no value: Redis error texts name the command and the problem only.
const describe = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  return text.startsWith("WRONGTYPE") ? `${NOT_A_RING} (wrong Redis type)` : `Redis: ${text.slice(0, 200)}`
}

const loadRedis = Effect.tryPromise({
  try: () => import("ioredis"),
  catch: () =>
    new RedisKeyStoreUnavailable({
      reason: "MissingDependency",
      detail: "the optional peer dependency ioredis is not installed (npm install ioredis@5)"
    })
})

/**
 * The store's persistence on one Redis connection (plus one per change feed),
 * closed with the scope. Building it never waits longer than the connect
 * timeout and never fails because Redis is down.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePersistence = (
  options: Options
): Effect.Effect<KeyStore.Persistence, RedisKeyStoreUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const prefix = options.keyPrefix ?? DEFAULT_PREFIX
    if (slotNames(prefix, "slot") === undefined) {
      return yield* new RedisKeyStoreUnavailable({
        reason: "InvalidOptions",
        detail: "the key prefix must be 1 to 200 characters without braces or control characters"
      })
    }
    const { Redis: RedisClass } = yield* loadRedis
    const connection: ConnectionOptions = {
      url: options.url ?? DEFAULT_URL,
      connectTimeout: Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT),
      commandTimeout: Duration.decode(options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT),
      extra: options.redis
    }
    const pollInterval = Duration.decode(options.pollInterval ?? DEFAULT_POLL)
    const sealKey = deriveKey(
      Redacted.isRedacted(options.clientSecret) ? Redacted.value(options.clientSecret) : String(options.clientSecret)
    )
    const redis = yield* connect(RedisClass, connection, "commands")

    const namesOf = (operation: KeyStore.KeyStoreError["operation"], slot: string) => {
      const names = slotNames(prefix, slot)
      return names === undefined
        ? Effect.fail(
          new KeyStore.KeyStoreError({ operation, slot, detail: "the slot name would break the Redis hash tag" })
        )
        : Effect.succeed(names)
    }
    const call = <A>(operation: KeyStore.KeyStoreError["operation"], slot: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (error) => new KeyStore.KeyStoreError({ operation, slot, detail: describe(error) })
      })

    const read = (
      slot: string,
      names: SlotNames
    ): Effect.Effect<Option.Option<KeyStore.StoredRing>, KeyStore.KeyStoreError> =>
      Effect.flatMap(
        call("load", slot, () => redis.hmget(names.ring, "v", "f", "d")),
        ([version, fetchedAt, sealed]) => {
          const fail = (detail: string) => Effect.fail(new KeyStore.KeyStoreError({ operation: "load", slot, detail }))
          if (version == null && fetchedAt == null && sealed == null) return Effect.succeedNone
          if (sealed == null) return fail(NOT_A_RING)
          const text = open(sealKey, sealed, names.ring)
          if (text === undefined) return fail(DOES_NOT_OPEN)
          return Either.match(StoredRing.decode(text, { slot, identityScope: options.identityScope }), {
            onLeft: fail,
            onRight: Effect.succeedSome
          })
        }
      )

    const load = (slot: string) => Effect.flatMap(namesOf("load", slot), (names) => read(slot, names))

    const save = (slot: string, stored: KeyStore.StoredRing): Effect.Effect<void, KeyStore.KeyStoreError> =>
      Effect.flatMap(namesOf("save", slot), (names) =>
        call("save", slot, () =>
          redis.eval(
            SAVE_IF_NEWER,
            1,
            names.ring,
            String(stored.fetchedAt),
            seal(sealKey, StoredRing.encode(slot, stored), names.ring),
            names.channel
          )).pipe(Effect.asVoid))

    const lease = (
      slot: string,
      ttl: Duration.Duration
    ): Effect.Effect<Option.Option<KeyStore.Lease>, KeyStore.KeyStoreError> =>
      Effect.gen(function*() {
        const names = yield* namesOf("lease", slot)
        const ttlMs = String(Math.max(1, Math.round(Duration.toMillis(ttl))))
        // A random token: only the holder can release or extend the lease.
        const token = randomBytes(16).toString("hex")
        const taken = yield* call("lease", slot, () => redis.set(names.lease, token, "PX", ttlMs, "NX"))
        if (taken !== "OK") return Option.none()
        return Option.some<KeyStore.Lease>({
          release: Effect.asVoid(call("lease", slot, () => redis.eval(RELEASE_LEASE, 1, names.lease, token))),
          extend: Effect.map(
            call("lease", slot, () => redis.eval(EXTEND_LEASE, 1, names.lease, token, ttlMs)),
            (n) => n === 1
          )
        })
      })

    const watch = (slot: string): Stream.Stream<KeyStore.StoredRing, KeyStore.KeyStoreError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const names = yield* namesOf("watch", slot)
        const subscriber = yield* connect(RedisClass, connection, "change feed")
        // A tick per published version, and one per (re)connection: messages sent while away are lost.
        const published = Stream.async<void>((emit) => {
          const onMessage = (channel: string) => {
            if (channel === names.channel) void emit.single(undefined)
          }
          const onReady = () => {
            subscriber.subscribe(names.channel).catch(() => undefined)
            void emit.single(undefined)
          }
          subscriber.on("message", onMessage)
          subscriber.on("ready", onReady)
          if (subscriber.status === "ready") onReady()
          return Effect.sync(() => {
            subscriber.off("message", onMessage)
            subscriber.off("ready", onReady)
          })
        }, { bufferSize: 1, strategy: "sliding" })
        const polled = Stream.fromSchedule(Schedule.spaced(pollInterval))
        let newest = -Infinity
        let lastProblem: string | undefined
        return Stream.merge(published, polled).pipe(
          Stream.mapEffect(() => Effect.either(read(slot, names))),
          Stream.tap((result) => {
            // An unreadable entry is logged once per new problem, not once per poll.
            const problem = Either.isLeft(result) ? result.left.detail : undefined
            const changed = problem !== lastProblem
            lastProblem = problem
            return changed && problem !== undefined
              ? Effect.logWarning("UID2 Redis key store holds an unreadable ring; ignoring it").pipe(
                Effect.annotateLogs({ store: "redis", slot, reason: problem })
              )
              : Effect.void
          }),
          Stream.filterMap((result) => {
            if (Either.isLeft(result) || Option.isNone(result.right)) return Option.none()
            const stored = result.right.value
            if (stored.fetchedAt <= newest) return Option.none()
            newest = stored.fetchedAt
            return Option.some(stored)
          })
        )
      }))

    return { name: "redis", load, save, watch, lease }
  })

/**
 * The Redis store, closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<KeyStore.KeyStoreShape, RedisKeyStoreUnavailable, Scope.Scope> =>
  Effect.map(
    makePersistence(options),
    (persistence) => KeyStore.make(persistence, { timeout: DEFAULT_STORE_TIMEOUT, ...options.store })
  )

/**
 * {@link make} as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<KeyStore.KeyStore, RedisKeyStoreUnavailable> =>
  Layer.scoped(KeyStore.KeyStore, make(options))

/**
 * The options from `UID2_REDIS_URL` (default `redis://127.0.0.1:6379`),
 * `UID2_SECRET_KEY` (the client secret, read as `Redacted`) and
 * `UID2_REDIS_KEY_PREFIX` (default `uid2`).
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.string("UID2_REDIS_URL").pipe(Config.withDefault(DEFAULT_URL)),
  clientSecret: Config.redacted("UID2_SECRET_KEY"),
  keyPrefix: Config.string("UID2_REDIS_KEY_PREFIX").pipe(Config.withDefault(DEFAULT_PREFIX))
})

/**
 * {@link layer} configured from `config` (default {@link config}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<KeyStore.KeyStore, RedisKeyStoreUnavailable | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(options, layer))
