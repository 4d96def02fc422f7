/**
 * effect-uid2: the server-side UID2 / EUID SDK for TypeScript, built on Effect 3.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Bidstream from "./Bidstream.js"
/** @since 0.1.0 */
export * as Crypto from "./Crypto.js"
/** @since 0.1.0 */
export * as Decryption from "./Decryption.js"
/** @since 0.1.0 */
export * as DecryptError from "./DecryptError.js"
/** @since 0.1.0 */
export * as Dii from "./Dii.js"
/** @since 0.1.0 */
export * as Envelope from "./Envelope.js"
/** @since 0.1.0 */
export * as HttpTransport from "./HttpTransport.js"
/** @since 0.1.0 */
export * as Identity from "./Identity.js"
/** @since 0.1.0 */
export * as IdentityMap from "./IdentityMap.js"
/** @since 0.1.0 */
export * as IdentityTokens from "./IdentityTokens.js"
/** @since 0.1.0 */
export * as KeyRing from "./KeyRing.js"
/** @since 0.1.0 */
export * as KeyRefresher from "./KeyRefresher.js"
/** @since 0.1.0 */
export * as KeyStore from "./KeyStore.js"
/** @since 0.1.0 */
export * as OptOut from "./OptOut.js"
/** @since 0.1.0 */
export * as Publisher from "./Publisher.js"
/** @since 0.1.0 */
export * as Sharing from "./Sharing.js"
/** @since 0.1.0 */
export * as TransportError from "./TransportError.js"
/** @since 0.1.0 */
export * as Token from "./Token.js"
/** @since 0.1.0 */
export * as TokenGenerateInput from "./TokenGenerateInput.js"
