/**
 * DSP programs: decrypt the advertising tokens of bid requests into raw UIDs,
 * with the bidstream lifetime limit and the domain/app-name check for
 * client-side generated tokens.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Crypto } from "./Crypto.js"
import { decrypt as decryptCore, type DecryptResult } from "./Decryption.js"
import type { DecryptError } from "./Errors.js"
import { liftDecrypt } from "./internal/lift.js"
import { KeyStore } from "./KeyStore.js"
import type { DecryptedToken } from "./Token.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface BidstreamClientShape {
  /**
   * Decrypts a bidstream token at Effect's `Clock` time. `domainOrAppName` is
   * the bid request's domain (lower case, no subdomain) or app name.
   */
  readonly decrypt: (
    token: string,
    domainOrAppName?: string | null
  ) => Effect.Effect<DecryptedToken, DecryptError>
  /**
   * The same decrypt for loops outside Effect: returns the token or the typed
   * error as a value, at `nowMs` (default: the wall clock).
   */
  readonly decryptSync: (token: string, domainOrAppName?: string | null, nowMs?: number) => DecryptResult
}

/**
 * The DSP client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class BidstreamClient extends Context.Tag("effect-uid2/BidstreamClient")<BidstreamClient, BidstreamClientShape>() {
  /** `yield* BidstreamClient.decrypt(token, domain)` */
  static decrypt(token: string, domainOrAppName?: string | null) {
    return Effect.flatMap(BidstreamClient, (client) => client.decrypt(token, domainOrAppName))
  }
}

/**
 * Builds the decrypt functions over a key store and a crypto implementation.
 * Each decrypt reads the ring and the clock once and runs the synchronous core.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<BidstreamClientShape, never, KeyStore | Crypto> = Effect.gen(function*() {
  const store = yield* KeyStore
  const crypto = yield* Crypto
  const decryptSync = (token: string, domainOrAppName?: string | null, nowMs: number = Date.now()) =>
    decryptCore(store.current(), crypto, token, nowMs, { clientType: "bidstream", domainOrAppName })
  return {
    decryptSync,
    decrypt: (token, domainOrAppName) =>
      Effect.clockWith((clock) =>
        liftDecrypt(decryptSync(token, domainOrAppName, clock.unsafeCurrentTimeMillis()))
      )
  }
})

/**
 * The client over whatever `KeyStore` and `Crypto` are provided; keys are
 * kept fresh by whoever writes the store (see the operator-backed layers).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore: Layer.Layer<BidstreamClient, never, KeyStore | Crypto> = Layer.effect(
  BidstreamClient,
  make
)
