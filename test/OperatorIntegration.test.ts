// Issue 3 end to end: the SDK's operator-backed clients against TestOperator,
// over real loopback sockets (it.scopedLive) and in-process under TestClock.
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import {
  BidstreamClient,
  layer as bidstreamLayer,
  layerConfig as bidstreamConfig,
  layerWith as bidstreamWith
} from "../src/Bidstream.js"
import * as Crypto from "../src/Crypto.js"
import type { RefreshError } from "../src/KeyRefresher.js"
import * as KeyStore from "../src/KeyStore.js"
import { layer as sharingLayer, SharingClient } from "../src/Sharing.js"
import * as TestOperator from "../src/testing/TestOperator.js"

const DSP = TestOperator.DSP_CLIENT
const SHARER = TestOperator.SHARER_CLIENT
const fastRetry = { times: 2, base: Duration.millis(5) }

const credentials = (client: TestOperator.ClientCredentials) => ({
  apiKey: Redacted.make(client.apiKey),
  secretKey: Redacted.make(client.secret)
})

// A bidstream client on a live operator, built inside the test's scope.
const liveBidstream = (
  op: TestOperator.TestOperatorShape,
  overrides: Partial<Parameters<typeof bidstreamLayer>[0]> = {}
) =>
  Layer.build(
    bidstreamLayer({ baseUrl: op.baseUrl, ...credentials(DSP), retry: fastRetry, timeout: "2 seconds", ...overrides })
  )

const refreshNow = Effect.flatMap(BidstreamClient, (client) => client.refresh)

// Refresh failures are logged as warnings by design; keep the test output readable.
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.None)

const expectNoSecrets = (error: unknown, ...secrets: Array<string>) => {
  const texts = [String(error), (error as Error).message, JSON.stringify(error)]
  for (const secret of secrets) for (const text of texts) expect(text).not.toContain(secret)
}

describe("operator-backed clients over loopback HTTP", () => {
  it.scopedLive("refresh then decrypt tokens the operator issued (bidstream and sharing)", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op)
      const client = Effect.provide(BidstreamClient, context)
      const issued = yield* op.issueToken({ email: "user@example.com" })
      const decrypted = yield* Effect.flatMap(client, (c) => c.decrypt(issued.advertisingToken, "example.com"))
      expect(decrypted).toMatchObject({ uid: issued.rawUid, version: 4, siteId: issued.siteId, expiry: issued.expiry })
      expect(yield* op.requestCount("/v2/key/bidstream")).toBe(1)

      const sharer = yield* Layer.build(sharingLayer({ baseUrl: op.baseUrl, ...credentials(SHARER), retry: fastRetry }))
      const token = yield* Effect.provide(SharingClient.encrypt(issued.rawUid), sharer)
      expect((yield* Effect.provide(SharingClient.decrypt(token), sharer)).uid).toBe(issued.rawUid)
      expect((yield* Effect.provide(SharingClient.decrypt(token), sharer)).siteId).toBe(SHARER.siteId)
    })))

  it.scopedLive("every scripted fault gives its typed error and the last good keys keep decrypting", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op)
      const issued = yield* op.issueToken({ email: "user@example.com" })
      const refresh = Effect.flip(Effect.provide(refreshNow, context))
      const stillDecrypts = Effect.provide(BidstreamClient.decrypt(issued.advertisingToken, null), context).pipe(
        Effect.map((t) => t.uid)
      )
      const faults: Array<[string, Effect.Effect<void>, (e: RefreshError) => void]> = [
        [
          "500 on every attempt",
          op.failNext(3, 500),
          (e) => expect(e).toMatchObject({ _tag: "OperatorRejected", httpStatus: 500 })
        ],
        ["malformed body", op.sendMalformedBodyNext(1), (e) => expect(e._tag).toBe("EnvelopeError")],
        [
          "wrong nonce",
          op.wrongNonceNext(1),
          (e) => expect(e).toMatchObject({ _tag: "EnvelopeError", reason: "NonceMismatch" })
        ],
        ["dropped connections", op.dropConnectionNext(3), (e) => expect(e._tag).toBe("OperatorUnreachable")],
        ["401", op.failNext(1, 401), (e) => expect(e).toMatchObject({ _tag: "OperatorRejected", httpStatus: 401 })]
      ]
      for (const [name, script, check] of faults) {
        yield* script
        const error = yield* refresh
        check(error)
        expect(yield* stillDecrypts, name).toBe(issued.rawUid)
        yield* op.clearFaults()
      }
      const status = yield* Effect.provide(Effect.flatMap(BidstreamClient, (c) => c.status), context)
      expect(status.lastFailure?.error._tag).toBe("OperatorRejected")
      expect(status.ready).toBe(true)
    })))

  it.scopedLive("retries transient faults but not 400/401", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op)
      const path = "/v2/key/bidstream"
      const refresh = Effect.provide(refreshNow, context)
      const count = () => op.requestCount(path)
      let before = yield* count()
      yield* op.failNext(2, 503)
      yield* refresh
      expect((yield* count()) - before).toBe(3)
      before = yield* count()
      yield* op.failNext(1, 429, { retryAfterSeconds: 0 })
      yield* refresh
      expect((yield* count()) - before).toBe(2)
      for (const status of [400, 401]) {
        before = yield* count()
        yield* op.failNext(1, status)
        expect((yield* Effect.flip(refresh))._tag).toBe("OperatorRejected")
        expect((yield* count()) - before).toBe(1)
      }
    })))

  it.scopedLive("a timeout fires on a stalled operator", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op, { timeout: "300 millis", retry: { times: 0 } })
      yield* op.setLatency("3 seconds")
      const error = yield* Effect.flip(Effect.provide(refreshNow, context))
      expect(error._tag).toBe("Timeout")
    })))

  it.scopedLive("a key revoked after start-up: refreshes fail typed, no secret in any message, the ring stays", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op)
      const issued = yield* op.issueToken({ email: "user@example.com" })
      yield* op.failNext(1, 401)
      const unauthorized = yield* Effect.flip(Effect.provide(refreshNow, context))
      expect(unauthorized).toMatchObject({ _tag: "OperatorRejected", httpStatus: 401 })
      expectNoSecrets(unauthorized, DSP.apiKey, DSP.secret)
      const client = yield* Effect.provide(BidstreamClient, context)
      expect(client.decryptSync(issued.advertisingToken)._tag).toBe("DecryptedToken")

      const notBase64 = yield* Effect.flip(liveBidstream(op, { secretKey: Redacted.make("bad secret key") }))
      expect(notBase64._tag).toBe("InvalidClientSecret")
      expectNoSecrets(notBase64, "bad secret key")
    })))

  it.scopedLive("decrypts issued concurrently with refreshes all succeed", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const context = yield* liveBidstream(op)
      const tokens = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => `user${i}@example.com`), (email) =>
        op.issueToken({ email }))
      const client = yield* Effect.provide(BidstreamClient, context)
      const refresher = client
      const decryptAll = Effect.forEach(tokens, (t) =>
        Effect.flatMap(client.decrypt(t.advertisingToken), (d) =>
          Effect.sync(() =>
            expect(d.uid).toBe(t.rawUid)
          )))
      yield* Effect.all([
        Effect.repeatN(refresher.refresh, 5),
        Effect.repeatN(decryptAll, 20),
        Effect.repeatN(Effect.zipRight(op.rotateKeys(), refresher.refresh), 2)
      ], { concurrency: "unbounded" })
      expect(yield* op.requestCount("/v2/key/bidstream")).toBeGreaterThanOrEqual(9)
    })))
})

describe("operator-backed clients in process, under TestClock", () => {
  it.scoped("the schedule picks up a key rotation", () =>
    quiet(Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2025, 5, 1))
      const op = yield* TestOperator.make({ listen: false })
      const context = yield* Layer.build(
        bidstreamWith({ baseUrl: op.baseUrl, ...credentials(DSP), refresh: { interval: "1 hour", jitter: 0 } }).pipe(
          Layer.provide(
            Layer.mergeAll(KeyStore.layerMemory, Crypto.layerNode, Layer.succeed(HttpClient.HttpClient, op.httpClient))
          )
        )
      )
      const client = yield* Effect.provide(BidstreamClient, context)
      yield* op.rotateKeys({ activatesIn: "10 minutes" })
      yield* TestClock.adjust("11 minutes")
      const fresh = yield* op.issueToken({ email: "rotated@example.com" })
      // the ring in memory predates the rotation: the new master key is unknown to it
      expect((yield* Effect.flip(client.decrypt(fresh.advertisingToken)))._tag).toBe("NotAuthorizedForMasterKey")
      yield* TestClock.adjust("49 minutes")
      expect(yield* op.requestCount("/v2/key/bidstream")).toBe(2)
      expect((yield* client.decrypt(fresh.advertisingToken)).uid).toBe(fresh.rawUid)
    })))
})

describe("layerConfig", () => {
  it.scopedLive("Bidstream.layerConfig() reads UID2_BASE_URL, UID2_API_KEY and UID2_SECRET_KEY", () =>
    quiet(Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const config = ConfigProvider.fromMap(
        new Map([
          ["UID2_BASE_URL", op.baseUrl],
          ["UID2_API_KEY", DSP.apiKey],
          ["UID2_SECRET_KEY", DSP.secret]
        ])
      )
      const context = yield* Layer.build(bidstreamConfig()).pipe(Effect.withConfigProvider(config))
      const issued = yield* op.issueToken({ phone: "+12345678901" })
      const decrypted = yield* Effect.provide(BidstreamClient.decrypt(issued.advertisingToken, "example.com"), context)
      expect(decrypted).toMatchObject({ uid: issued.rawUid, identityType: "Phone" })

      const missing = yield* Effect.flip(
        Layer.build(bidstreamConfig()).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["UID2_BASE_URL", op.baseUrl]])))
        )
      )
      expect(missing._tag).toBe("ConfigError")
      expectNoSecrets(missing, DSP.secret)
    })))
})
