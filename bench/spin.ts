/**
 * Runs ONE benchmark row in a loop for profiling, e.g.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/spin.ts --op v4 --row "node sync" --seconds 5
 *   npx tsx bench/cpuprofile.ts /tmp/prof/CPU.*.cpuprofile
 *
 * Rows are the ids printed by `npm run bench` (`baseline`, `node effect-batch`, `node sync`, …).
 */
import { performance } from "node:perf_hooks"
import { ALL_OPS, type OpName, setup } from "./cases.js"
import { cryptoLayers } from "./layers.js"

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}

const main = async () => {
  const opArg = arg("op", "v4")
  const op = ALL_OPS.find((o) => o === opArg || o.endsWith(opArg) || (opArg === "encrypt" && o === "encrypt-v4")) as
    | OpName
    | undefined
  if (op === undefined) throw new Error(`unknown op ${opArg}`)
  const rowId = arg("row", "node sync")
  const seconds = Number(arg("seconds", "5"))
  const { layers } = await cryptoLayers([rowId.split(" ")[0]!].filter((n) => n !== "baseline"))
  const bench = setup({ ops: [op], layers, batch: 1000, perCall: true, variants: true })
  const arm = bench.groups[0]!.arms.find((a) => a.id === rowId)
  if (arm === undefined) {
    throw new Error(`no row "${rowId}"; rows: ${bench.groups[0]!.arms.map((a) => a.id).join(", ")}`)
  }
  const t0 = performance.now()
  let runs = 0
  let sum = 0
  while (performance.now() - t0 < seconds * 1000) {
    sum = (sum + arm.run()) | 0
    runs++
  }
  const ms = performance.now() - t0
  process.stderr.write(
    `${op} ${rowId}: ${((runs * arm.tokensPerRun * 1000) / ms / 1000).toFixed(1)}k tokens/s wall (checksum ${sum})\n`
  )
  await bench.dispose()
}

main().catch((e) => {
  process.stderr.write(`spin failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exitCode = 1
})
