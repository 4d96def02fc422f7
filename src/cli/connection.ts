/**
 * The operator connection of the online commands: credentials from flags or
 * `UID2_BASE_URL`, `UID2_API_KEY`, `UID2_SECRET_KEY`, checked before any
 * request, and the transport built from them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Crypto from "../Crypto.js"
import * as HttpTransport from "../HttpTransport.js"
import * as Errors from "./errors.js"

/**
 * The credential flags as parsed (each may be missing).
 *
 * @since 0.1.0
 * @category models
 */
export interface CredentialFlags {
  readonly baseUrl: Option.Option<string>
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly secretKey: Option.Option<Redacted.Redacted<string>>
}

/** How long one attempt may take: a person is waiting. */
const TIMEOUT = "10 seconds"

/**
 * The transport options, or a configuration error naming what is missing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transportOptions = (flags: CredentialFlags): Effect.Effect<HttpTransport.Options, Errors.CliError> => {
  const missing = [
    Option.isNone(flags.baseUrl) ? "--base-url (UID2_BASE_URL)" : undefined,
    Option.isNone(flags.apiKey) ? "--api-key (UID2_API_KEY)" : undefined,
    Option.isNone(flags.secretKey) ? "--secret-key (UID2_SECRET_KEY)" : undefined
  ].filter((name) => name !== undefined)
  if (Option.isNone(flags.baseUrl) || Option.isNone(flags.apiKey) || Option.isNone(flags.secretKey)) {
    return Effect.fail(Errors.config(
      `no operator credentials: missing ${missing.join(", ")}; set the flags or variables` +
        " (or start a local operator with `uid2 operator`)"
    ))
  }
  const baseUrl = flags.baseUrl.value.trim()
  let url: URL | undefined
  try {
    url = new URL(baseUrl)
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return Effect.fail(Errors.config("the base URL must be an http:// or https:// URL"))
  }
  return Effect.succeed({
    baseUrl,
    apiKey: flags.apiKey.value,
    secretKey: flags.secretKey.value,
    timeout: TIMEOUT
  })
}

/**
 * The transport over Node's HTTP client, or the configuration error.
 *
 * @since 0.1.0
 * @category layers
 */
export const transportLayer = (flags: CredentialFlags): Layer.Layer<HttpTransport.HttpTransport, Errors.CliError> =>
  Layer.unwrapEffect(Effect.map(transportOptions(flags), (options) =>
    HttpTransport.layerNode(options).pipe(
      Layer.provide(Crypto.layerNode),
      Layer.mapError(Errors.operator)
    )))
