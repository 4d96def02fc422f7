// `--help` of every command as a child process: exit 0, an EXAMPLES section whose examples run that
// command, the exit codes, and plain text (no colour codes) when stdout is not a terminal.
import { describe, expect, it } from "@effect/vitest"
import { run, SLOW } from "./run.js"

const COMMANDS = [
  "demo",
  "operator",
  "inspect",
  "decrypt",
  "encrypt",
  "keys",
  "generate",
  "refresh",
  "validate",
  "map",
  "optout"
]

/** Runs at most `limit` processes at a time. */
const pool = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!)
    }
  }))
  return out
}

describe("uid2 --help", () => {
  it("every command documents itself with examples and the exit codes", async () => {
    const results = await pool(COMMANDS, 3, (command) => run([command, "--help"]))
    for (const [i, command] of COMMANDS.entries()) {
      const result = results[i]!
      expect(result.code, command).toBe(0)
      expect(result.stdout, command).toContain("EXAMPLES")
      expect(result.stdout, command).toMatch(new RegExp(`^ {2}uid2 ${command}\\b`, "m"))
      expect(result.stdout, command).toContain("Exit codes: 0 success; 1 a token or an input failed; 2 usage error; 3")
      expect(result.stdout, command).toContain("--json")
      expect(result.stdout, command).not.toContain("\u001b[")
    }
  }, SLOW)

  it("uid2 alone lists the commands", async () => {
    const result = await run([])
    expect(result.code).toBe(0)
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^${command}$`, "m"))
    expect(result.stdout).toContain("uid2 demo")
  }, SLOW)
})
