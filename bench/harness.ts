/**
 * A small interleaved-rounds harness. Each arm's `run` processes a fixed
 * batch of tokens; a sample repeats it for about `sampleMs`. Every round runs
 * every arm once, each right between two baseline samples (the order rotates
 * from round to round), and an arm's ratio for the round is taken against
 * those two neighbours; the median over rounds is reported. On a noisy
 * 2-core machine this is far steadier than comparing separate runs.
 */
import { performance } from "node:perf_hooks"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

export interface Arm {
  /** Unique within a group, e.g. `baseline`, `node effect-batch`. */
  readonly id: string
  /** What API the arm goes through (`baseline`, `effect-batch`, `sync`, …). */
  readonly api: string
  /** The Crypto layer name, or `node:crypto` for the baseline. */
  readonly crypto: string
  /** Tokens processed by one `run()`. */
  readonly tokensPerRun: number
  /** Whether this arm is the group's baseline. */
  readonly baseline?: boolean
  /** Runs one batch; returns a checksum (kept so nothing is optimised away). */
  readonly run: () => number
}

/**
 * What a sample's duration is measured with: `cpu` = this process's user+system
 * CPU time (`process.cpuUsage`, includes V8's GC/compiler threads), which
 * ignores the time the process spends descheduled on a busy machine; `wall` =
 * elapsed time.
 */
export type ClockKind = "cpu" | "wall"

export interface HarnessOptions {
  readonly clock: ClockKind
  /**
   * Make every sample pay for its own garbage: a young-generation GC
   * (untimed) before the sample and one (timed) at its end. Without it an arm
   * that allocates little JS memory (the baseline) leaves its dead
   * node:crypto objects to be collected, at a cost, during the next arm's
   * sample. Only minor GCs: a forced full GC shrinks V8's new space, which
   * then penalises arms that keep many young objects alive (Effect.forEach
   * collecting 1000 results) far more than a long-running process would.
   */
  readonly gcPerSample: boolean
  readonly rounds: number
  readonly sampleMs: number
  readonly warmupMs: number
}

export interface ArmResult {
  readonly id: string
  readonly api: string
  readonly crypto: string
  /** Tokens per second by the chosen clock, one per round (in round order). */
  readonly samples: ReadonlyArray<number>
  /** Tokens per second by the other clock, one per round. */
  readonly otherSamples: ReadonlyArray<number>
  /** Median of `otherSamples`. */
  readonly otherMedian: number
  readonly median: number
  readonly min: number
  readonly max: number
  /** Median over rounds of (this arm / mean of the two baseline samples around it); 1 for the baseline. */
  readonly ratio: number
  /**
   * Best sample of this arm / best sample of the baseline: interference on a
   * shared machine only ever slows a sample down, so the best samples
   * estimate the undisturbed speeds. A second opinion next to `ratio`.
   */
  readonly bestRatio: number
  /** Min and max of the per-round ratios. */
  readonly ratioMin: number
  readonly ratioMax: number
  /** Microseconds per token at the median. */
  readonly microsPerToken: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

let sink = 0
/** Keeps checksums observable. */
export const checksum = (): number => sink

type GcFunction = (options?: { readonly type?: "major" | "minor" }) => void

/** V8's `gc()`, obtained without `--expose-gc` on the command line (npm runs plain `tsx`). */
export const gcFunction: GcFunction | undefined = (() => {
  const existing = (globalThis as { gc?: GcFunction }).gc
  if (typeof existing === "function") return existing
  try {
    setFlagsFromString("--expose-gc")
    const gc = runInNewContext("gc") as unknown
    return typeof gc === "function" ? gc as GcFunction : undefined
  } catch {
    return undefined
  }
})()

/** Runs `runs` batches; returns [wall ms, cpu ms]. */
const timeRuns = (arm: Arm, runs: number, gc: GcFunction | undefined): readonly [number, number] => {
  if (gc !== undefined) gc({ type: "minor" })
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < runs; i++) sink = (sink + arm.run()) | 0
  if (gc !== undefined) gc({ type: "minor" })
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return [wall, (c.user + c.system) / 1000]
}

/** Warms an arm up for `warmupMs` and returns how many runs make one `sampleMs` sample. */
const calibrate = (arm: Arm, options: HarnessOptions): number => {
  let runs = 0
  const t0 = performance.now()
  let elapsed = 0
  do {
    sink = (sink + arm.run()) | 0
    runs++
    elapsed = performance.now() - t0
  } while (elapsed < options.warmupMs)
  return Math.max(1, Math.round(options.sampleMs / (elapsed / runs)))
}

/**
 * Measures a group of arms that do the same work, one of which is the
 * baseline, in rounds of B A₁ B A₂ B … Aₖ B: every arm sample is sandwiched
 * between two baseline samples and its ratio for the round is taken against
 * their mean, which cancels most of the drift of a busy machine. The order
 * of the arms rotates from round to round.
 */
export const measureGroup = (
  arms: ReadonlyArray<Arm>,
  options: HarnessOptions,
  progress: (message: string) => void = () => {}
): Array<ArmResult> => {
  const baseIndex = arms.findIndex((a) => a.baseline === true)
  if (baseIndex < 0) throw new Error("a group needs a baseline arm")
  const runsPerSample = arms.map((arm) => calibrate(arm, options))
  const samples: Array<Array<number>> = arms.map(() => [])
  const other: Array<Array<number>> = arms.map(() => [])
  const ratios: Array<Array<number>> = arms.map(() => [])
  const others = arms.map((_, i) => i).filter((i) => i !== baseIndex)
  const sample = (i: number): number => {
    const arm = arms[i]!
    const [wall, cpu] = timeRuns(arm, runsPerSample[i]!, options.gcPerSample ? gcFunction : undefined)
    const tokens = runsPerSample[i]! * arm.tokensPerRun * 1000
    const rate = tokens / (options.clock === "cpu" ? cpu : wall)
    samples[i]!.push(rate)
    other[i]!.push(tokens / (options.clock === "cpu" ? wall : cpu))
    return rate
  }
  for (let round = 0; round < options.rounds; round++) {
    let before = sample(baseIndex)
    for (let k = 0; k < others.length; k++) {
      const i = others[(k + round) % others.length]!
      const rate = sample(i)
      const after = sample(baseIndex)
      ratios[i]!.push(rate / ((before + after) / 2))
      before = after
    }
    progress(`round ${round + 1}/${options.rounds}`)
  }
  const bestBase = Math.max(...samples[baseIndex]!)
  return arms.map((arm, i) => {
    const own = samples[i]!
    const r = i === baseIndex ? [1] : ratios[i]!
    const med = median(own)
    return {
      id: arm.id,
      api: arm.api,
      crypto: arm.crypto,
      samples: own,
      otherSamples: other[i]!,
      otherMedian: median(other[i]!),
      median: med,
      min: Math.min(...own),
      max: Math.max(...own),
      ratio: median(r),
      bestRatio: Math.max(...own) / bestBase,
      ratioMin: Math.min(...r),
      ratioMax: Math.max(...r),
      microsPerToken: 1e6 / med
    }
  })
}
