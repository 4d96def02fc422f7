/**
 * The batch pipeline shared by the identity-map and opt-out clients: cut a
 * stream of prepared items into requests bounded by item count and bytes,
 * run at most N requests at a time, and flatten each request's results back
 * into one stream. Memory stays bounded by the limits, whatever the length of
 * the input.
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

/** How large one request may get. */
export interface BatchLimits {
  /** Items per batch, at least 1. */
  readonly maxItems: number
  /** Sum of the items' costs per batch; an item costing more than this travels alone. */
  readonly maxBytes: number
}

/**
 * Cuts `self` into arrays of at most `maxItems` items whose `cost`s add up to
 * at most `maxBytes`. A full batch is emitted as soon as it is full; the last,
 * partial one when the input ends. No Effect runs per item. Each batch is a
 * new array that belongs to the consumer (it may empty it once it has taken
 * what it needs).
 */
export const batches = <A, E, R>(
  self: Stream.Stream<A, E, R>,
  limits: BatchLimits,
  cost: (item: A) => number
): Stream.Stream<Array<A>, E, R> => {
  const cutter = Channel.suspend(() => {
    let current: Array<A> = []
    let bytes = 0
    const loop: Channel.Channel<Chunk.Chunk<Array<A>>, Chunk.Chunk<A>, E, E, unknown, unknown> = Channel
      .readWithCause({
        onInput: (input: Chunk.Chunk<A>) => {
          const out: Array<Array<A>> = []
          for (const item of input) {
            const c = cost(item)
            if (current.length > 0 && bytes + c > limits.maxBytes) {
              out.push(current)
              current = []
              bytes = 0
            }
            current.push(item)
            bytes += c
            if (current.length >= limits.maxItems) {
              out.push(current)
              current = []
              bytes = 0
            }
          }
          return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
        },
        onFailure: (cause) => Channel.failCause(cause),
        onDone: () => current.length === 0 ? Channel.void : Channel.write(Chunk.of<Array<A>>(current))
      })
    return loop
  })
  return Stream.pipeThroughChannel(self, cutter)
}

/**
 * The most results emitted in one chunk. A stream keeps the last chunk it
 * emitted until it emits the next one, so a batch emitted as one chunk would
 * outlive its consumer by a batch; made a chunk at a time, as the consumer
 * pulls, results are garbage by the time the next young-generation collection
 * runs, instead of being moved to the old generation and piling up there.
 */
const RESULTS_PER_CHUNK = 1_024

/** The results `0 … count - 1` of a batch, made by `resultAt` a chunk at a time as they are pulled. */
export const resultChunks = <O>(count: number, resultAt: (index: number) => O): Stream.Stream<O> =>
  Stream.unfoldChunk(0, (from: number) => {
    if (from >= count) return Option.none()
    const to = Math.min(count, from + RESULTS_PER_CHUNK)
    const chunk = new Array<O>(to - from)
    for (let i = from; i < to; i++) chunk[i - from] = resultAt(i)
    return Option.some([Chunk.unsafeFromArray(chunk), to] as const)
  })

/** How the batches of a pipeline run. */
export interface RunOptions {
  /** Batches in flight at most, at least 1. */
  readonly concurrency: number
  /** Emit results in input order (a window of `concurrency` batches), or as batches finish. */
  readonly ordered: boolean
}

/**
 * Runs `run` on each batch, at most `concurrency` at a time, and flattens the
 * results that `emit` makes of each batch's answer. `emit` runs in output
 * order, as the batch's turn comes: a batch that finished early waits in the
 * reordering window as its answer (say, the response text), and its result
 * objects are made only as they are taken. `run` and `emit` must not fail: a
 * batch that cannot be answered has to come out as failed results, so every
 * item gets exactly one.
 */
export const runBatches = <B, A, O, E, R, R2>(
  self: Stream.Stream<B, E, R>,
  options: RunOptions,
  run: (batch: B) => Effect.Effect<A, never, R2>,
  emit: (answer: A) => Stream.Stream<O>
): Stream.Stream<O, E, R | R2> =>
  self.pipe(
    Stream.mapEffect(run, { concurrency: options.concurrency, unordered: !options.ordered }),
    Stream.flatMap(emit)
  )

/** Whole, clamped to `[min, max]`; `fallback` for anything that is not a number. */
export const clampInt = (value: number | undefined, min: number, max: number, fallback: number): number =>
  typeof value !== "number" || Number.isNaN(value) ? fallback : Math.min(max, Math.max(min, Math.floor(value)))

/** Applies `f` to an optional progress ref: one Effect per batch event, nothing without a ref. */
export const updateProgress = <P>(
  ref: Ref.Ref<P> | undefined,
  f: (progress: P) => P
): Effect.Effect<void> => ref === undefined ? Effect.void : Ref.update(ref, f)
