import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { decodeUtf8, readAtMost } from "../src/internal/boundedBody.js"

const bytes = (...values: Array<number>) => Uint8Array.from(values)
const chunks = (...parts: Array<Uint8Array>) => Stream.fromIterable(parts)

describe("readAtMost", () => {
  it.effect("joins chunks in order; complete when the body ends within the limit", () =>
    Effect.gen(function*() {
      const read = yield* readAtMost(chunks(bytes(1, 2), bytes(), bytes(3), bytes(4, 5, 6)), 6)
      expect(read.complete).toBe(true)
      expect(Array.from(read.bytes)).toEqual([1, 2, 3, 4, 5, 6])
      const empty = yield* readAtMost(Stream.empty, 0)
      expect(empty).toEqual({ bytes: new Uint8Array(0), complete: true })
    }))

  it.effect("one byte past the limit is incomplete, and keeps exactly the first `limit` bytes", () =>
    Effect.gen(function*() {
      const over = yield* readAtMost(chunks(bytes(1, 2, 3), bytes(4, 5, 6, 7)), 6)
      expect(over.complete).toBe(false)
      expect(Array.from(over.bytes)).toEqual([1, 2, 3, 4, 5, 6])
      // the limit met exactly by a chunk boundary, then one more (empty chunks change nothing)
      const boundary = yield* readAtMost(chunks(bytes(1, 2, 3), bytes(), bytes(4)), 3)
      expect(boundary.complete).toBe(false)
      expect(Array.from(boundary.bytes)).toEqual([1, 2, 3])
      expect((yield* readAtMost(chunks(bytes(9)), 0)).complete).toBe(false)
    }))

  it.effect("stops pulling as soon as the limit is passed (an endless body ends)", () =>
    Effect.gen(function*() {
      const pulled = yield* Ref.make(0)
      const endless = Stream.repeatEffect(Effect.as(Ref.update(pulled, (n) => n + 1), new Uint8Array(1000)))
      const read = yield* readAtMost(endless, 10_500)
      expect(read.complete).toBe(false)
      expect(read.bytes.length).toBe(10_500)
      expect(yield* Ref.get(pulled)).toBeLessThanOrEqual(12)
    }))

  it.effect("passes the stream's failure through", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(readAtMost(Stream.concat(chunks(bytes(1)), Stream.fail("reset")), 10))
      expect(failure).toBe("reset")
    }))

  it.effect("UTF-8 characters split across chunks at every position decode intact", () =>
    Effect.gen(function*() {
      const text = "a€b😀c ü"
      const encoded = new TextEncoder().encode(text)
      for (let cut = 0; cut <= encoded.length; cut++) {
        for (let cut2 = cut; cut2 <= encoded.length; cut2++) {
          const read = yield* readAtMost(
            chunks(encoded.slice(0, cut), encoded.slice(cut, cut2), encoded.slice(cut2)),
            encoded.length
          )
          expect(read.complete).toBe(true)
          expect(decodeUtf8(read.bytes), `${cut}/${cut2}`).toBe(text)
        }
      }
      // malformed input is replaced, never thrown
      expect(decodeUtf8(bytes(0x61, 0xe2, 0x82))).toBe("a\uFFFD")
    }))
})
