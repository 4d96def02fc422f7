// The README's examples, run as written against a local TestOperator: the same code, with the operator's
// URL and test credentials where the README reads UID2_BASE_URL, UID2_API_KEY and UID2_SECRET_KEY. Keep this
// file in step with README.md (test/DocBlocks.test.ts type-checks the README's blocks themselves).
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Exit, Layer, Logger, LogLevel, Redacted, Scope, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as FileKeyStore from "../adapters/file/index.js"
import * as NativeCrypto from "../adapters/native-crypto/index.js"
import * as RedisKeyStore from "../adapters/redis/index.js"
import { Bidstream, IdentityMap, IdentityTokens, OptOut, Publisher, Sharing, TokenGenerateInput } from "../src/index.js"
import {
  createBidstreamClient,
  createIdentityMapClient,
  createOptOutClient,
  createPublisherClient,
  createSharingClient
} from "../src/promise.js"
import { TestOperator } from "../src/testing/index.js"
import { randomPrefix, REDIS_URL } from "./support/redis.js"

let op: TestOperator.TestOperatorShape
const scope = Effect.runSync(Scope.make())
beforeAll(async () => {
  op = await Effect.runPromise(Scope.extend(TestOperator.make(), scope))
})
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** What the README reads from the environment, for one of the operator's clients. */
const env = (client: TestOperator.ClientCredentials) => ({
  baseUrl: op.baseUrl,
  apiKey: client.apiKey,
  secretKey: client.secret,
  logLevel: "None" as const
})

/** The same three variables for the Effect examples' `layerConfig()`. */
const configFor = (client: TestOperator.ClientCredentials) =>
  ConfigProvider.fromMap(
    new Map([["UID2_BASE_URL", op.baseUrl], ["UID2_API_KEY", client.apiKey], ["UID2_SECRET_KEY", client.secret]])
  )

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** Runs `effect` with `Effect.log` lines collected (the SDK's own lines are dropped). */
const withLines = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      if ([...annotations].length === 0) lines.push(String(Array.isArray(message) ? message.join(" ") : message))
    })
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, lines: lines.filter((l) => !l.startsWith("effect-uid2 ")) }
  })

describe("README, Promise style", () => {
  it("DSP: rawUidOf", async () => {
    // README: const uid2 = await createBidstreamClient({ baseUrl, apiKey, secretKey })
    const uid2 = await createBidstreamClient(env(TestOperator.DSP_CLIENT))
    function rawUidOf(token: string, domainOrAppName: string): string | undefined {
      const result = uid2.decrypt(token, domainOrAppName)
      return result.ok ? result.uid : undefined
    }
    try {
      const issued = await run(op.issueToken({ email: "reader@example.com" }))
      expect(rawUidOf(issued.advertisingToken, "example.com")).toBe(issued.rawUid)
      expect(rawUidOf("not a token", "example.com")).toBeUndefined()
    } finally {
      await uid2.close()
    }
  })

  it("sharer: toSharingToken and fromSharingToken", async () => {
    await using sharing = await createSharingClient(env(TestOperator.SHARER_CLIENT))
    function toSharingToken(rawUid: string): string {
      const result = sharing.encrypt(rawUid)
      if (!result.ok) throw new Error(`cannot share this raw UID2: ${result.reason}`)
      return result.token
    }
    function fromSharingToken(token: string): string | undefined {
      const result = sharing.decrypt(token)
      return result.ok ? result.uid : undefined
    }
    const rawUid = await run(op.rawUidOf({ email: "shared@example.com" }))
    expect(fromSharingToken(toSharingToken(rawUid))).toBe(rawUid)
    expect(() => toSharingToken("not a raw UID")).toThrow("EncryptionFailure")
  })

  it("publisher: onLogin and onRequest", async () => {
    await using publisher = await createPublisherClient(env(TestOperator.PUBLISHER_CLIENT))
    async function onLogin(email: string): Promise<string | undefined> {
      const result = await publisher.generateToken({ email })
      return result.status === "success" ? result.identityJson : undefined
    }
    async function onRequest(identityJson: string): Promise<string | undefined> {
      const step = await publisher.refreshIfNeeded(identityJson)
      return step.action === "drop" ? undefined : step.identityJson
    }
    const identityJson = await onLogin("Jane.Doe@gmail.com")
    expect(identityJson).toContain("advertising_token")
    expect(await onLogin(TestOperator.TestIdentities.optoutEmail)).toBeUndefined()
    expect(await onRequest(identityJson!)).toBe(identityJson) // fresh: kept as it is
  })

  it("advertiser: map a customer list, one result per input in order", async () => {
    await using mapper = await createIdentityMapClient(env(TestOperator.MAPPER_CLIENT))
    const customers = [{ email: "user@example.com" }, { phone: "+12345678901" }, { email: "not an email" }]
    const seen: Array<string> = []
    for await (const result of mapper.map(customers)) {
      if (result.status === "mapped") seen.push(`${result.currentRawUid} until ${result.refreshFrom.getTime()}`)
      else seen.push(result.status)
    }
    const rawUid = await run(op.rawUidOf({ email: "user@example.com" }))
    expect(seen).toHaveLength(3)
    expect(seen[0]).toMatch(new RegExp(`^${rawUid.replace(/[+/]/g, "\\$&")} until \\d+$`))
    expect(seen[2]).toBe("invalid")
  })

  it("opt-out status: optOutAll", async () => {
    await using optOut = await createOptOutClient(env(TestOperator.MAPPER_CLIENT))
    const gone = await run(op.rawUidOf({ email: TestOperator.TestIdentities.optoutEmail }))
    const status = await optOut.optOutAll(["ufv1uGRovNiJNbJqiE/xzM+aKE7jP69MgspOZoEQ3xc=", gone])
    const lines: Array<string> = []
    for (const [rawUid, result] of status.optedOut) {
      lines.push(`${rawUid} opted out at ${result.optedOutSince.toISOString()}`)
    }
    expect(lines).toEqual([
      `${gone} opted out at ${new Date(TestOperator.TEST_IDENTITIES_OPTED_OUT_SINCE).toISOString()}`
    ])
    expect(status.notOptedOut.has("ufv1uGRovNiJNbJqiE/xzM+aKE7jP69MgspOZoEQ3xc=")).toBe(true)
  })

  it("key stores: a bidstream client on the Redis store saves its ring there", async () => {
    const keyPrefix = randomPrefix()
    const { secretKey } = env(TestOperator.DSP_CLIENT)
    await using uid2 = await createBidstreamClient({
      ...env(TestOperator.DSP_CLIENT),
      keyStore: RedisKeyStore.layer({ url: REDIS_URL, clientSecret: Redacted.make(secretKey), keyPrefix })
    })
    const issued = await run(op.issueToken({ email: "fleet@example.com" }))
    expect(uid2.decrypt(issued.advertisingToken, "example.com")).toMatchObject({ ok: true, uid: issued.rawUid })
    const stored = await run(
      Effect.scoped(
        Effect.flatMap(
          RedisKeyStore.make({ url: REDIS_URL, clientSecret: Redacted.make(secretKey), keyPrefix }),
          (store) => store.load("bidstream")
        )
      )
    )
    expect(stored._tag).toBe("Some")
  })
})

describe("README, Effect style", () => {
  it.scopedLive("DSP: rawUidOf on Bidstream.layerConfig()", () =>
    Effect.gen(function*() {
      const rawUidOf = (token: string, domainOrAppName: string) =>
        Bidstream.BidstreamClient.decrypt(token, domainOrAppName).pipe(
          Effect.map((decrypted) => decrypted.uid),
          Effect.catchTags({
            ExpiredToken: () => Effect.succeed(undefined),
            DomainOrAppNameCheckFailed: () => Effect.succeed(undefined)
          })
        )
      const Uid2 = Bidstream.layerConfig()
      const context = yield* Layer.build(Uid2).pipe(Effect.withConfigProvider(configFor(TestOperator.DSP_CLIENT)))
      const issued = yield* op.issueToken({ email: "reader@example.com" })
      expect(yield* Effect.provide(rawUidOf(issued.advertisingToken, "example.com"), context)).toBe(issued.rawUid)
      const expired = yield* op.issueToken({ email: "late@example.com", expiry: (yield* op.now) - 1000 })
      expect(yield* Effect.provide(rawUidOf(expired.advertisingToken, "example.com"), context)).toBeUndefined()
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.scopedLive("sharer: roundTrip and toSharingTokens on Sharing.layerConfig()", () =>
    Effect.gen(function*() {
      const roundTrip = (rawUid: string) =>
        Effect.gen(function*() {
          const token = yield* Sharing.SharingClient.encrypt(rawUid)
          const received = yield* Sharing.SharingClient.decrypt(token)
          return received.uid
        })
      const toSharingTokens = (rawUids: ReadonlyArray<string>) =>
        Effect.flatMap(Sharing.SharingClient, (client) => client.encryptAll(rawUids))
      const context = yield* Layer.build(Sharing.layerConfig()).pipe(
        Effect.withConfigProvider(configFor(TestOperator.SHARER_CLIENT))
      )
      const rawUid = yield* op.rawUidOf({ email: "shared@example.com" })
      expect(yield* Effect.provide(roundTrip(rawUid), context)).toBe(rawUid)
      const tokens = yield* Effect.provide(toSharingTokens([rawUid, "not a raw UID"]), context)
      expect(typeof tokens[0]).toBe("string")
      expect(tokens[1]).toMatchObject({ _tag: "EncryptionFailure" })
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.scopedLive("publisher: onLogin and onRequest on Publisher.layerConfig()", () =>
    Effect.gen(function*() {
      const onLogin = (email: string) =>
        Effect.gen(function*() {
          const input = yield* TokenGenerateInput.fromEmail(email)
          const response = yield* Publisher.PublisherClient.generateToken(input)
          return Publisher.identityJsonString(response)
        })
      const onRequest = (identityJson: string) =>
        Effect.gen(function*() {
          const identity = yield* IdentityTokens.fromJsonString(identityJson)
          const step = yield* Publisher.PublisherClient.refreshIfNeeded(identity)
          return step._tag === "Drop" ? undefined : IdentityTokens.toJsonString(step.identity)
        })
      const context = yield* Layer.build(Publisher.layerConfig()).pipe(
        Effect.withConfigProvider(configFor(TestOperator.PUBLISHER_CLIENT))
      )
      const identityJson = yield* Effect.provide(onLogin("Jane.Doe@gmail.com"), context)
      expect(identityJson).toContain("advertising_token")
      expect(yield* Effect.provide(onLogin(TestOperator.TestIdentities.optoutEmail), context)).toBeUndefined()
      expect(yield* Effect.provide(onRequest(identityJson!), context)).toBe(identityJson)
      expect((yield* Effect.flip(Effect.provide(onLogin("no-at-sign"), context)))._tag).toBe("InvalidEmail")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.scopedLive("advertiser: mapStream with $match", () =>
    Effect.gen(function*() {
      const customers = Stream.make(IdentityMap.email("user@example.com"), IdentityMap.phone("+12345678901"))
      const program = Effect.gen(function*() {
        const client = yield* IdentityMap.IdentityMapClient
        yield* client.mapStream(customers).pipe(
          Stream.runForEach(IdentityMap.MapResult.$match({
            Mapped: (m) => Effect.log(`${m.input.value} → ${m.currentRawUid}`),
            Unmapped: (u) => Effect.log(`${u.input.value}: ${u.reason}`),
            Invalid: (i) => Effect.log(`${i.input.value}: ${i.error.message}`),
            Failed: (f) => Effect.logWarning(`${f.input.value}: ${f.error.message}`)
          }))
        )
      }).pipe(Effect.provide(IdentityMap.layerConfig()))
      const { lines } = yield* withLines(program).pipe(
        Effect.withConfigProvider(configFor(TestOperator.MAPPER_CLIENT))
      )
      const email = yield* op.rawUidOf({ email: "user@example.com" })
      const phone = yield* op.rawUidOf({ phone: "+12345678901" })
      expect(lines).toEqual([`user@example.com → ${email}`, `+12345678901 → ${phone}`])
    }))

  it.scopedLive("opt-out status: status on OptOut.layerConfig()", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const client = yield* OptOut.OptOutClient
        const status = yield* client.status(["ufv1uGRovNiJNbJqiE/xzM+aKE7jP69MgspOZoEQ3xc="])
        for (const [rawUid, result] of status.optedOut) {
          yield* Effect.log(`${rawUid} opted out at ${DateTime.formatIso(result.optedOutSince)}`)
        }
        return status
      }).pipe(Effect.provide(OptOut.layerConfig()))
      const { lines, result } = yield* withLines(program).pipe(
        Effect.withConfigProvider(configFor(TestOperator.MAPPER_CLIENT))
      )
      expect(lines).toEqual([])
      expect(result.notOptedOut.size).toBe(1)
    }))

  it.scopedLive("key stores: Bidstream.layerWith on the file store", () =>
    Effect.gen(function*() {
      const directory = mkdtempSync(join(tmpdir(), "uid2-readme-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
      const Uid2 = Bidstream.layerWith({
        baseUrl: op.baseUrl,
        apiKey: Redacted.make(TestOperator.DSP_CLIENT.apiKey),
        secretKey: Redacted.make(TestOperator.DSP_CLIENT.secret)
      }).pipe(
        Layer.provide(Layer.mergeAll(
          FileKeyStore.layer({ directory }),
          NativeCrypto.layerBest,
          NodeHttpClient.layerUndici
        ))
      )
      const context = yield* Layer.build(Uid2)
      const issued = yield* op.issueToken({ email: "warm@example.com" })
      const token = yield* Effect.provide(Bidstream.BidstreamClient.decrypt(issued.advertisingToken, null), context)
      expect(token.uid).toBe(issued.rawUid)
      const saved = yield* Effect.flatMap(FileKeyStore.make({ directory }), (store) => store.load("bidstream")).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      expect(saved._tag).toBe("Some")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.scopedLive("the test kit: decrypts what the operator issues", () =>
    Effect.gen(function*() {
      const operator = yield* TestOperator.make()
      const dsp = yield* Layer.build(Bidstream.layer({
        baseUrl: operator.baseUrl,
        apiKey: Redacted.make(TestOperator.DSP_CLIENT.apiKey),
        secretKey: Redacted.make(TestOperator.DSP_CLIENT.secret)
      }))
      const issued = yield* operator.issueToken({ email: "user@example.com" })
      const token = yield* Effect.provide(Bidstream.BidstreamClient.decrypt(issued.advertisingToken, null), dsp)
      if (token.uid !== issued.rawUid) yield* Effect.die("wrong raw UID2")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
})
