// Identity map v3 end to end: the real client (HttpTransport on undici, binary
// envelope) against TestOperator over loopback HTTP (reference vectors M-5, M-6).
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as IdentityMap from "../src/IdentityMap.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { identityMapClient, sha256b64 } from "./batchClients.js"

const { DSP_CLIENT, MAPPER_CLIENT, Paths, TestIdentities } = TestOperator
const start = Effect.orDie(TestOperator.make())

describe("identity map v3 against TestOperator (loopback HTTP)", () => {
  it.scopedLive("M-5: mapped, opted out, invalid identifiers, invalid inputs, mixed kinds in one request", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      const now = yield* operator.now
      const response = yield* client.map([
        IdentityMap.email("hopefully-not-opted-out@example.com"),
        IdentityMap.email("somethingelse@example.com"),
        IdentityMap.email(TestIdentities.optoutEmail),
        IdentityMap.phone(TestIdentities.optoutPhone),
        IdentityMap.emailHash("this is not a hashed email"),
        IdentityMap.phoneHash("this is not a hashed phone"),
        IdentityMap.email("not an email"),
        IdentityMap.phone("0123456789"),
        IdentityMap.phone(TestIdentities.validatePhone),
        IdentityMap.emailHash(sha256b64("hashed@example.com")),
        IdentityMap.phoneHash(sha256b64("+15555550123"))
      ])
      expect(yield* operator.requestCount(Paths.identityMapV3)).toBe(1) // every kind in one request

      for (const key of ["hopefully-not-opted-out@example.com", "somethingelse@example.com"]) {
        const m = response.mapped.get(key)!
        expect(m.currentRawUid).toBe(yield* operator.rawUidOf({ email: key }))
        expect(DateTime.toEpochMillis(m.refreshFrom)).toBeGreaterThan(now - 60_000)
        expect(m.previousRawUid).toEqual(Option.none())
      }
      expect(response.mapped.get(TestIdentities.validatePhone)!.currentRawUid).toBe(
        yield* operator.rawUidOf({ phone: TestIdentities.validatePhone })
      )
      expect(response.mapped.get(sha256b64("hashed@example.com"))!.currentRawUid).toBe(
        yield* operator.rawUidOf({ email: "hashed@example.com" })
      )
      expect(response.mapped.get(sha256b64("+15555550123"))!.currentRawUid).toBe(
        yield* operator.rawUidOf({ phone: "+15555550123" })
      )
      expect(response.unmapped.get(TestIdentities.optoutEmail)!.reason).toBe("OptOut")
      expect(response.unmapped.get(TestIdentities.optoutPhone)!.reason).toBe("OptOut")
      expect(response.unmapped.get("this is not a hashed email")!.reason).toBe("InvalidIdentifier")
      expect(response.unmapped.get("this is not a hashed phone")!.reason).toBe("InvalidIdentifier")
      expect(response.invalid.get("not an email")!.error._tag).toBe("InvalidEmail")
      expect(response.invalid.get("0123456789")!.error._tag).toBe("InvalidPhone")
      expect(response.failed.size).toBe(0)
      expect(response.results).toHaveLength(11)
    }))

  it.scopedLive("M-5: empty input succeeds without a request; bad API key, role, secret and URL fail every item", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const good = yield* identityMapClient(operator)
      expect((yield* good.map([])).results).toEqual([])
      expect(yield* operator.requestCount()).toBe(0)

      const inputs = [IdentityMap.email("a@example.com"), IdentityMap.email("b@example.com")]
      const noRetry = { retry: { times: 0 } }
      const statusOf = (response: IdentityMap.MapResponse) =>
        Array.from(response.failed.values()).map((f) =>
          f.error._tag === "OperatorRejected" ? f.error.httpStatus : f.error._tag
        )

      const badKey = yield* identityMapClient(operator, noRetry, { apiKey: "nope", secret: MAPPER_CLIENT.secret })
      expect(statusOf(yield* badKey.map(inputs))).toEqual([401, 401])
      const noRole = yield* identityMapClient(operator, noRetry, DSP_CLIENT)
      expect(statusOf(yield* noRole.map(inputs))).toEqual([401, 401])
      // a well-formed secret that is not the client's: the operator cannot open the envelope
      const wrongSecret = yield* identityMapClient(operator, noRetry, {
        apiKey: MAPPER_CLIENT.apiKey,
        secret: DSP_CLIENT.secret
      })
      expect(statusOf(yield* wrongSecret.map(inputs))).toEqual([400, 400])
      const badUrl = yield* identityMapClient({ ...operator, baseUrl: "http://127.0.0.1:1" }, noRetry)
      expect(statusOf(yield* badUrl.map(inputs))).toEqual(["OperatorUnreachable", "OperatorUnreachable"])

      // a secret that is not Base64 of 32 bytes fails the layer, naming no secret
      const built = yield* Layer.build(IdentityMap.layer({
        baseUrl: operator.baseUrl,
        apiKey: Redacted.make(MAPPER_CLIENT.apiKey),
        secretKey: Redacted.make("bad secret key")
      })).pipe(Effect.flip)
      expect(built._tag).toBe("InvalidClientSecret")
      expect(built.message).not.toContain("bad secret key")
    }))

  it.scopedLive("M-6: inputs that normalize alike get one raw UID; a verbatim repeat is one key", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      const emails = [
        "JANE.SAOIRSE@gmail.com",
        "Jane.Saoirse@gmail.com",
        "JaneSaoirse+UID2@gmail.com",
        "janesaoirse@gmail.com",
        "JANE.SAOIRSE@gmail.com"
      ]
      const hash = sha256b64("janesaoirse@gmail.com")
      const response = yield* client.map([
        ...emails.map(IdentityMap.email),
        IdentityMap.emailHash(hash),
        IdentityMap.emailHash(hash)
      ])
      const expected = yield* operator.rawUidOf({ email: "janesaoirse@gmail.com" })
      expect(response.results).toHaveLength(7)
      expect(response.results.every((r) => r._tag === "Mapped" && r.currentRawUid === expected)).toBe(true)
      expect(Array.from(response.mapped.keys()).sort()).toEqual(
        [...new Set([...emails, hash])].sort()
      )
      expect(response.mapped.size).toBe(5)
    }))

  it.scopedLive("salt rotation: the previous raw UID and the new refresh-from appear; re-map picks them", () =>
    Effect.gen(function*() {
      const operator = yield* start
      const client = yield* identityMapClient(operator)
      const inputs = [IdentityMap.email("rotating@example.com"), IdentityMap.phone("+15555550199")]
      const before = yield* client.map(inputs)
      const first = before.results as ReadonlyArray<IdentityMap.Mapped>
      expect(first.map((r) => r._tag)).toEqual(["Mapped", "Mapped"])

      // nothing is due yet; a day after the refresh-from of the first mapping, it is
      expect(IdentityMap.dueForRemap(first, DateTime.unsafeMake(yield* operator.now))).toEqual([])
      const later = DateTime.add(first[0]!.refreshFrom, { days: 1 })
      expect(IdentityMap.dueForRemap(first, later)).toContainEqual(inputs[0])

      const rotatedAt = yield* operator.now
      yield* operator.rotateSalts()
      const after = (yield* client.map(inputs)).results as ReadonlyArray<IdentityMap.Mapped>
      for (const [i, r] of after.entries()) {
        expect(r._tag).toBe("Mapped")
        expect(r.currentRawUid).not.toBe(first[i]!.currentRawUid)
        expect(r.previousRawUid).toEqual(Option.some(first[i]!.currentRawUid))
        // the rotated buckets refresh 30 days after the rotation
        const refreshFrom = DateTime.toEpochMillis(r.refreshFrom)
        expect(refreshFrom).toBeGreaterThanOrEqual(Math.floor((rotatedAt + 30 * 86_400_000) / 1000) * 1000)
        expect(refreshFrom % 1000).toBe(0) // whole seconds on the wire
      }
    }))
})
