/**
 * Sharer programs: encrypt raw UIDs into V4 sharing tokens and decrypt
 * received ones, with the sharing lifetime limit.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import { Crypto } from "./Crypto.js"
import { decrypt as decryptCore, type DecryptResult, encryptRawUid } from "./Decryption.js"
import type { DecryptError, EncryptError } from "./DecryptError.js"
import type { InvalidClientSecret } from "./Envelope.js"
import { decryptExit, encryptExit, fiberNow } from "./internal/lift.js"
import { type ClientOptions, KeyRefresher, type Options as RefreshOptions, type RefreshError } from "./KeyRefresher.js"
import { KeyStore } from "./KeyStore.js"
import { fromConfig, standalone, withOperator } from "./internal/operatorLayers.js"
import { prepareKeyTables } from "./internal/prepareKeyTables.js"
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
}

/**
 * The sharer client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class SharingClient extends Context.Tag("effect-uid2/SharingClient")<SharingClient, SharingClientShape>() {
  /** Fetches fresh keys from the operator now (operator-backed layers only). */
  static get refresh(): Effect.Effect<void, RefreshError, KeyRefresher> {
    return Effect.asVoid(Effect.flatMap(KeyRefresher, (refresher) => refresher.refresh))
  }
  /** The operator-backed client configured from `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY`: see {@link layerConfig}. */
  static get layerConfig(): Layer.Layer<SharingClient | KeyRefresher, InvalidClientSecret | ConfigError.ConfigError> {
    return layerConfig()
  }
  /** The operator-backed client: see {@link layer}. */
  static layer(options: Options): Layer.Layer<SharingClient | KeyRefresher, InvalidClientSecret> {
    return layer(options)
  }
  /** Completes once keys are loaded (operator-backed layers only). */
  static get awaitReady(): Effect.Effect<void, never, KeyRefresher> {
    return Effect.flatMap(KeyRefresher, (refresher) => refresher.awaitReady)
  }
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

const SHARING = { clientType: "sharing" } as const

/**
 * Builds the sharing functions over a key store and a crypto implementation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<SharingClientShape, never, KeyStore | Crypto> = Effect.gen(function*() {
  const store = yield* KeyStore
  const crypto = yield* Crypto
  const encryptSync = (rawUid: string, nowMs: number = Date.now()) =>
    encryptRawUid(store.current(), crypto, rawUid, nowMs)
  const decryptSync = (token: string, nowMs: number = Date.now()) =>
    decryptCore(store.current(), crypto, token, nowMs, SHARING)
  return {
    encryptSync,
    decryptSync,
    encrypt: (rawUid) => Effect.withFiberRuntime((fiber) => encryptExit(encryptSync(rawUid, fiberNow(fiber)))),
    decrypt: (token) => Effect.withFiberRuntime((fiber) => decryptExit(decryptSync(token, fiberNow(fiber)))),
    encryptAll: (rawUids) =>
      Effect.withFiberRuntime((fiber) => {
        const ring = store.current()
        const now = fiberNow(fiber)
        return Effect.succeed(Array.from(rawUids, (uid) => encryptRawUid(ring, crypto, uid, now)))
      }),
    decryptAll: (tokens) =>
      Effect.withFiberRuntime((fiber) => {
        const ring = store.current()
        const now = fiberNow(fiber)
        return Effect.succeed(Array.from(tokens, (token) => decryptCore(ring, crypto, token, now, SHARING)))
      })
  }
})

/**
 * The client over whatever `KeyStore` and `Crypto` are provided.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore: Layer.Layer<SharingClient, never, KeyStore | Crypto> = Layer.scoped(
  SharingClient,
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
 * The client kept fresh from `/v2/key/sharing` on the `KeyStore`, `Crypto` and
 * `HttpClient` the app provides (e.g. a Redis key store shared by a fleet).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<SharingClient | KeyRefresher, InvalidClientSecret, KeyStore | Crypto | HttpClient.HttpClient> =>
  withOperator(layerFromKeyStore, "/v2/key/sharing", options)

/**
 * Everything in one layer: keys fetched from `/v2/key/sharing` at start-up and
 * refreshed in the background, held in memory, node:crypto, Node's HTTP client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<SharingClient | KeyRefresher, InvalidClientSecret> =>
  standalone(layerFromKeyStore, "/v2/key/sharing", options)

/**
 * {@link layer} configured from `UID2_BASE_URL`, `UID2_API_KEY` and
 * `UID2_SECRET_KEY` (secrets read as `Redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  refresh?: Omit<RefreshOptions, "endpoint">
): Layer.Layer<SharingClient | KeyRefresher, InvalidClientSecret | ConfigError.ConfigError> =>
  fromConfig(layerFromKeyStore, "/v2/key/sharing", refresh)
