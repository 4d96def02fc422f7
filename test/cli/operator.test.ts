// `uid2 operator` as a child process: it prints its base URL and each role's credentials, serves
// other programs (here, `uid2 keys`), and stops cleanly with exit 0 on SIGTERM and on SIGINT; a
// port in use is an operator error (exit 3).
import { describe, expect, it } from "@effect/vitest"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as TestOperator from "../../src/testing/TestOperator.js"
import { jsonLines, run, SLOW, start } from "./run.js"

interface Running {
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const launch = (args: ReadonlyArray<string>): Running => {
  const child = start(args)
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal }))
  )
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Resolves once stdout holds `marker` (the operator is listening), or fails if it exits first. */
const ready = (running: Running, marker: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = () => {
      if (running.stdout().includes(marker)) {
        running.child.stdout.off("data", check)
        resolve()
      }
    }
    running.child.stdout.on("data", check)
    check()
    void running.exited.then(({ code }) => reject(new Error(`operator exited (${code}): ${running.stderr()}`)))
  })

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("uid2 operator", () => {
  it("prints its URL and credentials, serves other programs, and stops on SIGTERM with exit 0", async () => {
    const operator = launch(["operator", "--json", "--scope", "EUID"])
    try {
      await ready(operator, "\n")
      const [listening] = jsonLines(operator.stdout())
      expect(listening).toMatchObject({ status: "listening", scope: "EUID" })
      const baseUrl = listening!["baseUrl"] as string
      expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const clients = listening!["clients"] as Array<Record<string, unknown>>
      expect(clients.map((c) => c["role"])).toEqual(["publisher", "dsp", "sharer", "advertiser", "all roles"])
      const dsp = clients.find((c) => c["role"] === "dsp")!
      expect(dsp).toMatchObject({ apiKey: TestOperator.DSP_CLIENT.apiKey, secretKey: TestOperator.DSP_CLIENT.secret })

      const keys = await run(["keys", "--json"], {
        env: {
          UID2_BASE_URL: baseUrl,
          UID2_API_KEY: dsp["apiKey"] as string,
          UID2_SECRET_KEY: dsp["secretKey"] as string
        }
      })
      expect(keys.code).toBe(0)
      expect(jsonLines(keys.stdout)[0]).toMatchObject({ status: "success", scope: "EUID", usable: true })

      operator.child.kill("SIGTERM")
      expect(await operator.exited).toEqual({ code: 0, signal: null })
      expect(operator.stderr()).toBe("uid2 operator: SIGTERM, stopped\n")
      await expect(fetch(`${baseUrl}/v2/key/bidstream`, { method: "POST" })).rejects.toThrow()
    } finally {
      operator.child.kill("SIGKILL")
    }
  }, SLOW)

  it("refuses a port in use (exit 3), and on a free --port stops on Ctrl-C (SIGINT) with exit 0", async () => {
    const port = await freePort()
    const squatter = createServer()
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve))
    const taken = await run(["operator", "--port", String(port)]).finally(() =>
      new Promise<void>((resolve) => squatter.close(() => resolve()))
    )
    expect(taken.code).toBe(3)
    expect(taken.stderr).toBe(`uid2: port ${port} is already in use\n`)

    const operator = launch(["operator", "--port", String(port)])
    try {
      await ready(operator, "Ctrl-C stops it.")
      expect(operator.stdout()).toContain(`listening on http://127.0.0.1:${port}`)
      expect(operator.stdout()).toContain(`UID2_BASE_URL=http://127.0.0.1:${port}`)
      operator.child.kill("SIGINT")
      expect(await operator.exited).toEqual({ code: 0, signal: null })
      expect(operator.stderr()).toBe("uid2 operator: SIGINT, stopped\n")
    } finally {
      operator.child.kill("SIGKILL")
    }
  }, SLOW)
})
