// effect-uid2/promise against TestOperator over loopback, written as a plain Node user would:
// async/await, no Effect in the calls under test.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type * as IdentityMap from "../src/IdentityMap.js"
import {
  createBidstreamClient,
  createIdentityMapClient,
  createOptOutClient,
  createPublisherClient,
  createSharingClient,
  dueForRemap,
  Uid2Error
} from "../src/promise.js"
import * as TestOperator from "../src/testing/TestOperator.js"

let op: TestOperator.TestOperatorShape
let scope: Scope.CloseableScope
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

beforeAll(async () => {
  scope = await run(Scope.make())
  op = await run(Scope.extend(TestOperator.make(), scope))
})
afterAll(() => run(Scope.close(scope, Exit.void)))

const credentials = (client: TestOperator.ClientCredentials) => ({
  baseUrl: op.baseUrl,
  apiKey: client.apiKey,
  secretKey: client.secret,
  logLevel: "None" as const
})

describe("effect-uid2/promise", () => {
  it("the three lines of the Python seed: create, decrypt (create fetched the keys)", async () => {
    const issued = await run(op.issueToken({ email: "seed@example.com" }))
    await using client = await createBidstreamClient(credentials(TestOperator.DSP_CLIENT))
    const result = client.decrypt(issued.advertisingToken, "example.com")
    expect(result).toMatchObject({ ok: true, uid: issued.rawUid, siteId: issued.siteId, version: 4 })
  })

  it("bidstream: decrypt never throws for bad tokens or odd values; refresh and status", async () => {
    const client = await createBidstreamClient(credentials(TestOperator.DSP_CLIENT))
    try {
      expect(client.decrypt("!garbage")).toMatchObject({ ok: false, reason: "InvalidPayload" })
      for (const odd of [null, undefined, 42, {}, [], Buffer.from("x")]) {
        expect(client.decrypt(odd as unknown as string)).toMatchObject({ ok: false, reason: "InvalidPayload" })
      }
      const before = await run(op.requestCount("/v2/key/bidstream"))
      await client.refresh()
      expect(await run(op.requestCount("/v2/key/bidstream"))).toBe(before + 1)
      expect(await client.status()).toMatchObject({ ready: true, source: "operator" })
    } finally {
      await client.close()
      await client.close() // idempotent
    }
  })

  it("bad credentials reject create with a Uid2Error whose code is the error tag, no secret in it", async () => {
    const error = await createBidstreamClient({ ...credentials(TestOperator.DSP_CLIENT), apiKey: "UID2-C-L-9-wrong" })
      .then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(Uid2Error)
    expect(error).toBeInstanceOf(Error)
    expect((error as Uid2Error).code).toBe("KeysUnavailable")
    expect((error as Uid2Error).message).toContain("check the API key")
    expect(String(error)).not.toContain(TestOperator.DSP_CLIENT.secret)
    const badSecret = await createSharingClient({ ...credentials(TestOperator.SHARER_CLIENT), secretKey: "nope" })
      .then(() => undefined, (e: unknown) => e)
    expect((badSecret as Uid2Error).code).toBe("InvalidClientSecret")
  })

  it("sharing: encrypt and decrypt synchronously", async () => {
    await using sharer = await createSharingClient(credentials(TestOperator.SHARER_CLIENT))
    const issued = await run(op.issueToken({ email: "share@example.com" }))
    const encrypted = sharer.encrypt(issued.rawUid)
    if (!encrypted.ok) throw new Error(encrypted.message)
    expect(sharer.decrypt(encrypted.token)).toMatchObject({ ok: true, uid: issued.rawUid })
    expect(sharer.encrypt("")).toMatchObject({ ok: false, reason: "EncryptionFailure" })
  })

  it("publisher: generate, refresh, session step, opt-out, typed input errors, abort", async () => {
    await using publisher = await createPublisherClient(credentials(TestOperator.PUBLISHER_CLIENT))
    const generated = await publisher.generateToken({ email: "Reader@Example.com" })
    if (generated.status !== "success") throw new Error("expected an identity")
    expect(typeof generated.advertisingToken).toBe("string")
    const refreshed = await publisher.refreshToken(generated.identityJson)
    expect(refreshed.status).toBe("success")
    const step = await publisher.refreshIfNeeded(generated.identityJson)
    expect(["keep", "refreshed"]).toContain(step.action)

    await run(op.optOut({ email: "gone@example.com" }))
    expect(await publisher.generateToken({ email: "gone@example.com" })).toEqual({ status: "optout" })

    const invalid = await publisher.generateToken({ email: "no-at-sign" }).then(() => undefined, (e: unknown) => e)
    expect((invalid as Uid2Error).code).toBe("InvalidEmail")
    const none = await publisher.generateToken({} as never).then(() => undefined, (e: unknown) => e)
    expect((none as Uid2Error).code).toBe("InvalidIdentity")
    const corrupt = await publisher.refreshToken("{not json").then(() => undefined, (e: unknown) => e)
    expect((corrupt as Uid2Error).code).toBe("InvalidIdentityJson")

    await run(op.setLatency("5 seconds"))
    try {
      const controller = new AbortController()
      const pending = publisher.generateToken({ email: "slow@example.com" }, { signal: controller.signal })
      setTimeout(() => controller.abort(), 50)
      const aborted = await pending.then(() => undefined, (e: unknown) => e)
      expect((aborted as Uid2Error).code).toBe("Aborted")
    } finally {
      await run(op.setLatency(0))
    }
  })

  it("publisher: validateToken answers true for the token's own DII and false for another", async () => {
    await using publisher = await createPublisherClient(credentials(TestOperator.PUBLISHER_CLIENT))
    const generated = await publisher.generateToken({ email: "validate@example.com" })
    if (generated.status !== "success") throw new Error("expected an identity")
    expect(await publisher.validateToken(generated.advertisingToken, { email: "validate@example.com" })).toBe(true)
    expect(await publisher.validateToken(generated.advertisingToken, { email: "other@example.com" })).toBe(false)
  })

  it("identity map and opt-out: async iterables in and out, plain values, one result per input", async () => {
    await using mapper = await createIdentityMapClient({ ...credentials(TestOperator.MAPPER_CLIENT), maxBatchItems: 3 })
    async function* people() {
      for (let i = 0; i < 7; i++) yield { email: `person${i}@example.com` }
      yield { phone: "+12345678901" }
      yield { email: "not an email" }
    }
    const results = []
    for await (const result of mapper.map(people())) results.push(result)
    expect(results.map((r) => r.status)).toEqual([...Array(8).fill("mapped"), "invalid"])
    expect(results[0]!.input).toEqual({ email: "person0@example.com" })
    expect(results[7]!.input).toEqual({ phone: "+12345678901" })
    const mapped = results.flatMap((r) => (r.status === "mapped" ? [r] : []))
    expect(mapped[0]!.currentRawUid).toBe(await run(op.rawUidOf({ email: "person0@example.com" })))
    expect(mapped[0]!.previousRawUid).toBeUndefined()
    expect(mapped[0]!.refreshFrom).toBeInstanceOf(Date)
    expect(mapped[0]!.refreshFrom.getTime()).toBeGreaterThan(Date.now())
    const invalid = results[8]!
    if (invalid.status !== "invalid") throw new Error("expected an invalid result")
    expect(invalid.error).toEqual({ code: "InvalidEmail", message: expect.any(String) })

    const all = await mapper.mapAll([{ email: "person0@example.com" }, { email: "x" }])
    expect([...all.mapped.keys()]).toEqual(["person0@example.com"])
    expect(all.mapped.get("person0@example.com")!.currentRawUid).toBe(mapped[0]!.currentRawUid)
    expect([...all.invalid.keys()]).toEqual(["x"])
    expect(all.results).toHaveLength(2)

    const gone = await run(op.rawUidOf({ email: "opted-out-later@example.com" }))
    await run(op.optOut({ email: "opted-out-later@example.com" }))
    await using optOut = await createOptOutClient(credentials(TestOperator.MAPPER_CLIENT))
    const statuses = []
    for await (const status of optOut.optOut([mapped[0]!.currentRawUid, gone])) statuses.push(status)
    expect(statuses.map((s) => s.status)).toEqual(["notOptedOut", "optedOut"])
    const since = statuses[1]!
    if (since.status !== "optedOut") throw new Error("expected an opt-out")
    expect(since.optedOutSince).toBeInstanceOf(Date)
    expect(Math.abs(since.optedOutSince.getTime() - Date.now())).toBeLessThan(60 * 60_000)
    const grouped = await optOut.optOutAll([gone, "not a raw uid"])
    expect([...grouped.optedOut.keys()]).toEqual([gone])
    expect([...grouped.invalid.keys()]).toEqual(["not a raw uid"])
  })

  it("onProgress sees the counters change and, last, the final counts", async () => {
    await using mapper = await createIdentityMapClient({ ...credentials(TestOperator.MAPPER_CLIENT), maxBatchItems: 2 })
    const seen: Array<IdentityMap.Progress> = []
    const emails = Array.from({ length: 5 }, (_, i) => ({ email: `progress${i}@example.com` }))
    const response = await mapper.mapAll([...emails, { email: "bad" }], { onProgress: (p) => seen.push(p) })
    expect(response.results).toHaveLength(6)
    expect(seen.length).toBeGreaterThan(1)
    expect(seen.at(-1)).toMatchObject({ read: 6, mapped: 5, invalid: 1, failed: 0, inFlight: 0, requests: 3 })
    // A callback that throws does not fail the mapping.
    const results = []
    for await (
      const r of mapper.map(emails, {
        onProgress: () => {
          throw new Error("caller bug")
        }
      })
    ) results.push(r)
    expect(results).toHaveLength(5)
  })

  it("dueForRemap: the stored identities whose refresh-from time has come", async () => {
    await using mapper = await createIdentityMapClient(credentials(TestOperator.MAPPER_CLIENT))
    const { mapped } = await mapper.mapAll([{ email: "remap1@example.com" }, { phone: "+12345678902" }])
    const stored = [...mapped.values()]
    expect(dueForRemap(stored)).toEqual([])
    const latest = Math.max(...stored.map((s) => s.refreshFrom.getTime()))
    expect(dueForRemap(stored, latest)).toEqual(stored.map((s) => s.input))
    expect(dueForRemap(stored, new Date(latest + 1))).toEqual([{ email: "remap1@example.com" }, {
      phone: "+12345678902"
    }])
  })

  it("bidstream and sharing clients say which Crypto implementation is active", async () => {
    await using dsp = await createBidstreamClient(credentials(TestOperator.DSP_CLIENT))
    await using sharer = await createSharingClient(credentials(TestOperator.SHARER_CLIENT))
    expect(["native", "node"]).toContain(dsp.crypto)
    expect(sharer.crypto).toBe(dsp.crypto)
  })

  it("publisher: generateToken passes the TCF consent string to an EUID operator", async () => {
    const euid = await run(Scope.extend(TestOperator.make({ identityScope: "EUID" }), scope))
    await using publisher = await createPublisherClient({
      baseUrl: euid.baseUrl,
      apiKey: TestOperator.PUBLISHER_CLIENT.apiKey,
      secretKey: TestOperator.PUBLISHER_CLIENT.secret,
      logLevel: "None"
    })
    const insufficient = await publisher
      .generateToken({ email: "user@example.com" }, {
        tcfConsentString: TestOperator.TestIdentities.insufficientConsent
      })
      .then(() => undefined, (e: unknown) => e)
    expect(insufficient).toBeInstanceOf(Uid2Error)
    expect((insufficient as Uid2Error).code).toBe("UnexpectedStatus")
    const ok = await publisher.generateToken({ email: "user@example.com" }, {
      tcfConsentString: TestOperator.TestIdentities.sufficientConsent
    })
    expect(ok.status).toBe("success")
  })
})
