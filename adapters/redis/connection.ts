import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"

/** How a connection is opened: every bound that keeps a slow or dead Redis from holding up a client. */
export interface ConnectionOptions {
  readonly url: string
  readonly connectTimeout: Duration.Duration
  readonly commandTimeout: Duration.Duration
  /** More ioredis options; the bounds above win over theirs. */
  readonly extra: RedisOptions | undefined
}

// Reconnect with capped, jittered backoff: a dead Redis costs a connect attempt every few seconds.
const retryStrategy = (times: number): number =>
  Math.round(Math.min(100 * 2 ** Math.min(times, 6), 5_000) * (0.75 + Math.random() * 0.5))

/** The options every connection of the store uses. */
export const redisOptions = (options: ConnectionOptions): RedisOptions => ({
  ...options.extra,
  connectTimeout: Duration.toMillis(options.connectTimeout),
  commandTimeout: Duration.toMillis(options.commandTimeout),
  // A command while disconnected fails at once instead of waiting in a queue.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy,
  lazyConnect: true
})

/**
 * Keeps a connection's `error` events (an unhandled one would crash the
 * process) and logs one line when the connection is lost or comes back, not
 * one per reconnect attempt. Messages name the failure, never a password.
 */
const watchHealth = (redis: Redis, runtime: Runtime.Runtime<never>, role: string) => {
  let healthy = true
  const log = (effect: Effect.Effect<void>) =>
    Runtime.runFork(runtime)(effect.pipe(Effect.annotateLogs({ store: "redis", connection: role })))
  redis.on("error", (error: Error & { code?: string }) => {
    if (!healthy) return
    healthy = false
    log(
      Effect.logWarning("UID2 Redis key store unreachable; clients keep their keys and refresh on their own").pipe(
        Effect.annotateLogs({ reason: error.code ?? error.name })
      )
    )
  })
  redis.on("ready", () => {
    if (healthy) return
    healthy = true
    log(Effect.logInfo("UID2 Redis key store reachable again"))
  })
}

/**
 * A connection for the current scope: started at once, waited for up to the
 * connect timeout (a Redis that is down does not fail or hold up start-up:
 * calls fail fast until it answers), closed with the scope.
 */
export const connect = (
  RedisClass: typeof Redis,
  options: ConnectionOptions,
  role: string
): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      const redis = new RedisClass(options.url, redisOptions(options))
      watchHealth(redis, runtime, role)
      yield* Effect.promise(() => redis.connect().catch(() => undefined)).pipe(
        Effect.timeout(options.connectTimeout),
        Effect.ignore
      )
      return redis
    }),
    (redis) =>
      Effect.promise(() => redis.quit().catch(() => undefined)).pipe(
        Effect.timeout(Duration.seconds(1)),
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => redis.disconnect(false)))
      )
  )
