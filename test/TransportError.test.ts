import { describe, expect, it } from "@effect/vitest"
import {
  EnvelopeError,
  type EnvelopeErrorReason,
  OperatorRejected,
  OperatorUnreachable,
  ResponseTooLarge,
  Timeout,
  type TransportError
} from "../src/TransportError.js"

const reasons: ReadonlyArray<EnvelopeErrorReason> = [
  "Missing",
  "Base64",
  "UnencryptedJson",
  "TooShort",
  "Version",
  "Decrypt",
  "Timestamp",
  "NonceMismatch",
  "Json",
  "Key"
]

describe("TransportError: every member says whether it is transient", () => {
  it("OperatorRejected: 408, 429 and 5xx are transient, other statuses permanent", () => {
    for (const httpStatus of [408, 429, 500, 502, 503, 504, 599]) {
      expect(new OperatorRejected({ path: "/p", httpStatus }).transient, String(httpStatus)).toBe(true)
    }
    for (const httpStatus of [300, 400, 401, 403, 404, 405, 409, 413, 422, 451]) {
      expect(new OperatorRejected({ path: "/p", httpStatus }).transient, String(httpStatus)).toBe(false)
    }
    // a Retry-After does not make a permanent status transient
    expect(new OperatorRejected({ path: "/p", httpStatus: 401, retryAfterMillis: 1_000 }).transient).toBe(false)
  })

  it("OperatorUnreachable: transient unless built as permanent (a request that cannot be built)", () => {
    expect(new OperatorUnreachable({ path: "/p", detail: "connection refused" }).transient).toBe(true)
    expect(new OperatorUnreachable({ path: "/p", detail: "reset", transient: true }).transient).toBe(true)
    expect(new OperatorUnreachable({ path: "/p", detail: "InvalidUrl: bad", transient: false }).transient).toBe(false)
  })

  it("Timeout is transient; EnvelopeError and ResponseTooLarge are permanent", () => {
    expect(new Timeout({ path: "/p", timeoutMillis: 10 }).transient).toBe(true)
    for (const reason of reasons) expect(new EnvelopeError({ reason }).transient, reason).toBe(false)
    expect(new EnvelopeError({ reason: "Decrypt", detail: "x" }).transient).toBe(false)
    expect(new ResponseTooLarge({ path: "/p", limitBytes: 16 }).transient).toBe(false)
  })

  it("the flag is a field of the error: in its JSON, and the other fields are kept", () => {
    const errors: ReadonlyArray<TransportError> = [
      new OperatorRejected({
        path: "/a",
        httpStatus: 503,
        status: "error",
        operatorMessage: "busy",
        retryAfterMillis: 5
      }),
      new OperatorUnreachable({ path: "/b", detail: "d", transient: false }),
      new EnvelopeError({ reason: "Json", detail: "no" }),
      new Timeout({ path: "/c", timeoutMillis: 7 }),
      new ResponseTooLarge({ path: "/d", limitBytes: 9 })
    ]
    expect(errors.map((e) => [e._tag, (e.toJSON() as { transient: unknown }).transient])).toEqual([
      ["OperatorRejected", true],
      ["OperatorUnreachable", false],
      ["EnvelopeError", false],
      ["Timeout", true],
      ["ResponseTooLarge", false]
    ])
    expect(errors[0]).toMatchObject({ path: "/a", httpStatus: 503, status: "error", operatorMessage: "busy" })
    expect(errors[0]!.message).toBe("operator rejected /a with HTTP 503 error: busy")
    expect(errors[4]).toMatchObject({ path: "/d", limitBytes: 9 })
    expect(errors[4]!.message).toBe("operator response to /d is larger than 9 bytes")
  })
})
