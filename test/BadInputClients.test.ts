// The client services on values an untyped caller can pass: every decrypt and encrypt, sync, Effect
// and batch, answers with a typed failure (a value, or an Exit that fails), never a throw or a defect.
// The clients are built as their own tests build them (KeyStore.layerMemoryWith + a Crypto layer).
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { BidstreamClient, layerFromKeyStore as bidstreamLayer } from "../src/Bidstream.js"
import type * as KeyRing from "../src/KeyRing.js"
import * as KeyStore from "../src/KeyStore.js"
import { layerFromKeyStore as sharingLayer, SharingClient } from "../src/Sharing.js"
import { bidstreamRing, conformanceKeys, key, sharingRing, token } from "../src/testing/Builders.js"
import { CryptoLive, EXAMPLE_UID } from "./fixtures.js"
import { anyValue, flatString, MB50, nonStrings, tripwire } from "./hostileValues.js"

// The wall clock: the Effect entry points read the runtime's Clock, the sync ones default to Date.now().
const NOW = Date.now()
const [MASTER, SITE] = conformanceKeys(NOW).map(key) as [KeyRing.Key, KeyRing.Key]
const V4 = token({ masterKey: MASTER, siteKey: SITE, now: NOW })
const CSTG = token({ masterKey: MASTER, siteKey: SITE, now: NOW, privacyBits: 2 })

const runtime = ManagedRuntime.make(Layer.mergeAll(
  bidstreamLayer().pipe(Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(bidstreamRing(NOW)), CryptoLive))),
  sharingLayer().pipe(Layer.provide(Layer.mergeAll(KeyStore.layerMemoryWith(sharingRing(NOW)), CryptoLive)))
))
afterAll(() => runtime.dispose())
const bidstream = runtime.runSync(BidstreamClient)
const sharing = runtime.runSync(SharingClient)

const tagOf = (result: unknown): string => {
  if (typeof result === "string") return "token"
  expect(result).toBeInstanceOf(Object)
  const tag = (result as { readonly _tag: string })._tag
  if (tag !== "DecryptedToken") expect(result).toBeInstanceOf(Error)
  return tag
}

/** The tag an Effect fails with; a success, a defect or an interruption fails the test. */
const failureOf = <A, E>(effect: Effect.Effect<A, E, BidstreamClient | SharingClient>): string => {
  const exit = runtime.runSyncExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None" || !Cause.isFailType(exit.cause)) {
    throw new Error(`not a typed failure: ${Cause.pretty(exit.cause)}`)
  }
  return tagOf(failure.value)
}

/** What an Effect gives when it may succeed: the success's tag, or the typed failure's. */
const outcomeOf = <A, E>(effect: Effect.Effect<A, E, BidstreamClient | SharingClient>): string => {
  const exit = runtime.runSyncExit(effect)
  return Exit.isSuccess(exit) ? tagOf(exit.value) : failureOf(effect)
}

const as = <T>(v: unknown) => v as T

// Each client entry point with its answer for a value that is not a string (or not a number, for nowMs).
const entries: ReadonlyArray<readonly [string, (v: unknown) => void]> = [
  ["Bidstream decryptSync token", (v) => expect(tagOf(bidstream.decryptSync(as(v)))).toBe("InvalidPayload")],
  ["Bidstream decryptSync domain", (v) => {
    // Not a string (null and undefined included): no name, which only the client-side generated token needs.
    expect(tagOf(bidstream.decryptSync(CSTG, as(v)))).toBe("DomainOrAppNameCheckFailed")
    expect(tagOf(bidstream.decryptSync(V4, as(v)))).toBe("DecryptedToken")
  }],
  ["Bidstream decryptSync nowMs", (v) => {
    // `undefined` is the default (the wall clock); numbers are times.
    if (v === undefined || typeof v === "number") tagOf(bidstream.decryptSync(V4, null, as(v)))
    else expect(tagOf(bidstream.decryptSync(V4, null, as(v)))).toBe("KeysNotSynced")
  }],
  ["Bidstream decrypt", (v) => {
    expect(failureOf(bidstream.decrypt(as(v)))).toBe("InvalidPayload")
    expect(failureOf(bidstream.decrypt(CSTG, as(v)))).toBe("DomainOrAppNameCheckFailed")
    expect(outcomeOf(bidstream.decrypt(V4, as(v)))).toBe("DecryptedToken")
  }],
  ["BidstreamClient.decrypt", (v) => {
    expect(failureOf(BidstreamClient.decrypt(as(v)))).toBe("InvalidPayload")
    expect(failureOf(BidstreamClient.decrypt(CSTG, as(v)))).toBe("DomainOrAppNameCheckFailed")
  }],
  ["Bidstream decryptAll", (v) => {
    const results = runtime.runSync(bidstream.decryptAll([V4, as(v), CSTG]))
    expect(results.map(tagOf)).toEqual(["DecryptedToken", "InvalidPayload", "DomainOrAppNameCheckFailed"])
    const forDomain = runtime.runSync(bidstream.decryptAll([V4, CSTG], as(v)))
    expect(forDomain.map(tagOf)).toEqual(["DecryptedToken", "DomainOrAppNameCheckFailed"])
  }],
  ["Sharing decryptSync", (v) => expect(tagOf(sharing.decryptSync(as(v)))).toBe("InvalidPayload")],
  ["Sharing decryptSync nowMs", (v) => {
    if (v === undefined || typeof v === "number") tagOf(sharing.decryptSync(V4, as(v)))
    else expect(tagOf(sharing.decryptSync(V4, as(v)))).toBe("KeysNotSynced")
  }],
  ["Sharing decrypt", (v) => {
    expect(failureOf(sharing.decrypt(as(v)))).toBe("InvalidPayload")
    expect(failureOf(SharingClient.decrypt(as(v)))).toBe("InvalidPayload")
  }],
  ["Sharing decryptAll", (v) => {
    expect(runtime.runSync(sharing.decryptAll([as(v), V4])).map(tagOf)).toEqual(["InvalidPayload", "DecryptedToken"])
  }],
  ["Sharing encryptSync", (v) => expect(tagOf(sharing.encryptSync(as(v)))).toBe("EncryptionFailure")],
  ["Sharing encryptSync nowMs", (v) => {
    const result = sharing.encryptSync(EXAMPLE_UID, as(v))
    if (v === undefined || typeof v === "number") {
      expect(typeof result === "string" || result instanceof Error).toBe(true)
    } else expect(tagOf(result)).toBe("KeysNotSynced")
  }],
  ["Sharing encrypt", (v) => {
    expect(failureOf(sharing.encrypt(as(v)))).toBe("EncryptionFailure")
    expect(failureOf(SharingClient.encrypt(as(v)))).toBe("EncryptionFailure")
  }],
  ["Sharing encryptAll", (v) => {
    const [token, failure] = runtime.runSync(sharing.encryptAll([EXAMPLE_UID, as(v)]))
    expect(tagOf(sharing.decryptSync(token as string))).toBe("DecryptedToken")
    expect(tagOf(failure)).toBe("EncryptionFailure")
  }]
]

describe("client services on values that are not strings", () => {
  it("the clients work on good input (so the failures below are about the input)", () => {
    expect(bidstream.decryptSync(CSTG, "example.com")).toMatchObject({ _tag: "DecryptedToken", uid: EXAMPLE_UID })
    expect(sharing.decryptSync(sharing.encryptSync(EXAMPLE_UID) as string)).toMatchObject({ uid: EXAMPLE_UID })
  })

  for (const [entry, check] of entries) {
    it(`${entry}: typed failures for every non-string value`, () => {
      for (const like of [V4, EXAMPLE_UID]) {
        for (const [name, value] of nonStrings(like)) {
          try {
            check(value)
          } catch (e) {
            throw new Error(`${entry} on ${name}: ${String(e)}`)
          }
        }
      }
    })

    it(`${entry}: caller code never runs`, () => {
      const { calls, values } = tripwire()
      for (const [name, value] of values) {
        try {
          check(value)
        } catch (e) {
          throw new Error(`${entry} on ${name}: ${String(e)}`)
        }
      }
      expect(calls()).toBe(0)
    })
  }

  it("50 MB token, raw UID: typed failures on their length", () => {
    const huge = V4 + flatString(MB50 - V4.length)
    expect(bidstream.decryptSync(huge)).toMatchObject({ _tag: "InvalidPayload", detail: "token too long" })
    expect(failureOf(bidstream.decrypt(huge))).toBe("InvalidPayload")
    expect(failureOf(sharing.decrypt(huge))).toBe("InvalidPayload")
    expect(sharing.encryptSync(huge)).toMatchObject({ _tag: "EncryptionFailure", detail: "raw UID too long" })
    expect(failureOf(sharing.encrypt(huge))).toBe("EncryptionFailure")
    expect(runtime.runSync(sharing.encryptAll([huge])).map(tagOf)).toEqual(["EncryptionFailure"])
  })
})

describe("client services on arbitrary values (FastCheck.anything)", () => {
  it.prop("decrypt and encrypt: typed failures for non-strings, typed results for strings", [anyValue], ([v]) => {
    const results = [
      bidstream.decryptSync(as(v)),
      sharing.decryptSync(as(v)),
      sharing.encryptSync(as(v)),
      ...runtime.runSync(bidstream.decryptAll([as(v)])),
      ...runtime.runSync(sharing.decryptAll([as(v)])),
      ...runtime.runSync(sharing.encryptAll([as(v)]))
    ]
    const tags = results.map(tagOf)
    if (typeof v !== "string") {
      expect(tags).toEqual([
        "InvalidPayload",
        "InvalidPayload",
        "EncryptionFailure",
        "InvalidPayload",
        "InvalidPayload",
        "EncryptionFailure"
      ])
      expect(failureOf(bidstream.decrypt(as(v)))).toBe("InvalidPayload")
      expect(failureOf(sharing.decrypt(as(v)))).toBe("InvalidPayload")
      expect(failureOf(sharing.encrypt(as(v)))).toBe("EncryptionFailure")
    } else {
      outcomeOf(bidstream.decrypt(v))
      outcomeOf(sharing.encrypt(v))
    }
  })

  it.prop(
    "bidstream: any domain value; only an allowed name passes a client-side generated token",
    [anyValue],
    ([v]) => {
      const allowed = typeof v === "string" && bidstreamRing(NOW).isDomainOrAppNameAllowed(9000, v)
      expect(tagOf(bidstream.decryptSync(CSTG, as(v)))).toBe(allowed ? "DecryptedToken" : "DomainOrAppNameCheckFailed")
      expect(outcomeOf(bidstream.decrypt(CSTG, as(v)))).toBe(allowed ? "DecryptedToken" : "DomainOrAppNameCheckFailed")
      expect(tagOf(bidstream.decryptSync(V4, as(v)))).toBe("DecryptedToken")
    }
  )

  it.prop("any numbers as nowMs give typed results", [FastCheck.double()], ([now]) => {
    tagOf(bidstream.decryptSync(V4, "example.com", now))
    tagOf(sharing.decryptSync(V4, now))
    tagOf(sharing.encryptSync(EXAMPLE_UID, now))
  })
})

describe("batch calls on arguments that are not iterables", () => {
  it("answer an empty batch, or what came before a throwing iterator, and never throw", () => {
    const throwing: Iterable<string> = {
      *[Symbol.iterator]() {
        yield V4
        throw new Error("hostile iterator")
      }
    }
    for (
      const odd of [
        null,
        undefined,
        42,
        {},
        new Proxy({}, {
          get: () => {
            throw new Error("trap")
          }
        })
      ]
    ) {
      expect(runtime.runSync(bidstream.decryptAll(odd as never))).toEqual([])
      expect(runtime.runSync(sharing.decryptAll(odd as never))).toEqual([])
      expect(runtime.runSync(sharing.encryptAll(odd as never))).toEqual([])
    }
    expect(runtime.runSync(bidstream.decryptAll(throwing)).map(tagOf)).toEqual(["DecryptedToken"])
  })
})
