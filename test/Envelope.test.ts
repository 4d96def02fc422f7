import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Redacted from "effect/Redacted"
import * as Crypto from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import { InvalidClientSecret } from "../src/Envelope.js"
import { fromHex } from "../src/internal/bytes.js"
import * as OperatorEnvelope from "../src/internal/operatorEnvelope.js"
import { EnvelopeError } from "../src/TransportError.js"
import { CLIENT_SECRET, P8, P8_RESPONSE, P9, P9_RESPONSE, P_IV_HEX, P_NONCE_HEX, P_TIMESTAMP } from "./vectors.js"

// Envelope vectors under the reference client secret: the generate requests P-1…P-6, the responses P-8 and
// P-9, and a key-refresh request and key response built from the same timestamp, nonce and IV.
const SECRET_TEXT = CLIENT_SECRET
const TIMESTAMP = P_TIMESTAMP
const NONCE = fromHex(P_NONCE_HEX)
const IV = fromHex(P_IV_HEX)
const RESPONSE_P8 = P8_RESPONSE
const RESPONSE_P9 = P9_RESPONSE

const crypto = Crypto.makeNode(Crypto.seededRandom(7))
const secret = Either.getOrThrow(Envelope.parseClientSecret(SECRET_TEXT))
const otherSecret = Either.getOrThrow(Envelope.clientSecretFromBytes(new Uint8Array(32).fill(9)))
const utf8 = (s: string) => new TextEncoder().encode(s)

const getLeft = <R, L>(e: Either.Either<R, L>): L => {
  if (Either.isRight(e)) throw new Error(`expected Left, got Right ${JSON.stringify(e.right)}`)
  return e.left
}
const getRight = <R, L>(e: Either.Either<R, L>): R => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got Left ${String(e.left)}`)
  return e.right
}

const requestVectors: ReadonlyArray<readonly [string, string, string]> = [
  [
    "P-1 email",
    `{"email":"test@example.com"}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYrD77pL7JYMJj8YqD9EsrG3d2d2j0H7kZjH41YsNLpFVCH+oce28z9L9ug=="
  ],
  [
    "P-2 phone",
    `{"phone":"+12345678901"}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYqX+4JXyJYMJ0JJrSKV84juIkIH33GCmx+7RM2pSX9P4nAN0pn2g"
  ],
  [
    "P-3 email hash",
    `{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ="}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYrD77pL7WNFKiMt7QbM9mWHZwOWPyVTqSnDVNzhXRdcmIkV0ODOdll2inDo9iIZQ5oV2NvSUSWG5j6ACiXKH0JxiTPzs716eIH7P1Q=="
  ],
  [
    "P-4 email hash",
    `{"email_hash":"1hFzBkhe0OUK+rOshx6Y+BaZFR8wKBUn1j/18jNlbGk="}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYrD77pL7WNFKiMt7QbN4vErK69qumy3EXliuNSZ0a/4mTht7DyqMjF20oUECkYNZvtJhGo+wfXSDj6ACEfrViY4lnt1KEUjC4JlDaQ=="
  ],
  [
    "P-5 email hash + TCF",
    `{"email_hash":"tMmiiTI7IaAcPpQPFQ65uMVCWH8av9jw4cwf/F5HVRQ=","tcf_consent_string":"CPhJRpMPhJRpMABAMBFRACBoALAAAEJAAIYgAKwAQAKgArABAAqAAA"}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYrD77pL7WNFKiMt7QbM9mWHZwOWPyVTqSnDVNzhXRdcmIkV0ODOdll2inDo9iIZQ5oV2NvSUSWG5j6BTr3kl2OMGYCCQWOw+fx5/D8+7+J2+xJVUXN8K2yBbjpYqiOpOVVTktDh7TxkPwEGuYR5onLsXKFzjg7rdh0Mfu+emB6JrjFw/en304ydJgpPefDK/4/cohZQdgpjaqQ=="
  ],
  [
    "P-6 phone hash",
    `{"phone_hash":"EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4="}`,
    "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/IYqX+4JXyWNFKiMt7QbMMm27H3fmEq2zPRUnXdFpLTdVdc0RNWxOruBaarHYQksdqpbkVFa+walbcj6AClILBJjbDMl1IoeqJVG2fyw=="
  ],
  ["key refresh (empty payload)", "", "Acw8ysqYieqzgA54fifdV1TB6V+da8p/AFc8Ju/o0iuqwrKKPacJn6xpUAU+"]
]

const RESPONSE_7_3 =
  "AAAAAAAAAAAAAAAAWp37DL2wtvIuUj2hS+LoKM/d1q5Vugv9rtyhNxLxs7079S9VC32jgdkPb5HgWs+1mVMNL6CkYCfAcz+ehDN/d5WIViqIzMdGtAUrrptFC2oIC+Kx0sLf3zDE/FR9HeeOcMy1D9qnNSxuTOKNvXbwGaW4xisQF5h7inIOyL/JzlcBOPjX/sxtG5lE63GN/LM8CRLmxVeVOdae+jyi/Q0IaPgg1V6PmytvF0zziBE="
const JSON_7_3 =
  `{"body":{"caller_site_id":9000,"master_keyset_id":1,"default_keyset_id":99999,"token_expiry_seconds":"2592000","keys":[]},"status":"success"}`

describe("Envelope", () => {
  describe("client secret", () => {
    it("parses standard Base64 of 32 bytes and keeps it redacted", () => {
      const parsed = getRight(Envelope.parseClientSecret(SECRET_TEXT))
      expect(Redacted.value(parsed)).toHaveLength(32)
      expect(String(parsed)).toBe("<redacted>")
      expect(JSON.stringify({ parsed })).not.toContain(SECRET_TEXT)
      expect(getRight(Envelope.parseClientSecret(Redacted.make(`  ${SECRET_TEXT}\n`)))).toBeDefined()
    })

    it.each([
      "bad secret key",
      "",
      "AAAAAAAAAAAAAAAAAAAAAA==",
      `${SECRET_TEXT}AAAA`,
      SECRET_TEXT.replace(/\+/g, "-"),
      "ioG3wKxAokmp+rERx6A4kM/13qhyolUXIu14WN16Spp="
    ])("rejects %j without echoing it", (bad) => {
      const error = getLeft(Envelope.parseClientSecret(bad))
      expect(error).toBeInstanceOf(InvalidClientSecret)
      for (const shown of [error.message, String(error), JSON.stringify(error)]) {
        if (bad.length > 0) expect(shown).not.toContain(bad)
      }
    })
  })

  describe("request vectors (P-1…P-6 and a key refresh)", () => {
    for (const [name, payload, expected] of requestVectors) {
      it(name, () => {
        const encoded = Envelope.encodeRequest(crypto, secret, {
          nowMs: TIMESTAMP,
          nonce: NONCE,
          iv: IV,
          payload: utf8(payload)
        })
        expect(encoded.text).toBe(expected)
        expect(Buffer.from(encoded.bytes).toString("base64")).toBe(expected)
        expect(encoded.nonce).toEqual(NONCE)
        // and the operator side reads it back
        const decoded = getRight(
          OperatorEnvelope.decodeRequest(crypto, secret, expected, { nowMs: TIMESTAMP + 30_000 })
        )
        expect(decoded.timestampMs).toBe(TIMESTAMP)
        expect(decoded.nonce).toEqual(NONCE)
        expect(decoded.json).toBe(payload === "" ? undefined : payload)
      })
    }

    it("works with a pre-imported key", () => {
      const key = Envelope.importKey(crypto, secret)
      const encoded = Envelope.encodeRequest(crypto, key, { nowMs: TIMESTAMP, nonce: NONCE, iv: IV, payload: utf8("") })
      expect(encoded.text).toBe(requestVectors[6]![2])
      expect(String(key)).not.toContain("ioG3")
      expect(JSON.stringify(key)).toBe(`{"_tag":"EnvelopeKey"}`)
      Envelope.releaseKey(crypto, key)
    })

    it("encodeRequestRandom draws fresh nonce and IV", () => {
      const a = Envelope.encodeRequestRandom(crypto, secret, { nowMs: TIMESTAMP })
      const b = Envelope.encodeRequestRandom(crypto, secret, { nowMs: TIMESTAMP })
      expect(a.bytes).toHaveLength(Envelope.MIN_REQUEST_LENGTH)
      expect(a.nonce).not.toEqual(b.nonce)
      expect(a.bytes.subarray(1, 13)).not.toEqual(b.bytes.subarray(1, 13))
    })

    it("rejects wrong-sized nonce or IV as a programming error", () => {
      expect(() =>
        Envelope.encodeRequest(crypto, secret, { nowMs: 0, nonce: new Uint8Array(7), iv: IV, payload: utf8("") })
      ).toThrow(RangeError)
      expect(() =>
        Envelope.encodeRequest(crypto, secret, { nowMs: 0, nonce: NONCE, iv: new Uint8Array(16), payload: utf8("") })
      ).toThrow(RangeError)
    })
  })

  describe("response vectors", () => {
    it("the key response decrypts with the request nonce", () => {
      const decoded = getRight(Envelope.decodeResponse(crypto, secret, RESPONSE_7_3, NONCE))
      expect(decoded.timestampMs).toBe(1667885598000)
      expect(decoded.json).toBe(JSON_7_3)
    })

    it("the key response fails with NonceMismatch under another nonce", () => {
      const error = getLeft(Envelope.decodeResponse(crypto, secret, RESPONSE_7_3, fromHex("312fe5aa08b2a04a")))
      expect(error).toBeInstanceOf(EnvelopeError)
      expect(error.reason).toBe("NonceMismatch")
    })

    it("the key response fails with Decrypt under another secret", () => {
      expect(getLeft(Envelope.decodeResponse(crypto, otherSecret, RESPONSE_7_3, NONCE)).reason).toBe("Decrypt")
    })

    it("the key response is reproduced by encodeResponse", () => {
      const encoded = OperatorEnvelope.encodeResponse(crypto, secret, {
        nowMs: 1667885598000,
        nonce: NONCE,
        iv: new Uint8Array(12),
        json: JSON_7_3
      })
      expect(encoded.text).toBe(RESPONSE_7_3)
    })

    it("binary form: raw bytes, and Base64 text given as bytes", () => {
      const bytes = new Uint8Array(Buffer.from(RESPONSE_7_3, "base64"))
      expect(getRight(Envelope.decodeResponse(crypto, secret, bytes, NONCE, { binary: true })).json).toBe(JSON_7_3)
      expect(getRight(Envelope.decodeResponse(crypto, secret, utf8(RESPONSE_7_3), NONCE)).json).toBe(JSON_7_3)
      expect(getRight(Envelope.decodeResponse(crypto, secret, `${RESPONSE_7_3}\r\n`, NONCE)).json).toBe(JSON_7_3)
    })

    it("P-8 generate response", () => {
      const decoded = getRight(Envelope.decodeResponse(crypto, secret, RESPONSE_P8, NONCE))
      expect(decoded.timestampMs).toBe(1668056199629)
      const json = JSON.parse(decoded.json)
      expect(json.status).toBe("success")
      expect(json.body).toMatchObject(P8)
      expect(getLeft(Envelope.decodeResponse(crypto, secret, RESPONSE_P8, new Uint8Array(8))).reason).toBe(
        "NonceMismatch"
      )
    })

    it("P-9 refresh response decrypts with its refresh_response_key", () => {
      const json = JSON.parse(getRight(Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, RESPONSE_P9)))
      expect(json.status).toBe("success")
      expect(json.body).toEqual(P9)
      // the key may arrive redacted; a different key fails the tag
      expect(getRight(Envelope.decodeRefreshResponse(crypto, Redacted.make(P8.refresh_response_key), RESPONSE_P9)))
        .toContain("success")
      expect(getLeft(Envelope.decodeRefreshResponse(crypto, SECRET_TEXT, RESPONSE_P9)).reason).toBe("Decrypt")
    })

    it("P-10 opt-out refresh response", () => {
      const json = getRight(
        Envelope.decodeRefreshResponse(
          crypto,
          "WL0AYr41Db9m6dCIPtQlTz2kE4NMx3nLmloGHkQPGSQ=",
          "d9I6qCdlJ6mkWYLyw2iGnCnJ5OocyQDtbbvW6YXAYKpxTXaOePQzPPJIrHnI7Io="
        )
      )
      expect(JSON.parse(json)).toEqual({ status: "optout" })
    })

    it("refresh responses round-trip through encodeRefreshResponse", () => {
      const key = new Uint8Array(32).fill(3)
      const encoded = OperatorEnvelope.encodeRefreshResponse(crypto, key, { iv: IV, json: `{"status":"optout"}` })
      expect(getRight(Envelope.decodeRefreshResponse(crypto, Buffer.from(key).toString("base64"), encoded.text)))
        .toBe(`{"status":"optout"}`)
    })

    it("rejects an unusable refresh_response_key", () => {
      expect(getLeft(Envelope.decodeRefreshResponse(crypto, "not a key", RESPONSE_P9)).reason).toBe("Key")
      expect(getLeft(Envelope.decodeRefreshResponse(crypto, "AAAA", RESPONSE_P9)).reason).toBe("Key")
    })
  })

  describe("the public module is the client side", () => {
    it("the operator side is not exported", () => {
      for (const name of ["decodeRequest", "encodeResponse", "encodeRefreshResponse"]) {
        expect(name in Envelope, name).toBe(false)
        expect(typeof (OperatorEnvelope as Record<string, unknown>)[name], name).toBe("function")
      }
    })
  })

  describe("values of the wrong type from untyped callers", () => {
    const untyped = <A>(value: unknown) => value as A
    it("decodeResponse: body, nonce, key and options", () => {
      for (const body of [undefined, null, 42, {}, [1, 2], new ArrayBuffer(60)]) {
        expect(getLeft(Envelope.decodeResponse(crypto, secret, untyped(body), NONCE)).reason).toBe("Missing")
        expect(getLeft(Envelope.decodeResponse(crypto, secret, untyped(body), NONCE, { binary: true })).reason)
          .toBe("Missing")
      }
      for (const nonce of [undefined, "312fe5aa08b2a049", new Uint8Array(7), [1, 2, 3, 4, 5, 6, 7, 8]]) {
        expect(getLeft(Envelope.decodeResponse(crypto, secret, RESPONSE_7_3, untyped(nonce))).reason)
          .toBe("NonceMismatch")
      }
      for (const key of [undefined, null, SECRET_TEXT, Redacted.make(SECRET_TEXT), Redacted.make(new Uint8Array(16))]) {
        expect(getLeft(Envelope.decodeResponse(crypto, untyped(key), RESPONSE_7_3, NONCE)).reason).toBe("Key")
      }
      const hostile = Object.defineProperty({}, "binary", {
        get: () => {
          throw new Error("boom")
        }
      })
      expect(getLeft(Envelope.decodeResponse(crypto, secret, RESPONSE_7_3, NONCE, hostile)).reason).toBe("Decrypt")
      expect(getRight(Envelope.decodeResponse(crypto, secret, RESPONSE_7_3, NONCE, untyped(null))).json).toBe(JSON_7_3)
    })

    it("decodeRefreshResponse: key and body", () => {
      for (const key of [undefined, null, 42, Redacted.make(42), Redacted.make(new Uint8Array(32))]) {
        expect(getLeft(Envelope.decodeRefreshResponse(crypto, untyped(key), RESPONSE_P9)).reason).toBe("Key")
      }
      for (const body of [undefined, null, 42, {}]) {
        expect(getLeft(Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, untyped(body))).reason)
          .toBe("Missing")
      }
    })

    it("parseClientSecret and clientSecretFromBytes", () => {
      for (const value of [undefined, null, 42, Redacted.make(42)]) {
        expect(getLeft(Envelope.parseClientSecret(untyped(value)))).toBeInstanceOf(InvalidClientSecret)
      }
      for (const value of [undefined, null, "abc", new Array(32).fill(1)]) {
        expect(getLeft(Envelope.clientSecretFromBytes(untyped(value)))).toBeInstanceOf(InvalidClientSecret)
      }
    })
  })

  describe("P-16 garbage responses", () => {
    const garbage = "this is not an encrypted response"
    it("is a Base64 error as a generate response", () => {
      expect(getLeft(Envelope.decodeResponse(crypto, secret, garbage, NONCE)).reason).toBe("Base64")
    })
    it("is a Base64 error as a refresh response", () => {
      expect(getLeft(Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, garbage)).reason).toBe("Base64")
    })
    it("feeding the request envelope back is a GCM failure", () => {
      expect(getLeft(Envelope.decodeResponse(crypto, secret, requestVectors[0]![2], NONCE)).reason).toBe("Decrypt")
    })
    it("empty and short bodies", () => {
      expect(getLeft(Envelope.decodeResponse(crypto, secret, "", NONCE)).reason).toBe("Missing")
      expect(getLeft(Envelope.decodeResponse(crypto, secret, "AAAA", NONCE)).reason).toBe("TooShort")
      expect(getLeft(Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, "AAAA")).reason).toBe("TooShort")
    })
    it("a decryptable response that is not JSON", () => {
      const encoded = OperatorEnvelope.encodeResponse(crypto, secret, {
        nowMs: 1,
        nonce: NONCE,
        iv: IV,
        json: "not json"
      })
      expect(getLeft(Envelope.decodeResponse(crypto, secret, encoded.text, NONCE)).reason).toBe("Json")
    })
  })

  describe("decodeRequest follows the operator's order of checks", () => {
    const valid = requestVectors[0]![2]
    const decode = (body: string | Uint8Array, nowMs = TIMESTAMP, binary = false) =>
      OperatorEnvelope.decodeRequest(crypto, secret, body, { nowMs, binary })
    const reason = (body: string | Uint8Array, nowMs = TIMESTAMP, binary = false) =>
      getLeft(decode(body, nowMs, binary)).reason

    it("1 Missing", () => expect(reason("")).toBe("Missing"))
    it("2 Base64 / UnencryptedJson", () => {
      expect(reason("not base64!")).toBe("Base64")
      expect(reason(`{"email":"test@example.com"}`)).toBe("UnencryptedJson")
    })
    it("3 TooShort", () => {
      expect(reason(Buffer.alloc(44, 1).toString("base64"))).toBe("TooShort")
    })
    it("4 Version (checked before GCM)", () => {
      const bytes = Buffer.from(valid, "base64")
      bytes[0] = 2
      const error = getLeft(decode(bytes.toString("base64")))
      expect(error.reason).toBe("Version")
      expect(error.message).toContain("received 2, must be 1")
    })
    it("5 Decrypt under a wrong secret", () => {
      expect(getLeft(OperatorEnvelope.decodeRequest(crypto, otherSecret, valid, { nowMs: TIMESTAMP })).reason).toBe(
        "Decrypt"
      )
    })
    it("6 Timestamp: truncated minutes, |drift| ≤ 1 accepted", () => {
      expect(Either.isRight(decode(valid, TIMESTAMP + 119_999))).toBe(true)
      expect(Either.isRight(decode(valid, TIMESTAMP - 119_999))).toBe(true)
      expect(reason(valid, TIMESTAMP + 120_000)).toBe("Timestamp")
      expect(reason(valid, TIMESTAMP - 120_000)).toBe("Timestamp")
    })
    it("7 Json", () => {
      const encoded = Envelope.encodeRequest(crypto, secret, {
        nowMs: TIMESTAMP,
        nonce: NONCE,
        iv: IV,
        payload: utf8("{nope")
      })
      expect(reason(encoded.text)).toBe("Json")
    })
    it("binary bodies, with the Base64 fallback", () => {
      const bytes = new Uint8Array(Buffer.from(valid, "base64"))
      const raw = getRight(decode(bytes, TIMESTAMP, true))
      expect(raw.binary).toBe(true)
      expect(raw.json).toBe(`{"email":"test@example.com"}`)
      const text = getRight(decode(utf8(valid), TIMESTAMP, true))
      expect(text.binary).toBe(false)
      expect(text.json).toBe(raw.json)
    })
  })

  describe("properties", () => {
    const nonceArb = FastCheck.uint8Array({ minLength: 8, maxLength: 8 })
    const ivArb = FastCheck.uint8Array({ minLength: 12, maxLength: 12 })
    const timeArb = FastCheck.integer({ min: 0, max: 4_102_444_800_000 })

    it.prop(
      "request round trip: arbitrary JSON payloads",
      [FastCheck.json(), nonceArb, ivArb, timeArb],
      ([json, nonce, iv, nowMs]) => {
        const encoded = Envelope.encodeRequest(crypto, secret, { nowMs, nonce, iv, payload: utf8(json) })
        const decoded = getRight(OperatorEnvelope.decodeRequest(crypto, secret, encoded.text, { nowMs }))
        expect(decoded.json).toBe(json)
        expect(decoded.nonce).toEqual(nonce)
        expect(decoded.timestampMs).toBe(nowMs)
        const binary = getRight(OperatorEnvelope.decodeRequest(crypto, secret, encoded.bytes, { nowMs, binary: true }))
        expect(binary.json).toBe(json)
      },
      { fastCheck: { numRuns: 200 } }
    )

    it.prop(
      "request round trip: arbitrary payload bytes come back or fail as Json",
      [FastCheck.uint8Array({ maxLength: 300 }), nonceArb, ivArb],
      ([payload, nonce, iv]) => {
        const encoded = Envelope.encodeRequest(crypto, secret, { nowMs: TIMESTAMP, nonce, iv, payload })
        const decoded = OperatorEnvelope.decodeRequest(crypto, secret, encoded.text, { nowMs: TIMESTAMP })
        if (Either.isRight(decoded)) expect(decoded.right.payload).toEqual(payload)
        else expect(decoded.left.reason).toBe("Json")
      },
      { fastCheck: { numRuns: 200 } }
    )

    it.prop(
      "response round trip: arbitrary JSON, text and binary",
      [FastCheck.json(), nonceArb, ivArb, timeArb],
      ([json, nonce, iv, nowMs]) => {
        const encoded = OperatorEnvelope.encodeResponse(crypto, secret, { nowMs, nonce, iv, json })
        expect(getRight(Envelope.decodeResponse(crypto, secret, encoded.text, nonce))).toEqual({
          timestampMs: nowMs,
          json
        })
        expect(getRight(Envelope.decodeResponse(crypto, secret, encoded.bytes, nonce, { binary: true })).json).toBe(
          json
        )
      },
      { fastCheck: { numRuns: 200 } }
    )

    it.prop(
      "tampering any single byte of a request envelope is rejected",
      [FastCheck.json({ maxDepth: 2 }), FastCheck.nat(), FastCheck.integer({ min: 1, max: 255 })],
      ([json, position, flip]) => {
        const encoded = Envelope.encodeRequestRandom(crypto, secret, { nowMs: TIMESTAMP, payload: utf8(json) })
        const bytes = Uint8Array.from(encoded.bytes)
        const i = position % bytes.length
        bytes[i] = bytes[i]! ^ flip
        const error = getLeft(OperatorEnvelope.decodeRequest(crypto, secret, bytes, { nowMs: TIMESTAMP, binary: true }))
        expect(error.reason).toBe(i === 0 ? (bytes[0] === 1 ? "Decrypt" : "Version") : "Decrypt")
        expect(
          Either.isLeft(OperatorEnvelope.decodeRequest(crypto, secret, Buffer.from(bytes).toString("base64"), {
            nowMs: TIMESTAMP
          }))
        ).toBe(true)
      },
      { fastCheck: { numRuns: 300 } }
    )

    it.prop(
      "tampering any single byte or character of a response envelope is rejected",
      [
        FastCheck.json({ maxDepth: 2 }),
        nonceArb,
        FastCheck.nat(),
        FastCheck.integer({ min: 1, max: 255 }),
        FastCheck.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ".split(""))
      ],
      ([json, nonce, position, flip, char]) => {
        const encoded = OperatorEnvelope.encodeResponse(crypto, secret, {
          nowMs: TIMESTAMP,
          nonce,
          iv: crypto.randomBytes(12),
          json
        })
        const bytes = Uint8Array.from(encoded.bytes)
        const i = position % bytes.length
        bytes[i] = bytes[i]! ^ flip
        expect(getLeft(Envelope.decodeResponse(crypto, secret, bytes, nonce, { binary: true })).reason).toBe("Decrypt")
        const text = encoded.text
        const j = position % text.length
        if (text[j] !== char) {
          const tampered = text.slice(0, j) + char + text.slice(j + 1)
          if (tampered.trim() === tampered) {
            expect(Either.isLeft(Envelope.decodeResponse(crypto, secret, tampered, nonce))).toBe(true)
          }
        }
      },
      { fastCheck: { numRuns: 300 } }
    )

    it.prop(
      "arbitrary strings and bytes never throw",
      [
        FastCheck.oneof(FastCheck.string(), FastCheck.base64String(), FastCheck.fullUnicodeString()),
        FastCheck.uint8Array({ maxLength: 200 })
      ],
      ([text, bytes]) => {
        const results = [
          Envelope.parseClientSecret(text),
          Envelope.decodeResponse(crypto, secret, text, NONCE),
          Envelope.decodeResponse(crypto, secret, bytes, NONCE, { binary: true }),
          Envelope.decodeResponse(crypto, secret, bytes, NONCE),
          Envelope.decodeRefreshResponse(crypto, text, text),
          Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, text),
          Envelope.decodeRefreshResponse(crypto, P8.refresh_response_key, bytes),
          OperatorEnvelope.decodeRequest(crypto, secret, text, { nowMs: TIMESTAMP }),
          OperatorEnvelope.decodeRequest(crypto, secret, bytes, { nowMs: TIMESTAMP, binary: true }),
          OperatorEnvelope.decodeRequest(crypto, secret, bytes, { nowMs: TIMESTAMP })
        ]
        for (const r of results) expect(Either.isEither(r)).toBe(true)
      },
      { fastCheck: { numRuns: 500 } }
    )

    it.prop(
      "arbitrary 45+ byte bodies never decode",
      [FastCheck.uint8Array({ minLength: 45, maxLength: 200 })],
      ([bytes]) => {
        bytes[0] = 1
        expect(
          getLeft(OperatorEnvelope.decodeRequest(crypto, secret, bytes, { nowMs: TIMESTAMP, binary: true })).reason
        )
          .toBe("Decrypt")
      }
    )
  })
})
