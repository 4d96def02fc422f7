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

const usage = (message: string): never => {
  process.stderr.write(`${message}\n`)
  return process.exit(2)
}
const argv = process.argv.slice(2)
const withValue = ["sizes", "warmup", "concurrency", "worker-flags"]
const options = new Map<string, string | true>()
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!
  if (!a.startsWith("--")) usage(`unexpected argument ${a}`)
  const eq = a.indexOf("=")
  const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
  if (name === "json" && eq < 0) {
    options.set(name, true)
  } else if (withValue.includes(name)) {
    // The value is the next argument even when it starts with "--" (worker flags do).
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i]
    options.set(name, value ?? usage(`--${name} needs a value`))
  } else {
    usage(`unknown option ${a} (options: --json, ${withValue.map((o) => `--${o}`).join(", ")})`)
  }
}
const text = (name: string, fallback: string): string => {
  const v = options.get(name)
  return typeof v === "string" ? v : fallback
}
const whole = (name: string, value: string, min: number): number => {
  const n = Number(value)
  return Number.isInteger(n) && n >= min ? n : usage(`--${name} needs whole numbers of at least ${min}, got ${value}`)
}
const json = options.has("json")
const sizes = text("sizes", "100000,1000000").split(",").map((s) => whole("sizes", s.trim(), 1))
const warmup = whole("warmup", text("warmup", "20000"), 0)
const concurrency = options.has("concurrency") ? whole("concurrency", text("concurrency", ""), 1) : undefined
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
  readonly cpuMicrosPerItem: number
  readonly maxInFlight: number
  readonly peakHeapTotalMb: number
  readonly peakHeapUsedMb: number
  readonly peakExternalMb: number
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
    if (workerFlags.length > 0) {
      // What the flags made the worker print (a GC trace, say), for the reader.
      for (const line of worker.lines) {
        if (line !== "warm" && !line.startsWith("result ")) process.stderr.write(`worker: ${line}\n`)
      }
      process.stderr.write(worker.stderr())
    }
    const operatorCpu = after.userMicros + after.systemMicros - before.userMicros - before.systemMicros
    return {
      ...result,
      operatorBusyShare: Math.round((operatorCpu / (after.clockMicros - before.clockMicros)) * 1000) / 1000,
      operatorCpuMicrosPerItem: Math.round((operatorCpu / items) * 100) / 100,
      operatorRequests: after.requests,
      operatorMaxInFlight: after.maxInFlight,
      operatorPeakRssMb: after.maxRssMb,
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
      "heap MB",
      "external MB",
      "SDK busy",
      "SDK µs/item",
      "operator busy",
      "operator µs/item",
      "requests",
      "in flight",
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
        r.peakExternalMb.toFixed(1),
        r.busyShare.toFixed(2),
        r.cpuMicrosPerItem.toFixed(1),
        r.operatorBusyShare.toFixed(2),
        r.operatorCpuMicrosPerItem.toFixed(1),
        String(r.operatorRequests),
        `${r.maxInFlight} / ${r.operatorMaxInFlight}`,
        r.loadAverage1m.toFixed(2)
      ]
    })
  ]))
  say("")
  if (sizes.length > 1) {
    say(
      `peak RSS ${keyOf(sizes[sizes.length - 1]!)} / ${keyOf(sizes[0]!)} = ${rssRatio.toFixed(2)}x ` +
        `(goal for 1m / 100k: at most 1.5x)`
    )
  }
  say("busy = CPU time (user + system) / wall time of the run; 1.00 = one core fully used")
  say("heap, external: peaks of V8's committed heap and of memory held outside it (array buffers)")
  say("in flight: most requests in flight by the SDK's progress (sampled every 50 ms) / as counted by the operator")
}))

Effect.runPromise(Logger.withMinimumLogLevel(main, LogLevel.None)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`identity map benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)
