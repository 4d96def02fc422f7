/**
 * DSP programs: decrypt the advertising tokens of bid requests into raw UIDs,
 * with the bidstream lifetime limit and the domain/app-name check for
 * client-side generated tokens.
 *
 * Constructors, as for every client: {@link make}, {@link layer},
 * {@link layerConfig}, {@link layerWith} and {@link layerFromKeyStore}. Each
 * client owns its keys: clients merged into one app never share a ring.
 * {@link BidstreamClient.decrypt} is one Effect step per token, whatever the
 * outcome; {@link BidstreamClientShape.decryptSync} is the same decrypt as a
 * plain function for request loops outside Effect.
 *
 * @example
 * ```ts
 * import { Effect, ManagedRuntime, Redacted } from "effect"
 * import { Bidstream } from "effect-uid2"
 *
 * const Dsp = Bidstream.layer({
 *   baseUrl: "https://prod.uidapi.com",
 *   apiKey: Redacted.make(process.env.UID2_API_KEY ?? ""),
 *   secretKey: Redacted.make(process.env.UID2_SECRET_KEY ?? "")
 * })
 *
 * // In Effect: the raw UID, or undefined for the failures this bidder tolerates.
 * const rawUid = (token: string, domain: string) =>
 *   Bidstream.BidstreamClient.decrypt(token, domain).pipe(
 *     Effect.map((decrypted) => decrypted.uid),
 *     Effect.catchTags({
 *       ExpiredToken: () => Effect.succeed(undefined),
 *       UserOptedOut: () => Effect.succeed(undefined)
 *     })
 *   )
 *
 * // Outside Effect: keep the client alive in a runtime and decrypt synchronously.
 * const runtime = ManagedRuntime.make(Dsp)
 * const client = await runtime.runPromise(Bidstream.BidstreamClient)
 * const result = client.decryptSync("A4AAAACk…", "example.com")
 * const uid = result._tag === "DecryptedToken" ? result.uid : undefined
 * ```
 *
 * @since 0.1.0
 * @packageDocumentation
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { Crypto } from "./Crypto.js"
import type { DecryptError } from "./DecryptError.js"
import { decrypt as decryptCore, type DecryptResult } from "./Decryption.js"
import type { InvalidClientSecret } from "./Envelope.js"
import * as HttpTransport from "./HttpTransport.js"
import { layerBestCrypto } from "./internal/bestCrypto.js"
import { decryptExit, fiberNow, mapBatch } from "./internal/lift.js"
import * as KeyRefresher from "./KeyRefresher.js"
import * as KeyStore from "./KeyStore.js"
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
  /**
   * Decrypts many tokens for one domain, reading the ring and the clock once; failures are returned
   * in place. An argument that is not iterable counts as no tokens.
   */
  readonly decryptAll: (
    tokens: Iterable<string>,
    domainOrAppName?: string | null
  ) => Effect.Effect<Array<DecryptResult>>
  /** This client's key health: readiness, source, last success and failure, ring age. */
  readonly status: Effect.Effect<KeyRefresher.Status>
  /** Fetches fresh keys now (from the key store, for {@link layerFromKeyStore}). */
  readonly refresh: Effect.Effect<void, KeyRefresher.RefreshError>
  /** Completes once keys are loaded; fails once a permanent failure is known, or after `timeout`. */
  readonly awaitReady: (timeout?: Duration.DurationInput) => Effect.Effect<void, KeyRefresher.NotReady>
}

/**
 * The DSP client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class BidstreamClient
  extends Context.Tag("effect-uid2/BidstreamClient")<BidstreamClient, BidstreamClientShape>()
{
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
 * Options of the client itself: refresh schedule, start-up rules and the
 * key store slot of its ring.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Background refresh schedule (default hourly, jittered, with capped backoff on failure). */
  readonly refresh?: KeyRefresher.RefreshOptions | undefined
  /** How long start-up waits for first keys, and whether it fails then (default 30 s, fail). */
  readonly startup?: KeyRefresher.StartupOptions | undefined
  /**
   * The key store slot of this client's ring (default `"bidstream"`). Give
   * each client its own when several bidstream clients share one store.
   */
  readonly keyStoreSlot?: string | undefined
}

/**
 * Options of the operator-backed layers: operator URL and credentials,
 * transport timeout, retries and body limit, and the client's own options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpTransport.Options, ClientOptions {}

const ENDPOINT = "/v2/key/bidstream"

/** The client over a key state. */
const fromKeys = (keys: KeyRefresher.KeyRefresherShape): BidstreamClientShape => {
  // One options object per client, not per token: the core reads it synchronously and keeps no reference.
  const options: { clientType: "bidstream"; domainOrAppName: string | null | undefined } = {
    clientType: "bidstream",
    domainOrAppName: undefined
  }
  const decryptSync = (token: string, domainOrAppName?: string | null, nowMs: number = Date.now()) => {
    const prepared = keys.current()
    if (prepared === undefined) return keys.record(keys.notInitialized())
    options.domainOrAppName = domainOrAppName
    return keys.record(decryptCore(prepared, token, nowMs, options))
  }
  return BidstreamClient.of({
    decryptSync,
    decrypt: (token, domainOrAppName) =>
      Effect.withFiberRuntime((fiber) => decryptExit(decryptSync(token, domainOrAppName, fiberNow(fiber)))),
    decryptAll: (tokens, domainOrAppName) =>
      Effect.withFiberRuntime((fiber) => {
        const prepared = keys.current()
        const now = fiberNow(fiber)
        const batch = { clientType: "bidstream", domainOrAppName } as const
        return Effect.succeed(mapBatch(
          tokens,
          (token) =>
            keys.record(prepared === undefined ? keys.notInitialized() : decryptCore(prepared, token, now, batch))
        ))
      }),
    status: keys.status,
    refresh: Effect.asVoid(keys.refresh),
    awaitReady: keys.awaitReady
  })
}

/**
 * The client kept fresh from `/v2/key/bidstream` over the transport, key
 * store and crypto in context. Fails with `KeysUnavailable` when start-up
 * cannot get keys (see `KeyRefresher.make`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: ClientOptions
): Effect.Effect<
  BidstreamClientShape,
  KeyRefresher.KeysUnavailable,
  HttpTransport.HttpTransport | KeyStore.KeyStore | Crypto | Scope.Scope
> =>
  Effect.map(
    KeyRefresher.make({
      ...options?.refresh,
      endpoint: ENDPOINT,
      slot: options?.keyStoreSlot,
      startup: options?.startup
    }),
    fromKeys
  )

/**
 * The client kept fresh from `/v2/key/bidstream` on the `KeyStore`, `Crypto`
 * and `HttpClient` the app provides (e.g. a Redis key store shared by a fleet).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  BidstreamClient,
  KeyRefresher.KeysUnavailable | InvalidClientSecret,
  KeyStore.KeyStore | Crypto | HttpClient.HttpClient
> => Layer.scoped(BidstreamClient, make(options)).pipe(Layer.provide(HttpTransport.layer(options)))

/**
 * Everything in one layer: keys fetched from `/v2/key/bidstream` at start-up
 * and refreshed in the background, held in this client's own memory, the
 * native Crypto when it is built (else node:crypto), Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<BidstreamClient, KeyRefresher.KeysUnavailable | InvalidClientSecret> =>
  Layer.scoped(BidstreamClient, make(options)).pipe(
    Layer.provide(HttpTransport.layerNode(options)),
    // A store of this client's own: a shared layer value would be memoized across clients.
    Layer.provide(Layer.merge(Layer.effect(KeyStore.KeyStore, KeyStore.makeMemory()), layerBestCrypto))
  )

/**
 * {@link layer} configured from `config`; by default `UID2_BASE_URL`,
 * `UID2_API_KEY` and `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<Options> = HttpTransport.config
): Layer.Layer<BidstreamClient, KeyRefresher.KeysUnavailable | InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * The client over whatever `KeyStore` and `Crypto` are provided, with no
 * operator (offline use, tests): the ring saved under `slot` (default
 * `"bidstream"`), then every newer ring saved there.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore = (
  options?: { readonly slot?: string | undefined }
): Layer.Layer<BidstreamClient, never, KeyStore.KeyStore | Crypto> =>
  Layer.scoped(
    BidstreamClient,
    Effect.map(KeyRefresher.makeFromStore({ slot: options?.slot ?? "bidstream" }), fromKeys)
  )
