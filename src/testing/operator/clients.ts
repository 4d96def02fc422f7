/**
 * The test operator's API clients: roles, credentials, the default clients
 * and sites, and the imported envelope keys. Private to the test kit; the
 * public names are re-exported by `TestOperator`.
 */
import * as Effect from "effect/Effect"
import type { CryptoShape } from "../../Crypto.js"
import * as Envelope from "../../Envelope.js"
import type { InvalidClientSecret } from "../../Envelope.js"

/**
 * A role an API key may hold.
 *
 * @since 0.1.0
 * @category models
 */
export type Role = "GENERATOR" | "ID_READER" | "SHARER" | "MAPPER"

/**
 * Every role.
 *
 * @since 0.1.0
 * @category constants
 */
export const ALL_ROLES: ReadonlyArray<Role> = ["GENERATOR", "ID_READER", "SHARER", "MAPPER"]

/**
 * An API client the operator knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCredentials {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string
  /** The client secret: standard Base64 of 32 bytes. */
  readonly secret: string
  /** The site the key belongs to (`caller_site_id`, the site of generated tokens). */
  readonly siteId: number
  readonly roles: ReadonlyArray<Role>
}

/**
 * Site of {@link DEFAULT_CLIENT}.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_SITE_ID = 999

/**
 * A client holding every role, on site {@link DEFAULT_SITE_ID}.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-999-test-all-roles",
  secret: "zOJwVptPdsfChX+vCr7DnYnEzM3QkAu37dAVpxRemU0=",
  siteId: DEFAULT_SITE_ID,
  roles: ALL_ROLES
}

/**
 * A publisher (GENERATOR) on site 1001.
 *
 * @since 0.1.0
 * @category constants
 */
export const PUBLISHER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1001-test-publisher",
  secret: "FehHyur8ShQg33MhOe4IC6WccPXju7JYyQJuJy5k/o4=",
  siteId: 1001,
  roles: ["GENERATOR"]
}

/**
 * A DSP (ID_READER) on site 1002.
 *
 * @since 0.1.0
 * @category constants
 */
export const DSP_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1002-test-dsp",
  secret: "84sPXs/BIL87TUPRaOks1EGsacSgHSVzfQA9ERiO9eM=",
  siteId: 1002,
  roles: ["ID_READER"]
}

/**
 * A sharer (SHARER) on site 1003.
 *
 * @since 0.1.0
 * @category constants
 */
export const SHARER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1003-test-sharer",
  secret: "njX1tSOV5rILit9U8tAjWF0DvG/dG+pGjjNW891vgIs=",
  siteId: 1003,
  roles: ["SHARER"]
}

/**
 * An advertiser / data provider (MAPPER) on site 1004.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAPPER_CLIENT: ClientCredentials = {
  apiKey: "UID2-C-L-1004-test-mapper",
  secret: "XTaoeDlNbQXTP8YrfzckZT/tjOKGS0EQn5c9eR97LJA=",
  siteId: 1004,
  roles: ["MAPPER"]
}

/**
 * The clients an operator knows unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CLIENTS: ReadonlyArray<ClientCredentials> = [
  DEFAULT_CLIENT,
  PUBLISHER_CLIENT,
  DSP_CLIENT,
  SHARER_CLIENT,
  MAPPER_CLIENT
]

/**
 * The allowed domains / app names of a site (`site_data` in key responses).
 *
 * @since 0.1.0
 * @category models
 */
export interface SiteData {
  readonly id: number
  readonly domainNames: ReadonlyArray<string>
}

/**
 * `site_data` unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_SITE_DATA: ReadonlyArray<SiteData> = [
  { id: DEFAULT_SITE_ID, domainNames: ["example.com", "example.org", "com.example.app"] },
  { id: PUBLISHER_CLIENT.siteId, domainNames: ["publisher.example"] }
]

/** A known client with its imported envelope key. */
export interface Client extends ClientCredentials {
  readonly envelopeKey: Envelope.EnvelopeKey
}

/** Imports every client's secret; fails on the first that is not Base64 of 32 bytes. */
export const importClients = (
  crypto: CryptoShape,
  credentials: ReadonlyArray<ClientCredentials>
): Effect.Effect<Array<Client>, InvalidClientSecret> =>
  Effect.gen(function*() {
    const clients: Array<Client> = []
    for (const c of credentials) {
      const secret = yield* Envelope.parseClientSecret(c.secret)
      clients.push({ ...c, envelopeKey: Envelope.importKey(crypto, secret) })
    }
    return clients
  })

/** The API key of an `Authorization` header: `undefined` without one, `""` when it is not a bearer token. */
export const bearer = (headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  const value = headers["authorization"]
  if (value === undefined) return undefined
  const text = value.trim()
  return text.slice(0, 7).toLowerCase() === "bearer " ? text.slice(7).trim() : ""
}
