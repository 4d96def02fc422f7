/**
 * DSP programs: decrypt the advertising tokens of bid requests into raw UIDs,
 * with the bidstream lifetime limit and the domain/app-name check for
 * client-side generated tokens.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import { Crypto } from "./Crypto.js"
import { decrypt as decryptCore, type DecryptResult } from "./Decryption.js"
import type { DecryptError } from "./DecryptError.js"
import type { InvalidClientSecret } from "./Envelope.js"
import { decryptExit, fiberNow } from "./internal/lift.js"
import { type ClientOptions, KeyRefresher, type Options as RefreshOptions, type RefreshError } from "./KeyRefresher.js"
import { KeyStore } from "./KeyStore.js"
import { fromConfig, standalone, withOperator } from "./internal/operatorLayers.js"
import { prepareKeyTables } from "./internal/prepareKeyTables.js"
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
  /** Decrypts many tokens for one domain, reading the ring and the clock once; failures are returned in place. */
  readonly decryptAll: (tokens: Iterable<string>, domainOrAppName?: string | null) => Effect.Effect<Array<DecryptResult>>
}

/**
 * The DSP client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class BidstreamClient extends Context.Tag("effect-uid2/BidstreamClient")<BidstreamClient, BidstreamClientShape>() {
  /** Fetches fresh keys from the operator now (operator-backed layers only). */
  static get refresh(): Effect.Effect<void, RefreshError, KeyRefresher> {
    return Effect.asVoid(Effect.flatMap(KeyRefresher, (refresher) => refresher.refresh))
  }
  /** The operator-backed client configured from `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY`: see {@link layerConfig}. */
  static get layerConfig(): Layer.Layer<BidstreamClient | KeyRefresher, InvalidClientSecret | ConfigError.ConfigError> {
    return layerConfig()
  }
  /** The operator-backed client: see {@link layer}. */
  static layer(options: Options): Layer.Layer<BidstreamClient | KeyRefresher, InvalidClientSecret> {
    return layer(options)
  }
  /** Completes once keys are loaded (operator-backed layers only). */
  static get awaitReady(): Effect.Effect<void, never, KeyRefresher> {
    return Effect.flatMap(KeyRefresher, (refresher) => refresher.awaitReady)
  }
  /** `yield* BidstreamClient.decrypt(token, domain)`: one Effect step, whatever the outcome. */
  static decrypt(
    token: string,
    domainOrAppName?: string | null
  ): Effect.Effect<DecryptedToken, DecryptError, BidstreamClient> {
    return Effect.withFiberRuntime<DecryptedToken, DecryptError, BidstreamClient>((fiber) =>
      decryptExit(
        Context.unsafeGet(fiber.currentContext, BidstreamClient).decryptSync(token, domainOrAppName, fiberNow(fiber))
      )
    )
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
  // One options object per client, not per token: the core reads it synchronously and keeps no reference.
  const options: { clientType: "bidstream"; domainOrAppName: string | null | undefined } = {
    clientType: "bidstream",
    domainOrAppName: undefined
  }
  const decryptSync = (token: string, domainOrAppName?: string | null, nowMs: number = Date.now()) => {
    options.domainOrAppName = domainOrAppName
    return decryptCore(store.current(), crypto, token, nowMs, options)
  }
  return {
    decryptSync,
    decrypt: (token, domainOrAppName) =>
      Effect.withFiberRuntime((fiber) => decryptExit(decryptSync(token, domainOrAppName, fiberNow(fiber)))),
    decryptAll: (tokens, domainOrAppName) =>
      Effect.withFiberRuntime((fiber) => {
        const ring = store.current()
        const now = fiberNow(fiber)
        const options = { clientType: "bidstream", domainOrAppName } as const
        return Effect.succeed(Array.from(tokens, (token) => decryptCore(ring, crypto, token, now, options)))
      })
  }
})

/**
 * The client over whatever `KeyStore` and `Crypto` are provided; keys are
 * kept fresh by whoever writes the store (see the operator-backed layers).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore: Layer.Layer<BidstreamClient, never, KeyStore | Crypto> = Layer.scoped(
  BidstreamClient,
  Effect.zipLeft(make, prepareKeyTables)
)

/**
 * Options of the operator-backed layers: operator URL and credentials,
 * transport timeouts and retries, and the background refresh schedule.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = ClientOptions

/**
 * The client kept fresh from `/v2/key/bidstream` on the `KeyStore`, `Crypto` and
 * `HttpClient` the app provides (e.g. a Redis key store shared by a fleet).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<BidstreamClient | KeyRefresher, InvalidClientSecret, KeyStore | Crypto | HttpClient.HttpClient> =>
  withOperator(layerFromKeyStore, "/v2/key/bidstream", options)

/**
 * Everything in one layer: keys fetched from `/v2/key/bidstream` at start-up and
 * refreshed in the background, held in memory, node:crypto, Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<BidstreamClient | KeyRefresher, InvalidClientSecret> =>
  standalone(layerFromKeyStore, "/v2/key/bidstream", options)

/**
 * {@link layer} configured from `UID2_BASE_URL`, `UID2_API_KEY` and
 * `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  refresh?: Omit<RefreshOptions, "endpoint">
): Layer.Layer<BidstreamClient | KeyRefresher, InvalidClientSecret | ConfigError.ConfigError> =>
  fromConfig(layerFromKeyStore, "/v2/key/bidstream", refresh)
