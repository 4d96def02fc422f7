/**
 * Counting HTTP attempts without owning the retry loop: the batch clients
 * build their transport on an `HttpClient` that reports every request it
 * sends to the observer of the calling fiber. The transport retries inside
 * that fiber, so a batch that sets an observer around its call sees its first
 * attempt and each retry.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"

/** What runs on each HTTP attempt made by the current fiber (and the fibers it forks). */
export const attemptObserver: FiberRef.FiberRef<Effect.Effect<void> | undefined> = FiberRef.unsafeMake<
  Effect.Effect<void> | undefined
>(undefined)

/** Runs `effect` with `onAttempt` told about every HTTP attempt it makes. */
export const observeAttempts = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  onAttempt: Effect.Effect<void>
): Effect.Effect<A, E, R> => Effect.locally(effect, attemptObserver, onAttempt)

/** `client`, reporting each request it sends to the calling fiber's observer. */
export const reportingAttempts = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.tapRequest(client, () => Effect.flatMap(FiberRef.get(attemptObserver), (o) => o ?? Effect.void))

/** The `HttpClient` in context, reporting its attempts. */
export const layerReportingAttempts: Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = Layer
  .effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, reportingAttempts))

/**
 * Node's undici client, reporting its attempts. `@effect/platform-node` (an
 * optional peer) is imported only when the layer is built.
 */
export const layerNodeReportingAttempts: Layer.Layer<HttpClient.HttpClient> = layerReportingAttempts.pipe(
  Layer.provide(
    Layer.unwrapEffect(
      Effect.map(
        Effect.promise(() => import("@effect/platform-node/NodeHttpClient")),
        (module) => module.layerUndici
      )
    )
  )
)
