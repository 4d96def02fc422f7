/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by
 * function and by file, and inclusive time of the SDK's functions.
 *
 *   npx tsx bench/cpuprofile.ts <file.cpuprofile> [--top 30]
 */
import { readFileSync } from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

const shortUrl = (url: string): string => {
  if (url === "") return "(native)"
  const m = url.match(/\/(src|bench|adapters|test)\/.*$/)
  if (m !== null) return m[0].slice(1)
  const nm = url.match(/node_modules\/(.*)$/)
  if (nm !== null) return nm[1]!
  return url.replace(/^file:\/\//, "")
}

const main = () => {
  const file = process.argv[2]
  if (file === undefined) throw new Error("usage: tsx bench/cpuprofile.ts <file.cpuprofile> [--top N]")
  const topIndex = process.argv.indexOf("--top")
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 30
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  // Self time per node from samples and time deltas (µs).
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0))
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const idle = [...self.entries()]
    .filter(([id]) => ["(idle)", "(program)"].includes(byId.get(id)!.callFrame.functionName))
    .reduce((a, [, t]) => a + t, 0)
  const busy = total - idle

  const key = (f: CallFrame) => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}:${f.lineNumber + 1}`
  const selfByFn = new Map<string, number>()
  const selfByFile = new Map<string, number>()
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame
    selfByFn.set(key(f), (selfByFn.get(key(f)) ?? 0) + t)
    selfByFile.set(shortUrl(f.url), (selfByFile.get(shortUrl(f.url)) ?? 0) + t)
  }
  // Inclusive time per function (counted once per stack even if recursive).
  const inclusive = new Map<string, number>()
  const walk = (id: number, onStack: Set<string>): number => {
    const n = byId.get(id)!
    const k = key(n.callFrame)
    let t = self.get(id) ?? 0
    const added = !onStack.has(k)
    if (added) onStack.add(k)
    for (const c of n.children ?? []) t += walk(c, onStack)
    if (added) {
      onStack.delete(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + t)
    }
    return t
  }
  walk(profile.nodes[0]!.id, new Set())

  const pct = (t: number) => `${((100 * t) / busy).toFixed(1)}%`.padStart(6)
  const ms = (t: number) => `${(t / 1000).toFixed(0)} ms`.padStart(9)
  const print = (title: string, m: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) => {
    console.log(`\n${title}`)
    for (const [k, t] of [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n)) {
      console.log(`${pct(t)} ${ms(t)}  ${k}`)
    }
  }
  console.log(
    `busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled (percentages are of busy time)`
  )
  print("self time by function", selfByFn, top)
  print("self time by file", selfByFile, 15)
  print("inclusive time, SDK and bench functions", inclusive, top, (k) => /\s(src|bench|adapters)\//.test(k))
}

main()
