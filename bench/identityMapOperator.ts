/**
 * The operator process of `npm run bench:map` (bench/identityMap.ts): a TestOperator on 127.0.0.1,
 * driven over stdin.
 *
 *   stdout "ready {json}" once listening: baseUrl, and the mapper client's apiKey and secret;
 *   stdin "usage ID": prints "usage ID {json}": this process's CPU time (process.cpuUsage, µs),
 *     its monotonic clock (µs), the identity-map requests seen and the most in flight at once,
 *     then forgets the request log (so that each measured run counts its own requests);
 *   stdin "exit" (or stdin closing): exits.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { createInterface } from "node:readline"
import * as TestOperator from "../src/testing/TestOperator.js"

const main = Effect.scoped(Effect.gen(function*() {
  const operator = yield* TestOperator.make()
  const { apiKey, secret } = TestOperator.MAPPER_CLIENT
  process.stdout.write(`ready ${JSON.stringify({ baseUrl: operator.baseUrl, apiKey, secret })}\n`)

  const usage = Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const requests = yield* operator.requestCount(TestOperator.Paths.identityMapV3)
    const maxInFlight = yield* operator.maxInFlight(TestOperator.Paths.identityMapV3)
    yield* operator.clearRequests()
    return {
      userMicros: cpu.user,
      systemMicros: cpu.system,
      clockMicros: Math.round(performance.now() * 1000),
      requests,
      maxInFlight,
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10
    }
  })

  const lines = createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    const [command, id] = line.trim().split(" ")
    if (command === "usage") {
      Effect.runPromise(usage).then((u) => process.stdout.write(`usage ${id} ${JSON.stringify(u)}\n`))
    } else if (command === "exit") {
      process.exit(0)
    }
  })
  lines.on("close", () => process.exit(0))
  // The server runs in this scope: keep it open until told to exit.
  yield* Effect.never
}))

Effect.runPromise(Logger.withMinimumLogLevel(main, LogLevel.None)).catch((error) => {
  process.stderr.write(`operator failed to start: ${String(error)}\n`)
  process.exit(1)
})
