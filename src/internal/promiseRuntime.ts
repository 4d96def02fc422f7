/**
 * The runtime behind every Promise API client: one `ManagedRuntime` per
 * client, Effect failures turned into `Uid2Error`s, streams into async
 * iterables.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type * as HttpTransport from "../HttpTransport.js"
import { type CallOptions, type Closable, type ConnectionOptions, Uid2Error } from "../promise/common.js"

export const toError = (cause: Cause.Cause<unknown>): Uid2Error => {
  if (Cause.isInterruptedOnly(cause)) return new Uid2Error("the call was aborted", "Aborted", { cause })
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some" && failure.value instanceof Uid2Error) return failure.value
  if (failure._tag === "Some") {
    const error = failure.value as { readonly _tag?: unknown; readonly message?: unknown }
    const code = typeof error._tag === "string" ? error._tag : "Error"
    const message = typeof error.message === "string" && error.message.length > 0 ? error.message : code
    return new Uid2Error(message, code, { cause: failure.value })
  }
  return new Uid2Error("unexpected failure inside the SDK", "Defect", { cause: Cause.squash(cause) })
}

export interface Started<S, R> {
  readonly service: S
  readonly run: <A, E>(effect: Effect.Effect<A, E, R>, options?: CallOptions) => Promise<A>
  /** A stream's elements as an async iterable; aborting the signal ends it. */
  readonly iterate: <A, E>(stream: Stream.Stream<A, E>, options?: CallOptions) => AsyncIterable<A>
  readonly closable: Closable
}

/** Builds `layer` once, reads the client service, and keeps the runtime for async calls until closed. */
export const start = async <I extends R, S, E, R = I>(
  tag: Context.Tag<I, S>,
  layer: Layer.Layer<R, E>,
  options: ConnectionOptions
): Promise<Started<S, R>> => {
  const logLevel = LogLevel.fromLiteral(options.logLevel ?? "Warning")
  const runtime = ManagedRuntime.make(Layer.provide(layer, Logger.minimumLogLevel(logLevel)))
  const run = async <A, E2>(effect: Effect.Effect<A, E2, R>, options?: CallOptions): Promise<A> => {
    const exit = await runtime.runPromiseExit(
      effect,
      options?.signal === undefined ? undefined : { signal: options.signal }
    )
    if (Exit.isSuccess(exit)) return exit.value
    throw toError(exit.cause)
  }
  let closing: Promise<void> | undefined
  const close = () => (closing ??= runtime.dispose())
  const iterateOn =
    (rt: Runtime.Runtime<R>) => <A, E2>(stream: Stream.Stream<A, E2, R>, options?: CallOptions): AsyncIterable<A> => {
      const signal = options?.signal
      const bounded = signal === undefined ? stream : Stream.interruptWhen(
        stream,
        Effect.async<void>((resume) => {
          if (signal.aborted) return resume(Effect.void)
          const onAbort = () => resume(Effect.void)
          signal.addEventListener("abort", onAbort, { once: true })
          return Effect.sync(() => signal.removeEventListener("abort", onAbort))
        })
      )
      return Stream.toAsyncIterableRuntime<A, R>(rt)(Stream.mapError(bounded, (e) => toError(Cause.fail(e))))
    }
  try {
    const service = await run(tag)
    const iterate = iterateOn(await runtime.runtime())
    return { service, run, iterate, closable: { close, [Symbol.asyncDispose]: close } }
  } catch (error) {
    await close()
    throw error
  }
}

export const transportOptions = (options: ConnectionOptions): HttpTransport.Options => ({
  baseUrl: String(options.baseUrl),
  apiKey: Redacted.make(String(options.apiKey)),
  secretKey: Redacted.make(String(options.secretKey)),
  timeout: options.timeout,
  retry: options.retry
})
