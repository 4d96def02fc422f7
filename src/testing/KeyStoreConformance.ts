/**
 * A conformance suite for `KeyStore` adapters: run it inside your vitest
 * file against your store's layer and it checks what clients rely on —
 * load of an empty slot, a round trip of every ring field, slot isolation,
 * newer-wins saves, the change feed, the lease (when the store has one) and
 * corrupt data as a typed `KeyStoreError`.
 *
 * The suite does not import vitest itself: it registers its tests through
 * the `layer(...)` runner you pass, so this module loads anywhere. Checks
 * fail their test with a {@link ConformanceViolation} that says what the
 * store did wrong. Each test uses slots of its own (random names), so a
 * shared backend (a Redis, a directory) can run it alongside other tests.
 *
 * @example
 * ```ts
 * import { layer } from "@effect/vitest"
 * import { Effect } from "effect"
 * import * as FileKeyStore from "effect-uid2/adapters/file"
 * import { KeyStoreConformance } from "effect-uid2/testing"
 * import { mkdtempSync, writeFileSync } from "node:fs"
 * import { tmpdir } from "node:os"
 * import { join } from "node:path"
 *
 * const directory = mkdtempSync(join(tmpdir(), "key-store-"))
 *
 * // `excludeTestServices`: a store over real I/O runs its timeouts on the wall clock.
 * KeyStoreConformance.suite(layer(FileKeyStore.layer({ directory }), { excludeTestServices: true }), {
 *   name: "file key store",
 *   changeFeed: false, // this store has no `watch`
 *   corrupt: (slot) => Effect.sync(() => writeFileSync(join(directory, `${slot}.json`), "{ not json"))
 * })
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as KeyRing from "../KeyRing.js"
import { KeyStore, type KeyStoreShape, type StoredRing } from "../KeyStore.js"
import { keyRing, secretFor } from "./Builders.js"

/**
 * A store broke a rule clients rely on.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConformanceViolation extends Data.TaggedError("ConformanceViolation")<{ readonly rule: string }> {
  override get message() {
    return `key store conformance: ${this.rule}`
  }
}

/**
 * The part of `@effect/vitest`'s `it` the suite registers tests with (what
 * the callback of `layer(storeLayer)(name, (it) => …)` receives).
 *
 * @since 0.1.0
 * @category models
 */
export interface Registrar<R> {
  readonly effect: (name: string, self: () => Effect.Effect<void, unknown, KeyStore | R>, timeout?: number) => void
}

/**
 * Options of {@link suite}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /** Names the `describe` block. Default `"KeyStore conformance"`. */
  readonly name?: string | undefined
  /**
   * Puts unreadable data (garbage, a truncated entry) where the store keeps
   * `slot`. Without it, the corrupt-data test is not registered.
   */
  readonly corrupt?: ((slot: string) => Effect.Effect<void, unknown, R>) | undefined
  /** Whether the store has a change feed (default `true`). */
  readonly changeFeed?: boolean | undefined
  /** The longest the suite waits for the change feed. Default 10 s. */
  readonly feedTimeout?: Duration.DurationInput | undefined
  /** Per-test vitest timeout in ms. Default 30 000. */
  readonly testTimeout?: number | undefined
}

const NOW = Date.UTC(2025, 0, 15, 12)

/**
 * A ring that sets every field the wire format has (whole-second times, as
 * the wire keeps them), so a round trip that drops one is caught.
 *
 * @since 0.1.0
 * @category rings
 */
export const fullRing = (nowMs: number = NOW): KeyRing.KeyRing =>
  keyRing({
    callerSiteId: 77,
    masterKeysetId: 1,
    defaultKeysetId: 99,
    tokenExpirySeconds: 2_592_000,
    identityScope: "EUID",
    maxBidstreamLifetimeSeconds: 259_200,
    maxSharingLifetimeSeconds: 2_592_000,
    allowClockSkewSeconds: 1_234,
    keys: [
      {
        id: 5,
        keysetId: 1,
        created: nowMs - 86_400_000,
        activates: nowMs - 3_600_000,
        expires: nowMs + 86_400_000,
        secret: secretFor(5)
      },
      {
        id: 6,
        keysetId: 99,
        siteId: 77,
        created: nowMs - 7_200_000,
        activates: nowMs,
        expires: nowMs + 172_800_000,
        secret: secretFor(6)
      },
      {
        id: 7,
        siteId: 12,
        created: nowMs,
        activates: nowMs + 60_000,
        expires: nowMs + 259_200_000,
        secret: secretFor(7)
      }
    ],
    sites: { 77: ["example.com", "app.example"], 12: [] }
  })

const check = (holds: boolean, rule: string): Effect.Effect<void, ConformanceViolation> =>
  holds ? Effect.void : Effect.fail(new ConformanceViolation({ rule }))

// The ring as its wire form: equal rings have equal bodies, secrets included.
const sameRing = (a: KeyRing.KeyRing, b: KeyRing.KeyRing) =>
  JSON.stringify(KeyRing.toBody(a)) === JSON.stringify(KeyRing.toBody(b)) && a.legacy === b.legacy

const freshSlot = (label: string) =>
  Effect.map(
    Clock.currentTimeMillis,
    (now) => `conformance-${label}-${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  )

const loaded = (store: KeyStoreShape, slot: string, rule: string) =>
  Effect.flatMap(
    Effect.mapError(store.load(slot), (error) =>
      new ConformanceViolation({ rule: `${rule}: load failed (${error.message})` })),
    Option.match({
      onNone: () =>
        Effect.fail(new ConformanceViolation({ rule: `${rule}: nothing loaded` })),
      onSome: Effect.succeed
    })
  )

const saved = (store: KeyStoreShape, slot: string, stored: StoredRing) =>
  Effect.mapError(
    store.save(slot, stored),
    (error) => new ConformanceViolation({ rule: `save failed (${error.message})` })
  )

// Real time for the feed's waits, whatever clock the runner provides (a TestClock would never fire them).
const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withClock(effect, Clock.make())

/**
 * Registers the conformance tests on `layerSuite`, the value of
 * `@effect/vitest`'s `layer(storeLayer)` (pass `{ excludeTestServices: true }`
 * to it for a store over real I/O).
 *
 * @since 0.1.0
 * @category suite
 */
export const suite = <R = never>(
  layerSuite: (name: string, f: (it: Registrar<R>) => void) => void,
  options: Options<R> = {}
): void => {
  const feedTimeout = Duration.decode(options.feedTimeout ?? Duration.seconds(10))
  const timeout = options.testTimeout ?? 30_000
  layerSuite(options.name ?? "KeyStore conformance", (it) => {
    it.effect("an empty slot loads as None", () =>
      Effect.gen(function*() {
        const store = yield* KeyStore
        const slot = yield* freshSlot("empty")
        const result = yield* Effect.either(store.load(slot))
        yield* check(Either.isRight(result) && Option.isNone(result.right), "load of a slot never saved must be None")
      }), timeout)

    it.effect("save then load gives back every ring field and the fetch time", () =>
      Effect.gen(function*() {
        const store = yield* KeyStore
        for (const [label, value] of [["full", fullRing()], ["legacy", legacyOf(fullRing())]] as const) {
          const slot = yield* freshSlot(label)
          yield* saved(store, slot, { ring: value, fetchedAt: NOW + 1 })
          const back = yield* loaded(store, slot, `round trip of a ${label} ring`)
          yield* check(back.fetchedAt === NOW + 1, `the ${label} ring's fetchedAt must survive a round trip`)
          yield* check(sameRing(back.ring, value), `every field of a ${label} ring must survive a round trip`)
        }
      }), timeout)

    it.effect("slots are isolated: each loads only its own ring", () =>
      Effect.gen(function*() {
        const store = yield* KeyStore
        const a = yield* freshSlot("a")
        const b = yield* freshSlot("b")
        const ringA = fullRing(NOW)
        const ringB = fullRing(NOW + 3_600_000)
        yield* saved(store, a, { ring: ringA, fetchedAt: NOW })
        yield* saved(store, b, { ring: ringB, fetchedAt: NOW + 5 })
        yield* check(sameRing((yield* loaded(store, a, "slot isolation")).ring, ringA), "a slot must load its own ring")
        yield* check(sameRing((yield* loaded(store, b, "slot isolation")).ring, ringB), "a slot must load its own ring")
      }), timeout)

    it.effect("newer wins: a save older than the stored ring is dropped", () =>
      Effect.gen(function*() {
        const store = yield* KeyStore
        const slot = yield* freshSlot("newer")
        yield* saved(store, slot, { ring: fullRing(NOW), fetchedAt: NOW + 100 })
        yield* saved(store, slot, { ring: fullRing(NOW - 1_000), fetchedAt: NOW + 50 })
        yield* check(
          (yield* loaded(store, slot, "newer wins")).fetchedAt === NOW + 100,
          "an older save must not replace a newer ring"
        )
        yield* saved(store, slot, { ring: fullRing(NOW + 1_000), fetchedAt: NOW + 200 })
        yield* check(
          (yield* loaded(store, slot, "newer wins")).fetchedAt === NOW + 200,
          "a newer save must replace the ring"
        )
      }), timeout)

    if (options.changeFeed ?? true) {
      it.effect(
        "watch delivers rings saved under its slot, and only those",
        () =>
          live(Effect.scoped(Effect.gen(function*() {
            const store = yield* KeyStore
            const slot = yield* freshSlot("watch")
            const other = yield* freshSlot("other")
            const watcher = yield* store.watch(slot).pipe(Stream.take(1), Stream.runCollect, Effect.forkScoped)
            // Saves keep coming (each newer) until the feed, however long it takes to subscribe, delivers one.
            const saving = yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              yield* saved(store, other, { ring: fullRing(NOW), fetchedAt: now + 1 })
              yield* saved(store, slot, { ring: fullRing(NOW), fetchedAt: now })
              yield* Effect.sleep("100 millis")
            })))
            const got = yield* Fiber.join(watcher).pipe(
              Effect.timeoutFail({
                duration: feedTimeout,
                onTimeout: () => new ConformanceViolation({ rule: "watch delivered nothing in time" })
              })
            )
            yield* Fiber.interrupt(saving)
            const first = Array.from(got)[0]!
            yield* check(sameRing(first.ring, fullRing(NOW)), "watch must deliver the saved ring")
            // The other slot's saves were always 1 ms newer: a feed that mixed slots would show it.
            const stored = yield* loaded(store, slot, "watch")
            yield* check(first.fetchedAt <= stored.fetchedAt, "watch must not deliver another slot's ring")
          }))),
        timeout
      )
    }

    it.effect("a lease, when the store has one, is exclusive until released", () =>
      Effect.gen(function*() {
        const store = yield* KeyStore
        if (store.lease === undefined) return
        const slot = yield* freshSlot("lease")
        const first = yield* Effect.mapError(store.lease(slot, Duration.seconds(30)), (e) =>
          new ConformanceViolation({ rule: e.message }))
        yield* check(Option.isSome(first), "a free lease must be granted")
        const second = yield* Effect.mapError(store.lease(slot, Duration.seconds(30)), (e) =>
          new ConformanceViolation({ rule: e.message }))
        yield* check(Option.isNone(second), "a held lease must not be granted again")
        if (Option.isSome(first)) {
          yield* Effect.orDie(first.value.release)
        }
        const third = yield* Effect.mapError(store.lease(slot, Duration.seconds(30)), (e) =>
          new ConformanceViolation({ rule: e.message }))
        yield* check(Option.isSome(third), "a released lease must be granted again")
        if (Option.isSome(third)) {
          yield* Effect.orDie(third.value.release)
        }
      }), timeout)

    const corrupt = options.corrupt
    if (corrupt !== undefined) {
      it.effect("corrupt data is a KeyStoreError, and a good save replaces it", () =>
        Effect.gen(function*() {
          const store = yield* KeyStore
          const slot = yield* freshSlot("corrupt")
          yield* saved(store, slot, { ring: fullRing(NOW), fetchedAt: NOW })
          yield* corrupt(slot)
          const result = yield* Effect.exit(store.load(slot))
          const failure = result._tag === "Failure" ? Cause.failureOption(result.cause) : Option.none()
          yield* check(
            Option.isSome(failure) && failure.value._tag === "KeyStoreError" && failure.value.operation === "load" &&
              failure.value.slot === slot,
            "loading corrupt data must fail with a KeyStoreError of that load and slot"
          )
          yield* saved(store, slot, { ring: fullRing(NOW), fetchedAt: NOW + 10 })
          yield* check(
            (yield* loaded(store, slot, "repair")).fetchedAt === NOW + 10,
            "a good save must replace corrupt data"
          )
        }), timeout)
    }
  })
}

// The legacy (array) form of a ring: keys only, as `/v2/key/latest` sent them.
const legacyOf = (ring: KeyRing.KeyRing): KeyRing.KeyRing =>
  Either.getOrThrow(KeyRing.fromBody((KeyRing.toBody(ring) as { keys: unknown }).keys))
