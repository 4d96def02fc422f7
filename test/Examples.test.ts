// The README's examples, run as written against a local TestOperator.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { Bidstream, IdentityTokens, Publisher, Sharing, TokenGenerateInput } from "../src/index.js"
import { TestOperator } from "../src/testing/index.js"

const credentials = (op: TestOperator.TestOperatorShape, client: TestOperator.ClientCredentials) => ({
  baseUrl: op.baseUrl,
  apiKey: Redacted.make(client.apiKey),
  secretKey: Redacted.make(client.secret)
})

describe("README examples", () => {
  it.scopedLive("DSP, sharer and publisher flows", () =>
    Effect.gen(function*() {
      const op = yield* TestOperator.make()

      // DSP
      const rawUid = (token: string, domain: string) =>
        Bidstream.BidstreamClient.decrypt(token, domain).pipe(
          Effect.map((decrypted) => decrypted.uid),
          Effect.catchTag("ExpiredToken", () => Effect.succeed(undefined))
        )
      const Uid2 = yield* Layer.build(Bidstream.layer(credentials(op, TestOperator.DSP_CLIENT)))
      const issued = yield* op.issueToken({ email: "reader@example.com" })
      expect(yield* Effect.provide(rawUid(issued.advertisingToken, "example.com"), Uid2)).toBe(issued.rawUid)

      // Sharer
      const sharer = yield* Layer.build(Sharing.layer(credentials(op, TestOperator.SHARER_CLIENT)))
      const shared = yield* Effect.provide(
        Effect.gen(function*() {
          const token = yield* Sharing.SharingClient.encrypt(issued.rawUid)
          const back = yield* Sharing.SharingClient.decrypt(token)
          const many = yield* (yield* Sharing.SharingClient).encryptAll([issued.rawUid, issued.rawUid])
          return { back: back.uid, many: many.length }
        }),
        sharer
      )
      expect(shared).toEqual({ back: issued.rawUid, many: 2 })

      // Publisher
      const publisher = yield* Layer.build(Publisher.layer(credentials(op, TestOperator.PUBLISHER_CLIENT)))
      const login = (email: string) =>
        Effect.gen(function*() {
          const input = yield* TokenGenerateInput.fromEmail(email)
          const response = yield* Publisher.PublisherClient.generateToken(input)
          return Publisher.identityJsonString(response)
        })
      const session = (json: string) =>
        Effect.flatMap(IdentityTokens.fromJsonString(json), Publisher.PublisherClient.refreshIfNeeded)
      const json = yield* Effect.provide(login("Jane.Doe@gmail.com"), publisher)
      expect(json).toContain("advertising_token")
      expect(yield* Effect.provide(login("optout@example.com"), publisher)).toBeUndefined()
      const kept = yield* Effect.provide(session(json!), publisher)
      expect(kept._tag).toBe("Keep")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
})
