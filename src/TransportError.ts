/**
 * Why a call to the operator failed. Nothing here ever carries the API key,
 * the client secret or a request body.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * The operator could not be reached: connection refused or reset, DNS
 * failure, an invalid URL, or the body could not be read. `detail`
 * describes the cause without credentials.
 *
 * @since 0.1.0
 * @category transport
 */
export class OperatorUnreachable extends Data.TaggedError("OperatorUnreachable")<{
  readonly path: string
  readonly detail: string
}> {
  override get message() {
    return `operator unreachable (${this.path}): ${this.detail}`
  }
}

/**
 * The operator answered with an HTTP status other than 200. `status` and
 * `operatorMessage` come from its plain `{"status","message"}` JSON body when
 * present; `retryAfterMillis` from a `Retry-After` header.
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
}> {
  override get message() {
    const status = this.status === undefined ? "" : ` ${this.status}`
    const text = this.operatorMessage === undefined ? "" : `: ${this.operatorMessage}`
    return `operator rejected ${this.path} with HTTP ${this.httpStatus}${status}${text}`
  }
}

/**
 * Why an envelope was rejected (envelope.md §5 for requests, §3.3–§3.4 and §6
 * for responses).
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
 * timestamp.
 *
 * @since 0.1.0
 * @category transport
 */
export class EnvelopeError extends Data.TaggedError("EnvelopeError")<{
  readonly reason: EnvelopeErrorReason
  readonly detail?: string | undefined
}> {
  override get message() {
    return this.detail === undefined ? `invalid envelope: ${this.reason}` : `invalid envelope: ${this.detail}`
  }
}

/**
 * The last attempt of a request did not complete within the per-attempt timeout.
 *
 * @since 0.1.0
 * @category transport
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly path: string
  readonly timeoutMillis: number
}> {
  override get message() {
    return `operator request ${this.path} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * Every way a call to the operator can fail once the transport is built
 * (`InvalidClientSecret`, from the `Envelope` module, can only happen while building it).
 *
 * @since 0.1.0
 * @category transport
 */
export type TransportError = OperatorUnreachable | OperatorRejected | EnvelopeError | Timeout
