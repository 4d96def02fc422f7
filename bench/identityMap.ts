/**
 * Identity-map pipeline benchmark: `npm run bench:map [-- options]`.
 *
 *   --json             print one JSON object on stdout (progress goes to stderr)
 *   --sizes a,b        inputs per run (default 100000,1000000); e.g. --sizes 10000,50000 for a smoke run
 *   --warmup N         inputs each worker maps before its measured run (default 20000)
 *   --concurrency N    requests in flight (default: the client's, 20)
 *   --worker-flags F   extra Node flags for the workers, space-separated (analysis only, e.g. --trace-gc);
 *                      figures taken with them are not comparable and are marked so
 *
 * A TestOperator runs in a child process on 127.0.0.1 (bench/identityMapOperator.ts). Each size
 * runs in a fresh worker process (bench/identityMapWorker.ts): it builds an identity-map client
 * (`IdentityMap.layer`: Node's HTTP client, node:crypto), maps a warm-up, then maps that many
 * generated emails through `mapStream`, checking that every input gets exactly one result, in
 * order. Per size it reports items/s, the worker's peak RSS (`process.resourceUsage().maxRSS`,
 * which covers the whole life of the worker: start-up, warm-up and run), and how busy each process
 * was during the run: CPU time (user + system) over wall time, 1.0 being one core fully used.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { cpus, loadavg } from "node:os"
import { join } from "node:path"
import { type Child, spawnScoped } from "../test/support/children.js"

const argv = process.argv.slice(2)
const known = ["json", "sizes", "warmup", "concurrency", "worker-flags"]
const options = new Map<string, string | true>()
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!
  if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`)
  const eq = a.indexOf("=")
  const [name, value] = eq > 0
    ? [a.slice(2, eq), a.slice(eq + 1)]
    : argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--") && a !== "--json"
    ? [a.slice(2), argv[++i]!]
    : [a.slice(2), true as const]
  if (!known.includes(name)) throw new Error(`unknown option --${name}`)
  options.set(name, value)
}
const text = (name: string, fallback: string): string => {
  const v = options.get(name)
  return typeof v === "string" ? v : fallback
}
const positive = (name: string, value: string): number => {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs positive whole numbers, got ${value}`)
  return n
}
const json = options.has("json")
const sizes = text("sizes", "100000,1000000").split(",").map((s) => positive("sizes", s.trim()))
const warmup = Number(text("warmup", "20000"))
const concurrency = options.has("concurrency") ? positive("concurrency", text("concurrency", "")) : undefined
const workerFlags = text("worker-flags", "").split(" ").filter((f) => f.length > 0)
const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`)

const here = import.meta.dirname
const tsx = (script: string) => ["--import", "tsx", join(here, script)]

/** `items100k`, `items1m`, `items2500`: the figure's key for a size. */
const keyOf = (n: number): string =>
  n % 1_000_000 === 0 ? `items${n / 1_000_000}m` : n % 1_000 === 0 ? `items${n / 1_000}k` : `items${n}`

/** The first line of `child` that starts with one of `prefixes`; fails if the child exits first. */
const lineOf = (child: Child, what: string, ...prefixes: ReadonlyArray<string>) =>
  Effect.raceFirst(
    child.waitForLine((line) => prefixes.some((p) => line.startsWith(p))),
    Effect.flatMap(
      Deferred.await(child.exited),
      (code) => Effect.fail(new Error(`${what} exited (${code}) early: ${child.stderr().slice(-2000)}`))
    )
  ).pipe(
    Effect.timeoutFail({ duration: "15 minutes", onTimeout: () => new Error(`${what}: no answer in 15 minutes`) }),
    Effect.flatMap((line) =>
      line.startsWith("error ")
        ? Effect.fail(new Error(`${what}: ${line.slice("error ".length)}`))
        : Effect.succeed(line)
    )
  )

const payloadOf = <A>(line: string): A => JSON.parse(line.slice(line.indexOf("{"))) as A

interface OperatorUsage {
  readonly userMicros: number
  readonly systemMicros: number
  readonly clockMicros: number
  readonly requests: number
  readonly maxInFlight: number
  readonly maxRssMb: number
}

interface WorkerResult {
  readonly items: number
  readonly seconds: number
  readonly itemsPerSecond: number
  readonly peakRssMb: number
  readonly busyShare: number
  readonly peakHeapTotalMb: number
  readonly peakHeapUsedMb: number
  readonly mapped: number
  readonly unmapped: number
  readonly failed: number
}

let usageRequests = 0
const usageOf = (operator: Child) =>
  Effect.suspend(() => {
    const id = `u${usageRequests++}`
    operator.send(`usage ${id}`)
    return Effect.map(lineOf(operator, "operator", `usage ${id} `), (line) => payloadOf<OperatorUsage>(line))
  })

const runSize = (operator: Child, ready: { baseUrl: string; apiKey: string; secret: string }, items: number) =>
  Effect.scoped(Effect.gen(function*() {
    const worker = yield* spawnScoped(process.execPath, [...workerFlags, ...tsx("identityMapWorker.ts")], {
      env: {
        OPERATOR_URL: ready.baseUrl,
        API_KEY: ready.apiKey,
        SECRET: ready.secret,
        ITEMS: String(items),
        WARMUP: String(warmup),
        CONCURRENCY: concurrency === undefined ? undefined : String(concurrency)
      }
    })
    yield* lineOf(worker, "worker", "warm")
    const before = yield* usageOf(operator)
    worker.send("go")
    const result = payloadOf<WorkerResult>(yield* lineOf(worker, "worker", "result "))
    const after = yield* usageOf(operator)
    const operatorCpu = after.userMicros + after.systemMicros - before.userMicros - before.systemMicros
    return {
      ...result,
      operatorBusyShare: Math.round((operatorCpu / (after.clockMicros - before.clockMicros)) * 1000) / 1000,
      operatorRequests: after.requests,
      operatorMaxInFlight: after.maxInFlight,
      loadAverage1m: Math.round(loadavg()[0]! * 100) / 100
    }
  }))

const pad = (s: string, n: number, right = false) => right ? s.padStart(n) : s.padEnd(n)

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r, i) => {
    const line = r.map((cell, c) => pad(cell, widths[c]!, c > 0)).join("  ")
    return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line
  }).join("\n")
}

const main = Effect.scoped(Effect.gen(function*() {
  const cpu = cpus()
  const meta = {
    node: process.version,
    cpu: `${cpu.length} x ${cpu[0]?.model ?? "unknown"}`,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
    warmup,
    concurrency: concurrency ?? 20,
    workerFlags: workerFlags.join(" "),
    date: new Date().toISOString()
  }
  say(`identity map benchmark — ${meta.node}, ${meta.cpu}, load average ${meta.loadAverageAtStart.join(" ")}`)
  say(
    `mapStream of generated emails against TestOperator in another process on 127.0.0.1; ` +
      `${meta.concurrency} requests in flight; each size in a fresh worker after a warm-up of ${warmup}`
  )
  if (workerFlags.length > 0) say(`worker flags: ${meta.workerFlags} (figures not comparable with a plain run)`)

  const operator = yield* spawnScoped(process.execPath, tsx("identityMapOperator.ts"))
  const ready = payloadOf<{ baseUrl: string; apiKey: string; secret: string }>(
    yield* lineOf(operator, "operator", "ready ")
  )

  const figures: Record<string, Effect.Effect.Success<ReturnType<typeof runSize>>> = {}
  for (const items of sizes) {
    say(`  ${items} items…`)
    const r = yield* runSize(operator, ready, items)
    figures[keyOf(items)] = r
    say(
      `  ${items} items: ${r.itemsPerSecond} items/s, peak RSS ${r.peakRssMb} MB, busy: SDK ${r.busyShare}, ` +
        `operator ${r.operatorBusyShare} (load ${r.loadAverage1m})`
    )
  }
  operator.send("exit")

  const first = figures[keyOf(sizes[0]!)]!
  const last = figures[keyOf(sizes[sizes.length - 1]!)]!
  const rssRatio = Math.round((last.peakRssMb / first.peakRssMb) * 100) / 100
  if (json) {
    process.stdout.write(`${JSON.stringify({ identityMap: { ...figures, rssRatio, meta } }, null, 2)}\n`)
    return
  }
  say("")
  say(table([
    [
      "items",
      "items/s",
      "seconds",
      "peak RSS MB",
      "peak heap MB",
      "SDK busy",
      "operator busy",
      "requests",
      "max in flight",
      "load 1m"
    ],
    ...sizes.map((n) => {
      const r = figures[keyOf(n)]!
      return [
        String(n),
        String(r.itemsPerSecond),
        r.seconds.toFixed(2),
        r.peakRssMb.toFixed(1),
        r.peakHeapTotalMb.toFixed(1),
        r.busyShare.toFixed(2),
        r.operatorBusyShare.toFixed(2),
        String(r.operatorRequests),
        String(r.operatorMaxInFlight),
        r.loadAverage1m.toFixed(2)
      ]
    })
  ]))
  say("")
  say(
    `peak RSS ${keyOf(sizes[sizes.length - 1]!)} / ${keyOf(sizes[0]!)} = ${rssRatio.toFixed(2)}x ` +
      `(goal for 1m / 100k: at most 1.5x)`
  )
  say("busy = CPU time (user + system) / wall time of the run; 1.00 = one core fully used")
}))

Effect.runPromise(Logger.withMinimumLogLevel(main, LogLevel.None)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`identity map benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
