/**
 * What every client of the Promise API shares: the error it throws, the
 * connection options, per-call options and `close()`.
 */
import type * as Duration from "effect/Duration"
import type * as LogLevel from "effect/LogLevel"
import type * as HttpTransport from "../HttpTransport.js"

/**
 * What every async method throws: an `Error` whose `code` is the tag of
 * the SDK's typed error (`"KeysUnavailable"`, `"OperatorRejected"`,
 * `"InvalidEmail"`, …) and whose `cause` is that error.
 *
 * @since 0.1.0
 * @category errors
 */
export class Uid2Error extends Error {
  override readonly name = "Uid2Error"
  constructor(
    message: string,
    /** The tag of the SDK error, or `"Aborted"` / `"Defect"`. */
    readonly code: string,
    options?: { readonly cause?: unknown }
  ) {
    super(message, options)
  }
}

/**
 * The operator and credentials, as plain values.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  /** e.g. `https://prod.uidapi.com`. */
  readonly baseUrl: string
  readonly apiKey: string
  /** The client secret (standard Base64 of 32 bytes). */
  readonly secretKey: string
  /** Per-attempt timeout, e.g. `5000` (ms) or `"5 seconds"`. Default 10 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Retries of transient failures. */
  readonly retry?: HttpTransport.RetryOptions | undefined
  /** The least severe SDK log lines written to the console. Default `"Warning"`; `"None"` for silence. */
  readonly logLevel?: LogLevel.Literal | undefined
}

/**
 * Options of one async call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Aborting it interrupts the call, which then rejects with code `"Aborted"`. */
  readonly signal?: AbortSignal | undefined
}

/**
 * What every client has.
 *
 * @since 0.1.0
 * @category models
 */
export interface Closable {
  /** Stops background work and releases keys and connections. Idempotent. */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * Who a token is generated for: an email or phone (normalized and hashed
 * locally), or their hashes.
 *
 * @since 0.1.0
 * @category models
 */
export type Identity =
  | { readonly email: string }
  | { readonly phone: string }
  | { readonly emailHash: string }
  | { readonly phoneHash: string }

/**
 * A problem with one input or one request, as plain values: `code` is the
 * tag of the SDK error (`"InvalidEmail"`, `"OperatorUnavailable"`, …).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorInfo {
  readonly code: string
  readonly message: string
}
