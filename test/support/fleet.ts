// A fleet of worker processes (test/fixtures/fleetWorker.ts) on one Redis and one operator.
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { join } from "node:path"
import { type Child, spawnTsx } from "./children.js"

const worker = join(import.meta.dirname, "..", "fixtures", "fleetWorker.ts")

export interface FleetOptions {
  readonly operatorUrl: string
  readonly redisUrl: string
  readonly keyPrefix: string
  readonly intervalMs: number
  readonly jitter?: number | undefined
}

/** Starts worker `id` and waits until it has keys; killed when the scope closes. */
export const startWorker = (
  options: FleetOptions,
  id: number,
  readyWithin: Duration.DurationInput = "60 seconds"
): Effect.Effect<Child, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* spawnTsx(worker, [], {
      env: {
        OPERATOR_URL: options.operatorUrl,
        REDIS_URL: options.redisUrl,
        KEY_PREFIX: options.keyPrefix,
        INTERVAL_MS: String(options.intervalMs),
        JITTER: String(options.jitter ?? 0),
        WORKER_ID: String(id)
      }
    })
    yield* child.waitForLine((line) => line.startsWith("ready")).pipe(
      Effect.timeoutFail({
        duration: readyWithin,
        onTimeout: () => new Error(`worker ${id} not ready: ${child.stderr().slice(0, 2000)}`)
      })
    )
    return child
  })

/** Asks every worker to decrypt `token` and answers each one's time to success (ms). */
export const decryptOnAll = (
  workers: ReadonlyArray<Child>,
  id: string,
  token: string,
  bound: Duration.DurationInput = "60 seconds"
) =>
  Effect.forEach(workers, (w) => {
    w.send(`decrypt ${id} ${token}`)
    return w.waitForLine((line) => line.startsWith(`decrypted ${id} `) || line.startsWith(`undecryptable ${id} `)).pipe(
      Effect.timeoutFail({ duration: bound, onTimeout: () => new Error(`no answer to decrypt ${id}`) }),
      Effect.flatMap((line) =>
        line.startsWith("decrypted")
          ? Effect.succeed(Number(line.split(" ")[2]))
          : Effect.fail(new Error(`a worker could not decrypt: ${line}`))
      )
    )
  }, { concurrency: "unbounded" })

let statusRequests = 0

/** Each worker's status, as it prints it. */
export const statuses = (workers: ReadonlyArray<Child>) =>
  Effect.forEach(workers, (w) => {
    const id = `s${statusRequests++}`
    w.send(`status ${id}`)
    return Effect.map(
      w.waitForLine((line) => line.startsWith(`status ${id} `)).pipe(Effect.timeout("10 seconds")),
      (line) => JSON.parse(line.slice(`status ${id} `.length)) as { source: string; ringFetchedAt: number }
    )
  }, { concurrency: "unbounded" })

/** How many request times fall into each interval-long bucket from `start`. */
export const perInterval = (times: ReadonlyArray<number>, start: number, intervalMs: number, buckets: number) => {
  const counts = Array.from({ length: buckets }, () => 0)
  for (const t of times) {
    const bucket = Math.floor((t - start) / intervalMs)
    if (bucket >= 0 && bucket < buckets) counts[bucket]!++
  }
  return counts
}
