/**
 * Why a call to the operator failed. Nothing here ever carries the API key,
 * the client secret or a request body.
 *
 * Every error says, in its `transient` field, whether trying again may help:
 * the SDK's retry schedule reads that field and nothing else.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Publisher, TokenGenerateInput, type TransportError } from "effect-uid2"
 *
 * const describe = (error: TransportError.TransportError): string => {
 *   switch (error._tag) {
 *     case "OperatorRejected":
 *       return `HTTP ${error.httpStatus} ${error.status ?? ""}`
 *     case "OperatorUnreachable":
 *       return `unreachable: ${error.detail}`
 *     case "Timeout":
 *       return `no answer within ${error.timeoutMillis} ms`
 *     case "EnvelopeError":
 *       return `bad envelope: ${error.reason}`
 *     case "ResponseTooLarge":
 *       return `response over ${error.limitBytes} bytes`
 *   }
 * }
 *
 * const generate = Effect.flatMap(TokenGenerateInput.fromEmail("user@example.com"), Publisher.PublisherClient.generateToken)
 * const logged = generate.pipe(
 *   Effect.tapErrorTag("OperatorUnreachable", (error) => Effect.logWarning(describe(error), { retryLater: error.transient }))
 * )
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import * as Data from "effect/Data"

/**
 * The operator could not be reached: connection refused or reset, DNS
 * failure, the body could not be read (all transient), or the request could
 * not even be built, e.g. an invalid URL (permanent: pass
 * `transient: false`). `detail` describes the cause without credentials.
 *
 * @since 0.1.0
 * @category transport
 */
export class OperatorUnreachable extends Data.TaggedError("OperatorUnreachable")<{
  readonly path: string
  readonly detail: string
  readonly transient: boolean
}> {
  constructor(args: { readonly path: string; readonly detail: string; readonly transient?: boolean | undefined }) {
    super({ path: args.path, detail: args.detail, transient: args.transient ?? true })
  }
  override get message() {
    return `operator unreachable (${this.path}): ${this.detail}`
  }
}

/** Statuses that say "later": request timeout, rate limiting, server trouble. */
const isTransientStatus = (httpStatus: number): boolean => httpStatus === 408 || httpStatus === 429 || httpStatus >= 500

/**
 * The operator answered with an HTTP status other than 200. `status` and
 * `operatorMessage` come from its plain `{"status","message"}` JSON body when
 * present; `retryAfterMillis` from a `Retry-After` header on 429 and 503.
 * `transient` follows the status: 408, 429 and 5xx are transient, every other
 * status (400, 401, 403, 404…) is permanent.
 *
 * @since 0.1.0
 * @category transport
 */
export class OperatorRejected extends Data.TaggedError("OperatorRejected")<{
  readonly path: string
  readonly httpStatus: number
  readonly status?: string | undefined
  readonly operatorMessage?: string | undefined
  readonly retryAfterMillis?: number | undefined
  readonly transient: boolean
}> {
  constructor(args: {
    readonly path: string
    readonly httpStatus: number
    readonly status?: string | undefined
    readonly operatorMessage?: string | undefined
    readonly retryAfterMillis?: number | undefined
  }) {
    super({ ...args, transient: isTransientStatus(args.httpStatus) })
  }
  override get message() {
    const status = this.status === undefined ? "" : ` ${this.status}`
    const text = this.operatorMessage === undefined ? "" : `: ${this.operatorMessage}`
    return `operator rejected ${this.path} with HTTP ${this.httpStatus}${status}${text}`
  }
}

/**
 * Why an envelope was rejected: the body is missing, not Base64, unencrypted
 * JSON or too short, the version byte or timestamp is wrong, decryption
 * failed, the nonce does not match, the payload is not JSON, or a key is
 * malformed.
 *
 * @since 0.1.0
 * @category transport
 */
export type EnvelopeErrorReason =
  | "Missing"
  | "Base64"
  | "UnencryptedJson"
  | "TooShort"
  | "Version"
  | "Decrypt"
  | "Timestamp"
  | "NonceMismatch"
  | "Json"
  | "Key"

/**
 * An envelope could not be decoded: bad Base64, too short, GCM failure
 * (wrong secret or corrupted data), a nonce that does not match the
 * request's, invalid JSON, and, on the operator side, a wrong version byte or
 * timestamp. Always permanent: the same secret and the same operator give
 * the same answer.
 *
 * @since 0.1.0
 * @category transport
 */
export class EnvelopeError extends Data.TaggedError("EnvelopeError")<{
  readonly reason: EnvelopeErrorReason
  readonly detail?: string | undefined
  readonly transient: false
}> {
  constructor(args: { readonly reason: EnvelopeErrorReason; readonly detail?: string | undefined }) {
    super({ ...args, transient: false })
  }
  override get message() {
    return this.detail === undefined ? `invalid envelope: ${this.reason}` : `invalid envelope: ${this.detail}`
  }
}

/**
 * The last attempt of a request did not complete within the per-attempt
 * timeout (which covers reading the response body). Transient.
 *
 * @since 0.1.0
 * @category transport
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly path: string
  readonly timeoutMillis: number
  readonly transient: true
}> {
  constructor(args: { readonly path: string; readonly timeoutMillis: number }) {
    super({ ...args, transient: true })
  }
  override get message() {
    return `operator request ${this.path} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * The operator's HTTP 200 response body is longer than the transport's
 * `maxResponseBytes` (declared in `Content-Length` or counted while
 * streaming); reading stopped there, so memory stays bounded. Permanent: a
 * retry would fetch the same body.
 *
 * @since 0.1.0
 * @category transport
 */
export class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<{
  readonly path: string
  readonly limitBytes: number
  readonly transient: false
}> {
  constructor(args: { readonly path: string; readonly limitBytes: number }) {
    super({ ...args, transient: false })
  }
  override get message() {
    return `operator response to ${this.path} is larger than ${this.limitBytes} bytes`
  }
}

/**
 * Every way a call to the operator can fail once the transport is built
 * (`InvalidClientSecret`, from the `Envelope` module, can only happen while building it).
 *
 * @since 0.1.0
 * @category transport
 */
export type TransportError = OperatorUnreachable | OperatorRejected | EnvelopeError | Timeout | ResponseTooLarge
