// Identity map client: the reference response vectors M-1…M-4 and the local
// rules (preparation, request shape, response checks, re-mapping), over a transport
// that records what the client sends and answers the vector's decrypted JSON.
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as Crypto from "../src/Crypto.js"
import * as HttpTransport from "../src/HttpTransport.js"
import * as IdentityMap from "../src/IdentityMap.js"
import { OperatorRejected } from "../src/TransportError.js"

const sha256b64 = (s: string) => createHash("sha256").update(s).digest("base64")
const at = (iso: string) => DateTime.unsafeMake(iso)
const seconds = (iso: string) => Date.parse(iso) / 1000

interface Sent {
  readonly path: string
  readonly json: any
  readonly binary: boolean
}

/** A transport that records each request and answers with `answer(json)` (a JSON value or a failure). */
const recording = (answer: (request: any, n: number) => unknown | OperatorRejected) => {
  const sent: Array<Sent> = []
  const transport = HttpTransport.HttpTransport.of({
    post: (path, payload, options) =>
      Effect.suspend(() => {
        const json = JSON.parse(new TextDecoder().decode(payload))
        sent.push({ path, json, binary: options?.binary === true })
        const reply = answer(json, sent.length)
        return reply instanceof OperatorRejected ? Effect.fail(reply) : Effect.succeed(JSON.stringify(reply))
      }),
    postRaw: () => Effect.die("not used")
  })
  const layer = Layer.effect(IdentityMap.IdentityMapClient, IdentityMap.make()).pipe(
    Layer.provide(Layer.succeed(HttpTransport.HttpTransport, transport)),
    Layer.provide(Crypto.layerNode)
  )
  return { sent, layer }
}

const withClient = <A, E>(
  layer: Layer.Layer<IdentityMap.IdentityMapClient>,
  f: (client: IdentityMap.IdentityMapClientShape) => Effect.Effect<A, E>
) => Effect.provide(Effect.flatMap(IdentityMap.IdentityMapClient, f), layer)

const mapping = (u: string, p: string, iso: string) => ({ u, p, r: seconds(iso) })

describe("identity map v3 vectors (M-1…M-4)", () => {
  it.effect("M-1: mixed inputs, one request, results keyed by the original strings", () => {
    const { layer, sent } = recording(() => ({
      status: "success",
      body: {
        email_hash: [
          mapping("email 1 current uid", "email 1 previous uid", "2025-01-01T00:00:01Z"),
          mapping("email 2 current uid", "email 2 previous uid", "2025-06-30T00:00:20Z"),
          mapping("hashed email 1 current uid", "hashed email 1 previous uid", "2025-01-01T00:00:33Z"),
          mapping("hashed email 2 current uid", "hashed email 2 previous uid", "2025-06-30T00:00:00Z")
        ],
        phone_hash: [
          mapping("phone 1 current uid", "phone 1 previous uid", "2025-01-01T00:05:00Z"),
          mapping("phone 2 current uid", "phone 2 previous uid", "2025-06-30T00:00:22Z"),
          mapping("hashed phone 1 current uid", "hashed phone 1 previous uid", "2025-01-01T00:00:11Z"),
          mapping("hashed phone 2 current uid", "hashed phone 2 previous uid", "2025-06-30T00:00:01Z")
        ]
      }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([
          IdentityMap.email("email1@example.com"),
          IdentityMap.email("email2@example.com"),
          IdentityMap.emailHash("email 1 hash"),
          IdentityMap.emailHash("email 2 hash"),
          IdentityMap.phone("+1234567890"),
          IdentityMap.phone("+0987654321"),
          IdentityMap.phoneHash("phone 1 hash"),
          IdentityMap.phoneHash("phone 2 hash")
        ])
        // emails added before hashed emails produce the first entries of email_hash; hashes go verbatim
        expect(sent).toEqual([{
          path: "/v3/identity/map",
          binary: true,
          json: {
            email_hash: [
              sha256b64("email1@example.com"),
              sha256b64("email2@example.com"),
              "email 1 hash",
              "email 2 hash"
            ],
            phone_hash: [sha256b64("+1234567890"), sha256b64("+0987654321"), "phone 1 hash", "phone 2 hash"]
          }
        }])
        expect(response.mapped.size).toBe(8)
        expect(response.unmapped.size + response.invalid.size + response.failed.size).toBe(0)
        const expected: Array<[string, string, string]> = [
          ["email1@example.com", "email 1", "2025-01-01T00:00:01Z"],
          ["email2@example.com", "email 2", "2025-06-30T00:00:20Z"],
          ["email 1 hash", "hashed email 1", "2025-01-01T00:00:33Z"],
          ["email 2 hash", "hashed email 2", "2025-06-30T00:00:00Z"],
          ["+1234567890", "phone 1", "2025-01-01T00:05:00Z"],
          ["+0987654321", "phone 2", "2025-06-30T00:00:22Z"],
          ["phone 1 hash", "hashed phone 1", "2025-01-01T00:00:11Z"],
          ["phone 2 hash", "hashed phone 2", "2025-06-30T00:00:01Z"]
        ]
        for (const [key, uid, iso] of expected) {
          const m = response.mapped.get(key)!
          expect(m.currentRawUid).toBe(`${uid} current uid`)
          expect(m.previousRawUid).toEqual(Option.some(`${uid} previous uid`))
          expect(DateTime.toEpochMillis(m.refreshFrom)).toBe(Date.parse(iso))
        }
        // results in input order, each carrying its input
        expect(response.results.map((r) => r.input.value)).toEqual(expected.map(([key]) => key))
      }))
  })

  for (
    const [raw, reason] of [
      ["some new unmapped reason", "Unknown"],
      ["optout", "OptOut"],
      ["invalid identifier", "InvalidIdentifier"]
    ] as const
  ) {
    it.effect(`M-2/M-3: "${raw}" → ${reason}, raw reason kept (phone_hash array missing)`, () => {
      const { layer } = recording(() => ({ status: "success", body: { email_hash: [{ e: raw }] } }))
      return withClient(layer, (client) =>
        Effect.gen(function*() {
          const response = yield* client.map([IdentityMap.email("email1@example.com")])
          expect(response.mapped.size).toBe(0)
          const unmapped = response.unmapped.get("email1@example.com")!
          expect(unmapped.reason).toBe(reason)
          expect(unmapped.rawReason).toBe(raw)
        }))
    })
  }

  it.effect("M-4: a status other than success fails the request's items with that status", () => {
    const { layer } = recording(() => ({ status: "error", body: {} }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([IdentityMap.email("email1@example.com"), IdentityMap.email("bad")])
        const failed = response.failed.get("email1@example.com")!
        expect(failed.error._tag).toBe("IdentityMapResponseError")
        expect(failed.error.message).toBe("Got unexpected identity map status: error")
        // the locally invalid one is still reported as such
        expect(response.invalid.get("bad")!.error._tag).toBe("InvalidEmail")
      }))
  })
})

describe("identity map client, locally", () => {
  it.effect("invalid inputs are reported per item and never sent; others still map", () => {
    const { layer, sent } = recording((request) => ({
      status: "success",
      body: {
        email_hash: request.email_hash.map(() => ({ u: "U", p: null, r: 1 })),
        phone_hash: request.phone_hash.map(() => ({ u: "P", p: null, r: 2 }))
      }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const longHash = "x".repeat(IdentityMap.MAX_HASH_INPUT_LENGTH + 1)
        const response = yield* client.map([
          IdentityMap.email("a@@b.com"),
          IdentityMap.email("ok@example.com"),
          IdentityMap.phone("12345678901"),
          IdentityMap.phone("+12345678901"),
          IdentityMap.emailHash(longHash),
          // values of the wrong type, as untyped callers may pass them
          IdentityMap.email(null as unknown as string),
          IdentityMap.phoneHash(42 as unknown as string),
          { _tag: "Fax", value: "x" } as unknown as IdentityMap.Input,
          null as unknown as IdentityMap.Input
        ])
        expect(response.results.map((r) => r._tag)).toEqual([
          "Invalid",
          "Mapped",
          "Invalid",
          "Mapped",
          "Invalid",
          "Invalid",
          "Invalid",
          "Invalid",
          "Invalid"
        ])
        const errors = response.results.flatMap((r) => r._tag === "Invalid" ? [r.error] : [])
        expect(errors.map((e) => e._tag)).toEqual([
          "InvalidEmail",
          "InvalidPhone",
          "InvalidHash",
          "InvalidEmail",
          "InvalidHash",
          "UnsupportedInput",
          "UnsupportedInput"
        ])
        expect(sent).toHaveLength(1)
        expect(sent[0]!.json).toEqual({
          email_hash: [sha256b64("ok@example.com")],
          phone_hash: [sha256b64("+12345678901")]
        })
        // every message is free of the input (personal data)
        for (const e of errors) expect(e.message).not.toMatch(/a@@b|12345678901|xxxx/)
      }))
  })

  it.effect("only invalid inputs: no request at all", () => {
    const { layer, sent } = recording(() => ({ status: "success", body: {} }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([IdentityMap.email("nope"), IdentityMap.phone("+1")])
        expect(response.invalid.size).toBe(2)
        expect(sent).toHaveLength(0)
      }))
  })

  it.effect("inputs that hash alike are sent once and all get the answer; a verbatim repeat is one key", () => {
    const { layer, sent } = recording((request) => ({
      status: "success",
      body: { email_hash: request.email_hash.map((_: string, i: number) => ({ u: `uid ${i}`, p: null, r: 10 })) }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const inputs = [
          "JANE.SAOIRSE@gmail.com",
          "Jane.Saoirse@gmail.com",
          "JaneSaoirse+UID2@gmail.com",
          "janesaoirse@gmail.com",
          "JANE.SAOIRSE@gmail.com"
        ]
        const response = yield* client.map([
          ...inputs.map(IdentityMap.email),
          IdentityMap.emailHash(sha256b64("janesaoirse@gmail.com")),
          IdentityMap.emailHash(sha256b64("janesaoirse@gmail.com"))
        ])
        expect(sent[0]!.json.email_hash).toEqual([sha256b64("janesaoirse@gmail.com")])
        expect(response.results).toHaveLength(7)
        expect(response.results.every((r) => r._tag === "Mapped" && r.currentRawUid === "uid 0")).toBe(true)
        expect(response.mapped.size).toBe(5) // 4 distinct emails + the hash
      }))
  })

  it.effect("answers that cannot be trusted fail exactly the items they concern", () => {
    const { layer } = recording(() => ({
      status: "success",
      body: {
        email_hash: [{ u: "ok", p: null, r: 5 }, { u: "bad r", p: null, r: "soon" }, { x: 1 }, {
          u: "bad p",
          p: 3,
          r: 1
        }],
        phone_hash: [{ u: "only one answer", p: null, r: 1 }] // two phones were sent
      }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([
          IdentityMap.email("a@example.com"),
          IdentityMap.email("b@example.com"),
          IdentityMap.email("c@example.com"),
          IdentityMap.email("d@example.com"),
          IdentityMap.phone("+12345678901"),
          IdentityMap.phone("+12345678902")
        ])
        expect(response.results.map((r) => r._tag)).toEqual([
          "Mapped",
          "Failed",
          "Failed",
          "Failed",
          "Failed",
          "Failed"
        ])
        const details = response.results.flatMap((r) => r._tag === "Failed" ? [r.error.message] : [])
        expect(details[0]).toContain("answer 1 of email_hash")
        expect(details[1]).toContain("answer 2 of email_hash")
        expect(details[3]).toContain("phone_hash has 1 answers for 2 identifiers")
        expect(details[4]).toBe(details[3])
      }))
  })

  it.effect("a transport failure fails the request's items with that error", () => {
    const { layer } = recording(() => new OperatorRejected({ path: "/v3/identity/map", httpStatus: 503 }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([IdentityMap.email("a@example.com"), IdentityMap.email("b@example.com")])
        expect(response.failed.size).toBe(2)
        const error = response.failed.get("a@example.com")!.error
        expect(error._tag === "OperatorRejected" && error.httpStatus).toBe(503)
      }))
  })

  it.effect("a refresh-from beyond what a date can hold is a malformed answer, not a throw", () => {
    const { layer } = recording(() => ({ status: "success", body: { email_hash: [{ u: "x", p: null, r: 1e300 }] } }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const response = yield* client.map([IdentityMap.email("a@example.com")])
        expect(response.failed.get("a@example.com")!.error.message).toContain("invalid p or r")
      }))
  })

  it.effect("requests respect the item and byte limits; results keep input order", () => {
    const { layer, sent } = recording((request) => ({
      status: "success",
      body: {
        email_hash: request.email_hash.map((h: string) => ({ e: `seen ${h.length}` })),
        phone_hash: []
      }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const inputs = Array.from({ length: 25 }, (_, i) => IdentityMap.email(`user${i}@example.com`))
        const results = yield* Stream.runCollect(client.mapStream(Stream.fromIterable(inputs), { maxBatchItems: 10 }))
        expect(sent.map((s) => s.json.email_hash.length)).toEqual([10, 10, 5])
        expect(Array.from(results).map((r) => r.input)).toEqual(inputs)

        sent.length = 0
        const hashes = Array.from({ length: 30 }, (_, i) => IdentityMap.emailHash(`${i}`.padStart(100, "h")))
        yield* client.map(hashes, { maxRequestBytes: 1_000 })
        const sizes = sent.map((s) => new TextEncoder().encode(JSON.stringify(s.json)).length)
        expect(sizes.every((n) => n <= 1_000)).toBe(true)
        expect(sent.reduce((n, s) => n + s.json.email_hash.length, 0)).toBe(30)
        expect(sent.length).toBeGreaterThan(3)
      }))
  })

  it.effect("progress: one snapshot per request event, adding up to the results", () => {
    const { layer } = recording((request) => ({
      status: "success",
      body: {
        email_hash: request.email_hash.map((_: string, i: number) =>
          i % 2 === 0 ? { u: "u", p: null, r: 1 } : { e: "optout" }
        )
      }
    }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        const progress = yield* IdentityMap.makeProgress
        const inputs = [
          ...Array.from({ length: 9 }, (_, i) => IdentityMap.email(`user${i}@example.com`)),
          IdentityMap.email("invalid")
        ]
        const results = yield* client.map(inputs, { progress, maxBatchItems: 4 })
        const last = yield* SubscriptionRef.get(progress)
        expect(last).toEqual({
          read: 10,
          mapped: results.mapped.size,
          unmapped: results.unmapped.size,
          invalid: 1,
          failed: 0,
          requests: 3,
          inFlight: 0,
          retries: 0
        })
        expect(IdentityMap.settled(last)).toBe(10)
      }))
  })

  it.effect("0 inputs: no request, no result", () => {
    const { layer, sent } = recording(() => ({ status: "success", body: {} }))
    return withClient(layer, (client) =>
      Effect.gen(function*() {
        expect((yield* client.map([])).results).toEqual([])
        expect(sent).toHaveLength(0)
      }))
  })
})

describe("re-mapping", () => {
  it("picks the identities whose refresh-from time has passed", () => {
    const stored = [
      { input: IdentityMap.email("a@example.com"), refreshFrom: at("2025-01-01T00:00:00Z") },
      { input: IdentityMap.email("b@example.com"), refreshFrom: at("2025-03-01T00:00:00Z") },
      { input: IdentityMap.phone("+12345678901"), refreshFrom: at("2025-02-01T00:00:00Z") }
    ]
    expect(IdentityMap.dueForRemap(stored, at("2025-02-01T00:00:00Z")).map((i) => i.value)).toEqual([
      "a@example.com",
      "+12345678901"
    ])
    expect(IdentityMap.dueForRemap(stored, at("2024-12-31T23:59:59Z"))).toEqual([])
    expect(stored.filter(IdentityMap.isDueForRemap(at("2025-03-01T00:00:00Z")))).toHaveLength(3)
  })

  it.effect("dueForRemapNow reads the Clock", () =>
    Effect.gen(function*() {
      const mapped = IdentityMap.MapResult.Mapped({
        input: IdentityMap.email("a@example.com"),
        currentRawUid: "u",
        previousRawUid: Option.none(),
        refreshFrom: DateTime.unsafeMake(1_000)
      })
      expect(yield* IdentityMap.dueForRemapNow([mapped])).toEqual([]) // TestClock starts at 0
      yield* TestClock.setTime(1_000)
      expect(yield* IdentityMap.dueForRemapNow([mapped])).toEqual([mapped.input])
    }))
})
