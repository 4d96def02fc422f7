/**
 * The SDK for plain Node backends, without Effect in sight. Each
 * `create…Client` starts a client and rejects with a clear {@link Uid2Error}
 * on bad credentials, following the same start-up rules as the Effect
 * layers. Decrypts and encrypts are synchronous and never throw for token
 * problems: they return `{ ok: true, … }` or `{ ok: false, reason, message }`.
 * Async methods take an `AbortSignal`; their errors are `Uid2Error`s whose
 * `code` is the SDK error's tag. Identity map and opt-out results come as
 * `AsyncIterable`s with bounded memory. `close()` (or `await using`) stops
 * the background key refresh and releases everything.
 *
 * @example
 * ```ts
 * import { createBidstreamClient, createPublisherClient } from "effect-uid2/promise"
 *
 * const credentials = {
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: process.env.UID2_API_KEY ?? "",
 *   secretKey: process.env.UID2_SECRET_KEY ?? ""
 * }
 *
 * // A DSP: decrypt on the hot path, no await.
 * await using dsp = await createBidstreamClient(credentials)
 * const result = dsp.decrypt("A4AAAACk…", "example.com")
 * if (result.ok) console.log(result.uid, result.identityType)
 * else console.log(result.reason) // e.g. "ExpiredToken"
 *
 * // A publisher: generate at login, then keep, refresh or drop on each request.
 * await using publisher = await createPublisherClient(credentials)
 * const generated = await publisher.generateToken({ email: "user@example.com" })
 * if (generated.status === "success") {
 *   const step = await publisher.refreshIfNeeded(generated.identityJson, { signal: AbortSignal.timeout(5_000) })
 *   if (step.action !== "drop") console.log(step.advertisingToken)
 * }
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/promise
 */
export * from "./promise/advertiser.js"
export * from "./promise/common.js"
export * from "./promise/keyed.js"
export * from "./promise/publisher.js"
