import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Equal, FastCheck, Hash, pipe, TestClock } from "effect"
import { inspect } from "node:util"
import * as IdentityTokens from "../src/IdentityTokens.js"
import { left, right } from "./either.js"
import { P8 as P8_BODY } from "./vectors.js"

// Reference vector P-8: the fields of a decrypted token-generate response
const {
  advertising_token: ADVERTISING_TOKEN,
  identity_expires: IDENTITY_EXPIRES,
  refresh_expires: REFRESH_EXPIRES,
  refresh_from: REFRESH_FROM,
  refresh_response_key: REFRESH_RESPONSE_KEY,
  refresh_token: REFRESH_TOKEN,
  user_token: USER_TOKEN
} = P8_BODY

const P8_JSON =
  `{"advertising_token":"${ADVERTISING_TOKEN}","user_token":"${USER_TOKEN}","refresh_token":"${REFRESH_TOKEN}",` +
  `"identity_expires":${IDENTITY_EXPIRES},"refresh_expires":${REFRESH_EXPIRES},"refresh_from":${REFRESH_FROM},` +
  `"refresh_response_key":"${REFRESH_RESPONSE_KEY}"}`

const P8 = right(IdentityTokens.fromJsonString(P8_JSON))

const REQUIRED = ["advertising_token", "refresh_token", "identity_expires", "refresh_expires", "refresh_from"] as const

const withoutField = (field: string): string => {
  const o = JSON.parse(P8_JSON) as Record<string, unknown>
  delete o[field]
  return JSON.stringify(o)
}
const withField = (field: string, value: unknown): string =>
  JSON.stringify({ ...(JSON.parse(P8_JSON) as Record<string, unknown>), [field]: value })

const identity = (refreshFrom: number, identityExpires: number, refreshExpires: number, refreshToken = "rt") =>
  right(IdentityTokens.fromBody({
    advertising_token: "at",
    refresh_token: refreshToken,
    identity_expires: identityExpires,
    refresh_expires: refreshExpires,
    refresh_from: refreshFrom
  }))

describe("IdentityTokens", () => {
  describe("P-8 parse and round trip", () => {
    it("fields", () => {
      expect(P8.advertisingToken).toBe(ADVERTISING_TOKEN)
      expect(P8.refreshToken).toBe(REFRESH_TOKEN)
      expect(P8.identityExpires).toBe(IDENTITY_EXPIRES)
      expect(P8.refreshExpires).toBe(REFRESH_EXPIRES)
      expect(P8.refreshFrom).toBe(REFRESH_FROM)
      expect(P8.refreshResponseKey).toBe(REFRESH_RESPONSE_KEY)
    })

    it("toJsonString returns the original text byte for byte, unknown fields included", () => {
      expect(IdentityTokens.toJsonString(P8)).toBe(P8_JSON)
      expect(JSON.parse(IdentityTokens.toJsonString(P8)).user_token).toBe(USER_TOKEN)
      const reparsed = right(IdentityTokens.fromJsonString(IdentityTokens.toJsonString(P8)))
      expect(IdentityTokens.toJsonString(reparsed)).toBe(P8_JSON)
      expect(Equal.equals(reparsed, P8)).toBe(true)
    })

    it("keeps the exact text even when it is not compact", () => {
      const pretty = JSON.stringify(JSON.parse(P8_JSON), null, 2) + "\n"
      const parsed = right(IdentityTokens.fromJsonString(pretty))
      expect(IdentityTokens.toJsonString(parsed)).toBe(pretty)
      expect(parsed.refreshFrom).toBe(REFRESH_FROM)
      expect(Equal.equals(parsed, P8)).toBe(false) // equality is by JSON text
    })

    it("fromBody serializes compactly in the operator's key order", () => {
      const body = JSON.parse(P8_JSON) as unknown
      const fromBody = right(IdentityTokens.fromBody(body))
      expect(IdentityTokens.toJsonString(fromBody)).toBe(P8_JSON)
      expect(fromBody).toEqual(P8)
      expect(Hash.hash(fromBody)).toBe(Hash.hash(P8))
    })

    it("fromBody of a whole decoded response body (key order as received)", () => {
      const response = JSON.parse(`{"body":${P8_JSON},"status":"success"}`) as { body: unknown }
      expect(IdentityTokens.toJsonString(right(IdentityTokens.fromBody(response.body)))).toBe(P8_JSON)
    })

    it("P-11 v1 session: refresh_response_key may be absent", () => {
      const v1 = withoutField("refresh_response_key")
      const parsed = right(IdentityTokens.fromJsonString(v1))
      expect(parsed.refreshResponseKey).toBeUndefined()
      expect("refreshResponseKey" in parsed).toBe(false)
      expect(IdentityTokens.toJsonString(parsed)).toBe(v1)
      expect(IdentityTokens.toJsonString(parsed)).not.toContain("refresh_response_key")
    })

    it("printing an identity redacts the refresh token and key", () => {
      for (const text of [String(P8), JSON.stringify(P8), inspect(P8)]) {
        expect(text).toContain(ADVERTISING_TOKEN.slice(0, 20))
        expect(text).not.toContain(REFRESH_TOKEN.slice(0, 20))
        expect(text).not.toContain(REFRESH_RESPONSE_KEY)
        expect(text).toContain("<redacted>")
      }
    })

    it("isIdentityTokens", () => {
      expect(IdentityTokens.isIdentityTokens(P8)).toBe(true)
      expect(IdentityTokens.isIdentityTokens(JSON.parse(P8_JSON))).toBe(false)
      expect(IdentityTokens.isIdentityTokens(null)).toBe(false)
    })
  })

  describe("P-13 parse failures", () => {
    it("not JSON", () => {
      const e = left(IdentityTokens.fromJsonString("this is not a json string"))
      expect(e).toBeInstanceOf(IdentityTokens.InvalidIdentityJson)
      expect(e.reason).toBe("NotJson")
      expect(left(IdentityTokens.fromJsonString("")).reason).toBe("NotJson")
      expect(left(IdentityTokens.fromJsonString(P8_JSON.slice(0, -1))).reason).toBe("NotJson")
    })

    it("null / non-strings", () => {
      expect(left(IdentityTokens.fromJsonString(null as unknown as string)).reason).toBe("NotAString")
      expect(left(IdentityTokens.fromJsonString(42 as unknown as string)).reason).toBe("NotAString")
      expect(left(IdentityTokens.fromBody(null)).reason).toBe("NotAnObject")
      expect(left(IdentityTokens.fromBody(undefined)).reason).toBe("NotAnObject")
    })

    it("JSON that is not an object", () => {
      for (const s of ["null", "[]", "42", `"${P8_JSON.replace(/"/g, "\\\"")}"`, `[${P8_JSON}]`]) {
        expect(left(IdentityTokens.fromJsonString(s)).reason, s).toBe("NotAnObject")
      }
    })

    for (const field of REQUIRED) {
      it(`missing ${field}`, () => {
        const e = left(IdentityTokens.fromJsonString(withoutField(field)))
        expect(e.reason).toBe("MissingField")
        expect(e.field).toBe(field)
        expect(e.message).toBe(`invalid identity JSON: missing field "${field}"`)
        expect(left(IdentityTokens.fromBody(JSON.parse(withoutField(field)))).field).toBe(field)
      })
    }

    it("wrong field types, without echoing values", () => {
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["advertising_token", 1],
        ["refresh_token", null],
        ["identity_expires", "1668059799628"],
        ["refresh_expires", 1668142599628.5],
        ["refresh_from", null],
        ["refresh_response_key", 7],
        ["refresh_response_key", null]
      ]
      for (const [field, value] of cases) {
        const e = left(IdentityTokens.fromJsonString(withField(field, value)))
        expect(e.reason, field).toBe("InvalidField")
        expect(e.field, field).toBe(field)
        expect(e.message).not.toContain(REFRESH_TOKEN.slice(0, 20))
        expect(e.message).not.toContain(String(value))
      }
    })
  })

  describe("bounded input: session JSON may come from a cookie the user controls", () => {
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n)

    it("JSON nested 3,000 deep is TooDeep, not a RangeError", () => {
      for (const json of [deep(3000), `{"advertising_token":${deep(3000)}}`, `{"x":${deep(3000)},"a":1}`]) {
        const e = left(IdentityTokens.fromJsonString(json))
        expect(e.reason).toBe("TooDeep")
        expect(e.message).toBe(`invalid identity JSON: nested more than ${IdentityTokens.MAX_JSON_DEPTH} deep`)
      }
      expect(left(IdentityTokens.fromBody({ ...P8_BODY, x: JSON.parse(deep(3000)) })).reason).toBe("TooDeep")
    })

    it("nesting up to the limit is read", () => {
      const n = IdentityTokens.MAX_JSON_DEPTH - 1
      expect(right(IdentityTokens.fromJsonString(withField("x_extra", JSON.parse(deep(n))))).refreshFrom)
        .toBe(REFRESH_FROM)
      expect(left(IdentityTokens.fromJsonString(withField("x_extra", JSON.parse(deep(n + 1))))).reason)
        .toBe("TooDeep")
    })

    it("text longer than MAX_JSON_LENGTH is TooLong, valid or not, before it is parsed", () => {
      const padded = (n: number) => withField("user_token", "u".repeat(n))
      const fits = padded(IdentityTokens.MAX_JSON_LENGTH - padded(0).length)
      expect(fits.length).toBe(IdentityTokens.MAX_JSON_LENGTH)
      expect(right(IdentityTokens.fromJsonString(fits)).advertisingToken).toBe(ADVERTISING_TOKEN)
      const long = padded(IdentityTokens.MAX_JSON_LENGTH - padded(0).length + 1)
      expect(left(IdentityTokens.fromJsonString(long)).reason).toBe("TooLong")
      expect(left(IdentityTokens.fromJsonString("x".repeat(5_000_000))).reason).toBe("TooLong")
      // a body whose JSON would be too long is rejected before it is serialized
      expect(left(IdentityTokens.fromBody(JSON.parse(long))).reason).toBe("TooLong")
      expect(right(IdentityTokens.fromBody(JSON.parse(fits))).jsonString).toBe(fits)
    })

    it("bodies that are cyclic, shared to look small, or throw when read are typed errors", () => {
      const cyclic: Record<string, unknown> = { ...P8_BODY }
      cyclic["self"] = cyclic
      expect(left(IdentityTokens.fromBody(cyclic)).reason).toBe("TooDeep")
      // 2^40 paths through 40 shared arrays: JSON.stringify would never finish
      let shared: unknown = "x"
      for (let i = 0; i < 40; i++) shared = [shared, shared]
      expect(left(IdentityTokens.fromBody({ ...P8_BODY, shared })).reason).toBe("TooLong")
      const hostile = new Proxy({}, {
        ownKeys: () => {
          throw new Error("boom")
        }
      })
      expect(left(IdentityTokens.fromBody(hostile)).reason).toBe("NotJson")
      expect(left(IdentityTokens.fromBody({ ...P8_BODY, big: 1n })).reason).toBe("NotJson")
    })
  })

  describe("P-12 time predicates (ms, strict >)", () => {
    const SECOND = 1000

    it("around refresh_expires", () => {
      expect(IdentityTokens.isRefreshable(P8, REFRESH_EXPIRES - SECOND)).toBe(true)
      expect(IdentityTokens.isRefreshable(P8, REFRESH_EXPIRES)).toBe(true)
      expect(IdentityTokens.isRefreshable(P8, REFRESH_EXPIRES + 1)).toBe(false)
      expect(IdentityTokens.isRefreshable(P8, REFRESH_EXPIRES + SECOND)).toBe(false)
    })

    it("around refresh_from", () => {
      expect(IdentityTokens.isDueForRefresh(P8, REFRESH_FROM - SECOND)).toBe(false)
      expect(IdentityTokens.isDueForRefresh(P8, REFRESH_FROM)).toBe(false)
      expect(IdentityTokens.isDueForRefresh(P8, REFRESH_FROM + 1)).toBe(true)
      expect(IdentityTokens.isDueForRefresh(P8, REFRESH_FROM + SECOND)).toBe(true)
    })

    it("around identity_expires", () => {
      expect(IdentityTokens.hasIdentityExpired(P8, IDENTITY_EXPIRES - SECOND)).toBe(false)
      expect(IdentityTokens.hasIdentityExpired(P8, IDENTITY_EXPIRES)).toBe(false)
      expect(IdentityTokens.hasIdentityExpired(P8, IDENTITY_EXPIRES + SECOND)).toBe(true)
      expect(IdentityTokens.isDueForRefresh(P8, IDENTITY_EXPIRES + SECOND)).toBe(true)
    })

    it("an expired identity is due even before refresh_from", () => {
      const odd = identity(5_000_000, 2_000_000, 9_000_000)
      expect(IdentityTokens.isDueForRefresh(odd, 2_000_000)).toBe(false)
      expect(IdentityTokens.isDueForRefresh(odd, 2_000_000 + SECOND)).toBe(true)
    })

    it("data-last forms", () => {
      expect(pipe(P8, IdentityTokens.isRefreshable(REFRESH_EXPIRES))).toBe(true)
      expect(pipe(P8, IdentityTokens.isDueForRefresh(REFRESH_FROM + 1))).toBe(true)
      expect(pipe(P8, IdentityTokens.hasIdentityExpired(IDENTITY_EXPIRES))).toBe(false)
      expect(P8.pipe(IdentityTokens.sessionAction(REFRESH_FROM))).toBe("keep")
    })

    it("times are milliseconds, not seconds (the Python bug)", () => {
      const nowSeconds = Math.floor(REFRESH_FROM / 1000) + 60 // one minute after refresh_from, in seconds
      expect(IdentityTokens.isDueForRefresh(P8, nowSeconds * 1000)).toBe(true)
      expect(IdentityTokens.isDueForRefresh(P8, nowSeconds)).toBe(false) // seconds look like 1970
      const afterDeath = Math.floor(REFRESH_EXPIRES / 1000) + 60
      expect(IdentityTokens.isRefreshable(P8, afterDeath * 1000)).toBe(false)
    })

    it("the P-8 identity (2022) is dead today: not refreshable, due", () => {
      const now = Date.UTC(2026, 0, 1)
      expect(IdentityTokens.isRefreshable(P8, now)).toBe(false)
      expect(IdentityTokens.isDueForRefresh(P8, now)).toBe(true)
      expect(IdentityTokens.sessionAction(P8, now)).toBe("drop")
    })

    it("an empty refresh token is not refreshable", () => {
      const noToken = identity(1_000, 2_000, 3_000, "")
      expect(IdentityTokens.isRefreshable(noToken, 0)).toBe(false)
      expect(IdentityTokens.sessionAction(noToken, 0)).toBe("drop")
    })

    it("sessionAction: keep, refresh, drop", () => {
      expect(IdentityTokens.sessionAction(P8, REFRESH_FROM - SECOND)).toBe("keep")
      expect(IdentityTokens.sessionAction(P8, REFRESH_FROM)).toBe("keep")
      expect(IdentityTokens.sessionAction(P8, REFRESH_FROM + SECOND)).toBe("refresh")
      expect(IdentityTokens.sessionAction(P8, IDENTITY_EXPIRES + SECOND)).toBe("refresh")
      expect(IdentityTokens.sessionAction(P8, REFRESH_EXPIRES)).toBe("refresh")
      expect(IdentityTokens.sessionAction(P8, REFRESH_EXPIRES + SECOND)).toBe("drop")
    })
  })

  describe("Clock-based twins (TestClock)", () => {
    it.effect("read Clock.currentTimeMillis", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(REFRESH_FROM - 1000)
        expect(yield* IdentityTokens.sessionActionNow(P8)).toBe("keep")
        expect(yield* IdentityTokens.isDueForRefreshNow(P8)).toBe(false)
        expect(yield* IdentityTokens.hasIdentityExpiredNow(P8)).toBe(false)
        expect(yield* IdentityTokens.isRefreshableNow(P8)).toBe(true)

        yield* TestClock.setTime(REFRESH_FROM)
        expect(yield* IdentityTokens.isDueForRefreshNow(P8)).toBe(false)

        yield* TestClock.adjust("1 second")
        expect(yield* IdentityTokens.isDueForRefreshNow(P8)).toBe(true)
        expect(yield* IdentityTokens.sessionActionNow(P8)).toBe("refresh")

        yield* TestClock.setTime(IDENTITY_EXPIRES + 1000)
        expect(yield* IdentityTokens.hasIdentityExpiredNow(P8)).toBe(true)

        yield* TestClock.setTime(REFRESH_EXPIRES)
        expect(yield* IdentityTokens.isRefreshableNow(P8)).toBe(true)
        expect(yield* IdentityTokens.sessionActionNow(P8)).toBe("refresh")

        yield* TestClock.adjust("1 second")
        expect(yield* IdentityTokens.isRefreshableNow(P8)).toBe(false)
        expect(yield* IdentityTokens.sessionActionNow(P8)).toBe("drop")
      }))

    it.effect("TestClock at 0 (1970): a fresh identity is kept", () =>
      Effect.gen(function*() {
        expect(yield* IdentityTokens.sessionActionNow(P8)).toBe("keep")
      }))
  })

  describe("properties", () => {
    const times = FastCheck.tuple(
      FastCheck.integer({ min: 0, max: 4e12 }),
      FastCheck.integer({ min: 0, max: 4e12 }),
      FastCheck.integer({ min: 0, max: 4e12 })
    )

    it.prop("session action never goes back (keep → refresh → drop) as time passes", [
      times,
      FastCheck.array(FastCheck.integer({ min: 0, max: 4e12 }), { minLength: 2, maxLength: 8 })
    ], ([[from, expires, refreshExpires], nows]) => {
      const id = identity(from, expires, refreshExpires)
      const rank = { keep: 0, refresh: 1, drop: 2 } as const
      const ranks = [...nows, from, from + 1, expires, expires + 1, refreshExpires, refreshExpires + 1]
        .sort((a, b) => a - b)
        .map((now) => rank[IdentityTokens.sessionAction(id, now)])
      for (let i = 1; i < ranks.length; i++) expect(ranks[i]!).toBeGreaterThanOrEqual(ranks[i - 1]!)
      expect(IdentityTokens.sessionAction(id, refreshExpires)).not.toBe("drop")
      expect(IdentityTokens.sessionAction(id, refreshExpires + 1)).toBe("drop")
      const earliest = Math.min(from, expires)
      expect(IdentityTokens.sessionAction(id, earliest)).toBe(refreshExpires >= earliest ? "keep" : "drop")
    })

    it.prop("fromBody → toJsonString → fromJsonString round-trips, unknown fields kept", [
      times,
      FastCheck.string16bits({ maxLength: 20 }),
      FastCheck.string16bits({ maxLength: 20 }),
      FastCheck.option(FastCheck.string16bits({ maxLength: 20 }), { nil: undefined }),
      FastCheck.dictionary(FastCheck.string({ minLength: 1, maxLength: 8 }).map((k) => `x_${k}`), FastCheck.jsonValue())
    ], ([[from, expires, refreshExpires], at, rt, key, extra]) => {
      const body: Record<string, unknown> = {
        ...extra,
        advertising_token: at,
        refresh_token: rt,
        identity_expires: expires,
        refresh_expires: refreshExpires,
        refresh_from: from,
        ...(key === undefined ? {} : { refresh_response_key: key })
      }
      const id = right(IdentityTokens.fromBody(body))
      const text = IdentityTokens.toJsonString(id)
      expect(text).toBe(JSON.stringify(body))
      const again = right(IdentityTokens.fromJsonString(text))
      expect(IdentityTokens.toJsonString(again)).toBe(text)
      expect([again.advertisingToken, again.refreshToken, again.refreshFrom, again.refreshResponseKey])
        .toEqual([at, rt, from, key])
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(body)))
    })

    it.prop("fromJsonString never throws: arbitrary text is a typed Left or an identity", [
      FastCheck.oneof(
        FastCheck.string16bits({ maxLength: 40 }),
        FastCheck.json(),
        FastCheck.jsonValue().map((v) => JSON.stringify(v))
      )
    ], ([s]) => {
      const r = IdentityTokens.fromJsonString(s)
      if (Either.isLeft(r)) expect(r.left).toBeInstanceOf(IdentityTokens.InvalidIdentityJson)
      else expect(IdentityTokens.toJsonString(r.right)).toBe(s)
    }, { fastCheck: { numRuns: 500 } })
  })
})
