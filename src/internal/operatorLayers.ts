import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as NativeCrypto from "../../adapters/native-crypto/index.js"
import type * as Crypto from "../Crypto.js"
import type { InvalidClientSecret } from "../Envelope.js"
import * as HttpTransport from "../HttpTransport.js"
import * as KeyRefresher from "../KeyRefresher.js"
import * as KeyStore from "../KeyStore.js"

type ClientOptions = KeyRefresher.ClientOptions

/** Assembles client + refresher + transport on the KeyStore, Crypto and HttpClient the app provides. */
export const withOperator = <Client>(
  client: Layer.Layer<Client, never, KeyStore.KeyStore | Crypto.Crypto>,
  endpoint: KeyRefresher.KeyEndpoint,
  options: ClientOptions
): Layer.Layer<
  Client | KeyRefresher.KeyRefresher,
  InvalidClientSecret,
  KeyStore.KeyStore | Crypto.Crypto | HttpClient.HttpClient
> =>
  Layer.merge(
    client,
    KeyRefresher.layer({ ...options.refresh, endpoint }).pipe(Layer.provide(HttpTransport.layer(options)))
  )

/**
 * The same with defaults: in-memory key store, the native Crypto when it is built and loads (else
 * node:crypto, silently; one log line names the one in use) and Node's HTTP client.
 */
export const standalone = <Client>(
  client: Layer.Layer<Client, never, KeyStore.KeyStore | Crypto.Crypto>,
  endpoint: KeyRefresher.KeyEndpoint,
  options: ClientOptions
): Layer.Layer<Client | KeyRefresher.KeyRefresher, InvalidClientSecret> =>
  Layer.merge(client, KeyRefresher.layer({ ...options.refresh, endpoint })).pipe(
    Layer.provide(HttpTransport.layerNode(options)),
    Layer.provide(Layer.mergeAll(KeyStore.layerMemory, NativeCrypto.layerBest))
  )

/** {@link standalone} from `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY`. */
export const fromConfig = <Client>(
  client: Layer.Layer<Client, never, KeyStore.KeyStore | Crypto.Crypto>,
  endpoint: KeyRefresher.KeyEndpoint,
  refresh?: Omit<KeyRefresher.Options, "endpoint">
): Layer.Layer<Client | KeyRefresher.KeyRefresher, InvalidClientSecret | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Config.map(HttpTransport.config, (options) => standalone(client, endpoint, { ...options, refresh }))
  )
