/**
 * Sharer programs: encrypt raw UIDs into V4 sharing tokens and decrypt
 * received ones, with the sharing lifetime limit.
 *
 * Constructors, as for every client: {@link make}, {@link layer},
 * {@link layerConfig}, {@link layerWith} and {@link layerFromKeyStore}. Each
 * client owns its keys: clients merged into one app never share a ring. The
 * batch methods read the ring and the clock once per batch and return each
 * failure in place of its result.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sharing } from "effect-uid2"
 *
 * const rawUid = "ywsvDNINiZOVSsfkHpLpSJzXzhr6Jx9Z/4Q0+lsEUvM="
 *
 * const program = Effect.gen(function*() {
 *   const token = yield* Sharing.SharingClient.encrypt(rawUid) // a V4 sharing token
 *   const decrypted = yield* Sharing.SharingClient.decrypt(token)
 *   const client = yield* Sharing.SharingClient
 *   const tokens = yield* client.encryptAll([rawUid, "not a raw UID"]) // [string, EncryptionFailure]
 *   return { same: decrypted.uid === rawUid, tokens }
 * }).pipe(Effect.provide(Sharing.layerConfig())) // UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
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
import type { DecryptError, EncryptError } from "./DecryptError.js"
import { decrypt as decryptCore, type DecryptResult, encryptRawUid } from "./Decryption.js"
import type { InvalidClientSecret } from "./Envelope.js"
import * as HttpTransport from "./HttpTransport.js"
import { layerBestCrypto } from "./internal/bestCrypto.js"
import { decryptExit, encryptExit, fiberNow, mapBatch } from "./internal/lift.js"
import * as KeyRefresher from "./KeyRefresher.js"
import * as KeyStore from "./KeyStore.js"
import type { DecryptedToken } from "./Token.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SharingClientShape {
  /** Encrypts a raw UID (standard Base64 text) into a V4 sharing token at Effect's `Clock` time. */
  readonly encrypt: (rawUid: string) => Effect.Effect<string, EncryptError>
  /** Decrypts a sharing token at Effect's `Clock` time. */
  readonly decrypt: (token: string) => Effect.Effect<DecryptedToken, DecryptError>
  /** Encrypts many raw UIDs, reading the ring and the clock once; failures are returned in place. */
  readonly encryptAll: (rawUids: Iterable<string>) => Effect.Effect<Array<string | EncryptError>>
  /** Decrypts many tokens, reading the ring and the clock once; failures are returned in place. */
  readonly decryptAll: (tokens: Iterable<string>) => Effect.Effect<Array<DecryptResult>>
  /** Synchronous encrypt for loops outside Effect, at `nowMs` (default: the wall clock). */
  readonly encryptSync: (rawUid: string, nowMs?: number) => string | EncryptError
  /** Synchronous decrypt for loops outside Effect, at `nowMs` (default: the wall clock). */
  readonly decryptSync: (token: string, nowMs?: number) => DecryptResult
  /** This client's key health: readiness, source, last success and failure, ring age. */
  readonly status: Effect.Effect<KeyRefresher.Status>
  /** Fetches fresh keys now (from the key store, for {@link layerFromKeyStore}). */
  readonly refresh: Effect.Effect<void, KeyRefresher.RefreshError>
  /** Completes once keys are loaded; fails once a permanent failure is known, or after `timeout`. */
  readonly awaitReady: (timeout?: Duration.DurationInput) => Effect.Effect<void, KeyRefresher.NotReady>
}

/**
 * The sharer client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class SharingClient extends Context.Tag("effect-uid2/SharingClient")<SharingClient, SharingClientShape>() {
  /** `yield* SharingClient.encrypt(rawUid)`: one Effect step, whatever the outcome. */
  static encrypt(rawUid: string): Effect.Effect<string, EncryptError, SharingClient> {
    return Effect.withFiberRuntime<string, EncryptError, SharingClient>((fiber) =>
      encryptExit(Context.unsafeGet(fiber.currentContext, SharingClient).encryptSync(rawUid, fiberNow(fiber)))
    )
  }
  /** `yield* SharingClient.decrypt(token)`: one Effect step, whatever the outcome. */
  static decrypt(token: string): Effect.Effect<DecryptedToken, DecryptError, SharingClient> {
    return Effect.withFiberRuntime<DecryptedToken, DecryptError, SharingClient>((fiber) =>
      decryptExit(Context.unsafeGet(fiber.currentContext, SharingClient).decryptSync(token, fiberNow(fiber)))
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
   * The key store slot of this client's ring (default `"sharing"`). Give each
   * client its own when several sharing clients share one store.
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

const ENDPOINT = "/v2/key/sharing"
const SHARING = { clientType: "sharing" } as const

/** The client over a key state. */
const fromKeys = (keys: KeyRefresher.KeyRefresherShape): SharingClientShape => {
  // Encrypt failures are counted with the decrypt outcomes; a successful encrypt is a plain string.
  const recordEncrypt = (result: string | EncryptError) => typeof result === "string" ? result : keys.record(result)
  const encryptSync = (rawUid: string, nowMs: number = Date.now()) => {
    const prepared = keys.current()
    return prepared === undefined
      ? keys.record(keys.notInitialized())
      : recordEncrypt(encryptRawUid(prepared, rawUid, nowMs))
  }
  const decryptSync = (token: string, nowMs: number = Date.now()) => {
    const prepared = keys.current()
    return keys.record(prepared === undefined ? keys.notInitialized() : decryptCore(prepared, token, nowMs, SHARING))
  }
  return SharingClient.of({
    encryptSync,
    decryptSync,
    encrypt: (rawUid) => Effect.withFiberRuntime((fiber) => encryptExit(encryptSync(rawUid, fiberNow(fiber)))),
    decrypt: (token) => Effect.withFiberRuntime((fiber) => decryptExit(decryptSync(token, fiberNow(fiber)))),
    encryptAll: (rawUids) =>
      Effect.withFiberRuntime((fiber) => {
        const prepared = keys.current()
        const now = fiberNow(fiber)
        return Effect.succeed(mapBatch(
          rawUids,
          (uid) =>
            prepared === undefined
              ? keys.record(keys.notInitialized())
              : recordEncrypt(encryptRawUid(prepared, uid, now))
        ))
      }),
    decryptAll: (tokens) =>
      Effect.withFiberRuntime((fiber) => {
        const prepared = keys.current()
        const now = fiberNow(fiber)
        return Effect.succeed(mapBatch(
          tokens,
          (token) =>
            keys.record(prepared === undefined ? keys.notInitialized() : decryptCore(prepared, token, now, SHARING))
        ))
      }),
    status: keys.status,
    refresh: Effect.asVoid(keys.refresh),
    awaitReady: keys.awaitReady
  })
}

/**
 * The client kept fresh from `/v2/key/sharing` over the transport, key store
 * and crypto in context. Fails with `KeysUnavailable` when start-up cannot
 * get keys (see `KeyRefresher.make`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: ClientOptions
): Effect.Effect<
  SharingClientShape,
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
 * The client kept fresh from `/v2/key/sharing` on the `KeyStore`, `Crypto`
 * and `HttpClient` the app provides (e.g. a Redis key store shared by a fleet).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<
  SharingClient,
  KeyRefresher.KeysUnavailable | InvalidClientSecret,
  KeyStore.KeyStore | Crypto | HttpClient.HttpClient
> => Layer.scoped(SharingClient, make(options)).pipe(Layer.provide(HttpTransport.layer(options)))

/**
 * Everything in one layer: keys fetched from `/v2/key/sharing` at start-up
 * and refreshed in the background, held in this client's own memory, the
 * native Crypto when it is built (else node:crypto), Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<SharingClient, KeyRefresher.KeysUnavailable | InvalidClientSecret> =>
  Layer.scoped(SharingClient, make(options)).pipe(
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
): Layer.Layer<SharingClient, KeyRefresher.KeysUnavailable | InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * The client over whatever `KeyStore` and `Crypto` are provided, with no
 * operator (offline use, tests): the ring saved under `slot` (default
 * `"sharing"`), then every newer ring saved there.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore = (
  options?: { readonly slot?: string | undefined }
): Layer.Layer<SharingClient, never, KeyStore.KeyStore | Crypto> =>
  Layer.scoped(
    SharingClient,
    Effect.map(KeyRefresher.makeFromStore({ slot: options?.slot ?? "sharing" }), fromKeys)
  )
