/**
 * The test operator's settings: {@link Options} resolved to the numbers the
 * handlers use, and the duration helpers. Private to the test kit.
 */
import * as Duration from "effect/Duration"
import type { CryptoShape } from "../../Crypto.js"
import * as Envelope from "../../Envelope.js"
import type { IdentityScope } from "../../Identity.js"
import type { Options } from "../TestOperator.js"
import { type Client, DEFAULT_SITE_DATA, type SiteData } from "./clients.js"

/** {@link Options} with every default applied; durations in ms unless named seconds. */
export interface Config {
  readonly crypto: CryptoShape
  readonly scope: IdentityScope
  readonly clients: ReadonlyArray<Client>
  readonly siteData: ReadonlyArray<SiteData>
  readonly clock: (() => number) | undefined
  readonly identityLifetime: number
  readonly refreshAfter: number
  readonly refreshLifetime: number
  readonly sharingExpirySeconds: number
  readonly maxBidstreamSeconds: number
  readonly maxSharingSeconds: number
  readonly skewSeconds: number
  readonly keyLifetime: number
  readonly bucketCount: number
  readonly seed: string
  readonly maxDriftMinutes: number
}

/** Milliseconds of anything `Duration.decode` accepts. */
export const millis = (d: Duration.DurationInput): number => Duration.toMillis(Duration.decode(d))

/** `ms` rounded down to a whole second. */
export const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000

/** Resolves the options of `make` for the given crypto and imported clients. */
export const makeConfig = (options: Options, crypto: CryptoShape, clients: ReadonlyArray<Client>): Config => {
  const identityLifetime = millis(options.identityTokenLifetime ?? "1 hour")
  const sharingExpiry = millis(options.sharingTokenExpiry ?? "30 days")
  return {
    crypto,
    scope: options.identityScope ?? "UID2",
    clients,
    siteData: options.siteData ?? DEFAULT_SITE_DATA,
    clock: options.now,
    identityLifetime,
    refreshAfter: millis(options.refreshIdentityAfter ?? "15 minutes"),
    refreshLifetime: millis(options.refreshTokenLifetime ?? "24 hours"),
    sharingExpirySeconds: Math.floor(sharingExpiry / 1000),
    maxBidstreamSeconds: Math.floor(millis(options.maxBidstreamLifetime ?? identityLifetime) / 1000),
    maxSharingSeconds: Math.floor(millis(options.maxSharingLifetime ?? sharingExpiry) / 1000),
    skewSeconds: Math.floor(millis(options.allowClockSkew ?? "30 minutes") / 1000),
    keyLifetime: millis(options.keyLifetime ?? "30 days"),
    bucketCount: Math.max(1, Math.floor(options.saltBuckets ?? 64)),
    seed: options.seed ?? "effect-uid2",
    maxDriftMinutes: options.maxDriftMinutes ?? Envelope.MAX_DRIFT_MINUTES
  }
}
