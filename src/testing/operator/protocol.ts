/**
 * The test operator's wire vocabulary: the endpoint paths, requests and
 * outcomes as the handlers see them, and the plain JSON answers. Private to
 * the test kit; {@link Paths} is re-exported by `TestOperator`.
 */

/**
 * The endpoint paths the operator serves.
 *
 * @since 0.1.0
 * @category constants
 */
export const Paths = {
  keySharing: "/v2/key/sharing",
  keyBidstream: "/v2/key/bidstream",
  keyLatest: "/v2/key/latest",
  tokenGenerate: "/v2/token/generate",
  tokenRefresh: "/v2/token/refresh",
  identityMap: "/v2/identity/map",
  identityBuckets: "/v2/identity/buckets",
  identityMapV3: "/v3/identity/map",
  optoutStatus: "/v2/optout/status",
  tokenValidate: "/v2/token/validate"
} as const

/** A request as the handlers see it. */
export interface CoreRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: Uint8Array
}

/** What the operator does with a request: answer it, or drop the connection. */
export type CoreOutcome =
  | {
    readonly _tag: "Response"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string | Uint8Array
  }
  | { readonly _tag: "Drop" }

/** What an enveloped endpoint answers: JSON to encrypt, or a plain outcome. */
export type Answer = { readonly _tag: "Answer"; readonly json: string } | CoreOutcome

/** A JSON answer (the error answers of the operator are not enveloped). */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): CoreOutcome => ({
  _tag: "Response",
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})
export const unauthorized = (): CoreOutcome => json(401, { status: "unauthorized" })
export const clientError = (message: string): CoreOutcome => json(400, { status: "client_error", message })
export const answer = (value: unknown): Answer => ({ _tag: "Answer", json: JSON.stringify(value) })
export const success = (body: unknown): Answer => answer({ body, status: "success" })
export const noKey = (): CoreOutcome => json(500, { status: "unknown", message: "No active encryption key available" })

/** Whether a parsed payload is a JSON object. */
export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)
