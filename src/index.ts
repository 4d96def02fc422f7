/**
 * The server-side UID2 / EUID SDK for TypeScript, built on Effect 3. Each
 * role has its module, and every client module has the same constructors
 * (`make`, `layer`, `layerConfig`, `layerWith`): DSPs decrypt the tokens of
 * bid requests with {@link Bidstream}; sharers encrypt and decrypt sharing
 * tokens with {@link Sharing}; publishers generate and refresh tokens with
 * {@link Publisher}; advertisers and data providers map emails and phones to
 * raw UID2s with {@link IdentityMap} and check opt-outs with {@link OptOut}.
 * Decrypts read the client's key ring and the clock once and run a
 * synchronous core; every failure is a tagged error (`Effect.catchTag`
 * selects one). Plain async code without Effect uses `effect-uid2/promise`;
 * tests use the kit in `effect-uid2/testing`.
 *
 * @example
 * ```ts
 * import { Effect, ManagedRuntime } from "effect"
 * import { Bidstream } from "effect-uid2"
 *
 * // Keys from /v2/key/bidstream at start-up, refreshed in the background;
 * // credentials from UID2_BASE_URL, UID2_API_KEY and UID2_SECRET_KEY.
 * const runtime = ManagedRuntime.make(Bidstream.layerConfig())
 *
 * const rawUid = (token: string, domain: string) =>
 *   Bidstream.BidstreamClient.decrypt(token, domain).pipe(
 *     Effect.map((decrypted) => decrypted.uid),
 *     Effect.catchTag("UserOptedOut", () => Effect.succeed(undefined))
 *   )
 *
 * const uid = await runtime.runPromise(rawUid("A4AAAACk…", "example.com"))
 * await runtime.dispose()
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2
 */

// No doc comments here: typedoc would show them instead of each module's own first comment.
export * as Bidstream from "./Bidstream.js"
export * as Crypto from "./Crypto.js"
export * as DecryptError from "./DecryptError.js"
export * as Decryption from "./Decryption.js"
export * as Dii from "./Dii.js"
export * as Envelope from "./Envelope.js"
export * as HttpTransport from "./HttpTransport.js"
export * as Identity from "./Identity.js"
export * as IdentityMap from "./IdentityMap.js"
export * as IdentityTokens from "./IdentityTokens.js"
export * as KeyRefresher from "./KeyRefresher.js"
export * as KeyRing from "./KeyRing.js"
export * as KeyStore from "./KeyStore.js"
export * as OptOut from "./OptOut.js"
export * as Publisher from "./Publisher.js"
export * as Sharing from "./Sharing.js"
export * as Token from "./Token.js"
export * as TokenGenerateInput from "./TokenGenerateInput.js"
export * as TransportError from "./TransportError.js"
