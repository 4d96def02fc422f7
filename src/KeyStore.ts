/**
 * The `KeyStore` service: where the current {@link KeyRing} lives. Decrypt
 * reads `current()` synchronously (no I/O, no lock); a refresh `set`s a new
 * ring; persistent adapters (file, Redis) also `load` a ring saved earlier
 * for a warm start and feed rings written by other processes into `changes`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { type KeyRing, releaseHandles } from "./KeyRing.js"

/**
 * A key store's backing storage failed (the in-memory store never fails).
 *
 * @since 0.1.0
 * @category errors
 */
export class KeyStoreError extends Data.TaggedError("KeyStoreError")<{
  readonly operation: "load" | "save"
  readonly detail: string
}> {
  override get message() {
    return `key store ${this.operation} failed: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface KeyStoreShape {
  /** The ring decrypts use now; synchronous and free of I/O. */
  readonly current: () => KeyRing | undefined
  /** Reads the backing storage (warm start) and makes what it holds current. */
  readonly load: Effect.Effect<Option.Option<KeyRing>, KeyStoreError>
  /** Makes `ring` current and persists it. */
  readonly set: (ring: KeyRing) => Effect.Effect<void, KeyStoreError>
  /** The current ring (if any) on subscription, then every ring that becomes current, from here or from another process. */
  readonly changes: Stream.Stream<KeyRing>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class KeyStore extends Context.Tag("effect-uid2/KeyStore")<KeyStore, KeyStoreShape>() {}

/**
 * A holder for the current ring that releases the crypto handles of the ring
 * it replaces. Adapters build on it so that decrypt always reads local memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCurrentRing = Effect.gen(function*() {
  const ref = yield* SubscriptionRef.make<KeyRing | undefined>(undefined)
  // A plain mirror of the ref: the hot path reads it without running an Effect.
  let current: KeyRing | undefined
  const swap = (ring: KeyRing) =>
    Effect.suspend(() => {
      const previous = current
      current = ring
      // Decrypts are synchronous, so nothing can still be using the old ring's handles.
      if (previous !== undefined && previous !== ring) releaseHandles(previous)
      return SubscriptionRef.set(ref, ring)
    })
  return {
    current: (): KeyRing | undefined => current,
    swap,
    changes: ref.changes.pipe(Stream.filter((ring): ring is KeyRing => ring !== undefined))
  }
})

/**
 * An in-memory store, optionally seeded with a ring.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (initial?: KeyRing): Effect.Effect<KeyStoreShape> =>
  Effect.gen(function*() {
    const ring = yield* makeCurrentRing
    if (initial !== undefined) yield* ring.swap(initial)
    return KeyStore.of({
      current: ring.current,
      load: Effect.sync(() => Option.fromNullable(ring.current())),
      set: ring.swap,
      changes: ring.changes
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
 * An in-memory store holding `ring` from the start (tests, or keys loaded by hand).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryWith = (ring: KeyRing): Layer.Layer<KeyStore> => Layer.effect(KeyStore, makeMemory(ring))
