/**
 * Fleet benchmark: `npm run bench:fleet [-- options]` (needs a Redis at REDIS_URL, default
 * redis://127.0.0.1:6379, and redis-server for nothing else).
 *
 *   --json             print one JSON object on stdout (progress goes to stderr)
 *   --processes a,b    fleet sizes (default 1,4,16)
 *   --interval-ms N    refresh interval of every process (default 1000)
 *   --intervals N      intervals observed for the operator's request count (default 6)
 *   --rotations N      key rotations timed per fleet size (default 5)
 *
 * For each fleet size: that many worker processes (test/fixtures/fleetWorker.ts, each a
 * bidstream client on the Redis key store) share one Redis and one TestOperator on 127.0.0.1.
 * It reports the operator's key requests per refresh interval (the goal is 1 whatever the
 * size) and how long a key rotation takes to reach every process (p50 and p99 over every
 * process and rotation: the time from the rotation until a token under the new key decrypts).
 *
 * Then, in this process, a Redis-backed and a memory-backed client decrypt the same tokens in
 * interleaved rounds: decrypts never touch the store, so the ratio should be 1.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { performance } from "node:perf_hooks"
import * as RedisKeyStore from "../adapters/redis/index.js"
import * as Bidstream from "../src/Bidstream.js"
import * as Crypto from "../src/Crypto.js"
import * as KeyStore from "../src/KeyStore.js"
import { bidstreamRing, token } from "../src/testing/Builders.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { decryptOnAll, perInterval, startWorker } from "../test/support/fleet.js"
import { randomPrefix, REDIS_URL } from "../test/support/redis.js"

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string, fallback: string) => {
  const at = argv.indexOf(`--${name}`)
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback
}
const json = flag("json")
const sizes = option("processes", "1,4,16").split(",").map(Number)
const intervalMs = Number(option("interval-ms", "1000"))
const intervals = Number(option("intervals", "6"))
const rotations = Number(option("rotations", "5"))
const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`)

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}

const fleetOf = (processes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const op = yield* TestOperator.make()
    const options = { operatorUrl: op.baseUrl, redisUrl: REDIS_URL, keyPrefix: randomPrefix(), intervalMs }
    const started = performance.now()
    // Generous: on a small, busy machine 16 processes compiling TypeScript at once take a while.
    const first = yield* startWorker(options, 1, "5 minutes")
    const rest = yield* Effect.forEach(
      Array.from({ length: processes - 1 }, (_, i) => i + 2),
      (id) => startWorker(options, id, "5 minutes"),
      { concurrency: 2 }
    )
    const workers = [first, ...rest]
    say(`  ${processes} processes ready in ${((performance.now() - started) / 1000).toFixed(1)} s`)

    // Let start-up settle for one interval, then count the key requests per interval.
    yield* Effect.sleep(intervalMs)
    const start = yield* op.now
    yield* Effect.sleep(intervals * intervalMs)
    const times = (yield* op.requests).filter((r) => r.path === "/v2/key/bidstream").map((r) => r.atMs)
    const counts = perInterval(times, start, intervalMs, intervals)
    const perIntervalMean = counts.reduce((a, b) => a + b, 0) / intervals

    const delays: Array<number> = []
    for (let r = 0; r < rotations; r++) {
      // At a random point of the refresh cycle: right after the last rotation landed would always wait a whole interval.
      yield* Effect.sleep(Math.random() * intervalMs)
      yield* op.rotateKeys()
      const issued = yield* op.issueToken({ email: `rotation-${r}@example.com` })
      delays.push(...(yield* decryptOnAll(workers, `r${r}`, issued.advertisingToken, "60 seconds")))
    }
    const result = {
      operatorRequestsPerInterval: perIntervalMean,
      maxRequestsInOneInterval: Math.max(...counts),
      rotationP50Ms: percentile(delays, 50),
      rotationP99Ms: percentile(delays, 99)
    }
    say(
      `  ${processes} processes: key requests per interval ${counts.join(" ")} (mean ${perIntervalMean.toFixed(2)}); ` +
        `rotation to every process p50 ${result.rotationP50Ms.toFixed(0)} ms, p99 ${
          result.rotationP99Ms.toFixed(0)
        } ms ` +
        `(${delays.length} samples)`
    )
    for (const w of workers) w.send("exit")
    return result
  }))

// Decrypts per second of a client, over `tokens`, for `ms` of wall time.
const rate = (client: Bidstream.BidstreamClientShape, tokens: ReadonlyArray<string>, now: number, ms: number) => {
  let n = 0
  let failures = 0
  const start = performance.now()
  while (performance.now() - start < ms) {
    for (const t of tokens) if (client.decryptSync(t, null, now)._tag !== "DecryptedToken") failures++
    n += tokens.length
  }
  if (failures > 0) throw new Error(`${failures} decrypts failed`)
  return n / ((performance.now() - start) / 1000)
}

const decryptRatio = Effect.scoped(Effect.gen(function*() {
  const now = Math.floor(Date.now() / 1000) * 1000
  const ring = bidstreamRing(now)
  const tokens = Array.from(
    { length: 200 },
    (_, i) => token({ masterKey: ring.keyById(164)!, siteKey: ring.keyById(165)!, now: now - i })
  )
  const redisStore = yield* RedisKeyStore.make({
    url: REDIS_URL,
    clientSecret: Redacted.make(TestOperator.DSP_CLIENT.secret),
    keyPrefix: randomPrefix()
  })
  yield* redisStore.save("bidstream", { ring, fetchedAt: now })
  const build = (store: KeyStore.KeyStoreShape) =>
    Effect.map(
      Layer.build(
        Bidstream.layerFromKeyStore().pipe(
          Layer.provide(Layer.merge(Layer.succeed(KeyStore.KeyStore, store), Crypto.layerNode))
        )
      ),
      (context) => Context.get(context, Bidstream.BidstreamClient)
    )
  const redisClient = yield* build(redisStore)
  const memoryClient = yield* build(yield* KeyStore.makeMemory(ring))
  rate(redisClient, tokens, now, 300)
  rate(memoryClient, tokens, now, 300)
  const ratios: Array<number> = []
  for (let round = 0; round < 7; round++) {
    const memory1 = rate(memoryClient, tokens, now, 200)
    const redis = rate(redisClient, tokens, now, 200)
    const memory2 = rate(memoryClient, tokens, now, 200)
    ratios.push(redis / ((memory1 + memory2) / 2))
  }
  const ratio = percentile(ratios, 50)
  say(`  decrypt: Redis-backed / memory-backed client = ${ratio.toFixed(3)} (median of 7 interleaved rounds)`)
  return ratio
}))

const main = Effect.gen(function*() {
  say(
    `fleet benchmark: refresh interval ${intervalMs} ms, ${intervals} intervals, ${rotations} rotations, Redis ${REDIS_URL}`
  )
  const figures: Record<string, number> = {}
  for (const processes of sizes) {
    const result = yield* fleetOf(processes)
    figures[`fleet.processes${processes}.operatorRequestsPerInterval`] = result.operatorRequestsPerInterval
    figures[`fleet.processes${processes}.maxRequestsInOneInterval`] = result.maxRequestsInOneInterval
    figures[`fleet.processes${processes}.rotationP50Ms`] = result.rotationP50Ms
    figures[`fleet.processes${processes}.rotationP99Ms`] = result.rotationP99Ms
  }
  figures["fleet.decrypt.redisOverMemoryRatio"] = yield* decryptRatio
  if (json) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`)
})

Effect.runPromise(Logger.withMinimumLogLevel(main, LogLevel.None)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`fleet benchmark failed: ${String(error)}\n`)
    process.exit(1)
  }
)
