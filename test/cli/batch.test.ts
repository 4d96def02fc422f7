// `uid2 map` and `uid2 optout` as child processes against a TestOperator on 127.0.0.1: results
// stream to stdout in input order, one per row (more rows than one request holds), as NDJSON or
// CSV; progress goes to stderr as plain lines when it is not a terminal, and as a bar under a
// pseudo-terminal.
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as TestOperator from "../../src/testing/TestOperator.js"
import { buildDir, jsonLines, run, type RunOptions, SLOW } from "./run.js"

const MAPPER = TestOperator.MAPPER_CLIENT
const cli = (args: ReadonlyArray<string>, options?: RunOptions) => Effect.promise(() => run(args, options))
const envOf = (operator: TestOperator.TestOperatorShape) => ({
  UID2_BASE_URL: operator.baseUrl,
  UID2_API_KEY: MAPPER.apiKey,
  UID2_SECRET_KEY: MAPPER.secret
})
const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "uid2-cli-batch-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)
const PLAIN_PROGRESS =
  /^uid2 (map|optout): [\d,]+(\/[\d,]+)? rows( \(\d+%\))?, [\d,]+\/s, (ETA \S+, )?\d+ retr(y|ies), \d+ in flight$/

layer(TestOperator.layer(), { excludeTestServices: true })("uid2 map and optout", (it) => {
  it.scoped(
    "map: one result per row, in order, across requests; plain progress on stderr",
    () =>
      Effect.gen(function*() {
        const operator = yield* TestOperator.TestOperator
        const dir = yield* tempDir
        const count = 6_000 // more than one request of 5,000
        const emails = Array.from({ length: count }, (_, i) => `user${i}@example.com`)
        const rows = [
          "id,email,phone_hash",
          ...emails.map((email, i) => `${i},${email},`),
          `opted,${TestOperator.TestIdentities.optoutEmail},`,
          "nothing,,",
          "both,a@example.com,EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
          "phone,,EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=",
          "bad,\"unclosed,"
        ]
        const file = join(dir, "customers.csv")
        writeFileSync(file, rows.join("\n") + "\n")
        const result = yield* cli(["map", file], { env: envOf(operator) })
        expect(result.code).toBe(1) // invalid rows
        const out = jsonLines(result.stdout)
        expect(out).toHaveLength(rows.length - 1)
        expect(out.map((o) => o["line"])).toEqual(Array.from({ length: rows.length - 1 }, (_, i) => i + 2))
        for (const i of [0, 4_999, 5_000, count - 1]) {
          expect(out[i]).toMatchObject({ input: { id: String(i), email: emails[i] }, status: "mapped" })
          expect(out[i]!["raw_uid"]).toBe(yield* operator.rawUidOf({ email: emails[i]! }))
          expect(typeof out[i]!["refresh_from"]).toBe("string")
        }
        expect(out.slice(count).map((o) => [o["input"] && (o["input"] as Record<string, unknown>)["id"], o["status"]]))
          .toEqual([
            ["opted", "unmapped"],
            ["nothing", "invalid"],
            ["both", "invalid"],
            ["phone", "mapped"],
            [undefined, "invalid"]
          ])
        expect(out[count]!["reason"]).toBe("optout")
        expect(out[count + 1]!["message"]).toBe("no email, phone, email_hash, phone_hash field")
        expect(out[count + 3]!["raw_uid"]).toBe(yield* operator.rawUidOf({ phone: "+12345678901" }))
        expect(out[count + 4]!["message"]).toBe("a quoted field is not closed")
        // Progress: plain lines, never a carriage return; the last line sums the run up.
        expect(result.stderr).not.toContain("\r")
        const lines = result.stderr.trimEnd().split("\n")
        expect(lines.length).toBeGreaterThanOrEqual(2)
        for (const line of lines.slice(0, -1)) expect(line).toMatch(PLAIN_PROGRESS)
        expect(lines.at(-2)).toContain(
          `${(count + 5).toLocaleString("en-US")}/${(count + 5).toLocaleString("en-US")} rows (100%)`
        )
        expect(lines.at(-1)).toBe(`uid2 map: ${count + 5} rows: ${count + 1} mapped, 1 unmapped, 3 invalid`)
      }),
    SLOW
  )

  it.effect("optout: NDJSON from stdin to CSV on stdout, the columns carried through", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.TestOperator
      const optedOut = yield* operator.rawUidOf({ email: TestOperator.TestIdentities.optoutEmail })
      const fine = yield* operator.rawUidOf({ email: "fine@example.com" })
      const input = [
        { who: "fine", raw_uid: fine },
        { who: "gone", raw_uid: optedOut },
        { who: "junk", raw_uid: "not a raw uid" },
        "not json"
      ].map((row) => typeof row === "string" ? row : JSON.stringify(row)).join("\n")
      const result = yield* cli(["optout", "--output", "csv"], { env: envOf(operator), input })
      expect(result.code).toBe(1)
      const [header, ...rows] = result.stdout.trimEnd().split("\n")
      expect(header).toBe("who,raw_uid,status,opted_out_since,message")
      expect(rows[0]).toBe(`fine,${fine},not_opted_out,,`)
      expect(rows[1]).toMatch(
        new RegExp(`^gone,${optedOut.replace(/[+/]/g, "\\$&")},opted_out,\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z,$`)
      )
      expect(rows[2]).toMatch(/^junk,not a raw uid,invalid,,.+/)
      expect(rows[3]).toBe(",,invalid,,not JSON")
      expect(result.stderr).not.toContain("\r")
      expect(result.stderr.trimEnd().split("\n").at(-1)).toBe(
        "uid2 optout: 4 rows: 1 not_opted_out, 1 opted_out, 2 invalid"
      )
    }), SLOW)

  it.scoped("draws a progress bar when stderr is a terminal (under a pseudo-terminal)", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.TestOperator
      const dir = yield* tempDir
      const file = join(dir, "list.csv")
      writeFileSync(file, ["email", ...Array.from({ length: 50 }, (_, i) => `pty${i}@example.com`)].join("\n"))
      const main = join(buildDir(), "src", "cli", "main.js")
      // `script` gives the command a pseudo-terminal; stdout goes to a file so the terminal shows stderr only.
      const command = `"${process.execPath}" "${main}" map "${file}" > "${join(dir, "out.ndjson")}"`
      const screen = yield* Effect.async<string>((resume) => {
        execFile("script", ["-qec", command, "/dev/null"], {
          env: { ...process.env, ...envOf(operator), TERM: "xterm", COLUMNS: "100" },
          timeout: 120_000
        }, (_error, stdout) => resume(Effect.succeed(stdout)))
      })
      expect(screen).toMatch(
        // eslint-disable-next-line no-control-regex
        /\ruid2 map \[█+\] 100% 50\/50 rows {2}[\d,]+\/s {2}ETA 0s {2}0 retries {2}0 in flight\u001b\[K/
      )
      expect(screen).toContain("uid2 map: 50 rows: 50 mapped")
      const out = jsonLines(readFileSync(join(dir, "out.ndjson"), "utf8"))
      expect(out).toHaveLength(50)
    }), SLOW)
})
