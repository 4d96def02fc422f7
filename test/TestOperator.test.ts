// TestOperator: a real operator on loopback (and in-process). Socket tests use
// fetch plus the client side of Envelope; in-process tests use the HttpClient.
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { createHash, randomBytes } from "node:crypto"
import { makeNode } from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import * as KeyRing from "../src/KeyRing.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { rawUidInfo } from "../src/Token.js"
import { decrypt, encryptRawUid } from "./ringCrypto.js"

const crypto = makeNode((n) => new Uint8Array(randomBytes(n)))
const utf8 = new TextEncoder()
const { DEFAULT_CLIENT, DSP_CLIENT, MAPPER_CLIENT, Paths, PUBLISHER_CLIENT, SHARER_CLIENT, TestIdentities } =
  TestOperator

const sha256b64 = (s: string) => createHash("sha256").update(s).digest("base64")
const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex")
const secretOf = (s: string) => Either.getOrThrow(Envelope.parseClientSecret(s))

interface CallOptions {
  readonly apiKey?: string | undefined
  readonly secret?: string | undefined
  readonly binary?: boolean | undefined
  readonly nowMs?: number | undefined
}

interface CallResult {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** Decrypted response JSON (only for 200). */
  readonly decoded: Either.Either<Envelope.DecodedResponse, unknown> | undefined
}

/** An enveloped POST over a real socket. */
const call = (
  baseUrl: string,
  client: TestOperator.ClientCredentials,
  path: string,
  payload?: unknown,
  options: CallOptions = {}
): Effect.Effect<CallResult> =>
  Effect.promise(async () => {
    const secret = secretOf(options.secret ?? client.secret)
    const request = Envelope.encodeRequestRandom(crypto, secret, {
      nowMs: options.nowMs ?? Date.now(),
      payload: payload === undefined ? undefined : utf8.encode(JSON.stringify(payload))
    })
    const headers: Record<string, string> = {
      "content-type": options.binary ? "application/octet-stream" : "text/plain"
    }
    const apiKey = options.apiKey ?? client.apiKey
    if (apiKey !== "") headers["authorization"] = `Bearer ${apiKey}`
    const response = await fetch(baseUrl + path, {
      method: "POST",
      headers,
      body: options.binary ? request.bytes : request.text
    })
    const raw = new Uint8Array(await response.arrayBuffer())
    const binaryAnswer = response.headers.get("content-type") === "application/octet-stream"
    const text = binaryAnswer ? "" : new TextDecoder().decode(raw)
    return {
      status: response.status,
      headers: response.headers,
      text,
      decoded: response.status === 200
        ? Envelope.decodeResponse(crypto, secret, binaryAnswer ? raw : text, request.nonce, { binary: binaryAnswer })
        : undefined
    }
  })

/** The decrypted JSON of a 200 answer. */
const jsonOf = (result: Pick<CallResult, "status" | "decoded">): any => {
  expect(result.status).toBe(200)
  const decoded = result.decoded!
  if (Either.isLeft(decoded)) throw new Error(`could not decode: ${String(decoded.left)}`)
  return JSON.parse(decoded.right.json)
}

/** POST a refresh token as-is. */
const refreshCall = (baseUrl: string, refreshToken: string, apiKey: string | null = PUBLISHER_CLIENT.apiKey) =>
  Effect.promise(async () => {
    const response = await fetch(baseUrl + Paths.tokenRefresh, {
      method: "POST",
      headers: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
      body: refreshToken
    })
    return { status: response.status, text: await response.text() }
  })

const decodeRefresh = (key: string, body: string): any =>
  JSON.parse(Either.getOrThrow(Envelope.decodeRefreshResponse(crypto, key, body)))

const ringOf = (body: unknown) => Either.getOrThrow(KeyRing.fromBody(body))

describe("TestOperator over loopback", () => {
  it.scopedLive("listens on 127.0.0.1 and serves the sharing and bidstream key bodies", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      expect(op.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(op.port).toBeGreaterThan(0)

      const sharing = jsonOf(yield* call(op.baseUrl, SHARER_CLIENT, Paths.keySharing))
      expect(sharing.status).toBe("success")
      const body = sharing.body
      expect(body.caller_site_id).toBe(SHARER_CLIENT.siteId)
      expect(body.master_keyset_id).toBe(9_999_999)
      expect(body.default_keyset_id).toBe(yield* op.keysetIdOf(SHARER_CLIENT.siteId))
      expect(body.token_expiry_seconds).toBe("2592000")
      expect(body.max_sharing_lifetime_seconds).toBe(2_592_010)
      expect(body.identity_scope).toBe("UID2")
      expect(body.allow_clock_skew_seconds).toBe(1800)
      expect(body.site_data).toEqual([
        { id: 999, domain_names: ["com.example.app", "example.com", "example.org"] },
        { id: 1001, domain_names: ["publisher.example"] }
      ])
      const ids = body.keys.map((k: any) => k.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      const own = body.default_keyset_id
      for (const k of body.keys) {
        expect(Number.isInteger(k.created) && Number.isInteger(k.activates) && Number.isInteger(k.expires)).toBe(true)
        if ("keyset_id" in k) expect([9_999_999, own]).toContain(k.keyset_id)
      }
      // the refresh keys are never served
      const refreshIds = (yield* op.keys).filter((k) => k.kind === "refresh").map((k) => k.id)
      expect(refreshIds.length).toBeGreaterThan(0)
      for (const id of refreshIds) expect(ids).not.toContain(id)

      // an ID_READER without SHARER gets no max_sharing_lifetime_seconds
      const dspSharing = jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keySharing)).body
      expect(dspSharing.max_sharing_lifetime_seconds).toBeUndefined()

      const bidstream = jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body
      expect(bidstream.max_bidstream_lifetime_seconds).toBe(3610)
      expect(bidstream.identity_scope).toBe("UID2")
      expect(bidstream.allow_clock_skew_seconds).toBe(1800)
      expect(bidstream.caller_site_id).toBeUndefined()
      expect(bidstream.keys.every((k: any) => !("keyset_id" in k))).toBe(true)
      expect(bidstream.keys.map((k: any) => k.id)).toEqual(ids)

      const ring = ringOf(body)
      expect(ring.isValid(Date.now())).toBe(true)
      expect(ring.activeMasterKey(Date.now())).toBeDefined()
      expect(ring.activeDefaultKey(Date.now())?.keysetId).toBe(own)
    }))

  it.scopedLive("issued tokens are V4 and decrypt with the served keys", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const bidRing = ringOf(jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body)
      const shareRing = ringOf(jsonOf(yield* call(op.baseUrl, SHARER_CLIENT, Paths.keySharing)).body)
      const now = Date.now()

      const issued = yield* op.issueToken({ email: "user@example.com", siteId: PUBLISHER_CLIENT.siteId })
      expect(issued.advertisingToken.startsWith("A4")).toBe(true)
      expect(issued.advertisingToken).not.toMatch(/[+/=]/)
      expect(issued.rawUid).toBe(yield* op.rawUidOf({ email: "user@example.com" }))
      expect(rawUidInfo(issued.rawUid)).toEqual({
        generation: 3,
        identityScope: "UID2",
        identityType: "Email",
        environment: 0
      })
      expect(issued.rawUid.startsWith("A")).toBe(true)
      expect(issued.identity?.refresh_token.length).toBe(388)

      for (const [ring, clientType] of [[bidRing, "bidstream"], [shareRing, "sharing"]] as const) {
        const result = decrypt(ring, crypto, issued.advertisingToken, now, { clientType })
        expect(result._tag).toBe("DecryptedToken")
        if (result._tag !== "DecryptedToken") continue
        expect(result.uid).toBe(issued.rawUid)
        expect(result.version).toBe(4)
        expect(result.siteId).toBe(PUBLISHER_CLIENT.siteId)
        expect(result.privacyBits).toBe(1)
        expect(result.identityType).toBe("Email")
        expect(result.expiry - (result.generated ?? 0)).toBe(3_600_000)
        expect(result.established).toBe(issued.established)
      }

      const phone = yield* op.issueToken({ phone: "+12345678901", version: 3, privacyBits: 3, siteId: 999 })
      expect(phone.advertisingToken.startsWith("B3")).toBe(true)
      expect(phone.rawUid.startsWith("B")).toBe(true)
      const decrypted = decrypt(bidRing, crypto, phone.advertisingToken, now, {
        clientType: "bidstream",
        domainOrAppName: "example.com"
      })
      expect(decrypted._tag === "DecryptedToken" && decrypted.isClientSideGenerated).toBe(true)
      expect(
        decrypt(bidRing, crypto, phone.advertisingToken, now, { clientType: "bidstream", domainOrAppName: "x.com" })
          ._tag
      )
        .toBe("DomainOrAppNameCheckFailed")

      const raw = Buffer.alloc(32, 7).toString("base64")
      const v2 = yield* op.issueToken({ rawUid: raw, version: 2 })
      const v2d = decrypt(bidRing, crypto, v2.advertisingToken, now, { clientType: "bidstream" })
      expect(v2d._tag === "DecryptedToken" && v2d.uid).toBe(raw)

      // a sharing token encrypted by one sharer decrypts for another client
      const sharingToken = encryptRawUid(shareRing, crypto, issued.rawUid, now)
      expect(typeof sharingToken).toBe("string")
      const allRing = ringOf(jsonOf(yield* call(op.baseUrl, DEFAULT_CLIENT, Paths.keySharing)).body)
      const shared = decrypt(allRing, crypto, sharingToken as string, now, { clientType: "sharing" })
      expect(shared._tag === "DecryptedToken" && shared.uid).toBe(issued.rawUid)
      expect(shared._tag === "DecryptedToken" && shared.siteId).toBe(SHARER_CLIENT.siteId)
    }))

  it.scopedLive("rotateKeys adds active keys and keeps old ones; expireKeys invalidates the ring", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const before = ringOf(jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body)
      const oldToken = yield* op.issueToken({ email: "a@example.com" })
      const added = yield* op.rotateKeys()
      expect(added.map((k) => k.kind).sort()).toEqual(expect.arrayContaining(["master", "refresh", "site"]))
      const newToken = yield* op.issueToken({ email: "a@example.com" })
      expect(newToken.masterKeyId).not.toBe(oldToken.masterKeyId)
      expect(added.map((k) => k.id)).toContain(newToken.masterKeyId)
      expect(added.map((k) => k.id)).toContain(newToken.siteKeyId)
      const now = Date.now()
      expect(decrypt(before, crypto, newToken.advertisingToken, now, { clientType: "bidstream" })._tag)
        .toBe("NotAuthorizedForMasterKey")
      const after = ringOf(jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body)
      expect(decrypt(after, crypto, newToken.advertisingToken, now, { clientType: "bidstream" })._tag).toBe(
        "DecryptedToken"
      )
      expect(decrypt(after, crypto, oldToken.advertisingToken, now, { clientType: "bidstream" })._tag).toBe(
        "DecryptedToken"
      )

      // the refresh token issued before the rotation is still accepted
      const refreshed = yield* refreshCall(op.baseUrl, oldToken.identity!.refresh_token)
      expect(refreshed.status).toBe(200)

      yield* op.expireKeys()
      const expired = ringOf(jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body)
      expect(expired.isValid(Date.now() + 1000)).toBe(false)
      expect(decrypt(expired, crypto, newToken.advertisingToken, Date.now() + 1000, { clientType: "bidstream" })._tag)
        .toBe("KeysNotSynced")
      const generate = yield* call(op.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, { email: "a@example.com" })
      expect(generate.status).toBe(500)
      expect(JSON.parse(generate.text)).toEqual({ status: "unknown", message: "No active encryption key available" })
      yield* op.rotateKeys()
      expect((yield* call(op.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, { email: "a@example.com" })).status)
        .toBe(200)
    }))

  it.scopedLive("generate → refresh → refresh, keeping established and rotating the response key", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      // the operator's clock moves ahead of the wall clock below: sign requests with its time
      const dspRing = () =>
        Effect.flatMap(
          op.now,
          (nowMs) =>
            Effect.map(call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream, undefined, { nowMs }), (r) =>
              ringOf(jsonOf(r).body))
        )
      const generated = jsonOf(
        yield* call(op.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, {
          email_hash: sha256b64("hopefully-not-opted-out@example.com")
        })
      )
      expect(generated.status).toBe("success")
      const first = generated.body
      expect(Object.keys(first)).toEqual([
        "advertising_token",
        "refresh_token",
        "identity_expires",
        "refresh_expires",
        "refresh_from",
        "refresh_response_key"
      ])
      expect(first.refresh_token.length).toBe(388)
      expect(first.identity_expires - first.refresh_from).toBe(45 * 60_000)
      expect(first.refresh_expires - first.identity_expires).toBe(23 * 3_600_000)
      const t1 = decrypt(yield* dspRing(), crypto, first.advertising_token, Date.now(), { clientType: "bidstream" })
      if (t1._tag !== "DecryptedToken") throw new Error(t1._tag)
      expect(t1.uid).toBe(yield* op.rawUidOf({ email: "hopefully-not-opted-out@example.com" }))
      expect(t1.siteId).toBe(PUBLISHER_CLIENT.siteId)

      yield* op.advanceTime("20 minutes")
      const r1 = yield* refreshCall(op.baseUrl, first.refresh_token)
      expect(r1.status).toBe(200)
      const second = decodeRefresh(first.refresh_response_key, r1.text)
      expect(second.status).toBe("success")
      expect(second.body.refresh_response_key).not.toBe(first.refresh_response_key)
      expect(second.body.refresh_token).not.toBe(first.refresh_token)
      // the previous key no longer opens the next answer
      yield* op.advanceTime("20 minutes")
      const r2 = yield* refreshCall(op.baseUrl, second.body.refresh_token)
      expect(Either.isLeft(Envelope.decodeRefreshResponse(crypto, first.refresh_response_key, r2.text))).toBe(true)
      const third = decodeRefresh(second.body.refresh_response_key, r2.text)
      expect(third.status).toBe("success")
      const t3 = decrypt(yield* dspRing(), crypto, third.body.advertising_token, Date.now() + 40 * 60_000, {
        clientType: "bidstream"
      })
      if (t3._tag !== "DecryptedToken") throw new Error(t3._tag)
      expect(t3.uid).toBe(t1.uid)
      expect(t3.established).toBe(t1.established)
      expect(t3.generated! - t1.generated!).toBeGreaterThanOrEqual(40 * 60_000)
    }))

  it.scopedLive("opt-out test identities, input rules and normalization on generate", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const generate = (payload: unknown) => call(op.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, payload)

      expect(jsonOf(yield* generate({ email: TestIdentities.optoutEmail }))).toEqual({ status: "optout" })
      expect(jsonOf(yield* generate({ email_hash: sha256b64("optout@example.com") }))).toEqual({ status: "optout" })
      expect(jsonOf(yield* generate({ phone: TestIdentities.optoutPhone }))).toEqual({ status: "optout" })
      expect(jsonOf(yield* generate({ phone_hash: sha256hex("+00000000000") }))).toEqual({ status: "optout" })

      // refresh-optout: generate succeeds, the first refresh answers optout
      for (
        const payload of [{ email: TestIdentities.refreshOptoutEmail }, { phone: TestIdentities.refreshOptoutPhone }]
      ) {
        const identity = jsonOf(yield* generate(payload))
        expect(identity.status).toBe("success")
        const refreshed = yield* refreshCall(op.baseUrl, identity.body.refresh_token)
        expect(refreshed.status).toBe(200)
        expect(decodeRefresh(identity.body.refresh_response_key, refreshed.text)).toEqual({ status: "optout" })
      }

      // runtime opt-out reaches refresh too
      const someone = jsonOf(yield* generate({ email: "someone@example.com" })).body
      yield* op.optOut({ email: "someone@example.com" })
      expect(decodeRefresh(someone.refresh_response_key, (yield* refreshCall(op.baseUrl, someone.refresh_token)).text))
        .toEqual({ status: "optout" })
      expect(jsonOf(yield* generate({ email: "someone@example.com" }))).toEqual({ status: "optout" })

      const missing = yield* generate({ email: "a@example.com", phone: "+12345678901" })
      expect(missing.status).toBe(400)
      expect(JSON.parse(missing.text)).toEqual({
        status: "client_error",
        message: "Required Parameter Missing: exactly one of [email, email_hash, phone, phone_hash] must be specified"
      })
      expect((yield* generate({})).status).toBe(400)
      for (const bad of [{ email_hash: "not-a-hash" }, { phone: "+1234" }, { email: "@example.com" }]) {
        const result = yield* generate(bad)
        expect(result.status).toBe(400)
        expect(JSON.parse(result.text)).toEqual({ status: "client_error", message: "Invalid Identifier" })
      }

      // raw email is normalized the operator way; hex and Base64 hashes are the same identity
      const uidOf = (body: any) => {
        const now = Date.now()
        return Effect.map(
          call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream),
          (r) => {
            const result = decrypt(ringOf(jsonOf(r).body), crypto, body.advertising_token, now, {
              clientType: "bidstream"
            })
            return result._tag === "DecryptedToken" ? result.uid : result._tag
          }
        )
      }
      const raw = yield* uidOf(jsonOf(yield* generate({ email: " Jane.Doe+home@GMail.com " })).body)
      const hashed = yield* uidOf(jsonOf(yield* generate({ email_hash: sha256b64("janedoe@gmail.com") })).body)
      const hex = yield* uidOf(
        jsonOf(yield* generate({ email_hash: sha256hex("janedoe@gmail.com").toUpperCase() })).body
      )
      expect(raw).toBe(hashed)
      expect(hex).toBe(hashed)
      expect(raw).toBe(yield* op.rawUidOf({ email: "janedoe@gmail.com" }))
    }))

  it.scopedLive("refresh errors: invalid, unauthenticated, expired", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const garbage = yield* refreshCall(op.baseUrl, "A".repeat(388))
      expect(garbage.status).toBe(400)
      expect(JSON.parse(garbage.text).status).toBe("invalid_token")
      const anonymous = yield* refreshCall(op.baseUrl, "not a token", null)
      expect(anonymous.status).toBe(400)
      expect(JSON.parse(anonymous.text).status).toBe("error")
      expect((yield* refreshCall(op.baseUrl, "x", "unknown-key")).status).toBe(401)

      const identity = (yield* op.issueToken({ email: "late@example.com" })).identity!
      // tampering with one character breaks it
      const flipped = identity.refresh_token.slice(0, 100) +
        (identity.refresh_token[100] === "A" ? "B" : "A") + identity.refresh_token.slice(101)
      expect(JSON.parse((yield* refreshCall(op.baseUrl, flipped)).text).status).toBe("invalid_token")

      yield* op.advanceTime("25 hours")
      const expired = yield* refreshCall(op.baseUrl, identity.refresh_token)
      expect(expired.status).toBe(400)
      expect(JSON.parse(expired.text)).toEqual({ status: "expired_token", message: "Expired Token presented" })
    }))

  it.scopedLive("EUID scope: E4 tokens and TCF consent", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make({ identityScope: "EUID" })
      const generate = (payload: unknown) => call(op.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, payload)
      const ok = jsonOf(
        yield* generate({ email: "user@example.com", tcf_consent_string: TestIdentities.sufficientConsent })
      )
      expect(ok.status).toBe("success")
      expect(ok.body.advertising_token.startsWith("E4")).toBe(true)
      expect(
        jsonOf(yield* generate({ email: "user@example.com", tcf_consent_string: TestIdentities.insufficientConsent }))
      )
        .toEqual({ status: "insufficient_user_consent" })
      const invalid = yield* generate({ email: "user@example.com", tcf_consent_string: "garbage!" })
      expect(invalid.status).toBe(400)
      expect(JSON.parse(invalid.text).message).toBe("User consent is invalid")
      expect(jsonOf(yield* generate({ email: "user@example.com" })).status).toBe("success")
      const ring = ringOf(jsonOf(yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)).body)
      expect(ring.identityScope).toBe("EUID")
      const token = decrypt(ring, crypto, ok.body.advertising_token, Date.now(), { clientType: "bidstream" })
      expect(token._tag === "DecryptedToken" && token.uid.startsWith("E")).toBe(true)
      // a UID2 operator ignores the consent string
      const uid2 = yield* TestOperator.make()
      expect(
        jsonOf(
          yield* call(uid2.baseUrl, PUBLISHER_CLIENT, Paths.tokenGenerate, {
            email: "user@example.com",
            tcf_consent_string: TestIdentities.insufficientConsent
          })
        ).status
      ).toBe("success")
    }))

  it.scopedLive("identity map v3: shapes, order, optout, invalid identifier, binary and text, salt rotation", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const emails = ["user@example.com", "optout@example.com", "other@example.com"]
      const request = {
        email_hash: [sha256b64(emails[0]!), sha256b64(emails[1]!), "bad hash", sha256hex(emails[2]!)],
        phone_hash: [sha256b64("+12345678901"), sha256b64("+00000000000")],
        email: [],
        phone: []
      }
      const expected = {
        user: yield* op.rawUidOf({ email: emails[0]! }),
        other: yield* op.rawUidOf({ email: emails[2]! }),
        phone: yield* op.rawUidOf({ phone: "+12345678901" })
      }
      for (const binary of [true, false]) {
        const result = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, request, { binary })
        expect(result.headers.get("content-type")).toBe(binary ? "application/octet-stream" : "text/plain")
        const json = jsonOf(result)
        expect(json.status).toBe("success")
        expect(Object.keys(json.body).sort()).toEqual(["email", "email_hash", "phone", "phone_hash"])
        expect(json.body.email).toEqual([])
        expect(json.body.phone).toEqual([])
        const [a, b, c, d] = json.body.email_hash
        expect(a).toEqual({ u: expected.user, p: null, r: expect.any(Number) })
        expect(b).toEqual({ e: "optout" })
        expect(c).toEqual({ e: "invalid identifier" })
        expect(d.u).toBe(expected.other)
        expect(Number.isInteger(a.r) && a.r > Date.now() / 1000 && a.r < Date.now() / 1000 + 31 * 86_400).toBe(true)
        expect(json.body.phone_hash[0].u).toBe(expected.phone)
        expect(json.body.phone_hash[0].u.startsWith("B")).toBe(true)
        expect(json.body.phone_hash[1]).toEqual({ e: "optout" })
      }

      // raw email / phone arrays are accepted too
      const raw = jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, { email: [" USER@example.com"] }))
      expect(raw.body.email[0].u).toBe(expected.user)
      expect(raw.body.email_hash).toEqual([])

      // rotation: new u, p = the old one
      yield* op.rotateSalts()
      const rotated = jsonOf(
        yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, { email_hash: [sha256b64(emails[0]!)] })
      ).body.email_hash[0]
      expect(rotated.u).not.toBe(expected.user)
      expect(rotated.p).toBe(expected.user)

      expect((yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, {})).status).toBe(400)
      expect((yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, { email_hash: [null] })).status).toBe(400)
      const tooMany = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, {
        email_hash: Array.from({ length: 3000 }, (_, i) => sha256b64(`${i}@example.com`)),
        phone_hash: Array.from({ length: 2001 }, (_, i) => sha256b64(`+1555000${i}`))
      })
      expect(tooMany.status).toBe(400)
      expect(JSON.parse(tooMany.text).status).toBe("client_error")
      const exactly = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMapV3, {
        email_hash: Array.from({ length: 5000 }, (_, i) => sha256b64(`${i}@example.com`))
      })
      expect(jsonOf(exactly).body.email_hash.length).toBe(5000)
    }))

  it.scopedLive("identity map v2 and buckets", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const hashes = [sha256b64("user@example.com"), "some@malformed@email@hash", sha256b64("optout@example.com")]
      const json = jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMap, { email_hash: hashes }))
      expect(json.status).toBe("success")
      const buckets = yield* op.saltBuckets
      expect(json.body.mapped).toEqual([{
        identifier: hashes[0],
        advertising_id: yield* op.rawUidOf({ email: "user@example.com" }),
        bucket_id: expect.any(String)
      }])
      expect(buckets.map((b) => b.id)).toContain(json.body.mapped[0].bucket_id)
      expect(json.body.unmapped).toEqual([
        { identifier: hashes[1], reason: "invalid identifier" },
        { identifier: hashes[2], reason: "optout" }
      ])
      const clean = jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMap, { phone: ["+12345678901"] }))
      expect(clean.body.unmapped).toBeUndefined()
      expect(clean.body.mapped[0].advertising_id).toBe(yield* op.rawUidOf({ phone: "+12345678901" }))
      expect(jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMap, { email: [], phone: [] })).body)
        .toEqual({ mapped: [] })
      const both = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMap, {
        email: ["a@b.c"],
        phone: ["+12345678901"]
      })
      expect(both.status).toBe(400)
      expect((yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityMap, {})).status).toBe(400)

      // buckets: all since long ago; rotated ones since now
      const all = jsonOf(
        yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityBuckets, { since_timestamp: "2000-01-01T00:00:00" })
      )
      expect(all.body.length).toBe(buckets.length)
      expect(all.body[0].last_updated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/)
      const since = new Date(Date.now() - 1000).toISOString().slice(0, 19)
      expect(jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityBuckets, { since_timestamp: since })).body)
        .toEqual([])
      const [rotated] = yield* op.rotateSalts([buckets[3]!.id])
      const changed = jsonOf(yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityBuckets, { since_timestamp: since }))
      expect(changed.body.map((b: any) => b.bucket_id)).toEqual([rotated!.id])
      const missing = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityBuckets, {})
      expect(JSON.parse(missing.text).message).toBe("missing parameter since_timestamp")
      const badDate = yield* call(op.baseUrl, MAPPER_CLIENT, Paths.identityBuckets, { since_timestamp: "yesterday" })
      expect(JSON.parse(badDate.text).message).toBe("invalid date, must conform to ISO 8601")
    }))

  it.scopedLive("auth: unknown or absent key, missing role, wrong secret", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      for (const apiKey of ["no-such-key", ""]) {
        const result = yield* call(op.baseUrl, DEFAULT_CLIENT, Paths.keySharing, undefined, { apiKey })
        expect(result.status).toBe(401)
        expect(JSON.parse(result.text)).toEqual({ status: "unauthorized" })
      }
      // a known key without the role
      for (
        const [client, path] of [
          [MAPPER_CLIENT, Paths.keyBidstream],
          [PUBLISHER_CLIENT, Paths.keySharing],
          [DSP_CLIENT, Paths.tokenGenerate],
          [SHARER_CLIENT, Paths.identityMapV3],
          [SHARER_CLIENT, Paths.keyBidstream]
        ] as const
      ) {
        const result = yield* call(op.baseUrl, client, path, {})
        expect(result.status).toBe(401)
        expect(JSON.parse(result.text)).toEqual({ status: "unauthorized" })
      }
      const wrong = yield* call(op.baseUrl, DEFAULT_CLIENT, Paths.keySharing, undefined, {
        secret: Buffer.alloc(32, 1).toString("base64")
      })
      expect(wrong.status).toBe(400)
      const body = JSON.parse(wrong.text)
      expect(body.status).toBe("client_error")
      expect(body.message.startsWith("Invalid body: Check encryption key")).toBe(true)
      const notBase64 = yield* Effect.promise(() =>
        fetch(op.baseUrl + Paths.keySharing, {
          method: "POST",
          headers: { authorization: `Bearer ${DEFAULT_CLIENT.apiKey}` },
          body: "{\"not\": \"encrypted\"}"
        }).then(async (r) => ({ status: r.status, body: await r.json() }))
      )
      expect(notBase64).toEqual({
        status: 400,
        body: { status: "client_error", message: "Invalid body: The request body is unencrypted JSON." }
      })
    }))

  it.scopedLive("stale or future request timestamps are rejected by the whole-minute rule", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const at = (offsetMs: number) =>
        call(op.baseUrl, DEFAULT_CLIENT, Paths.keyBidstream, undefined, { nowMs: Date.now() + offsetMs })
      for (const offset of [-180_000, 180_000, -125_000]) {
        const result = yield* at(offset)
        expect(result.status).toBe(400)
        expect(JSON.parse(result.text)).toEqual({
          status: "client_error",
          message: "Invalid timestamp: Request too old or client time drift."
        })
      }
      // a drift that truncates to one minute is tolerated
      expect((yield* at(-90_000)).status).toBe(200)
      // moving the operator's clock makes fresh requests stale
      yield* op.advanceTime("5 minutes")
      expect((yield* at(0)).status).toBe(400)
      expect((yield* at(300_000)).status).toBe(200)
      yield* op.setNow(Date.now())
      expect((yield* at(0)).status).toBe(200)
    }))

  it.scopedLive("scripted faults: status + Retry-After, malformed body, wrong nonce, dropped connection, latency", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      const keys = () => call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)

      yield* op.failNext(2, 503, { retryAfterSeconds: 7 })
      for (let i = 0; i < 2; i++) {
        const failed = yield* keys()
        expect(failed.status).toBe(503)
        expect(failed.headers.get("retry-after")).toBe("7")
        expect(JSON.parse(failed.text).status).toBe("unknown")
      }
      expect((yield* keys()).status).toBe(200)

      yield* op.failNext(1, 429)
      const limited = yield* keys()
      expect(limited.status).toBe(429)
      expect(limited.text).toBe("")
      expect(limited.headers.get("retry-after")).toBeNull()

      yield* op.sendMalformedBodyNext(1)
      const malformed = yield* keys()
      expect(malformed.status).toBe(200)
      expect(Either.isLeft(malformed.decoded!)).toBe(true)

      yield* op.wrongNonceNext(1)
      const wrongNonce = yield* keys()
      expect(wrongNonce.status).toBe(200)
      const nonceError = Either.flip(wrongNonce.decoded!)
      expect(Either.isRight(nonceError) && (nonceError.right as any).reason).toBe("NonceMismatch")
      expect(Either.isRight((yield* keys()).decoded!)).toBe(true)

      yield* op.dropConnectionNext(1)
      const dropped = yield* Effect.promise(() =>
        fetch(op.baseUrl + Paths.keyBidstream, { method: "POST", body: "x" }).then(
          (r) => `answered ${r.status}`,
          (e: unknown) => `network error: ${String(e)}`
        )
      )
      expect(dropped).toMatch(/^network error/)
      expect((yield* keys()).status).toBe(200)

      // faults limited to a path leave other paths alone
      yield* op.failNext(1, 500, { path: Paths.keySharing })
      expect((yield* keys()).status).toBe(200)
      expect((yield* call(op.baseUrl, DSP_CLIENT, Paths.keySharing)).status).toBe(500)

      yield* op.setLatency("300 millis")
      const started = Date.now()
      expect((yield* keys()).status).toBe(200)
      expect(Date.now() - started).toBeGreaterThanOrEqual(290)
      yield* op.clearFaults()

      const log = yield* op.requests
      expect(log.map((e) => e.fault).filter((f) => f !== undefined)).toEqual([
        "fail",
        "fail",
        "fail",
        "malformed",
        "wrongNonce",
        "drop",
        "fail"
      ])
      expect(log.find((e) => e.fault === "drop")?.status).toBe("dropped")
      expect(yield* op.requestCount(Paths.keySharing)).toBe(1)
      expect(yield* op.requestCount(Paths.keyBidstream)).toBe(log.length - 1)
      yield* op.clearRequests()
      expect(yield* op.requestCount()).toBe(0)
    }))
})

describe("TestOperator in process", () => {
  /** An enveloped POST through the operator's in-process HttpClient. */
  const inProcess = (
    op: TestOperator.TestOperatorShape,
    client: TestOperator.ClientCredentials,
    path: string,
    nowMs: number,
    payload?: unknown
  ) =>
    Effect.gen(function*() {
      const secret = secretOf(client.secret)
      const request = Envelope.encodeRequestRandom(crypto, secret, {
        nowMs,
        payload: payload === undefined ? undefined : utf8.encode(JSON.stringify(payload))
      })
      const response = yield* op.httpClient.execute(
        HttpClientRequest.post(`https://operator.example${path}`).pipe(
          HttpClientRequest.bearerToken(client.apiKey),
          HttpClientRequest.bodyText(request.text, "text/plain")
        )
      )
      const text = yield* response.text
      return {
        status: response.status,
        headers: response.headers,
        text,
        decoded: response.status === 200 ? Envelope.decodeResponse(crypto, secret, text, request.nonce) : undefined
      }
    })

  it.scoped("runs the same handlers under TestClock, without a socket", () =>
    Effect.gen(function*() {
      const start = Date.UTC(2026, 0, 15, 12)
      yield* TestClock.setTime(start)
      const op = yield* TestOperator.make({ listen: false })
      expect(op.baseUrl).toBe(TestOperator.IN_PROCESS_BASE_URL)
      expect(op.port).toBeUndefined()
      expect(yield* op.now).toBe(start)

      const keys = yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, start)
      const ring = ringOf(jsonOf(keys).body)
      const issued = yield* op.issueToken({ email: "user@example.com" })
      expect(issued.generated).toBe(start)
      const token = decrypt(ring, crypto, issued.advertisingToken, start, { clientType: "bidstream" })
      expect(token._tag === "DecryptedToken" && token.uid).toBe(issued.rawUid)

      // the operator's clock is the test clock: a request from an hour ago is stale
      yield* TestClock.adjust("1 hour")
      expect((yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, start)).status).toBe(400)
      expect((yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, start + 3_600_000)).status).toBe(200)

      // generate → refresh in process
      const now = start + 3_600_000
      const generated = jsonOf(
        yield* inProcess(op, PUBLISHER_CLIENT, Paths.tokenGenerate, now, { email: "user@example.com" })
      )
      const refreshed = yield* op.httpClient.execute(
        HttpClientRequest.post(`http://anything${Paths.tokenRefresh}`).pipe(
          HttpClientRequest.bodyText(generated.body.refresh_token, "text/plain")
        )
      )
      expect(refreshed.status).toBe(200)
      expect(decodeRefresh(generated.body.refresh_response_key, yield* refreshed.text).status).toBe("success")

      // latency follows the test clock
      yield* op.setLatency("10 seconds")
      const fiber = yield* Effect.fork(inProcess(op, DSP_CLIENT, Paths.keyBidstream, now))
      yield* TestClock.adjust("9 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      yield* op.setLatency(0)

      // faults: a dropped connection is a transport error; failures carry their headers
      yield* op.dropConnectionNext(1)
      const dropped = yield* Effect.either(inProcess(op, DSP_CLIENT, Paths.keyBidstream, now))
      expect(Either.isLeft(dropped) && dropped.left._tag === "RequestError" && dropped.left.reason).toBe("Transport")
      yield* op.failNext(1, 429, { retryAfterSeconds: 3 })
      const limited = yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, now)
      expect(limited.status).toBe(429)
      expect(limited.headers["retry-after"]).toBe("3")
      expect(yield* op.requestCount(Paths.keyBidstream)).toBe(6)
    }))

  it.scopedLive("the socket server and the in-process client share one operator", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()
      yield* op.failNext(1, 503)
      const viaClient = yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, Date.now())
      expect(viaClient.status).toBe(503)
      const viaSocket = yield* call(op.baseUrl, DSP_CLIENT, Paths.keyBidstream)
      expect(viaSocket.status).toBe(200)
      expect(yield* op.requestCount(Paths.keyBidstream)).toBe(2)
      const a = jsonOf(yield* inProcess(op, DSP_CLIENT, Paths.keyBidstream, Date.now())).body
      expect(a.keys).toEqual(jsonOf(viaSocket).body.keys)
    }))

  it.scopedLive("the server stops when its scope closes", () =>
    Effect.gen(function*() {
      const baseUrl = yield* Effect.scoped(Effect.map(TestOperator.make(), (op) => op.baseUrl))
      const result = yield* Effect.promise(() =>
        fetch(baseUrl + Paths.keyBidstream, { method: "POST", body: "x" }).then(
          (r) => `answered ${r.status}`,
          (e: unknown) => `network error: ${String(e)}`
        )
      )
      expect(result).toMatch(/^network error/)
    }))

  it.scopedLive("layer and layerInProcess provide the operator and its HttpClient", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.TestOperator
      const client = yield* HttpClient.HttpClient
      const response = yield* client.execute(HttpClientRequest.post(`http://x${Paths.keySharing}`))
      expect(response.status).toBe(401)
      expect(yield* response.json).toEqual({ status: "unauthorized" })
      expect(yield* op.requestCount(Paths.keySharing)).toBe(1)
    }).pipe(
      Effect.provide(TestOperator.layerInProcess.pipe(Layer.provideMerge(TestOperator.layer({ listen: false }))))
    ))
})
