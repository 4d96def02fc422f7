/**
 * The `HttpTransport` service: enveloped, authenticated POSTs to the
 * operator over the `@effect/platform` `HttpClient` the application provides
 * (`NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, a mock…).
 *
 * Each attempt builds a fresh envelope (timestamp from Effect's `Clock`, nonce
 * and IV from `Crypto`), runs under its own timeout (which covers reading the
 * body), and is retried with exponential backoff and jitter only when the
 * failure is transient: network errors, timeouts, HTTP 408, 429 and 5xx
 * (honouring `Retry-After` on 429 and 503). 400, 401, 403 and the other
 * statuses fail at once, as do undecodable envelopes and oversized bodies.
 * Response bodies are read as a stream and never beyond
 * {@link Options.maxResponseBytes}. Errors keep the operator's HTTP status and
 * message and never carry the API key or the client secret.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Crypto, HttpTransport, Publisher } from "effect-uid2"
 *
 * const options: HttpTransport.Options = {
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? ""),
 *   timeout: "5 seconds",
 *   retry: { times: 2 }
 * }
 *
 * // The publisher client over fetch instead of undici.
 * const PublisherOnFetch = Publisher.layerWith(options).pipe(
 *   Layer.provide(Layer.merge(Crypto.layerNode, FetchHttpClient.layer))
 * )
 *
 * // The transport itself: the decrypted response JSON of an enveloped POST.
 * const keys = Effect.flatMap(HttpTransport.HttpTransport, (transport) => transport.post("/v2/key/sharing", undefined))
 * const program = keys.pipe(
 *   Effect.provide(HttpTransport.layer(options)),
 *   Effect.provide(Layer.merge(Crypto.layerNode, FetchHttpClient.layer))
 * )
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Crypto } from "./Crypto.js"
import * as Envelope from "./Envelope.js"
import type { InvalidClientSecret } from "./Envelope.js"
import { decodeUtf8, readAtMost } from "./internal/boundedBody.js"
import { requestSealer } from "./internal/requestSealer.js"
import { retrySchedule } from "./internal/retry.js"
import {
  type EnvelopeError,
  OperatorRejected,
  OperatorUnreachable,
  ResponseTooLarge,
  Timeout,
  type TransportError
} from "./TransportError.js"

/**
 * The SDK version advertised in `X-UID2-Client-Version` (kept equal to
 * `package.json`; a test checks it).
 *
 * @since 0.1.0
 * @category constants
 */
export const VERSION = "0.1.0"

/**
 * The `X-UID2-Client-Version` header value.
 *
 * @since 0.1.0
 * @category constants
 */
export const CLIENT_VERSION = `uid2-client-node-effect-${VERSION}`

/**
 * Retry policy for transient failures.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Retries after the first attempt; `0` disables retrying. Default 3. */
  readonly times?: number | undefined
  /** First backoff delay, doubled per retry, jittered ±25%, capped at 30 s. Default 200 ms. */
  readonly base?: Duration.DurationInput | undefined
  /** A `Retry-After` longer than this is not waited for: the call fails instead. Default 60 s. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/**
 * Options for {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** e.g. `https://prod.uidapi.com`; paths are appended (trailing slashes are dropped). */
  readonly baseUrl: string
  /** Sent as `Authorization: Bearer <api key>`. */
  readonly apiKey: Redacted.Redacted<string>
  /** The client secret: standard Base64 of 32 bytes. */
  readonly secretKey: Redacted.Redacted<string>
  /** Per-attempt timeout (request and response body). Default 10 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * The longest HTTP 200 response body read, in bytes; a longer one fails
   * with `ResponseTooLarge` as soon as its `Content-Length` or the bytes
   * received pass the bound, and is never held in memory whole.
   *
   * Default 16 MiB. The largest real responses are key rings: a bidstream
   * ring with thousands of keys (about 150 bytes of JSON each) and
   * `site_data` for thousands of sites comes to a few MB once Base64
   * encoded, and an identity-map response for the 5,000-item batch maximum
   * stays under 1 MB. 16 MiB leaves a wide margin over both while bounding
   * what a broken or hostile endpoint can make a process allocate.
   */
  readonly maxResponseBytes?: number | undefined
  /** Retry policy for transient failures. */
  readonly retry?: RetryOptions | undefined
}

/**
 * Options of one {@link HttpTransportShape.post}.
 *
 * @since 0.1.0
 * @category models
 */
export interface PostOptions {
  /**
   * Send the raw envelope bytes as `application/octet-stream` instead of
   * Base64 text (what `/v3/identity/map` uses); the response is read as raw
   * bytes when the operator labels it `application/octet-stream`, else as
   * Base64 text.
   */
  readonly binary?: boolean | undefined
}

/**
 * The transport's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpTransportShape {
  /**
   * Envelope-encrypts `payload` (UTF-8 JSON; `undefined` or empty for key
   * refreshes), POSTs it to `path` and, on HTTP 200, returns the decrypted
   * response JSON text after checking the nonce.
   */
  readonly post: (
    path: string,
    payload: Uint8Array | undefined,
    options?: PostOptions
  ) => Effect.Effect<string, TransportError>
  /**
   * POSTs `body` as-is (`text/plain`) and returns the raw HTTP 200 response
   * text: for `/v2/token/refresh`, whose response is decrypted with
   * `Envelope.decodeRefreshResponse`.
   */
  readonly postRaw: (path: string, body: string) => Effect.Effect<string, TransportError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class HttpTransport extends Context.Tag("effect-uid2/HttpTransport")<HttpTransport, HttpTransportShape>() {}

// ---------------------------------------------------------------------------
// internals

const DEFAULT_TIMEOUT = Duration.seconds(10)
const DEFAULT_TIMES = 3
const DEFAULT_BASE = Duration.millis(200)
const DEFAULT_MAX_RETRY_AFTER = Duration.seconds(60)
const MAX_BACKOFF = Duration.seconds(30)
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
/** Enough for any `{"status","message"}` rejection; the rest of a longer one is not read. */
const MAX_REJECTION_BYTES = 64 * 1024
const MAX_MESSAGE = 1_000
const OCTET_STREAM = "application/octet-stream"

const describe = (cause: unknown): string | undefined => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 3 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code
      const withCode = typeof code === "string" && !current.message.includes(code)
      parts.push(withCode ? `${current.message} (${code})` : current.message)
      current = (current as { cause?: unknown }).cause
    } else {
      if (typeof current === "string") parts.push(current)
      break
    }
  }
  return parts.length === 0 ? undefined : parts.join(": ")
}

const retryAfterMillis = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}

const parseRejection = (body: string): { readonly status?: string; readonly message?: string } => {
  try {
    const json: unknown = JSON.parse(body)
    if (typeof json !== "object" || json === null) return {}
    const { message, status } = json as { status?: unknown; message?: unknown }
    return {
      ...(typeof status === "string" ? { status } : {}),
      ...(typeof message === "string" ? { message } : {})
    }
  } catch {
    return {}
  }
}

/** The statuses on which HTTP defines `Retry-After` as advice for the next attempt. */
const honoursRetryAfter = (status: number): boolean => status === 429 || status === 503

/** The declared body length, when the header is a plain decimal number. */
const contentLength = (response: HttpClientResponse.HttpClientResponse): number | undefined => {
  const value = response.headers["content-length"]?.trim()
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined
}

/** A response body as a stream; a web `Response` without a body is an empty one, not an error. */
const bodyStream = (response: HttpClientResponse.HttpClientResponse) =>
  Stream.catchAll(
    response.stream,
    (error) => error.reason === "EmptyBody" ? Stream.empty : Stream.fail(error)
  )

const mediaType = (response: HttpClientResponse.HttpClientResponse): string =>
  (response.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()

/** `maxResponseBytes` as a whole number of bytes; a value that is not a number gets the default. */
const limitOf = (value: number | undefined): number =>
  value === undefined || Number.isNaN(value) ? DEFAULT_MAX_RESPONSE_BYTES : Math.max(0, Math.floor(value))

/**
 * Builds the transport. Fails with `InvalidClientSecret` (without echoing the
 * secret) when the client secret is not Base64 of 32 bytes. The imported key
 * is released when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<HttpTransportShape, InvalidClientSecret, Crypto | HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const crypto = yield* Crypto
    const http = yield* HttpClient.HttpClient
    const secret = yield* Envelope.parseClientSecret(options.secretKey)
    const key = yield* Effect.acquireRelease(
      Effect.sync(() => Envelope.importKey(crypto, secret)),
      (key) => Effect.sync(() => Envelope.releaseKey(crypto, key))
    )

    const baseUrl = options.baseUrl.replace(/\/+$/, "")
    const timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)
    const timeoutMillis = Duration.toMillis(timeout)
    const maxResponseBytes = limitOf(options.maxResponseBytes)
    const schedule = retrySchedule<TransportError>({
      times: Math.max(0, Math.floor(options.retry?.times ?? DEFAULT_TIMES)),
      base: options.retry?.base ?? DEFAULT_BASE,
      cap: MAX_BACKOFF,
      maxRetryAfter: options.retry?.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER
    })

    // Never let a credential into a message, whatever a lower layer says.
    const credentials = [Redacted.value(options.apiKey), Redacted.value(options.secretKey)]
      .flatMap((s) => [s, s.trim()])
      .filter((s) => s.length >= 4)
    const scrub = (text: string): string => {
      let out = text
      for (const s of credentials) out = out.split(s).join("<redacted>")
      return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out
    }

    // `withScope`: when an attempt's scope closes (done, failed, timed out) its
    // request is aborted, so a body left unread never holds a connection.
    const client = http.pipe(
      HttpClient.mapRequest((request) =>
        request.pipe(
          HttpClientRequest.prependUrl(baseUrl),
          HttpClientRequest.bearerToken(options.apiKey),
          HttpClientRequest.setHeader("X-UID2-Client-Version", CLIENT_VERSION)
        )
      ),
      HttpClient.withScope
    )

    const unreachable = (path: string, error: HttpClientError.HttpClientError): OperatorUnreachable => {
      const what = error._tag === "RequestError" ? error.reason : `response ${error.reason}`
      const detail = describe(error.cause) ?? error.description ?? "request failed"
      // a request that could not be built (bad URL, body encoding) fails the same way every time
      const transient = error._tag !== "RequestError" || error.reason === "Transport"
      return new OperatorUnreachable({ path, detail: scrub(`${what}: ${detail}`), transient })
    }

    /** A non-200 answer: its status, and what its first bytes say (a broken body only loses the message). */
    const rejected = (
      path: string,
      response: HttpClientResponse.HttpClientResponse
    ): Effect.Effect<never, OperatorRejected> =>
      Effect.gen(function*() {
        const head = yield* readAtMost(bodyStream(response), MAX_REJECTION_BYTES).pipe(
          Effect.map(({ bytes }) => decodeUtf8(bytes)),
          Effect.orElseSucceed(() => "")
        )
        const { message, status } = parseRejection(head)
        const retryAfter = honoursRetryAfter(response.status)
          ? retryAfterMillis(response.headers["retry-after"], yield* Clock.currentTimeMillis)
          : undefined
        return yield* new OperatorRejected({
          path,
          httpStatus: response.status,
          ...(status === undefined ? {} : { status: scrub(status) }),
          ...(message === undefined ? {} : { operatorMessage: scrub(message) }),
          ...(retryAfter === undefined ? {} : { retryAfterMillis: retryAfter })
        })
      })

    /** A 200 body, whole, or `ResponseTooLarge` as soon as it is known to pass the bound. */
    const okBody = (
      path: string,
      response: HttpClientResponse.HttpClientResponse,
      binary: boolean
    ): Effect.Effect<string | Uint8Array, TransportError> => {
      const declared = contentLength(response)
      if (declared !== undefined && declared > maxResponseBytes) {
        return Effect.fail(new ResponseTooLarge({ path, limitBytes: maxResponseBytes }))
      }
      return readAtMost(bodyStream(response), maxResponseBytes).pipe(
        Effect.mapError((error) => unreachable(path, error)),
        Effect.flatMap(({ bytes, complete }) =>
          !complete
            ? Effect.fail(new ResponseTooLarge({ path, limitBytes: maxResponseBytes }))
            : Effect.succeed(binary && mediaType(response) === OCTET_STREAM ? bytes : decodeUtf8(bytes))
        )
      )
    }

    /** One attempt: send, read the body, hand a 200 body to `onOk`, all under the timeout. */
    const attempt = <A>(
      path: string,
      request: HttpClientRequest.HttpClientRequest,
      binary: boolean,
      onOk: (body: string | Uint8Array) => Either.Either<A, EnvelopeError>
    ): Effect.Effect<A, TransportError> =>
      client.execute(request).pipe(
        Effect.mapError((error) => unreachable(path, error)),
        Effect.flatMap((response): Effect.Effect<A, TransportError> =>
          response.status === 200
            ? Effect.flatMap(okBody(path, response, binary), onOk)
            : rejected(path, response)
        ),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new Timeout({ path, timeoutMillis }) }),
        Effect.scoped
      )

    const withRetry = <A>(run: Effect.Effect<A, TransportError>): Effect.Effect<A, TransportError> =>
      Effect.retry(run, schedule)

    const post = (path: string, payload: Uint8Array | undefined, postOptions?: PostOptions) => {
      const binary = postOptions?.binary === true
      const sealer = requestSealer(crypto, key, payload)
      return withRetry(Effect.flatMap(Clock.currentTimeMillis, (nowMs) => {
        const envelope = sealer.seal(nowMs)
        const request = HttpClientRequest.post(path).pipe(
          binary
            ? HttpClientRequest.bodyUint8Array(envelope.bytes, OCTET_STREAM)
            : HttpClientRequest.bodyText(envelope.text, "text/plain")
        )
        return attempt(path, request, binary, (body) =>
          Either.map(
            Envelope.decodeResponse(crypto, key, body, envelope.nonce, { binary }),
            (response) => response.json
          ))
      })).pipe(
        Effect.withSpan("effect-uid2/HttpTransport.post", { attributes: { "uid2.path": path, "uid2.binary": binary } })
      )
    }

    const postRaw = (path: string, body: string) =>
      withRetry(attempt(
        path,
        HttpClientRequest.post(path).pipe(HttpClientRequest.bodyText(body, "text/plain")),
        false,
        (text) => Either.right(typeof text === "string" ? text : new TextDecoder().decode(text))
      )).pipe(Effect.withSpan("effect-uid2/HttpTransport.postRaw", { attributes: { "uid2.path": path } }))

    return HttpTransport.of({ post, postRaw })
  })

/**
 * The transport as a layer, on the `HttpClient` and `Crypto` the app provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<HttpTransport, InvalidClientSecret, Crypto | HttpClient.HttpClient> =>
  Layer.scoped(HttpTransport, make(options))

/**
 * Reads `UID2_BASE_URL`, `UID2_API_KEY` and `UID2_SECRET_KEY` (the latter two
 * as `Redacted`) from the `ConfigProvider`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  baseUrl: Config.url("UID2_BASE_URL").pipe(Config.map((url) => url.href)),
  apiKey: Config.redacted("UID2_API_KEY"),
  secretKey: Config.redacted("UID2_SECRET_KEY")
})

/**
 * {@link layer} configured from `options`; by default {@link config}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<HttpTransport, InvalidClientSecret | ConfigError.ConfigError, Crypto | HttpClient.HttpClient> =>
  Layer.scoped(HttpTransport, Effect.flatMap(options, make))

const nodeHttpClient = Layer.unwrapEffect(
  Effect.map(
    Effect.promise(() => import("@effect/platform-node/NodeHttpClient")),
    (module) => module.layerUndici
  )
)

/**
 * {@link layer} on Node's undici client (`NodeHttpClient.layerUndici`).
 * `@effect/platform-node` (an optional peer) is imported only when this layer
 * is built.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode = (options: Options): Layer.Layer<HttpTransport, InvalidClientSecret, Crypto> =>
  layer(options).pipe(Layer.provide(nodeHttpClient))

/**
 * {@link layerConfig} on Node's undici client, like {@link layerNode}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNodeConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<HttpTransport, InvalidClientSecret | ConfigError.ConfigError, Crypto> =>
  layerConfig(options).pipe(Layer.provide(nodeHttpClient))
