/**
 * Key handling figures (issue 3): the latency of one key refresh against a
 * TestOperator on loopback (envelope, HTTP, decode, swap), with the operator's
 * default ring and with about 1,000 keys; and the time to decode and swap in a
 * 1,000-key ring, next to a JSON.parse of the same text (the least any SDK
 * must do) measured in the same run.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import { performance } from "node:perf_hooks"
import * as Bidstream from "../src/Bidstream.js"
import * as Crypto from "../src/Crypto.js"
import * as Decryption from "../src/Decryption.js"
import * as KeyRing from "../src/KeyRing.js"
import * as Builders from "../src/testing/Builders.js"
import * as TestOperator from "../src/testing/TestOperator.js"

export interface Distribution {
  readonly medianMs: number
  readonly p95Ms: number
  readonly minMs: number
  readonly samples: number
}

export interface KeysResult {
  readonly refresh: { readonly keys: number; readonly latency: Distribution }
  readonly refresh1000: { readonly keys: number; readonly latency: Distribution }
  readonly ring1000: {
    readonly keys: number
    readonly jsonBytes: number
    readonly decodeAndSwap: Distribution
    readonly jsonParseBaseline: Distribution
    readonly ratioToBaseline: number
  }
}

const distribution = (times: Array<number>): Distribution => {
  const sorted = [...times].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  const round = (ms: number) => Math.round(ms * 1000) / 1000
  return { medianMs: round(at(0.5)), p95Ms: round(at(0.95)), minMs: round(sorted[0]!), samples: sorted.length }
}

const timeEach = async (n: number, run: () => Promise<unknown>): Promise<Array<number>> => {
  const times: Array<number> = []
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    await run()
    times.push(performance.now() - start)
  }
  return times
}

/** A sharing response with `count` keys in a handful of keysets, as the operator sends it. */
const ringJson = (count: number, nowMs: number): string => {
  const keys = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    keysetId: i % 10 === 0 ? 9999999 : 100 + (i % 40),
    activates: nowMs - (i % 30) * 86_400_000,
    expires: nowMs + 30 * 86_400_000,
    secret: Builders.secretFor(i + 1)
  }))
  const body = KeyRing.toBody(Builders.keyRing({
    keys,
    callerSiteId: 999,
    masterKeysetId: 9999999,
    defaultKeysetId: 100,
    sites: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [i + 1, [`site${i}.example.com`]]))
  }))
  return JSON.stringify({ body, status: "success" })
}

const refreshLatency = (op: TestOperator.TestOperatorShape, n: number) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Bidstream.layer({
      baseUrl: op.baseUrl,
      apiKey: Redacted.make(TestOperator.DSP_CLIENT.apiKey),
      secretKey: Redacted.make(TestOperator.DSP_CLIENT.secret)
    }))
    const refresher = yield* Effect.provide(Bidstream.BidstreamClient, context)
    yield* refresher.refresh
    const keys = (yield* refresher.status).keyCount
    const times = yield* Effect.promise(() => timeEach(n, () => Effect.runPromise(refresher.refresh)))
    return { keys, latency: distribution(times) }
  })

export const measureKeys = (options: { readonly quick: boolean }): Promise<KeysResult> =>
  Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const n = options.quick ? 15 : 60
      const op = yield* TestOperator.make()
      const refresh = yield* refreshLatency(op, n)
      // Rotations add keys the DSP may read until its ring holds about a thousand.
      while ((yield* op.keys).length < 1200) yield* op.rotateKeys()
      const refresh1000 = yield* refreshLatency(op, n)

      const json = ringJson(1000, Date.now())
      // What a client does with a fetched ring: decode it, prepare it for its Crypto (key table
      // included) and release the ring it replaces.
      const crypto = Crypto.makeNode(Crypto.secureRandom)
      let current: Decryption.PreparedRing | undefined
      const swap = () =>
        Promise.resolve().then(() => {
          const next = Decryption.prepare(Either.getOrThrow(KeyRing.fromJson(json)), crypto)
          next.table()
          current?.release()
          current = next
        })
      const parse = () => Promise.resolve(JSON.parse(json))
      for (let i = 0; i < 5; i++) {
        yield* Effect.promise(swap)
        yield* Effect.promise(parse)
      }
      // Interleaved so that both see the same machine load.
      const decode: Array<number> = []
      const baseline: Array<number> = []
      for (let i = 0; i < n; i++) {
        baseline.push(...(yield* Effect.promise(() => timeEach(1, parse))))
        decode.push(...(yield* Effect.promise(() => timeEach(1, swap))))
      }
      const decodeAndSwap = distribution(decode)
      const jsonParseBaseline = distribution(baseline)
      return {
        refresh,
        refresh1000,
        ring1000: {
          keys: current!.ring.keys.length,
          jsonBytes: json.length,
          decodeAndSwap,
          jsonParseBaseline,
          ratioToBaseline: Math.round(decodeAndSwap.medianMs / jsonParseBaseline.medianMs * 10) / 10
        }
      }
    })).pipe(Logger.withMinimumLogLevel(LogLevel.None))
  )

export const formatKeys = (r: KeysResult): Array<string> => [
  "keys — refresh latency against TestOperator on loopback, and a 1,000-key ring decoded and swapped in",
  `  refresh (${r.refresh.keys} keys)         median ${r.refresh.latency.medianMs} ms, p95 ${r.refresh.latency.p95Ms} ms (${r.refresh.latency.samples} refreshes)`,
  `  refresh (${r.refresh1000.keys} keys)      median ${r.refresh1000.latency.medianMs} ms, p95 ${r.refresh1000.latency.p95Ms} ms`,
  `  decode + swap ${r.ring1000.keys} keys       median ${r.ring1000.decodeAndSwap.medianMs} ms (JSON.parse alone ${r.ring1000.jsonParseBaseline.medianMs} ms: ${r.ring1000.ratioToBaseline}x; ${
    Math.round(r.ring1000.jsonBytes / 1024)
  } KiB of JSON)`
]
