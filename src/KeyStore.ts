/**
 * The `KeyStore` service: where key rings are kept between refreshes, so a
 * process can start warm and a fleet can share one ring. A store keeps one
 * ring per *slot* (by default the client's role, `"bidstream"` or
 * `"sharing"`), so every client of an app can use the same store without
 * reading another client's keys.
 *
 * Decrypts never touch the store: each client holds its current ring in its
 * own memory and only loads, saves and watches the store around refreshes.
 * Adapters (file, Redis, your own) provide persistence to {@link make}:
 * `load`, `save` and an optional change feed `watch`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer, Option, Redacted } from "effect"
 * import { Bidstream, Crypto, KeyStore } from "effect-uid2"
 *
 * // A store of your own: load a slot's ring, and save unless the stored ring is newer.
 * const rings = new Map<string, KeyStore.StoredRing>()
 * const MapStore = Layer.succeed(
 *   KeyStore.KeyStore,
 *   KeyStore.make({
 *     name: "map",
 *     load: (slot) => Effect.sync(() => Option.fromNullable(rings.get(slot))),
 *     save: (slot, stored) =>
 *       Effect.sync(() => {
 *         const current = rings.get(slot)
 *         if (current === undefined || current.fetchedAt <= stored.fetchedAt) rings.set(slot, stored)
 *       })
 *   })
 * )
 *
 * const Dsp = Bidstream.layerWith({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? "")
 * }).pipe(Layer.provide(Layer.mergeAll(MapStore, Crypto.layerNode, NodeHttpClient.layerUndici)))
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import type { KeyRing } from "./KeyRing.js"

/**
 * A key store's backing storage failed, or held something that is not a
 * ring of this client. `detail` never carries key material.
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyStoreError extends Data.TaggedError("KeyStoreError")<{
  readonly operation: "load" | "save" | "watch" | "lease"
  readonly slot: string
  readonly detail: string
}> {
  override get message() {
    return `key store ${this.operation} of ${this.slot} failed: ${this.detail}`
  }
}

/**
 * A ring as a store keeps it: the ring and when it was fetched from the
 * operator (epoch milliseconds), which orders rings written by different
 * processes and gives a warm-started ring its true age.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredRing {
  readonly ring: KeyRing
  readonly fetchedAt: number
}

/**
 * A short exclusive claim on refreshing one slot, held by one process of a
 * fleet while it calls the operator. It lapses by itself after its TTL, so a
 * process that dies while holding it blocks nobody for long.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  /** Gives the lease up if this process still holds it (another holder's lease is left alone). */
  readonly release: Effect.Effect<void, KeyStoreError>
  /** Restarts the TTL if this process still holds the lease; answers whether it did. */
  readonly extend: Effect.Effect<boolean, KeyStoreError>
}

/**
 * What an adapter provides: persistence and, optionally, a feed of rings
 * that other processes save and a lease that lets one process of a fleet
 * refresh for all.
 *
 * `save` keeps the newer ring: a ring older (by `fetchedAt`) than the one
 * stored is dropped, so a slow process never overwrites a newer ring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Persistence {
  /** Names the store in logs and status, e.g. `"file"` or `"redis"`. */
  readonly name: string
  /** The ring saved under `slot`, if any. A corrupt entry is a `KeyStoreError`. */
  readonly load: (slot: string) => Effect.Effect<Option.Option<StoredRing>, KeyStoreError>
  /** Saves `stored` under `slot` unless the ring stored there is newer. */
  readonly save: (slot: string, stored: StoredRing) => Effect.Effect<void, KeyStoreError>
  /**
   * Rings saved under `slot` by others, as they arrive. It should end only
   * when the scope that runs it closes; failures are logged and the feed is
   * resubscribed after a pause.
   */
  readonly watch?: ((slot: string) => Stream.Stream<StoredRing, KeyStoreError>) | undefined
  /**
   * Tries to take the refresh lease of `slot` for `ttl`: `Some` when this
   * process now holds it, `None` when another does. A store with a lease
   * makes its clients coordinate: per refresh interval one process calls the
   * operator and the others take its ring from the store.
   */
  readonly lease?:
    | ((slot: string, ttl: Duration.Duration) => Effect.Effect<Option.Option<Lease>, KeyStoreError>)
    | undefined
}

/**
 * The store as clients use it.
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyStoreShape {
  readonly name: string
  readonly load: (slot: string) => Effect.Effect<Option.Option<StoredRing>, KeyStoreError>
  /** Saves `stored` under `slot` unless the ring stored there is newer. */
  readonly save: (slot: string, stored: StoredRing) => Effect.Effect<void, KeyStoreError>
  /** Rings others save under `slot`; never fails, empty when the store has no feed. */
  readonly watch: (slot: string) => Stream.Stream<StoredRing>
  /** The refresh lease of `slot`, when the store coordinates a fleet; `undefined` when it does not. */
  readonly lease?:
    | ((slot: string, ttl: Duration.Duration) => Effect.Effect<Option.Option<Lease>, KeyStoreError>)
    | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class KeyStore extends Context.Tag("effect-uid2/KeyStore")<KeyStore, KeyStoreShape>() {}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  /** The longest a `load` or `save` may take before it fails. Default 10 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The pause before a failed change feed is subscribed again. Default 5 s. */
  readonly resubscribeAfter?: Duration.DurationInput | undefined
}

const DEFAULT_TIMEOUT = Duration.seconds(10)
const DEFAULT_RESUBSCRIBE = Duration.seconds(5)

/**
 * Builds a store from an adapter's persistence. Every operation is bounded
 * in time, and a defect inside the adapter becomes a `KeyStoreError` (a
 * store can never take a client down); a change feed that fails is logged
 * and subscribed again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (persistence: Persistence, options?: MakeOptions): KeyStoreShape => {
  const timeout = options?.timeout ?? DEFAULT_TIMEOUT
  const resubscribeAfter = options?.resubscribeAfter ?? DEFAULT_RESUBSCRIBE
  const guard = <A>(
    operation: "load" | "save" | "lease",
    slot: string,
    run: () => Effect.Effect<A, KeyStoreError>
  ): Effect.Effect<A, KeyStoreError> =>
    Effect.suspend(run).pipe(
      Effect.catchAllDefect(() =>
        Effect.fail(new KeyStoreError({ operation, slot, detail: "the adapter failed unexpectedly" }))
      ),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new KeyStoreError({ operation, slot, detail: `no answer within ${Duration.format(timeout)}` })
      })
    )
  const watch = persistence.watch
  const lease = persistence.lease
  // A lease is bounded like the other calls; its release and extend are too.
  const guardLease = (slot: string, held: Lease): Lease => ({
    release: guard("lease", slot, () => held.release),
    extend: guard("lease", slot, () => held.extend)
  })
  return KeyStore.of({
    name: persistence.name,
    load: (slot) => guard("load", slot, () => persistence.load(slot)),
    save: (slot, stored) => guard("save", slot, () => persistence.save(slot, stored)),
    lease: lease === undefined
      ? undefined
      : (slot, ttl) =>
        Effect.map(guard("lease", slot, () => lease(slot, ttl)), Option.map((held) => guardLease(slot, held))),
    watch: watch === undefined ? () => Stream.empty : (slot) =>
      Stream.suspend(() => watch(slot)).pipe(
        Stream.catchAllCause((cause) =>
          Stream.drain(Stream.fromEffect(
            Effect.logWarning("UID2 key store change feed failed; subscribing again").pipe(
              Effect.annotateLogs({ store: persistence.name, slot }),
              Effect.annotateLogs("cause", cause)
            )
          ))
        ),
        // A feed that ended or failed is subscribed again after a pause, never in a tight loop.
        Stream.concat(Stream.drain(Stream.fromEffect(Effect.sleep(resubscribeAfter)))),
        Stream.forever
      )
  })
}

/**
 * An in-memory store: rings live as long as the store. Clients of one
 * process that share it see each other's rings under the same slot through
 * `watch`; a save older than the ring stored is dropped. `seed`, when given, is what every slot holds until a ring is saved
 * under it (tests, or keys loaded by hand).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (seed?: KeyRing): Effect.Effect<KeyStoreShape> =>
  Effect.gen(function*() {
    const saved = yield* PubSub.unbounded<{ readonly slot: string; readonly stored: StoredRing }>()
    const slots = new Map<string, StoredRing>()
    const seeded: StoredRing | undefined = seed === undefined
      ? undefined
      : { ring: seed, fetchedAt: yield* Clock.currentTimeMillis }
    return make({
      name: "memory",
      load: (slot) => Effect.sync(() => Option.fromNullable(slots.get(slot) ?? seeded)),
      save: (slot, stored) =>
        Effect.suspend(() => {
          const previous = slots.get(slot)
          if (previous !== undefined && previous.fetchedAt > stored.fetchedAt) return Effect.void
          slots.set(slot, stored)
          return Effect.asVoid(PubSub.publish(saved, { slot, stored }))
        }),
      watch: (slot) =>
        Stream.fromPubSub(saved).pipe(
          Stream.filter((entry) => entry.slot === slot),
          Stream.map((entry) => entry.stored)
        )
    })
  })

/**
 * The default store: process memory.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<KeyStore> = Layer.effect(KeyStore, makeMemory())

/**
 * An in-memory store whose every slot holds `ring` until another is saved.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (ring: KeyRing): Layer.Layer<KeyStore> => Layer.effect(KeyStore, makeMemory(ring))
