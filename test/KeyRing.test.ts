import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Base64 from "../src/internal/base64.js"
import * as KeyRing from "../src/KeyRing.js"
import * as Arb from "../src/testing/Arbitraries.js"
import { keyRing, secretFor } from "../src/testing/Builders.js"

const DAY = 86_400_000
const parse = (json: string) => KeyRing.fromJson(json)
const ok = (json: string) => Either.getOrThrow(parse(json))

const K1 = `{ "body": { "identity_scope": "UID2", "caller_site_id": 11, "master_keyset_id": 1,
  "default_keyset_id": 99999, "token_expiry_seconds": 1728000,
  "keys": [
    { "id": 3, "keyset_id": 99999, "created": 1609459200, "activates": 1609459210,
      "expires": 1893456000, "secret": "o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo=" },
    { "id": 2, "keyset_id": 1, "created": 1609458200, "activates": 1609459220,
      "expires": 1893457000, "secret": "DD67xF8OFmbJ1/lMPQ6fGRDbJOT4kXErrYWcKdFfCUE=" } ] },
  "status": "success" }`

describe("key JSON parsing (vectors K-1…K-3, K-9, K-10)", () => {
  it("K-1: parses the sharing response", () => {
    const ring = ok(K1)
    const now = 1700000000000
    expect(ring.callerSiteId).toBe(11)
    expect(ring.tokenExpirySeconds).toBe(1728000)
    expect(ring.identityScope).toBe("UID2")
    expect(ring.activeMasterKey(now)?.id).toBe(2)
    expect(ring.activeDefaultKey(now)?.id).toBe(3)
    const k3 = ring.keyById(3)!
    expect([k3.keysetId, k3.created, k3.activates, k3.expires]).toEqual([
      99999,
      1609459200000,
      1609459210000,
      1893456000000
    ])
    expect(Base64.encode(Redacted.value(k3.secret))).toBe("o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo=")
    const k2 = ring.keyById(2)!
    expect([k2.keysetId, k2.created, k2.activates, k2.expires]).toEqual([
      1,
      1609458200000,
      1609459220000,
      1893457000000
    ])
    expect(ring.maxSharingLifetimeSeconds).toBeUndefined()
    expect(ring.allowClockSkewSeconds).toBe(1800)
  })

  it("K-2: malformed bodies fail with a typed error naming the field", () => {
    const cases: Array<[string, string]> = [
      [`{"status": "error"}`, "body"],
      [`{"body": "error"}`, "body"],
      [`{"body": [1, 2, 3]}`, "body[0]"],
      [`{"body": [{}]}`, "body[0].id"],
      [`{"body": [{"id": "test"}]}`, "body[0].id"],
      [`{"body": [{"id": 5}]}`, "body[0].activates"],
      [`{"body": {"site_data": 123}}`, "body.keys"],
      [`{"body": {"site_data": {}}}`, "body.keys"],
      [`{"body": {"site_data": [{}]}}`, "body.keys"],
      [`not json`, "$"]
    ]
    for (const [json, path] of cases) {
      const result = parse(json)
      expect(Either.isLeft(result), json).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("KeyRingParseError")
        expect(result.left.path, json).toBe(path)
      }
    }
  })

  it("never echoes a secret in a parse error", () => {
    const secret = "o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJ"
    const result = parse(`{"body":{"keys":[{"id":1,"activates":1,"expires":2,"secret":"${secret}"}]}}`)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.path).toBe("body.keys[0].secret")
      expect(result.left.message).not.toContain(secret)
      expect(JSON.stringify(result.left)).not.toContain(secret)
    }
  })

  it("K-3 / K-10: numbers as strings, null and missing fields", () => {
    const key =
      `{"id":"5","keyset_id":"7","created":"1","activates":"2","expires":"4102444800","secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="}`
    const s = ok(
      `{"body":{"caller_site_id":"1","master_keyset_id":"400","default_keyset_id":"100","token_expiry_seconds":"1728000","allow_clock_skew_seconds":"300","max_sharing_lifetime_seconds":"200","keys":[${key}]}}`
    )
    expect([
      s.callerSiteId,
      s.masterKeysetId,
      s.defaultKeysetId,
      s.tokenExpirySeconds,
      s.allowClockSkewSeconds,
      s.maxSharingLifetimeSeconds
    ])
      .toEqual([1, 400, 100, 1728000, 300, 200])
    expect(s.keyById(5)?.keysetId).toBe(7)
    expect(ok(`{"body":{"token_expiry_seconds":null,"keys":[]}}`).tokenExpirySeconds).toBe(2592000)
    expect(ok(`{"body":{"keys":[]}}`).tokenExpirySeconds).toBe(2592000)
    expect(ok(`{"body":{"default_keyset_id":"","keys":[]}}`).defaultKeysetId).toBeUndefined()
    expect(ok(`{"body":{"identity_scope":"EUID","keys":[]}}`).identityScope).toBe("EUID")
    expect(ok(`{"body":{"identity_scope":"other","keys":[]}}`).identityScope).toBe("UID2")
    expect(Either.isLeft(parse(`{"body":{"caller_site_id":"abc","keys":[]}}`))).toBe(true)
  })

  it("K-9: unknown fields are ignored", () => {
    const ring = ok(
      `{"body":{"unexpected_header_field":1,"keys":[{"id":1,"unexpected_key_field":"x","activates":1,"expires":4102444800,"secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="}],"site_data":[{"id":9,"domain_names":["example.com"],"unexpected_domain_field":true}]}}`
    )
    expect(ring.keyById(1)).toBeDefined()
    expect(ring.isDomainOrAppNameAllowed(9, "example.com")).toBe(true)
  })

  it("legacy array body: indexed by site id, master keys (site −1) never a site's key", () => {
    const ring = ok(
      `{"body":[{"id":1,"site_id":-1,"activates":1,"expires":4102444800,"secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="},{"id":2,"site_id":5,"activates":1,"expires":4102444800,"secret":"DD67xF8OFmbJ1/lMPQ6fGRDbJOT4kXErrYWcKdFfCUE="}]}`
    )
    expect(ring.legacy).toBe(true)
    expect(ring.activeKeyOfSite(5, 1700000000000)?.id).toBe(2)
    expect(ring.activeKeyOfSite(-1, 1700000000000)).toBeUndefined()
    expect(ring.keyById(1)?.siteId).toBe(-1)
  })

  it("secrets print as <redacted>", () => {
    const ring = ok(K1)
    const key = ring.keyById(3)!
    expect(String(key.secret)).toBe("<redacted>")
    expect(JSON.stringify(key.secret)).not.toContain("o8Hs")
  })

  it("toBody round-trips", () => {
    const ring = ok(K1)
    const again = Either.getOrThrow(KeyRing.fromBody(KeyRing.toBody(ring)))
    expect(KeyRing.toBody(again)).toEqual(KeyRing.toBody(ring))
    expect(again.keys.map((k) => k.id)).toEqual([3, 2])
  })
})

const SECRET = "o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="
const fail = (result: Either.Either<KeyRing.KeyRing, KeyRing.KeyRingParseError>) => {
  if (Either.isRight(result)) throw new Error("expected a KeyRingParseError")
  expect(result.left._tag).toBe("KeyRingParseError")
  return result.left
}

describe("bounded input (issue: one shape for every client)", () => {
  it("an authenticated key response nested 3,000 deep (6 KB) is a typed error, not a RangeError", () => {
    const deep = "[".repeat(3000) + "]".repeat(3000)
    for (
      const json of [`{"body":[${deep}]}`, `{"body":{"keys":${deep}}}`, `{"body":{"caller_site_id":${deep},"keys":[]}}`]
    ) {
      const error = fail(parse(json))
      expect(error.path).toBe("$")
      expect(error.detail).toBe(`nests arrays and objects more than ${KeyRing.MAX_JSON_DEPTH} deep`)
    }
    // the same values already parsed, through fromBody and fromResponse
    const body = JSON.parse(`[${deep}]`) as unknown
    expect(fail(KeyRing.fromBody(body)).path).toBe("body")
    expect(fail(KeyRing.fromResponse({ body: { keys: [{ id: JSON.parse(deep) }] } })).detail).toContain("deep")
  })

  it("nesting up to the limit is read; one more level is not", () => {
    const nested = (n: number) => "[".repeat(n) + "]".repeat(n)
    // body, keys: 2 levels; the unknown field adds the rest
    const atLimit = `{"body":{"keys":[],"extra":${nested(KeyRing.MAX_JSON_DEPTH - 2)}}}`
    const beyond = `{"body":{"keys":[],"extra":${nested(KeyRing.MAX_JSON_DEPTH - 1)}}}`
    expect(Either.isRight(parse(atLimit))).toBe(true)
    expect(fail(parse(beyond)).detail).toContain("deep")
  })

  it("text longer than MAX_JSON_LENGTH is rejected before it is parsed", () => {
    const padding = " ".repeat(KeyRing.MAX_JSON_LENGTH)
    expect(fail(parse(`{"body":{"keys":[]}}${padding}`)).detail).toBe(
      `is longer than ${KeyRing.MAX_JSON_LENGTH} characters`
    )
    expect(Either.isRight(parse(`{"body":{"keys":[]}}${padding.slice(20)}`))).toBe(true)
  })

  it("values that are cyclic, or throw when read, are typed errors", () => {
    const cyclic: Record<string, unknown> = { keys: [] }
    cyclic["self"] = cyclic
    expect(fail(KeyRing.fromBody(cyclic)).detail).toContain("deep")
    const hostile = new Proxy({}, {
      ownKeys: () => {
        throw new Error("boom")
      },
      get: () => {
        throw new Error("boom")
      }
    })
    expect(fail(KeyRing.fromBody(hostile)).path).toBe("body")
    expect(fail(KeyRing.fromResponse({ body: hostile })).path).toBe("body")
    expect(fail(KeyRing.fromJson(42 as unknown as string)).path).toBe("$")
  })
})

describe("integers as the operator writes them", () => {
  const key = (id: unknown, extra: Record<string, unknown> = {}) => ({
    id,
    activates: 1,
    expires: 4102444800,
    secret: SECRET,
    ...extra
  })
  const rejected = ["0x10", " 12 ", "1e3", "-0", "+5", "1.5", "12a", "", "٣", "9007199254740993", "00", "012"]

  it("key ids: JSON integers and decimal digit strings only", () => {
    for (const text of rejected) {
      const error = fail(KeyRing.fromBody({ keys: [key(text)] }))
      expect(error.path, text).toBe("body.keys[0].id")
      expect(error.detail, text).toBe("expected a non-negative integer or a string of decimal digits")
    }
    for (const n of [-1, -0, 1.5, 2 ** 53, Number.NaN]) {
      expect(fail(KeyRing.fromBody({ keys: [key(n)] })).path, String(n)).toBe("body.keys[0].id")
    }
    for (const [wire, id] of [["0", 0], ["12", 12], [12, 12], ["9007199254740991", 2 ** 53 - 1]] as const) {
      const ring = Either.getOrThrow(KeyRing.fromBody({ keys: [key(wire)] }))
      expect(ring.keys[0]!.id).toBe(id)
    }
  })

  it("header settings and key times: the same rule; \"\", null and absent mean unset", () => {
    for (const field of ["caller_site_id", "default_keyset_id", "token_expiry_seconds", "allow_clock_skew_seconds"]) {
      for (const text of rejected.filter((t) => t !== "")) {
        expect(fail(KeyRing.fromBody({ [field]: text, keys: [] })).path, `${field} ${text}`).toBe(`body.${field}`)
      }
      expect(fail(KeyRing.fromBody({ [field]: -5, keys: [] })).path).toBe(`body.${field}`)
    }
    for (const field of ["activates", "expires", "created", "keyset_id"]) {
      for (const text of [...rejected.filter((t) => t !== ""), "-1"]) {
        expect(fail(KeyRing.fromBody({ keys: [key(1, { [field]: text })] })).path, `${field} ${text}`).toBe(
          `body.keys[0].${field}`
        )
      }
    }
    const ring = Either.getOrThrow(KeyRing.fromBody({ caller_site_id: "", default_keyset_id: null, keys: [] }))
    expect([ring.callerSiteId, ring.defaultKeysetId]).toEqual([undefined, undefined])
  })

  it("site_id may be negative (legacy master keys are −1), as a number or digits", () => {
    for (const siteId of [-1, "-1", "-12", 5, "5"]) {
      const ring = Either.getOrThrow(KeyRing.fromBody([key(1, { site_id: siteId })]))
      expect(ring.keys[0]!.siteId).toBe(Number(siteId))
    }
    for (const text of ["-0", "- 1", "--1", "-01", "+1"]) {
      expect(fail(KeyRing.fromBody([key(1, { site_id: text })])).path, text).toBe("body[0].site_id")
    }
  })

  it("times whose milliseconds are not safe integers are rejected", () => {
    const max = Math.floor(Number.MAX_SAFE_INTEGER / 1000)
    expect(Either.isRight(KeyRing.fromBody({ keys: [key(1, { expires: max })] }))).toBe(true)
    expect(fail(KeyRing.fromBody({ keys: [key(1, { expires: max + 1 })] })).path).toBe("body.keys[0].expires")
  })
})

// Everything a ring holds, in a comparable form.
const view = (ring: KeyRing.KeyRing) => ({
  legacy: ring.legacy,
  settings: [
    ring.callerSiteId,
    ring.masterKeysetId,
    ring.defaultKeysetId,
    ring.tokenExpirySeconds,
    ring.identityScope,
    ring.maxBidstreamLifetimeSeconds,
    ring.maxSharingLifetimeSeconds,
    ring.allowClockSkewSeconds
  ],
  latestKeyExpiry: ring.latestKeyExpiry,
  keys: ring.keys.map((k) => [
    k.id,
    k.keysetId,
    k.siteId,
    k.created,
    k.activates,
    k.expires,
    Base64.encode(Redacted.value(k.secret))
  ]),
  sites: Array.from(ring.sites, ([id, names]) => [id, Array.from(names)])
})

// The legacy array format carries keys only, so a legacy ring has every default setting.
const asLegacy = (ring: KeyRing.KeyRing) =>
  new KeyRing.KeyRing(
    ring.keys,
    {
      callerSiteId: undefined,
      masterKeysetId: undefined,
      defaultKeysetId: undefined,
      tokenExpirySeconds: 2_592_000,
      identityScope: "UID2",
      maxBidstreamLifetimeSeconds: undefined,
      maxSharingLifetimeSeconds: undefined,
      allowClockSkewSeconds: 1_800
    },
    new Map(),
    true
  )

describe("the wire format is one Schema (KeyRingFromBody)", () => {
  const rings = FastCheck.oneof(
    Arb.keyRing().map((sample) => sample.ring),
    Arb.keyRing({ kinds: ["legacy"] }).map((sample) => asLegacy(sample.ring))
  )

  it.prop("decode(encode(ring)) reproduces the ring exactly", [rings], ([ring]) => {
    const body = Schema.encodeSync(KeyRing.KeyRingFromBody)(ring)
    const again = Schema.decodeUnknownSync(KeyRing.KeyRingFromBody)(body)
    expect(view(again)).toEqual(view(ring))
    expect(Array.isArray(body)).toBe(ring.legacy)
    // the helpers are the same Schema
    expect(KeyRing.toBody(ring)).toEqual(body)
    expect(view(Either.getOrThrow(KeyRing.fromBody(body)))).toEqual(view(ring))
    expect(view(Either.getOrThrow(KeyRing.fromBodyJson(KeyRing.toBodyJson(ring))))).toEqual(view(ring))
    const text = Schema.encodeSync(KeyRing.KeyRingFromBodyJson)(ring)
    expect(view(Schema.decodeUnknownSync(KeyRing.KeyRingFromBodyJson)(text))).toEqual(view(ring))
  }, { fastCheck: { numRuns: 150 } })

  it("encodes the operator's format: snake_case, seconds, Base64 secrets, every header field, site_data", () => {
    const now = 1_700_000_000_000
    const ring = keyRing({
      keys: [
        {
          id: 7,
          keysetId: 99999,
          created: now - 5_000,
          activates: now,
          expires: now + 86_400_000,
          secret: secretFor(7)
        }
      ],
      identityScope: "EUID",
      callerSiteId: 9000,
      masterKeysetId: 1,
      defaultKeysetId: 99999,
      tokenExpirySeconds: 1_728_000,
      maxBidstreamLifetimeSeconds: 259_210,
      maxSharingLifetimeSeconds: 2_592_010,
      allowClockSkewSeconds: 300,
      sites: { 9000: ["example.com", "com.example.app"] }
    })
    expect(KeyRing.toBody(ring)).toEqual({
      caller_site_id: 9000,
      master_keyset_id: 1,
      default_keyset_id: 99999,
      token_expiry_seconds: 1_728_000,
      max_sharing_lifetime_seconds: 2_592_010,
      max_bidstream_lifetime_seconds: 259_210,
      identity_scope: "EUID",
      allow_clock_skew_seconds: 300,
      keys: [{
        id: 7,
        keyset_id: 99999,
        created: 1_699_999_995,
        activates: 1_700_000_000,
        expires: 1_700_086_400,
        secret: Base64.encode(secretFor(7))
      }],
      site_data: [{ id: 9000, domain_names: ["example.com", "com.example.app"] }]
    })
    const legacy = Either.getOrThrow(
      KeyRing.fromBody([{ id: 1, site_id: -1, activates: 1, expires: 2, secret: SECRET }])
    )
    expect(KeyRing.toBody(legacy)).toEqual([{
      id: 1,
      site_id: -1,
      created: 1,
      activates: 1,
      expires: 2,
      secret: SECRET
    }])
  })

  it("a ring the format cannot carry fails to encode with a ParseError (a programming error)", () => {
    const bad = keyRing({ keys: [{ id: 1, keysetId: -3, activates: 0, expires: 1000, secret: secretFor(1) }] })
    expect(Either.isLeft(Schema.encodeEither(KeyRing.KeyRingFromBody)(bad))).toBe(true)
    expect(() => KeyRing.toBody(bad)).toThrow()
    expect(Either.isLeft(Schema.encodeEither(KeyRing.KeyRingFromBody)("not a ring" as never))).toBe(true)
  })

  it("decode failures through the Schema never print a secret", () => {
    const secret = SECRET.slice(0, 40)
    const result = Schema.decodeUnknownEither(KeyRing.KeyRingFromBody)({
      keys: [{ id: 1, activates: 1, expires: 2, secret }]
    })
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left.message).toContain("expected standard Base64 of 32 bytes")
      expect(result.left.message).not.toContain(secret)
    }
    const text = Schema.decodeUnknownEither(KeyRing.KeyRingFromBodyJson)(`{"keys":[{"secret":"${SECRET}"`)
    expect(Either.isLeft(text) && !text.left.message.includes(SECRET)).toBe(true)
  })
})

describe("key ring semantics: activity, active keys, validity, site data", () => {
  it("K-4: key activity boundaries", () => {
    const activates = Date.UTC(2021, 2, 22)
    const expires = Date.UTC(2021, 5, 29)
    const ring = keyRing({ keys: [{ id: 1, activates, expires, secret: secretFor(1) }] })
    const key = ring.keyById(1)!
    expect(key.isActive(activates - 1000)).toBe(false)
    expect(key.isActive(activates)).toBe(true)
    expect(key.isActive(activates + 1000)).toBe(true)
    expect(key.isActive(expires - 1000)).toBe(true)
    expect(key.isActive(expires)).toBe(false)
    expect(key.isActive(expires + 1000)).toBe(false)
  })

  it("K-5: active key selection (worked example)", () => {
    const now = 1700000000000
    const ring = keyRing({
      keys: [
        { id: 123, siteId: 201, activates: now - 5 * DAY, expires: now + 3 * DAY, secret: secretFor(123) },
        { id: 124, siteId: 201, activates: now - 2 * DAY, expires: now + 3 * DAY, secret: secretFor(124) },
        { id: 125, siteId: 201, activates: now - 4 * DAY, expires: now + 3 * DAY, secret: secretFor(125) },
        { id: 126, siteId: 201, activates: now - 4 * DAY, expires: now + 7 * DAY, secret: secretFor(126) }
      ]
    })
    const at = (d: number) => ring.activeKeyOfSite(201, now + d * DAY)?.id
    expect([at(-6), at(-5), at(-4), at(-2), at(0), at(3), at(7), at(8)])
      .toEqual([undefined, 123, 126, 124, 124, 126, undefined, undefined])
  })

  it("K-5: per-site and expired keys", () => {
    const now = 1700000000000
    const ring = keyRing({
      keys: [
        { id: 122, siteId: 200, activates: now - DAY, expires: now + 3 * DAY, secret: secretFor(122) },
        { id: 123, siteId: 201, activates: now - 4 * DAY, expires: now - 3 * DAY, secret: secretFor(123) },
        { id: 124, siteId: 202, activates: now, expires: now + DAY, secret: secretFor(124) },
        { id: 125, siteId: -1, activates: now - DAY, expires: now + DAY, secret: secretFor(125) }
      ]
    })
    expect(ring.activeKeyOfSite(201, now)).toBeUndefined()
    expect(ring.activeKeyOfSite(201, now - 4 * DAY)?.id).toBe(123)
    expect(ring.activeKeyOfSite(202, now)?.id).toBe(124)
    expect(ring.activeKeyOfSite(202, now - 4 * DAY)).toBeUndefined()
    expect(ring.activeKeyOfSite(203, now)).toBeUndefined()
    expect(ring.activeKeyOfSite(-1, now)).toBeUndefined()
    expect([-2, -1, 0, 2, 3].map((d) => ring.activeKeyOfSite(200, now + d * DAY)?.id)).toEqual([
      undefined,
      122,
      122,
      122,
      undefined
    ])
  })

  it("K-6: container validity is strict at the latest expiry; empty is invalid", () => {
    const now = 1700000000000
    const ring = keyRing({
      keys: [
        { id: 1, activates: now - 10 * DAY, expires: now - 3 * DAY, secret: secretFor(1) },
        { id: 2, activates: now - 10 * DAY, expires: now - DAY, secret: secretFor(2) }
      ]
    })
    expect([ring.isValid(now - 9 * DAY), ring.isValid(now - 2 * DAY), ring.isValid(now - DAY), ring.isValid(now)])
      .toEqual([true, true, false, false])
    expect(keyRing({ keys: [] }).isValid(now)).toBe(false)
  })

  it("K-7 / K-8: site_data lookups", () => {
    const secret = "o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="
    const keys = `[{"id":1,"activates":1,"expires":4102444800,"secret":"${secret}"}]`
    for (const siteData of ["", `,"site_data":[]`, `,"site_data":123`, `,"site_data":[{}]`]) {
      const ring = ok(`{"body":{"keys":${keys}${siteData}}}`)
      expect(ring.keyById(1)).toBeDefined()
      expect(ring.isDomainOrAppNameAllowed(1, "example.com")).toBe(false)
      expect(ring.isDomainOrAppNameAllowed(1, null)).toBe(false)
    }
    const ring = ok(
      `{"body":{"keys":${keys},"site_data":[{"id":9,"domain_names":["example.com"]},{"id":100,"domain_names":["example.org","example.net"]}]}}`
    )
    expect(ring.isDomainOrAppNameAllowed(9, "example.com")).toBe(true)
    expect(ring.isDomainOrAppNameAllowed(9, "example.org")).toBe(false)
    expect(ring.isDomainOrAppNameAllowed(100, "example.org")).toBe(true)
    expect(ring.isDomainOrAppNameAllowed(100, "example.net")).toBe(true)
    expect(ring.isDomainOrAppNameAllowed(100, undefined)).toBe(false)
  })

  it("keysets are sorted by activation and the newest active key wins", () => {
    const now = 1700000000000
    const ring = keyRing({
      masterKeysetId: 1,
      keys: [
        { id: 3, keysetId: 1, activates: now + DAY, expires: now + 5 * DAY, secret: secretFor(3) },
        { id: 2, keysetId: 1, activates: now - DAY, expires: now + 5 * DAY, secret: secretFor(2) },
        { id: 1, keysetId: 1, activates: now - 2 * DAY, expires: now + 5 * DAY, secret: secretFor(1) }
      ]
    })
    expect(ring.activeMasterKey(now)?.id).toBe(2)
    expect(ring.activeMasterKey(now + DAY)?.id).toBe(3)
    expect(ring.activeMasterKey(now - 1.5 * DAY)?.id).toBe(1)
  })
})
