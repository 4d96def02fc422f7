import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Crypto from "../src/Crypto.js"
import * as Envelope from "../src/Envelope.js"
import * as OperatorEnvelope from "../src/internal/operatorEnvelope.js"
import { requestSealer } from "../src/internal/requestSealer.js"
import { CLIENT_SECRET } from "./vectors.js"

const crypto = Crypto.makeNode(Crypto.seededRandom(7))
const key = Either.getOrThrow(Envelope.parseClientSecret(CLIENT_SECRET))
const NOW = 1_700_000_000_000

/** What the operator reads out of one sealed envelope. */
const open = (bytes: Uint8Array, nowMs: number) =>
  Either.getOrThrow(OperatorEnvelope.decodeRequest(crypto, key, bytes, { nowMs, binary: true }))

describe("requestSealer", () => {
  it("seals the same payload for every attempt, each with its own time, nonce and IV", () => {
    const payload = new TextEncoder().encode("{\"email\":[\"user@example.com\"],\"phone\":[\"+12345678901\"]}")
    const expected = new TextDecoder().decode(payload)
    const sealer = requestSealer(crypto, key, payload)
    const sealed = [0, 1_000, 5_000].map((delay) => ({ delay, envelope: sealer.seal(NOW + delay) }))
    // The caller's buffer is not read again after the first attempt: retries come from the envelope.
    payload.fill(0x20)
    const again = sealer.seal(NOW + 9_000)
    for (const { delay, envelope } of [...sealed, { delay: 9_000, envelope: again }]) {
      const request = open(envelope.bytes, NOW + delay)
      expect(request.json).toBe(expected)
      expect(request.timestampMs).toBe(NOW + delay)
      expect(Buffer.from(request.nonce).equals(Buffer.from(envelope.nonce))).toBe(true)
    }
    const all = [...sealed.map((s) => s.envelope), again]
    expect(new Set(all.map((e) => Buffer.from(e.nonce).toString("hex"))).size).toBe(4)
    expect(new Set(all.map((e) => Buffer.from(e.bytes).toString("hex"))).size).toBe(4)
  })

  it("an empty request stays empty on every attempt", () => {
    const sealer = requestSealer(crypto, key, undefined)
    for (const delay of [0, 2_000]) {
      const request = open(sealer.seal(NOW + delay).bytes, NOW + delay)
      expect(request.payload.length).toBe(0)
      expect(request.json).toBeUndefined()
    }
  })
})
