import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as NativeCrypto from "../adapters/native-crypto/index.js"
import * as Bidstream from "../src/Bidstream.js"
import { Crypto } from "../src/Crypto.js"
import * as KeyStore from "../src/KeyStore.js"
import { bidstreamRing, token } from "../src/testing/Builders.js"

const NOW = Date.UTC(2025, 0, 15, 12)
const loadNative = () =>
  Either.getOrThrowWith(NativeCrypto.load(), (e) => new Error(`${e.message}; run npm run build:native`))

describe("KeyStore (memory)", () => {
  it.effect("keeps one ring per slot and feeds each slot's watchers only its own saves", () =>
    Effect.gen(function*() {
      const store = yield* KeyStore.makeMemory()
      expect(yield* store.load("bidstream")).toEqual(Option.none())
      const a = { ring: bidstreamRing(NOW), fetchedAt: NOW }
      const b = { ring: bidstreamRing(NOW + 1), fetchedAt: NOW + 1 }
      const watcher = yield* store.watch("sharing").pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* Effect.yieldNow()
      yield* store.save("bidstream", a)
      yield* store.save("sharing", b)
      expect(Array.from(yield* Fiber.join(watcher))).toEqual([b])
      expect(Option.getOrThrow(yield* store.load("bidstream"))).toBe(a)
      expect(Option.getOrThrow(yield* store.load("sharing"))).toBe(b)
    }))

  it.effect("a seeded store answers its ring for every slot until one is saved there", () =>
    Effect.gen(function*() {
      const seed = bidstreamRing(NOW)
      const store = yield* KeyStore.makeMemory(seed)
      expect(Option.getOrThrow(yield* store.load("anything")).ring).toBe(seed)
      const other = { ring: bidstreamRing(NOW + 1), fetchedAt: NOW + 1 }
      yield* store.save("anything", other)
      expect(Option.getOrThrow(yield* store.load("anything"))).toBe(other)
      expect(Option.getOrThrow(yield* store.load("else")).ring).toBe(seed)
    }))
})

describe("KeyStore.make", () => {
  it.effect("turns an adapter's defect into a KeyStoreError and bounds every call in time", () =>
    Effect.gen(function*() {
      const store = KeyStore.make({
        name: "broken",
        load: () => Effect.die(new Error("boom")),
        save: () => Effect.never
      }, { timeout: "2 seconds" })
      const loaded = yield* Effect.flip(store.load("bidstream"))
      expect(loaded).toMatchObject({ _tag: "KeyStoreError", operation: "load", slot: "bidstream" })
      expect(loaded.message).not.toContain("boom")
      const saving = yield* Effect.fork(
        Effect.flip(store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW }))
      )
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(saving)).toMatchObject({ _tag: "KeyStoreError", operation: "save" })
      // No feed: watch is empty.
      expect(Array.from(yield* Stream.runCollect(store.watch("bidstream")))).toEqual([])
    }))

  it.effect("a change feed that fails is subscribed again after a pause", () =>
    Effect.gen(function*() {
      let subscriptions = 0
      const stored = { ring: bidstreamRing(NOW), fetchedAt: NOW }
      const store = KeyStore.make({
        name: "flaky",
        load: () => Effect.succeedNone,
        save: () => Effect.void,
        watch: () =>
          Stream.suspend(() => {
            subscriptions++
            return subscriptions < 3
              ? Stream.fail(new KeyStore.KeyStoreError({ operation: "watch", slot: "s", detail: "disconnected" }))
              : Stream.make(stored)
          })
      }, { resubscribeAfter: "1 second" })
      const watcher = yield* store.watch("s").pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("1 second")
      expect(subscriptions).toBe(2)
      yield* TestClock.adjust("1 second")
      expect(Array.from(yield* Fiber.join(watcher))).toEqual([stored])
      expect(subscriptions).toBe(3)
    }))
})

describe("prepared rings", () => {
  it.scoped("a client frees the handles and key table of every ring it replaces: no leak across rotations", () =>
    Effect.gen(function*() {
      const native = loadNative()
      const baseline = native.liveKeys()
      const context = yield* Layer.build(
        Bidstream.layerFromKeyStore().pipe(
          Layer.provideMerge(Layer.mergeAll(KeyStore.layerMemory, Layer.succeed(Crypto, native)))
        )
      )
      const store = Context.get(context, KeyStore.KeyStore)
      const client = Context.get(context, Bidstream.BidstreamClient)
      for (let rotation = 0; rotation < 50; rotation++) {
        const ring = bidstreamRing(NOW + rotation)
        yield* store.save("bidstream", { ring, fetchedAt: NOW + rotation })
        yield* client.refresh
        // The key table is made when the ring becomes current, before any decrypt.
        expect(native.liveKeys() - baseline).toBe(ring.keys.length)
        const keys = { masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW }
        expect(client.decryptSync(token(keys), null, NOW)._tag).toBe("DecryptedToken")
        expect(native.liveKeys() - baseline).toBe(ring.keys.length)
        // V2 goes through per-key handles: two more.
        expect(client.decryptSync(token({ ...keys, version: 2 }), null, NOW)._tag).toBe("DecryptedToken")
        expect(native.liveKeys() - baseline).toBe(ring.keys.length + 2)
      }
    }))

  it.effect("closing a client layer releases the current ring's native handles and table", () =>
    Effect.gen(function*() {
      const native = loadNative()
      const baseline = native.liveKeys()
      const ring = bidstreamRing(NOW)
      const text = token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(
            Bidstream.layerFromKeyStore().pipe(
              Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(ring), Layer.succeed(Crypto, native)))
            )
          )
          const client = Context.get(context, Bidstream.BidstreamClient)
          expect(client.decryptSync(text, null, NOW)._tag).toBe("DecryptedToken")
          expect(
            client.decryptSync(
              token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW, version: 2 }),
              null,
              NOW
            )._tag
          )
            .toBe("DecryptedToken")
          expect(native.liveKeys() - baseline).toBe(4) // the table's 2 keys and 2 per-key handles (V2)
        })
      )
      expect(native.liveKeys() - baseline).toBe(0)
    }))
})
