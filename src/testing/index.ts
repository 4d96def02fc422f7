/**
 * The public test kit: a real operator on 127.0.0.1 ({@link TestOperator})
 * with scripted faults, key rotation and clock control; builders for key
 * rings and tokens with every field settable ({@link Builders}); fast-check
 * arbitraries for property tests ({@link Arbitraries}); and a conformance
 * suite for your own key store adapter ({@link KeyStoreConformance}). Tests
 * written with it run the SDK's real clients over real HTTP.
 *
 * @example
 * ```ts
 * import { expect, it } from "@effect/vitest"
 * import { Effect, Layer, Redacted } from "effect"
 * import { Bidstream } from "effect-uid2"
 * import { TestOperator } from "effect-uid2/testing"
 *
 * it.scopedLive("decrypts what the operator issues", () =>
 *   Effect.gen(function*() {
 *     const operator = yield* TestOperator.make()
 *     const dsp = yield* Layer.build(Bidstream.layer({
 *       baseUrl: operator.baseUrl,
 *       apiKey: Redacted.make(TestOperator.DSP_CLIENT.apiKey),
 *       secretKey: Redacted.make(TestOperator.DSP_CLIENT.secret)
 *     }))
 *     const issued = yield* operator.issueToken({ email: "user@example.com" })
 *     const decrypted = yield* Effect.provide(
 *       Bidstream.BidstreamClient.decrypt(issued.advertisingToken, "example.com"),
 *       dsp
 *     )
 *     expect(decrypted.uid).toBe(issued.rawUid)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @module effect-uid2/testing
 */

// No doc comments here: typedoc would show them instead of each module's own first comment.
export * as Arbitraries from "./Arbitraries.js"
export * as Builders from "./Builders.js"
export * as KeyStoreConformance from "./KeyStoreConformance.js"
export * as TestOperator from "./TestOperator.js"
