// Redis for the tests: the shared server at REDIS_URL (CI starts one on 127.0.0.1:6379), a random
// key prefix per test so runs never see each other's keys, and throwaway servers a test starts
// and stops itself for fault tests.
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { createServer } from "node:net"
import { type Child, spawnScoped } from "./children.js"

export const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

/** A prefix no other test or run uses. */
export const randomPrefix = (): string => `uid2-test-${randomBytes(6).toString("hex")}`

/** A plain connection for poking at what the store wrote; closed with the scope. */
export const rawRedis = (url: string = REDIS_URL): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
      redis.on("error", () => undefined)
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect(false))
  )

/** A free loopback port (taken and released at once). */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface OwnRedis {
  readonly port: number
  readonly url: string
  /** Stops the server by its PID (SIGKILL, as a crash would). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port. */
  readonly start: Effect.Effect<void, never, Scope.Scope>
}

const ping = (url: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const redis = new Redis(url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        connectTimeout: 500,
        retryStrategy: () => null
      })
      redis.on("error", () => undefined)
      return redis
    }),
    (redis) => Effect.tryPromise(() => redis.connect().then(() => redis.ping())),
    (redis) => Effect.sync(() => redis.disconnect(false))
  )

/**
 * A redis-server of the test's own on a free port, without persistence, in
 * the foreground as a child: killed by PID when stopped and when the scope
 * closes.
 */
export const ownRedis: Effect.Effect<OwnRedis, never, Scope.Scope> = Effect.gen(function*() {
  const port = yield* freePort
  const url = `redis://127.0.0.1:${port}`
  let child: Child | undefined
  const start = Effect.gen(function*() {
    child = yield* spawnScoped("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no"
    ])
    // Ready once it answers PING (a few tens of milliseconds).
    yield* ping(url).pipe(
      Effect.retry(Schedule.intersect(Schedule.spaced("20 millis"), Schedule.recurs(250))),
      Effect.orDie
    )
  })
  const stop = Effect.suspend(() => {
    const running = child
    child = undefined
    if (running === undefined) return Effect.void
    running.process.kill("SIGKILL")
    return Effect.ignore(Effect.timeout(Deferred.await(running.exited), "5 seconds"))
  })
  yield* start
  return { port, url, stop, start }
})
