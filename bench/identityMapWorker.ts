/**
 * One measured run of `npm run bench:map` (bench/identityMap.ts), in a process of its own so that
 * its peak RSS is its own.
 *
 *   env: OPERATOR_URL, API_KEY, SECRET, ITEMS (inputs of the measured run), WARMUP (inputs mapped
 *     first, to compile the hot code of both processes; default 20000), CONCURRENCY (optional)
 *   stdout "warm" after the warm-up; stdin "go" starts the measured run; stdout "result {json}"
 *   when it is done (then the process exits), or "error MESSAGE" when the results do not add up.
 *
 * The inputs are generated as the pipeline pulls them (`Stream.range`), never held as a list, and
 * every result is checked and counted as it comes out: results come in input order, so result k
 * must carry the k-th generated email, and exactly ITEMS results must come out. The client's
 * progress (a `Ref`, as the CLI's progress bar uses) must add up to the same counts.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { createInterface } from "node:readline"
import * as v8 from "node:v8"
import * as IdentityMap from "../src/IdentityMap.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`${name} is not set`)
  return value
}
const items = Number(env("ITEMS"))
const warmup = Number(process.env["WARMUP"] ?? "20000")
const concurrency = process.env["CONCURRENCY"] === undefined ? undefined : Number(process.env["CONCURRENCY"])

const DOMAIN = "@example.com"
const emailOf = (prefix: string, i: number) => `${prefix}${i}${DOMAIN}`

/** Whether `value` is `emailOf(prefix, i)`, read in place: the check must not add garbage of its own. */
const isEmailOf = (value: string, prefix: string, i: number): boolean => {
  if (!value.startsWith(prefix) || !value.endsWith(DOMAIN)) return false
  const end = value.length - DOMAIN.length
  if (end === prefix.length || (end - prefix.length > 1 && value.charCodeAt(prefix.length) === 48)) return false
  let n = 0
  for (let at = prefix.length; at < end; at++) {
    const digit = value.charCodeAt(at) - 48
    if (digit < 0 || digit > 9) return false
    n = n * 10 + digit
  }
  return n === i
}

/** `n` generated emails, made one chunk at a time as the consumer pulls. */
const generated = (prefix: string, n: number): Stream.Stream<IdentityMap.Input> =>
  n === 0 ? Stream.empty : Stream.map(Stream.range(0, n - 1), (i) => IdentityMap.email(emailOf(prefix, i)))

interface Counts {
  results: number
  mapped: number
  unmapped: number
  invalid: number
  failed: number
  /** Results whose input is not the generated email of their position. */
  outOfPlace: number
  firstFailure: string | undefined
}

/**
 * Maps `n` generated emails and checks and counts every result as it arrives; the client's
 * progress goes to `progress`.
 */
const run = (
  client: IdentityMap.IdentityMapClientShape,
  prefix: string,
  n: number,
  progress: Ref.Ref<IdentityMap.Progress>
) =>
  Effect.suspend(() => {
    const counts: Counts = {
      results: 0,
      mapped: 0,
      unmapped: 0,
      invalid: 0,
      failed: 0,
      outOfPlace: 0,
      firstFailure: undefined
    }
    return client.mapStream(generated(prefix, n), { progress, ...(concurrency === undefined ? {} : { concurrency }) })
      .pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            for (const r of chunk) {
              const input = r.input as { readonly value: string }
              if (!isEmailOf(input.value, prefix, counts.results)) counts.outOfPlace++
              counts.results++
              if (r._tag === "Mapped") counts.mapped++
              else if (r._tag === "Unmapped") counts.unmapped++
              else if (r._tag === "Invalid") counts.invalid++
              else {
                counts.failed++
                counts.firstFailure ??= r.error.message
              }
            }
          })
        ),
        Effect.as(counts)
      )
  })

/** What is wrong with a run's results, or with the client's progress after it, if anything. */
const problemOf = (counts: Counts, n: number, progress: IdentityMap.Progress): string | undefined => {
  const settled = counts.mapped + counts.unmapped + counts.invalid + counts.failed
  if (counts.results !== n || settled !== n) return `${counts.results} results (${settled} counted) for ${n} inputs`
  if (progress.read !== n || IdentityMap.settled(progress) !== n || progress.mapped !== counts.mapped) {
    return `the client's progress does not add up: ${JSON.stringify(progress)}`
  }
  if (counts.outOfPlace > 0) return `${counts.outOfPlace} results out of place`
  if (counts.invalid > 0) return `${counts.invalid} generated emails reported invalid`
  if (counts.failed > 0) return `${counts.failed} results failed: ${counts.firstFailure}`
  return undefined
}

const nextLine = (wanted: string) =>
  Effect.async<void>((resume) => {
    const lines = createInterface({ input: process.stdin })
    lines.on("line", (line) => {
      if (line.trim() === wanted) {
        lines.close()
        resume(Effect.void)
      }
    })
  })

/**
 * The largest V8 heap (committed), heap in use and memory held outside the heap (array buffers
 * and the like), in bytes, and the most requests in flight by the client's progress, as seen by
 * a 50 ms sampler.
 */
const sampler = (progress: Ref.Ref<IdentityMap.Progress>) => {
  let heapTotal = 0
  let heapUsed = 0
  let external = 0
  let inFlight = 0
  const sample = () => {
    const h = v8.getHeapStatistics()
    heapTotal = Math.max(heapTotal, h.total_heap_size)
    heapUsed = Math.max(heapUsed, h.used_heap_size)
    external = Math.max(external, h.external_memory)
    inFlight = Math.max(inFlight, Effect.runSync(Ref.get(progress)).inFlight)
  }
  const timer = setInterval(sample, 50)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return { heapTotal, heapUsed, external, inFlight }
    }
  }
}

const mb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10

const main = Effect.scoped(Effect.gen(function*() {
  const context = yield* Layer.build(IdentityMap.layer({
    baseUrl: env("OPERATOR_URL"),
    apiKey: Redacted.make(env("API_KEY")),
    secretKey: Redacted.make(env("SECRET")),
    timeout: "30 seconds"
  }))
  const client = Context.get(context, IdentityMap.IdentityMapClient)

  if (warmup > 0) {
    const progress = yield* Ref.make(IdentityMap.initialProgress)
    const counts = yield* run(client, "warmup-", warmup, progress)
    const problem = problemOf(counts, warmup, yield* Ref.get(progress))
    if (problem !== undefined) return yield* Effect.fail(new Error(`warm-up: ${problem}`))
  }
  process.stdout.write("warm\n")
  yield* nextLine("go")

  const progress = yield* Ref.make(IdentityMap.initialProgress)
  const samples = sampler(progress)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const counts = yield* run(client, "user-", items, progress)
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const heap = samples.stop()
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 102.4) / 10

  const problem = problemOf(counts, items, yield* Ref.get(progress))
  if (problem !== undefined) return yield* Effect.fail(new Error(problem))
  process.stdout.write(
    `result ${
      JSON.stringify({
        items,
        seconds: Math.round(wallMs) / 1000,
        itemsPerSecond: Math.round(items / (wallMs / 1000)),
        peakRssMb,
        busyShare: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000,
        cpuMicrosPerItem: Math.round(((cpu.user + cpu.system) / items) * 100) / 100,
        userMs: Math.round(cpu.user / 1000),
        systemMs: Math.round(cpu.system / 1000),
        maxInFlight: heap.inFlight,
        peakHeapTotalMb: mb(heap.heapTotal),
        peakHeapUsedMb: mb(heap.heapUsed),
        peakExternalMb: mb(heap.external),
        mapped: counts.mapped,
        unmapped: counts.unmapped,
        failed: counts.failed
      })
    }\n`
  )
}))

Effect.runPromise(Logger.withMinimumLogLevel(main, LogLevel.None)).then(
  () => process.exit(0),
  (error) => {
    process.stdout.write(`error ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
