/**
 * The DSP and sharer clients of the Promise API: key-based, with
 * synchronous decrypt and encrypt.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Bidstream from "../Bidstream.js"
import { Crypto } from "../Crypto.js"
import type { DecryptError, EncryptError } from "../DecryptError.js"
import type { DecryptResult as CoreDecryptResult } from "../Decryption.js"
import * as HttpTransport from "../HttpTransport.js"
import { layerBestCrypto } from "../internal/bestCrypto.js"
import { start, transportOptions } from "../internal/promiseRuntime.js"
import type * as KeyRefresher from "../KeyRefresher.js"
import * as KeyStore from "../KeyStore.js"
import * as Sharing from "../Sharing.js"
import type { TokenDetails } from "../Token.js"
import { type CallOptions, type Closable, type ConnectionOptions } from "./common.js"

/**
 * Options of the key-based clients (bidstream and sharing).
 *
 * @since 0.1.0
 * @category models
 */
export interface KeyedClientOptions extends ConnectionOptions {
  /** Background refresh schedule (default hourly). */
  readonly refresh?: KeyRefresher.RefreshOptions | undefined
  /** How long `create…` waits for first keys (default 30 s) and whether it fails then. */
  readonly startup?: KeyRefresher.StartupOptions | undefined
  /** Where rings are kept between refreshes, e.g. a file or Redis key store layer. Default: this client's memory. */
  readonly keyStore?: Layer.Layer<KeyStore.KeyStore, unknown> | undefined
  /** The key store slot of this client's ring (when several clients share one store). */
  readonly keyStoreSlot?: string | undefined
}

/**
 * A decrypt's outcome: the raw UID and every token field, or why not.
 *
 * @since 0.1.0
 * @category models
 */
export type DecryptResult =
  | ({ readonly ok: true; readonly uid: string } & TokenDetails)
  | { readonly ok: false; readonly reason: DecryptError["_tag"]; readonly message: string }

/**
 * An encrypt's outcome: the sharing token, or why not.
 *
 * @since 0.1.0
 * @category models
 */
export type EncryptResult =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly reason: EncryptError["_tag"]; readonly message: string }

/**
 * A DSP client.
 *
 * @since 0.1.0
 * @category models
 */
export interface BidstreamClient extends Closable {
  /** Decrypts a bidstream token for the bid request's domain or app name; synchronous, never throws. */
  readonly decrypt: (token: string, domainOrAppName?: string | null) => DecryptResult
  /** Fetches fresh keys now. */
  readonly refresh: (options?: CallOptions) => Promise<void>
  /** Key health: readiness, source, last success and failure, ring age. */
  readonly status: () => Promise<KeyRefresher.Status>
  /**
   * The Crypto implementation in use, `"native"` or `"node"`:
   * the native addon when it loads, else node:crypto.
   */
  readonly crypto: string
}

/**
 * A sharer client.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharingClient extends Closable {
  /** Encrypts a raw UID into a sharing token; synchronous, never throws. */
  readonly encrypt: (rawUid: string) => EncryptResult
  /** Decrypts a sharing token; synchronous, never throws. */
  readonly decrypt: (token: string) => DecryptResult
  readonly refresh: (options?: CallOptions) => Promise<void>
  readonly status: () => Promise<KeyRefresher.Status>
  /**
   * The Crypto implementation in use, `"native"` or `"node"`:
   * the native addon when it loads, else node:crypto.
   */
  readonly crypto: string
}

const clientOptions = (options: KeyedClientOptions) => ({
  refresh: options.refresh,
  startup: options.startup,
  keyStoreSlot: options.keyStoreSlot
})

/**
 * A keyed client's layer on the caller's key store (else its own memory), the best Crypto and Node's HTTP
 * client; the Crypto stays in the output so that the client can say which implementation is active.
 */
const keyedLayer = <I, S, E>(
  tag: Context.Tag<I, S>,
  make: Effect.Effect<S, E, HttpTransport.HttpTransport | KeyStore.KeyStore | Crypto | Scope.Scope>,
  options: KeyedClientOptions
): Layer.Layer<I | Crypto, unknown> =>
  Layer.scoped(tag, make).pipe(
    Layer.provide(HttpTransport.layerNode(transportOptions(options))),
    Layer.provide(options.keyStore ?? Layer.effect(KeyStore.KeyStore, KeyStore.makeMemory())),
    Layer.provideMerge(layerBestCrypto)
  )

const cryptoName = Effect.map(Crypto, (crypto) => crypto.name)

const decryptResult = (result: CoreDecryptResult): DecryptResult => {
  if (result._tag === "DecryptedToken") {
    const { _tag: _, ...token } = result
    return { ok: true, ...token }
  }
  return { ok: false, reason: result._tag, message: result.message }
}

const encryptResult = (result: string | EncryptError): EncryptResult =>
  typeof result === "string" ? { ok: true, token: result } : { ok: false, reason: result._tag, message: result.message }

/**
 * Starts a DSP client: fetches keys from `/v2/key/bidstream` (rejecting
 * with a `Uid2Error` of code `"KeysUnavailable"` on bad credentials, a wrong
 * base URL, or no keys within the start-up timeout) and refreshes them in
 * the background until `close()`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createBidstreamClient = async (options: KeyedClientOptions): Promise<BidstreamClient> => {
  const { closable, run, service } = await start(
    Bidstream.BidstreamClient,
    keyedLayer(Bidstream.BidstreamClient, Bidstream.make(clientOptions(options)), options),
    options
  )
  return {
    decrypt: (token, domainOrAppName) => decryptResult(service.decryptSync(token, domainOrAppName)),
    crypto: await run(cryptoName),
    refresh: (callOptions) => run(service.refresh, callOptions),
    status: () => run(service.status),
    ...closable
  }
}

/**
 * Starts a sharer client on `/v2/key/sharing`, like {@link createBidstreamClient}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const createSharingClient = async (options: KeyedClientOptions): Promise<SharingClient> => {
  const { closable, run, service } = await start(
    Sharing.SharingClient,
    keyedLayer(Sharing.SharingClient, Sharing.make(clientOptions(options)), options),
    options
  )
  return {
    encrypt: (rawUid) => encryptResult(service.encryptSync(rawUid)),
    decrypt: (token) => decryptResult(service.decryptSync(token)),
    crypto: await run(cryptoName),
    refresh: (callOptions) => run(service.refresh, callOptions),
    status: () => run(service.status),
    ...closable
  }
}
