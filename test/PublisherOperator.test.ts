// Publisher flows end to end: the real client (HttpTransport on undici) against
// TestOperator over loopback HTTP.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as IdentityTokens from "../src/IdentityTokens.js"
import * as Publisher from "../src/Publisher.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import * as TokenGenerateInput from "../src/TokenGenerateInput.js"

const { PUBLISHER_CLIENT, TestIdentities } = TestOperator

const email = (e: string) => Either.getOrThrow(TokenGenerateInput.fromEmail(e))

/** Starts an operator (scoped) and returns it with a publisher client layer pointed at it. */
const start = (
  options: TestOperator.Options = {},
  credentials: { readonly apiKey: string; readonly secret: string } = PUBLISHER_CLIENT
): Effect.Effect<
  { readonly operator: TestOperator.TestOperatorShape; readonly client: Layer.Layer<Publisher.PublisherClient> },
  never,
  Scope.Scope
> =>
  Effect.map(Effect.orDie(TestOperator.make(options)), (operator) => ({
    operator,
    client: Publisher.layer({
      baseUrl: operator.baseUrl,
      apiKey: Redacted.make(credentials.apiKey),
      secretKey: Redacted.make(credentials.secret),
      retry: { times: 0 }
    }).pipe(Layer.orDie)
  }))

const generate = (e: string) => Publisher.PublisherClient.generateToken(email(e))

describe("Publisher against TestOperator (loopback HTTP)", () => {
  it.scopedLive("generate → store JSON → parse → refresh → refresh again", () =>
    Effect.gen(function*() {
      const { client, operator } = yield* start()
      yield* Effect.gen(function*() {
        const generated = yield* generate("hopefully-not-opted-out@example.com")
        expect(Publisher.isSuccess(generated)).toBe(true)
        const stored = Publisher.identityJsonString(generated)!
        expect(stored).toBe(IdentityTokens.toJsonString(Publisher.identity(generated)!))

        // the session round trip
        const loaded = yield* IdentityTokens.fromJsonString(stored)
        expect(IdentityTokens.toJsonString(loaded)).toBe(stored)
        const now = yield* operator.now
        expect(IdentityTokens.isRefreshable(loaded, now)).toBe(true)
        expect(IdentityTokens.isDueForRefresh(loaded, now)).toBe(false)
        expect(loaded.identityExpires - loaded.refreshFrom).toBe(45 * 60_000) // 1 h lifetime, refresh after 15 min
        expect(loaded.refreshResponseKey).toBeDefined()

        const first = yield* Publisher.PublisherClient.refreshToken(loaded)
        expect(Publisher.isSuccess(first)).toBe(true)
        const refreshed = yield* IdentityTokens.fromJsonString(Publisher.identityJsonString(first)!)
        expect(refreshed.refreshToken).not.toBe(loaded.refreshToken)
        expect(refreshed.refreshResponseKey).not.toBe(loaded.refreshResponseKey)

        // the next refresh must use the newest refresh token + key pair
        const second = yield* Publisher.PublisherClient.refreshToken(refreshed)
        expect(Publisher.isSuccess(second)).toBe(true)
        expect(Publisher.identity(second)!.refreshToken).not.toBe(refreshed.refreshToken)

        expect(yield* operator.requestCount(TestOperator.Paths.tokenGenerate)).toBe(1)
        expect(yield* operator.requestCount(TestOperator.Paths.tokenRefresh)).toBe(2)
        const log = yield* operator.requests
        expect(log.map((r) => r.status)).toEqual([200, 200, 200])
        expect(log.every((r) => r.apiKey === PUBLISHER_CLIENT.apiKey)).toBe(true)
      }).pipe(Effect.provide(client))
    }))

  it.scopedLive("opt-out: optout@example.com on generate, refresh-optout@example.com on refresh", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      yield* Effect.gen(function*() {
        const optout = yield* generate(TestIdentities.optoutEmail)
        expect(Publisher.isOptout(optout)).toBe(true)
        expect(Publisher.identityJsonString(optout)).toBeUndefined()

        const generated = yield* generate(TestIdentities.refreshOptoutEmail)
        expect(Publisher.isSuccess(generated)).toBe(true)
        const refreshed = yield* Publisher.PublisherClient.refreshToken(Publisher.identity(generated)!)
        expect(Publisher.isOptout(refreshed)).toBe(true)
        expect(Publisher.identity(refreshed)).toBeUndefined()
      }).pipe(Effect.provide(client))
    }))

  it.scopedLive("an identity the operator opted out since generation refreshes to OptOut → session Drop", () =>
    Effect.gen(function*() {
      const { client, operator } = yield* start({ refreshIdentityAfter: 0 })
      yield* Effect.gen(function*() {
        const generated = yield* generate("later-opted-out@example.com")
        yield* operator.optOut({ email: "later-opted-out@example.com" })
        yield* Effect.sleep("2 millis") // refresh_from = generation time: due once the clock moved on
        const session = yield* Publisher.PublisherClient.refreshIfNeeded(Publisher.identity(generated)!)
        expect(session).toEqual(Publisher.SessionResult.Drop({ reason: "OptOut" }))
      }).pipe(Effect.provide(client))
    }))

  it.scopedLive("refresh after the refresh token expired on the operator → ExpiredRefreshToken / Drop", () =>
    Effect.gen(function*() {
      const { client, operator } = yield* start()
      yield* Effect.gen(function*() {
        const identity = Publisher.identity(yield* generate("expiring@example.com"))!
        yield* operator.advanceTime(Duration.sum(Duration.hours(24), Duration.seconds(1)))
        // the client's clock has not moved, so it still considers the identity refreshable
        const error = yield* Effect.flip(Publisher.PublisherClient.refreshToken(identity))
        expect(error._tag).toBe("ExpiredRefreshToken")
        expect(error.message).not.toContain(identity.refreshToken)
        expect(yield* operator.requestCount(TestOperator.Paths.tokenRefresh)).toBe(1)
      }).pipe(Effect.provide(client))
    }))

  it.scopedLive("an unauthorized API key → Unauthorized (generate and refresh)", () =>
    Effect.gen(function*() {
      const { client: good, operator } = yield* start()
      const identity = Publisher.identity(yield* Effect.provide(generate("user@example.com"), good))!

      // a known key without the GENERATOR role
      const dsp = yield* start({}, TestOperator.DSP_CLIENT)
      const notGenerator = yield* Effect.flip(Effect.provide(generate("user@example.com"), dsp.client))
      expect(notGenerator).toMatchObject({ _tag: "Unauthorized", operation: "generate", httpStatus: 401 })

      // an unknown key, on generate and on refresh
      const unknown = Publisher.layer({
        baseUrl: operator.baseUrl,
        apiKey: Redacted.make("UID2-C-L-0-not-a-key"),
        secretKey: Redacted.make(PUBLISHER_CLIENT.secret),
        retry: { times: 0 }
      }).pipe(Layer.orDie)
      yield* Effect.gen(function*() {
        const e1 = yield* Effect.flip(generate("user@example.com"))
        expect(e1).toMatchObject({ _tag: "Unauthorized", operation: "generate", httpStatus: 401 })
        expect(e1.message).not.toContain("UID2-C-L-0-not-a-key")
        const e2 = yield* Effect.flip(Publisher.PublisherClient.refreshToken(identity))
        expect(e2).toMatchObject({ _tag: "Unauthorized", operation: "refresh", httpStatus: 401 })
      }).pipe(Effect.provide(unknown))
    }))

  it.scopedLive("EUID: insufficient TCF consent → UnexpectedStatus; sufficient consent → Success", () =>
    Effect.gen(function*() {
      const { client } = yield* start({ identityScope: "EUID" })
      yield* Effect.gen(function*() {
        const input = (tcf: string) =>
          TokenGenerateInput.withTransparencyAndConsentString(email("user@example.com"), tcf)
        const error = yield* Effect.flip(
          Publisher.PublisherClient.generateToken(input(TestIdentities.insufficientConsent))
        )
        expect(error).toEqual(
          new Publisher.UnexpectedStatus({ operation: "generate", status: "insufficient_user_consent" })
        )
        const ok = yield* Publisher.PublisherClient.generateToken(input(TestIdentities.sufficientConsent))
        expect(Publisher.isSuccess(ok)).toBe(true)
        expect(Publisher.identity(ok)!.advertisingToken[0]).toBe("E") // EUID email, V4
      }).pipe(Effect.provide(client))
    }))

  it.scopedLive("a malformed 200 body → EnvelopeError on generate and on refresh", () =>
    Effect.gen(function*() {
      const { client, operator } = yield* start()
      yield* Effect.gen(function*() {
        const identity = Publisher.identity(yield* generate("user@example.com"))!
        yield* operator.sendMalformedBodyNext(2)
        expect((yield* Effect.flip(generate("user@example.com")))._tag).toBe("EnvelopeError")
        expect((yield* Effect.flip(Publisher.PublisherClient.refreshToken(identity)))._tag).toBe("EnvelopeError")
      }).pipe(Effect.provide(client))
    }))

  // The operator started in this fiber runs on its TestClock, so one clock drives
  // both sides (refresh posts carry no timestamp; generate stays within the drift).
  it.scoped("due-for-refresh and refreshable exactly at their boundaries (TestClock drives both sides)", () =>
    Effect.gen(function*() {
      const t0 = Date.UTC(2026, 10, 1, 12, 0, 0)
      yield* TestClock.setTime(t0)
      const { client, operator } = yield* start()
      const refreshes = operator.requestCount(TestOperator.Paths.tokenRefresh)
      yield* Effect.gen(function*() {
        const identity = Publisher.identity(yield* generate("boundaries@example.com"))!
        expect(identity.refreshFrom).toBe(t0 + 15 * 60_000)
        expect(identity.identityExpires).toBe(t0 + 60 * 60_000)
        expect(identity.refreshExpires).toBe(t0 + 24 * 60 * 60_000)

        // exactly at refresh_from: not yet due → Keep, no request
        yield* TestClock.setTime(identity.refreshFrom)
        expect(IdentityTokens.isDueForRefresh(identity, identity.refreshFrom)).toBe(false)
        expect(yield* Publisher.PublisherClient.refreshIfNeeded(identity)).toEqual(
          Publisher.SessionResult.Keep({ identity })
        )
        expect(yield* refreshes).toBe(0)

        // 1 ms later: due → Refreshed
        yield* TestClock.setTime(identity.refreshFrom + 1)
        expect(IdentityTokens.isDueForRefresh(identity, identity.refreshFrom + 1)).toBe(true)
        const refreshed = yield* Publisher.PublisherClient.refreshIfNeeded(identity)
        expect(refreshed._tag).toBe("Refreshed")
        expect(yield* refreshes).toBe(1)

        // exactly at refresh_expires: still refreshable → the operator accepts it
        yield* TestClock.setTime(identity.refreshExpires)
        expect(IdentityTokens.isRefreshable(identity, identity.refreshExpires)).toBe(true)
        const last = yield* Publisher.PublisherClient.refreshIfNeeded(identity)
        expect(last._tag).toBe("Refreshed")
        if (last._tag === "Refreshed") expect(last.identity.identityExpires).toBe(identity.refreshExpires + 3_600_000)
        expect(yield* refreshes).toBe(2)

        // 1 ms later: not refreshable → Drop locally, no request; refreshToken refuses too
        yield* TestClock.setTime(identity.refreshExpires + 1)
        expect(IdentityTokens.isRefreshable(identity, identity.refreshExpires + 1)).toBe(false)
        expect(yield* Publisher.PublisherClient.refreshIfNeeded(identity)).toEqual(
          Publisher.SessionResult.Drop({ reason: "NotRefreshable" })
        )
        const refused = yield* Effect.flip(Publisher.PublisherClient.refreshToken(identity))
        expect(refused._tag).toBe("IdentityNotRefreshable")
        expect(yield* refreshes).toBe(2)
      }).pipe(Effect.provide(client))
    }))
})
