/**
 * Token throughput benchmark: `npm run bench [-- options]`.
 *
 *   --json             print one JSON object on stdout (progress goes to stderr)
 *   --quick            smoke run: 3 short rounds
 *   --rounds N         interleaved rounds (default 7)
 *   --sample-ms N      length of one sample (default 150)
 *   --warmup-ms N      warm-up per arm (default 300)
 *   --batch N          tokens per batch / per Effect run (default 1000)
 *   --ops a,b          subset of decrypt-v2,decrypt-v3,decrypt-v4,encrypt-v4 (also v2,v3,v4,encrypt)
 *   --layers a,b       subset of Crypto layers by name (node, native, …)
 *   --clock cpu|wall   time samples by process CPU time (default) or wall time
 *   --no-gc            don't collect garbage around samples (see HarnessOptions.gcPerSample)
 *   --apis a,b         only these SDK rows: effect-batch, effect-per-call, effect-decryptAll, effect-encryptAll, sync
 *   --no-per-call      skip the runSync-per-token rows
 *   --variants         add comparison arms (alternative baselines)
 *
 * Each SDK row is compared with a baseline measured in the same rounds: raw
 * node:crypto doing only the two AES layers (see bench/baseline.ts). Rounds
 * run B A₁ B A₂ … B (bench/harness.ts); a row's ratio is the median over
 * rounds of its sample divided by the mean of the two baseline samples
 * around it.
 */
import { cpus } from "node:os"
import { performance } from "node:perf_hooks"
import { ALL_OPS, type OpName, setup } from "./cases.js"
import { type ArmResult, checksum, type ClockKind, gcFunction, measureGroup } from "./harness.js"
import { formatKeys, measureKeys } from "./keys.js"
import { cryptoLayers } from "./layers.js"

/**
 * The issues' goals, as ratios to the baseline: every layer's V4 decrypt and encrypt at >= 0.8x
 * (issue 2); the native layer's V4 decrypt at >= 5x and encrypt at >= 3x (issue 5).
 */
const goalOf = (layer: string, op: "decrypt-v4" | "encrypt-v4"): number =>
  layer === "native" ? (op === "decrypt-v4" ? 5 : 3) : 0.8

interface Args {
  readonly clock: ClockKind
  readonly gcPerSample: boolean
  readonly json: boolean
  readonly quick: boolean
  readonly rounds: number
  readonly sampleMs: number
  readonly warmupMs: number
  readonly batch: number
  readonly ops: ReadonlyArray<OpName>
  readonly layers: ReadonlyArray<string>
  readonly perCall: boolean
  readonly variants: boolean
  readonly apis: ReadonlyArray<string>
}

const OP_ALIASES: Record<string, OpName> = {
  v2: "decrypt-v2",
  v3: "decrypt-v3",
  v4: "decrypt-v4",
  encrypt: "encrypt-v4",
  "decrypt-v2": "decrypt-v2",
  "decrypt-v3": "decrypt-v3",
  "decrypt-v4": "decrypt-v4",
  "encrypt-v4": "encrypt-v4"
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`)
    const eq = a.indexOf("=")
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1))
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) flags.set(a.slice(2), argv[++i]!)
    else flags.set(a.slice(2), true)
  }
  const known = [
    "json",
    "quick",
    "rounds",
    "sample-ms",
    "warmup-ms",
    "batch",
    "ops",
    "layers",
    "no-per-call",
    "variants",
    "clock",
    "no-gc",
    "apis"
  ]
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}`)
  const quick = flags.has("quick")
  const num = (name: string, fallback: number): number => {
    const v = flags.get(name)
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`)
    return n
  }
  const list = (name: string): Array<string> => {
    const v = flags.get(name)
    return typeof v === "string" ? v.split(",").map((s) => s.trim()).filter((s) => s.length > 0) : []
  }
  const ops = list("ops").map((o) => {
    const op = OP_ALIASES[o]
    if (op === undefined) throw new Error(`unknown op ${o}`)
    return op
  })
  const clock = flags.get("clock") ?? "cpu"
  if (clock !== "cpu" && clock !== "wall") throw new Error("--clock is cpu or wall")
  return {
    clock,
    gcPerSample: !flags.has("no-gc"),
    json: flags.has("json"),
    quick,
    rounds: Math.round(num("rounds", quick ? 3 : 7)),
    sampleMs: num("sample-ms", quick ? 50 : 150),
    warmupMs: num("warmup-ms", quick ? 100 : 300),
    batch: Math.round(num("batch", 1000)),
    ops: ops.length === 0 ? ALL_OPS : ALL_OPS.filter((o) => ops.includes(o)),
    layers: list("layers"),
    perCall: !flags.has("no-per-call"),
    apis: list("apis"),
    variants: flags.has("variants")
  }
}

const fmtRate = (x: number): string =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0)

const pad = (s: string, n: number, right = false) => right ? s.padStart(n) : s.padEnd(n)

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlyArray<boolean>): string => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r, i) => {
    const line = r.map((cell, c) => pad(cell, widths[c]!, rightAligned[c])).join("  ")
    return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line
  }).join("\n")
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const out = (s: string) => process.stdout.write(`${s}\n`)
  const err = (s: string) => process.stderr.write(`${s}\n`)
  if (args.json) {
    // Whatever else logs (Effect's logger, a loader) must not reach stdout.
    const toStderr = (...xs: ReadonlyArray<unknown>) => err(xs.map(String).join(" "))
    console.log = toStderr
    console.info = toStderr
    console.debug = toStderr
    console.warn = toStderr
  }
  const say = args.json ? err : out
  const started = performance.now()

  const { layers, notes } = await cryptoLayers(args.layers)
  if (layers.length === 0) throw new Error("no Crypto layer to benchmark")
  const bench = setup({
    ops: args.ops,
    layers,
    batch: args.batch,
    perCall: args.perCall,
    variants: args.variants,
    apis: args.apis
  })

  const cpu = cpus()
  const meta = {
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${process.platform} ${process.arch}`,
    cpu: `${cpu.length} x ${cpu[0]?.model ?? "unknown"}`,
    date: new Date().toISOString()
  }
  const options = {
    clock: args.clock,
    gcPerSample: args.gcPerSample && gcFunction !== undefined,
    rounds: args.rounds,
    sampleMs: args.sampleMs,
    warmupMs: args.warmupMs,
    batch: args.batch
  }
  say(`effect-uid2 token throughput — ${meta.node}, OpenSSL ${meta.openssl}, ${meta.cpu}`)
  say(
    `${options.rounds} interleaved rounds of ~${options.sampleMs} ms per row after ${options.warmupMs} ms warm-up; ` +
      `batches of ${options.batch} tokens; each row sample sits between two baseline samples; ` +
      `×baseline = median over rounds of row / mean(adjacent baselines)`
  )
  say(
    options.gcPerSample
      ? "each sample starts after a young-generation GC and ends with a timed one, so every row pays for its own garbage"
      : "no GC around samples (--no-gc)"
  )
  say(
    args.clock === "cpu"
      ? "tokens/s = per second of this process's CPU time (process.cpuUsage: robust to a busy machine); wall-clock median in the last column"
      : "tokens/s = per second of wall time; CPU-time median in the last column"
  )
  for (const n of notes) say(`crypto layer ${n.name}: ${n.status} — ${n.detail}`)
  say("")

  const results: Array<{ op: OpName; description: string; rows: Array<ArmResult> }> = []
  for (const group of bench.groups) {
    err(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${group.op}: ${group.arms.length} rows…`)
    const rows = measureGroup(group.arms, options, (m) => err(`  ${group.op} ${m}`))
    results.push({ op: group.op, description: group.description, rows })
    if (!args.json) {
      out(`${group.op} — ${group.description}`)
      out(table(
        [
          [
            "row",
            "tokens/s",
            "min–max",
            "µs/token",
            "×baseline",
            "ratio range",
            "best/best",
            args.clock === "cpu" ? "wall tok/s" : "cpu tok/s"
          ],
          ...rows.map((r) => [
            r.id,
            fmtRate(r.median),
            `${fmtRate(r.min)}–${fmtRate(r.max)}`,
            r.microsPerToken.toFixed(2),
            r.ratio.toFixed(2),
            `${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)}`,
            r.bestRatio.toFixed(2),
            fmtRate(r.otherMedian)
          ])
        ],
        [false, true, true, true, true, true, true, true]
      ))
      out("")
    }
  }
  await bench.dispose()

  // The goals: V4 decrypt and encrypt, Effect API (batched) and sync, per layer (see goalOf).
  const goal: Record<string, Record<string, { ratio: number; goal: number; pass: boolean }>> = {}
  for (const layer of layers) {
    const entries: Record<string, { ratio: number; goal: number; pass: boolean }> = {}
    for (const op of ["decrypt-v4", "encrypt-v4"] as const) {
      const group = results.find((g) => g.op === op)
      if (group === undefined) continue
      for (const api of ["effect-batch", op === "decrypt-v4" ? "effect-decryptAll" : "effect-encryptAll", "sync"]) {
        const row = group.rows.find((r) => r.crypto === layer.name && r.api === api)
        if (row !== undefined) {
          const target = goalOf(layer.name, op)
          entries[`${op} ${api}`] = {
            ratio: Math.round(row.ratio * 1000) / 1000,
            goal: target,
            pass: row.ratio >= target
          }
        }
      }
    }
    goal[layer.name] = entries
  }
  // What Effect costs per token on top of the sync call, per layer and op, in µs: from the paired
  // ratios (steadier than differences of absolute medians): µs(baseline) · (1/ratio(effect) − 1/ratio(sync)).
  const effectCost: Record<string, Record<string, Record<string, number>>> = {}
  for (const g of results) {
    const base = g.rows.find((r) => r.api === "baseline")
    if (base === undefined) continue
    for (const layer of layers) {
      const sync = g.rows.find((r) => r.crypto === layer.name && r.api === "sync")
      if (sync === undefined) continue
      for (const r of g.rows) {
        if (r.crypto !== layer.name || !r.api.startsWith("effect")) continue
        const byOp = (effectCost[layer.name] ??= {})
        const costs = (byOp[g.op] ??= {})
        costs[r.api] = Math.round(base.microsPerToken * (1 / r.ratio - 1 / sync.ratio) * 100) / 100
      }
    }
  }
  err("keys: refresh latency and 1,000-key ring…")
  const keys = await measureKeys({ quick: args.quick })
  const seconds = (performance.now() - started) / 1000

  if (args.json) {
    out(JSON.stringify({
      meta: { ...meta, seconds: Math.round(seconds * 10) / 10, checksum: checksum() },
      options,
      layers: notes,
      goal: { byLayer: goal },
      effectMicrosPerTokenOverSync: effectCost,
      keys,
      groups: results.map((g) => ({
        op: g.op,
        description: g.description,
        rows: g.rows.map((r) => ({
          id: r.id,
          api: r.api,
          crypto: r.crypto,
          tokensPerSecond: Math.round(r.median),
          min: Math.round(r.min),
          max: Math.round(r.max),
          microsPerToken: Math.round(r.microsPerToken * 1000) / 1000,
          ratio: Math.round(r.ratio * 1000) / 1000,
          ratioMin: Math.round(r.ratioMin * 1000) / 1000,
          ratioMax: Math.round(r.ratioMax * 1000) / 1000,
          bestRatio: Math.round(r.bestRatio * 1000) / 1000,
          samples: r.samples.map(Math.round),
          [args.clock === "cpu" ? "wallTokensPerSecond" : "cpuTokensPerSecond"]: Math.round(r.otherMedian),
          [args.clock === "cpu" ? "wallSamples" : "cpuSamples"]: r.otherSamples.map(Math.round)
        }))
      }))
    }))
  } else {
    out(
      "goals: V4 decrypt and encrypt (Effect API batched, and sync) at >= 0.8x baseline; native: decrypt >= 5x, encrypt >= 3x"
    )
    for (const [layer, entries] of Object.entries(goal)) {
      for (const [what, { goal: target, pass, ratio }] of Object.entries(entries)) {
        out(
          `  ${pad(layer, 8)} ${pad(what, 28)} ${ratio.toFixed(3)}x  (goal ${target}x)  ${pass ? "ok" : "BELOW GOAL"}`
        )
      }
    }
    out("\nEffect cost per token over the sync call (µs = baseline µs × (1/ratio(row) − 1/ratio(sync))):")
    for (const [layer, byOp] of Object.entries(effectCost)) {
      for (const [op, costs] of Object.entries(byOp)) {
        out(
          `  ${pad(layer, 8)} ${pad(op, 12)} ${
            Object.entries(costs).map(([api, us]) => `${api} ${us.toFixed(2)}`).join(", ")
          }`
        )
      }
    }
    out("")
    for (const line of formatKeys(keys)) out(line)
    out(`\n(${seconds.toFixed(0)} s)`)
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exitCode = 1
})
