/**
 * Reading an HTTP body without trusting its length: at most `limit` bytes
 * are kept, and the stream is stopped (its source released) as soon as one
 * more byte arrives.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** The first bytes of a body, and whether that was all of it. */
export interface BoundedBytes {
  readonly bytes: Uint8Array
  /** `false` when the body went on past the limit (`bytes` then holds the first `limit` bytes). */
  readonly complete: boolean
}

interface Fold {
  readonly chunks: Array<Uint8Array>
  size: number
  complete: boolean
}

/** Chunks into one array; a single chunk is returned as it is. */
const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

/**
 * Reads `body` until it ends or passes `limit` bytes, whichever comes first;
 * memory stays within `limit` plus one chunk.
 */
export const readAtMost = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  limit: number
): Effect.Effect<BoundedBytes, E, R> =>
  Effect.suspend(() =>
    Stream.runFoldWhile(
      body,
      { chunks: [], size: 0, complete: true } as Fold,
      (fold) => fold.complete,
      (fold, chunk) => {
        const room = limit - fold.size
        if (chunk.length > room) {
          if (room > 0) fold.chunks.push(chunk.slice(0, room))
          fold.size += Math.max(0, room)
          fold.complete = false
        } else if (chunk.length > 0) {
          fold.chunks.push(chunk)
          fold.size += chunk.length
        }
        return fold
      }
    )
  ).pipe(Effect.map((fold): BoundedBytes => ({ bytes: concat(fold.chunks, fold.size), complete: fold.complete })))

const utf8 = new TextDecoder()

/**
 * UTF-8 text of a whole body. Decoding the joined bytes once (not chunk by
 * chunk) keeps a character split across chunks intact; malformed sequences
 * become U+FFFD, as `Response.text()` does.
 */
export const decodeUtf8 = (bytes: Uint8Array): string => utf8.decode(bytes)
