import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Layer from "effect/Layer"
import * as NativeCrypto from "../adapters/native-crypto/index.js"
import * as Bidstream from "../src/Bidstream.js"
import { Crypto } from "../src/Crypto.js"
import { decrypt } from "../src/Decryption.js"
import type { KeyRing } from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { bidstreamRing, token } from "../src/testing/Builders.js"

const NOW = Date.UTC(2025, 0, 15, 12)

describe("KeyStore (memory)", () => {
  it.effect("holds the current ring, loads it, and publishes it then every change", () =>
    Effect.gen(function*() {
      const store = yield* KeyStore.makeMemory()
      expect(store.current()).toBeUndefined()
      expect(yield* store.load).toEqual(Option.none())
      const a = bidstreamRing(NOW)
      const b = bidstreamRing(NOW + 1)
      yield* store.set(a)
      const first = yield* Deferred.make<void>()
      const seen: Array<unknown> = []
      const subscriber = yield* store.changes.pipe(
        Stream.take(2),
        Stream.runForEach((ring) => Effect.zipRight(Effect.sync(() => seen.push(ring)), Deferred.succeed(first, undefined))),
        Effect.fork
      )
      yield* Deferred.await(first) // a subscriber first sees the current ring
      yield* store.set(b)
      yield* Fiber.join(subscriber)
      expect(seen).toEqual([a, b])
      expect(store.current()).toBe(b)
      expect(Option.getOrThrow(yield* store.load)).toBe(b)
    }))

  it.effect("frees the crypto handles and key table of a replaced ring: no leak across rotations", () =>
    Effect.gen(function*() {
      const native = Either.getOrThrowWith(NativeCrypto.load(), (e) => new Error(`${e.message}; run npm run build:native`))
      const baseline = native.liveKeys()
      const store = yield* KeyStore.makeMemory()
      for (let rotation = 0; rotation < 50; rotation++) {
        const ring = bidstreamRing(NOW + rotation)
        yield* store.set(ring)
        const keys = { masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW }
        // V4 goes through the native key table (one table of the ring's 2 keys), V2 through per-key handles.
        expect(decrypt(store.current(), native, token(keys), NOW, { clientType: "bidstream" })._tag).toBe("DecryptedToken")
        expect(native.liveKeys() - baseline).toBe(2)
        expect(decrypt(store.current(), native, token({ ...keys, version: 2 }), NOW, { clientType: "bidstream" })._tag)
          .toBe("DecryptedToken")
        expect(native.liveKeys() - baseline).toBe(4)
      }
      yield* store.set(bidstreamRing(NOW))
      expect(native.liveKeys() - baseline).toBe(0)
    }))

  it.scoped("client layers prepare the native key table of each ring as it becomes current, skipping replaced ones", () =>
    Effect.gen(function*() {
      const native = Either.getOrThrowWith(NativeCrypto.load(), (e) => new Error(`${e.message}; run npm run build:native`))
      const baseline = native.liveKeys()
      const context = yield* Layer.build(
        Bidstream.layerFromKeyStore.pipe(
          Layer.provideMerge(Layer.mergeAll(KeyStore.layerMemory, Layer.succeed(Crypto, native)))
        )
      )
      const store = Context.get(context, KeyStore.KeyStore)
      // The preparing fiber runs when this one yields (a few hops through the store's PubSub).
      const prepared = (ring: KeyRing) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100 && ring.tableFor === undefined; i++) yield* Effect.yieldNow()
        })
      const first = bidstreamRing(NOW - 1)
      yield* store.set(first)
      yield* prepared(first)
      expect(first.tableFor).toBe(native)
      const a = bidstreamRing(NOW)
      const b = bidstreamRing(NOW + 1)
      // Back to back: the preparing fiber, subscribed by now, gets `a` after it has been replaced (and released).
      yield* store.set(a)
      yield* store.set(b)
      yield* prepared(b)
      expect(first.tableFor).toBeUndefined()
      expect(a.tableFor).toBeUndefined()
      expect(b.tableFor).toBe(native)
      expect(native.liveKeys() - baseline).toBe(b.keys.length)
      // No decrypt has run; the first one finds the table ready and imports nothing more.
      const text = token({ masterKey: b.keyById(164)!, siteKey: b.keyById(165)!, now: NOW })
      const client = Context.get(context, Bidstream.BidstreamClient)
      expect(client.decryptSync(text, null, NOW)._tag).toBe("DecryptedToken")
      expect(native.liveKeys() - baseline).toBe(b.keys.length)
      yield* store.set(bidstreamRing(NOW + 2))
      expect(b.tableFor).toBeUndefined()
    }))

  it.effect("closing a client layer releases the current ring's native handles and table", () =>
    Effect.gen(function*() {
      const native = Either.getOrThrowWith(NativeCrypto.load(), (e) => new Error(`${e.message}; run npm run build:native`))
      const baseline = native.liveKeys()
      const ring = bidstreamRing(NOW)
      const text = token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW })
      yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(
            Bidstream.layerFromKeyStore.pipe(
              Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(ring), Layer.succeed(Crypto, native)))
            )
          )
          const client = Context.get(context, Bidstream.BidstreamClient)
          expect(client.decryptSync(text, null, NOW)._tag).toBe("DecryptedToken")
          expect(client.decryptSync(token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: NOW, version: 2 }), null, NOW)._tag)
            .toBe("DecryptedToken")
          expect(native.liveKeys() - baseline).toBe(4) // the table's 2 keys and 2 per-key handles (V2)
        })
      )
      expect(native.liveKeys() - baseline).toBe(0)
      expect(ring.tableFor).toBeUndefined()
    }))
})
