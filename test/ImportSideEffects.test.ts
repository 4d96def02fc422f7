// Importing the package evaluates no adapter and reads no environment variable: checked in a child
// process that records every module Node loads and every process.env read during the import.
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const importInChild = (entry: string) => {
  const dir = mkdtempSync(join(tmpdir(), "uid2-import-"))
  const record = join(dir, "loads.txt")
  try {
    const out = execFileSync(
      process.execPath,
      ["--import", "./test/fixtures/recordLoads.mjs", "--import", "tsx", "test/fixtures/importCore.ts", entry],
      { env: { ...process.env, RECORD_LOADS: record }, encoding: "utf8" }
    )
    const { envReads, exports } = JSON.parse(out) as { envReads: Array<string>; exports: number }
    const loads = readFileSync(record, "utf8").split("\n").filter((line) => line.length > 0)
    return { envReads, exports, loads }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("importing effect-uid2", () => {
  it("loads no adapter, no optional peer and reads no environment variable", () => {
    const baseline = importInChild("./empty.ts")
    const core = importInChild("../../src/index.ts")
    expect(core.exports).toBeGreaterThan(10)
    expect(core.loads.some((url) => url.endsWith("/src/Bidstream.ts"))).toBe(true)
    const offending = core.loads.filter((url) =>
      url.includes("/adapters/") || url.includes("@effect/platform-node") || url.includes("/ioredis/") ||
      url.includes("@effect/cli") || url.includes("/src/cli/") || url.endsWith(".node")
    )
    expect(offending).toEqual([])
    // Whatever the loader itself reads is in the baseline; the SDK adds nothing.
    expect(core.envReads.filter((name) => !baseline.envReads.includes(name))).toEqual([])
  })
})
