// `uid2 demo` as a child process: every step passes against the embedded operator (run from the
// TypeScript source, as `npm start` does); a scripted fault fails the steps it hits, with the reason
// and a non-zero exit code.
import { describe, expect, it } from "@effect/vitest"
import { jsonLines, run, SLOW } from "./run.js"

const STEP = /^ {2}([✓✗]) (.+?) {2,}(—|[\d.]+ m?s) {2}(.*)$/

describe("uid2 demo", () => {
  it("walks every role with every step passed, in plain text when not a terminal", async () => {
    const result = await run(["demo"], { tsx: true })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split("\n")
    const steps = lines.map((line) => STEP.exec(line)).filter((m) => m !== null)
    expect(steps.map((m) => m[2]!.trim())).toEqual([
      "generate a token",
      "store the identity",
      "refresh it",
      "validate the token",
      "an opted-out user",
      "fetch bidstream keys",
      "decrypt the publisher's token",
      "client-side token, its domain",
      "client-side token, other domain",
      "fetch sharing keys",
      "encrypt a raw UID2",
      "decrypt it back",
      "map a mixed list",
      "opt-out status"
    ])
    expect(steps.every((m) => m[1] === "✓")).toBe(true)
    // Step names are aligned: every timing column starts at the same place.
    expect(new Set(steps.map((m) => m[0].indexOf(m[3]!) + m[3]!.length)).size).toBe(1)
    expect(lines.filter((line) => /^(Publisher|DSP|Sharer|Advertiser) — /.test(line))).toHaveLength(4)
    expect(result.stdout).toContain("refused on attacker.example, as it must be: DomainOrAppNameCheckFailed")
    expect(lines.at(-1)).toBe(`${steps.length} passed, 0 failed`)
    expect(result.stdout).not.toContain("\u001b[")
  }, SLOW)

  it("fails the steps a faulty operator breaks, says why, and exits 1", async () => {
    const [faulty, usage] = await Promise.all([
      run(["demo", "--json", "--fault", "malformed@/v2/key/bidstream"]),
      run(["demo", "--fault", "teapot"])
    ])
    expect(faulty.code).toBe(1)
    const out = jsonLines(faulty.stdout)
    const summary = out.at(-1)!
    const steps = out.slice(0, -1)
    expect(steps.filter((s) => s["role"] === "dsp").map((s) => s["status"])).toEqual([
      "failed",
      "failed",
      "failed",
      "failed"
    ])
    expect(steps.filter((s) => s["role"] !== "dsp").every((s) => s["status"] === "passed")).toBe(true)
    const keys = steps.find((s) => s["step"] === "fetch bidstream keys")!
    expect(keys["ran"]).toBe(true)
    expect(keys["detail"]).toContain("KeysUnavailable")
    expect(steps.find((s) => s["step"] === "decrypt the publisher's token")).toMatchObject({ ran: false })
    expect(summary).toEqual({ passed: steps.length - 4, failed: 4 })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain("--fault teapot")
  }, SLOW)
})
