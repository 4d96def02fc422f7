import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Base64 from "../src/internal/base64.js"
import * as KeyRing from "../src/KeyRing.js"
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

describe("key JSON parsing (keys.md, conformance §4)", () => {
  it("K-1: parses the sharing response", () => {
    const ring = ok(K1)
    const now = 1700000000000
    expect(ring.callerSiteId).toBe(11)
    expect(ring.tokenExpirySeconds).toBe(1728000)
    expect(ring.identityScope).toBe("UID2")
    expect(ring.activeMasterKey(now)?.id).toBe(2)
    expect(ring.activeDefaultKey(now)?.id).toBe(3)
    const k3 = ring.keyById(3)!
    expect([k3.keysetId, k3.created, k3.activates, k3.expires]).toEqual([99999, 1609459200000, 1609459210000, 1893456000000])
    expect(Base64.encode(Redacted.value(k3.secret))).toBe("o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo=")
    const k2 = ring.keyById(2)!
    expect([k2.keysetId, k2.created, k2.activates, k2.expires]).toEqual([1, 1609458200000, 1609459220000, 1893457000000])
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
    const key = `{"id":"5","keyset_id":"7","created":"1","activates":"2","expires":"4102444800","secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="}`
    const s = ok(`{"body":{"caller_site_id":"1","master_keyset_id":"400","default_keyset_id":"100","token_expiry_seconds":"1728000","allow_clock_skew_seconds":"300","max_sharing_lifetime_seconds":"200","keys":[${key}]}}`)
    expect([s.callerSiteId, s.masterKeysetId, s.defaultKeysetId, s.tokenExpirySeconds, s.allowClockSkewSeconds, s.maxSharingLifetimeSeconds])
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
    const ring = ok(`{"body":{"unexpected_header_field":1,"keys":[{"id":1,"unexpected_key_field":"x","activates":1,"expires":4102444800,"secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="}],"site_data":[{"id":9,"domain_names":["example.com"],"unexpected_domain_field":true}]}}`)
    expect(ring.keyById(1)).toBeDefined()
    expect(ring.isDomainOrAppNameAllowed(9, "example.com")).toBe(true)
  })

  it("legacy array body: indexed by site id, master keys (site −1) never a site's key", () => {
    const ring = ok(`{"body":[{"id":1,"site_id":-1,"activates":1,"expires":4102444800,"secret":"o8HsvkwJ5Ulnrd0uui3GpukpwDapj+JLqb7qfN/GJKo="},{"id":2,"site_id":5,"activates":1,"expires":4102444800,"secret":"DD67xF8OFmbJ1/lMPQ6fGRDbJOT4kXErrYWcKdFfCUE="}]}`)
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

describe("key ring semantics (keys.md §6)", () => {
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
    expect([-2, -1, 0, 2, 3].map((d) => ring.activeKeyOfSite(200, now + d * DAY)?.id)).toEqual([undefined, 122, 122, 122, undefined])
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
    const ring = ok(`{"body":{"keys":${keys},"site_data":[{"id":9,"domain_names":["example.com"]},{"id":100,"domain_names":["example.org","example.net"]}]}}`)
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
