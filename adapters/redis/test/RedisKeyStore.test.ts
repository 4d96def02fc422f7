import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { bidstreamRing } from "../../../src/testing/Builders.js"
import * as TestOperator from "../../../src/testing/TestOperator.js"
import { freePort, ownRedis, randomPrefix, rawRedis, REDIS_URL } from "../../../test/support/redis.js"
import * as RedisKeyStore from "../index.js"

// Whole seconds: the wire format keeps key times in seconds.
const NOW = Math.floor(Date.now() / 1000) * 1000
const SECRET = Redacted.make(TestOperator.DSP_CLIENT.secret)
const OTHER_SECRET = Redacted.make(TestOperator.SHARER_CLIENT.secret)

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

const storeAt = (keyPrefix: string, overrides: Partial<RedisKeyStore.Options> = {}) =>
  RedisKeyStore.make({ url: REDIS_URL, clientSecret: SECRET, keyPrefix, pollInterval: "200 millis", ...overrides })

describe("Redis key store", () => {
  it.scopedLive("round trip of every field, slot isolation, and one hash tag per slot", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const store = yield* storeAt(prefix)
      const raw = yield* rawRedis()
      expect(yield* store.load("bidstream")).toEqual(Option.none())
      const stored = { ring: bidstreamRing(NOW), fetchedAt: NOW }
      yield* store.save("bidstream", stored)
      const loaded = Option.getOrThrow(yield* store.load("bidstream"))
      expect(loaded.fetchedAt).toBe(NOW)
      expect(loaded.ring).toEqual(stored.ring)
      expect(yield* store.load("sharing")).toEqual(Option.none())
      expect(yield* Effect.promise(() => raw.keys(`{${prefix}:*`))).toEqual([`{${prefix}:bidstream}:ring`])
      const fields = yield* Effect.promise(() => raw.hgetall(`{${prefix}:bidstream}:ring`))
      expect(Object.keys(fields).sort()).toEqual(["d", "f", "v"])
      expect(fields["v"]).toBe("1")
      expect(fields["f"]).toBe(String(NOW))
    }))

  it.scopedLive("the raw stored value holds no key secret, as Base64 or hex", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const store = yield* storeAt(prefix)
      const raw = yield* rawRedis()
      const ring = bidstreamRing(NOW)
      yield* store.save("bidstream", { ring, fetchedAt: NOW })
      const dump = JSON.stringify(yield* Effect.promise(() => raw.hgetall(`{${prefix}:bidstream}:ring`)))
      for (const key of ring.keys) {
        const secret = Buffer.from(Redacted.value(key.secret))
        for (const text of [secret.toString("base64"), secret.toString("hex"), secret.toString("base64url")]) {
          expect(dump).not.toContain(text)
          expect(dump.toLowerCase()).not.toContain(text.toLowerCase().slice(0, 24))
        }
      }
    }))

  it.scopedLive("a reader with another client secret gets a typed error, not a crash", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      yield* Effect.flatMap(storeAt(prefix), (s) => s.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW }))
      const other = yield* storeAt(prefix, { clientSecret: OTHER_SECRET })
      const error = yield* Effect.flip(other.load("bidstream"))
      expect(error).toMatchObject({ _tag: "KeyStoreError", operation: "load", slot: "bidstream" })
      expect(error.message).toContain("client secret")
      expect(error.message).not.toContain(TestOperator.DSP_CLIENT.secret)
      expect(error.message).not.toContain(TestOperator.SHARER_CLIENT.secret)
    }))

  it.scopedLive("a plain-string client secret seals like the same secret redacted", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const ring = bidstreamRing(NOW)
      yield* Effect.flatMap(storeAt(prefix), (s) => s.save("bidstream", { ring, fetchedAt: NOW }))
      const plain = yield* storeAt(prefix, { clientSecret: TestOperator.DSP_CLIENT.secret })
      const loaded = yield* plain.load("bidstream")
      expect(Option.map(loaded, (stored) => stored.ring.keys.length)).toEqual(Option.some(ring.keys.length))
      const otherPlain = yield* storeAt(prefix, { clientSecret: TestOperator.SHARER_CLIENT.secret })
      expect((yield* Effect.flip(otherPlain.load("bidstream")))._tag).toBe("KeyStoreError")
    }))

  it.scopedLive("garbage in the Redis key is a typed error; the next save replaces it", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const key = `{${prefix}:bidstream}:ring`
      const store = yield* storeAt(prefix)
      const raw = yield* rawRedis()
      const garbage: Array<[string, Effect.Effect<unknown>]> = [
        ["a string", Effect.promise(() => raw.set(key, "garbage"))],
        ["a hash without the ring", Effect.promise(() => raw.hset(key, { v: "x", f: "y" }))],
        ["a hash with a bad seal", Effect.promise(() => raw.hset(key, { v: "1", f: "1", d: "AAAA" }))],
        ["a list", Effect.promise(() => raw.rpush(key, "a", "b"))]
      ]
      for (const [name, write] of garbage) {
        yield* Effect.promise(() => raw.del(key))
        yield* write
        expect(yield* Effect.flip(store.load("bidstream")), name).toMatchObject({
          _tag: "KeyStoreError",
          operation: "load"
        })
        yield* store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
        expect(Option.getOrThrow(yield* store.load("bidstream")).fetchedAt, name).toBe(NOW)
      }
      // A sealed ring moved under another key name does not open there (the name is bound to it).
      const sealed = yield* Effect.promise(() => raw.hgetall(key))
      yield* Effect.promise(() => raw.hset(`{${prefix}:sharing}:ring`, sealed))
      expect((yield* Effect.flip(store.load("sharing")))._tag).toBe("KeyStoreError")
    }))

  it.scopedLive("newer wins: a slow former leader never overwrites a newer ring", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const store = yield* storeAt(prefix)
      yield* store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      yield* store.save("bidstream", { ring: bidstreamRing(NOW - 60_000), fetchedAt: NOW - 60_000 })
      expect(Option.getOrThrow(yield* store.load("bidstream")).fetchedAt).toBe(NOW)
      const raw = yield* rawRedis()
      expect(yield* Effect.promise(() => raw.hget(`{${prefix}:bidstream}:ring`, "v"))).toBe("1")
    }))

  it.scopedLive("watch: another process's save arrives through pub/sub, and through polling when a message is lost", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      // A poll interval so long that only pub/sub can deliver the first ring in time.
      const watcher = yield* storeAt(prefix, { pollInterval: "1 hour" })
      const writer = yield* storeAt(prefix)
      const received = yield* watcher.watch("bidstream").pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      // Wait until the change feed is subscribed, then save.
      const raw = yield* rawRedis()
      yield* Effect.promise(() => raw.pubsub("NUMSUB", `{${prefix}:bidstream}:changed`)).pipe(
        Effect.repeat({ until: (answer) => Number((answer as Array<unknown>)[1]) > 0 }),
        Effect.timeout("5 seconds")
      )
      yield* writer.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      const [first] = yield* Fiber.join(received).pipe(Effect.timeout("5 seconds"))
      expect(first!.fetchedAt).toBe(NOW)
      const sealedFirst = yield* Effect.promise(() => raw.hgetall(`{${prefix}:bidstream}:ring`))

      // Written behind the feed's back (a raw HSET, no PUBLISH): only a poll can see it.
      const key = `{${prefix}:bidstream}:ring`
      yield* writer.save("bidstream", { ring: bidstreamRing(NOW + 2), fetchedAt: NOW + 2 })
      const newer = yield* Effect.promise(() => raw.hgetall(key))
      yield* Effect.promise(() => raw.hset(key, sealedFirst))
      const polling = yield* storeAt(prefix, { pollInterval: "100 millis" })
      const seen = yield* polling.watch("bidstream").pipe(
        Stream.filter((s) => s.fetchedAt > NOW),
        Stream.take(1),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => raw.hset(key, newer))
      expect(Array.from(yield* Fiber.join(seen).pipe(Effect.timeout("5 seconds")))[0]?.fetchedAt).toBe(NOW + 2)
    }))

  it.scopedLive("lease: exclusive, token-checked release and extend, lapses after its TTL", () =>
    Effect.gen(function*() {
      const prefix = randomPrefix()
      const a = yield* storeAt(prefix)
      const b = yield* storeAt(prefix)
      const leaseA = Option.getOrThrow(yield* a.lease!("bidstream", Duration.millis(300)))
      expect(yield* b.lease!("bidstream", Duration.seconds(5))).toEqual(Option.none())
      expect(yield* leaseA.extend).toBe(true)
      yield* Effect.sleep("400 millis")
      // A's lease lapsed; B takes it, and A can neither extend nor release B's.
      const leaseB = Option.getOrThrow(yield* b.lease!("bidstream", Duration.seconds(5)))
      expect(yield* leaseA.extend).toBe(false)
      yield* leaseA.release
      expect(yield* a.lease!("bidstream", Duration.seconds(5))).toEqual(Option.none())
      yield* leaseB.release
      expect(Option.isSome(yield* a.lease!("bidstream", Duration.seconds(5)))).toBe(true)
    }))

  it.scopedLive("Redis down: building the store does not hang, and every call fails fast and typed", () =>
    quiet(Effect.gen(function*() {
      const port = yield* freePort
      const store = yield* RedisKeyStore.make({
        url: `redis://127.0.0.1:${port}`,
        clientSecret: SECRET,
        keyPrefix: randomPrefix(),
        connectTimeout: "300 millis"
      })
      for (
        const call of [store.load("bidstream"), store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })]
      ) {
        const error = yield* Effect.flip(call).pipe(Effect.timeout("5 seconds"))
        expect(error._tag).toBe("KeyStoreError")
      }
      expect((yield* Effect.flip(store.lease!("bidstream", Duration.seconds(1))))._tag).toBe("KeyStoreError")
    })))

  it.scopedLive("a store reconnects when its Redis comes back", () =>
    quiet(Effect.gen(function*() {
      const server = yield* ownRedis
      const store = yield* RedisKeyStore.make({ url: server.url, clientSecret: SECRET, connectTimeout: "300 millis" })
      yield* store.save("bidstream", { ring: bidstreamRing(NOW), fetchedAt: NOW })
      yield* server.stop
      expect((yield* Effect.flip(store.load("bidstream")))._tag).toBe("KeyStoreError")
      yield* server.start
      // The server restarted empty (no persistence): a load answers None once reconnected.
      const loaded = yield* store.load("bidstream").pipe(
        Effect.retry(Schedule.intersect(Schedule.spaced("100 millis"), Schedule.recurs(100))),
        Effect.timeout("10 seconds")
      )
      expect(loaded).toEqual(Option.none())
    })))

  it.effect("a key prefix that would break the hash tag is refused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(RedisKeyStore.make({ clientSecret: SECRET, keyPrefix: "a}b" })))
      expect(error).toMatchObject({ _tag: "RedisKeyStoreUnavailable", reason: "InvalidOptions" })
    }))
})
