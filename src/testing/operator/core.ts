/**
 * The test operator's core: its clock, and its key ring, identities, token
 * issuing, faults and router wired together behind one request handler and
 * the scripting API of `TestOperatorShape`. Private to the test kit.
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as KeyRing from "../../KeyRing.js"
import type { DiiInput } from "../TestOperator.js"
import type { Client } from "./clients.js"
import { type Config, millis } from "./config.js"
import { TestOperatorError } from "./errors.js"
import { makeFaults } from "./faults.js"
import { makeRoute } from "./handlers.js"
import { makeIdentities } from "./identities.js"
import { makeKeyRing } from "./keys.js"
import type { CoreOutcome, CoreRequest } from "./protocol.js"
import { makeTokens } from "./tokens.js"

/** A running operator's state: its clock, request handler and scripting API; `startMs` dates the initial keys and salts. */
export const makeCore = (config: Config, startMs: number) => {
  const clientsByKey = new Map(config.clients.map((c) => [c.apiKey, c]))
  let offset = 0

  const baseNow = config.clock === undefined ? Clock.currentTimeMillis : Effect.sync(config.clock)
  const now = Effect.map(baseNow, (t) => t + offset)

  const identities = makeIdentities(config, startMs)
  const keyRing = makeKeyRing(config, startMs)
  const tokens = makeTokens(config, keyRing, identities, now)
  const faults = makeFaults()
  const route = makeRoute(config, clientsByKey, keyRing, identities, tokens, faults)

  const handle = (req: CoreRequest): Effect.Effect<CoreOutcome> =>
    Effect.flatMap(now, (nowMs) => faults.run(req, nowMs, route))

  // -- scripting -----------------------------------------------------------

  const clientFor = (apiKey: string | undefined): Effect.Effect<Client, TestOperatorError> => {
    const client = apiKey === undefined ? config.clients[0] : clientsByKey.get(apiKey)
    return client === undefined
      ? Effect.fail(new TestOperatorError({ detail: "unknown API key" }))
      : Effect.succeed(client)
  }

  const keyResponseBody = (endpoint: "sharing" | "bidstream", apiKey?: string) =>
    Effect.flatMap(
      clientFor(apiKey),
      (client) =>
        Effect.map(
          now,
          (nowMs) => endpoint === "sharing" ? keyRing.sharingBody(client, nowMs) : keyRing.bidstreamBody()
        )
    )

  return {
    now,
    handle,
    scripting: {
      now,
      advanceTime: (duration: Duration.DurationInput) => Effect.sync(() => void (offset += millis(duration))),
      setNow: (nowMs: number) => Effect.map(baseNow, (base) => void (offset = nowMs - base)),
      keys: Effect.sync(() => keyRing.keys()),
      keysetIdOf: (siteId: number) => Effect.map(now, (nowMs) => keyRing.keysetOf(siteId, nowMs)),
      keyResponseBody,
      keyRing: (endpoint: "sharing" | "bidstream", apiKey?: string) =>
        Effect.flatMap(keyResponseBody(endpoint, apiKey), (body) =>
          Either.match(KeyRing.fromBody(body), {
            onLeft: (e) => Effect.fail(new TestOperatorError({ detail: e.message })),
            onRight: Effect.succeed
          })),
      rotateKeys: (options?: { readonly activatesIn?: Duration.DurationInput | undefined }) =>
        Effect.map(
          now,
          (nowMs) => keyRing.rotateKeys(nowMs, options?.activatesIn === undefined ? 0 : millis(options.activatesIn))
        ),
      expireKeys: () => Effect.map(now, (nowMs) => keyRing.expireKeys(nowMs)),
      saltBuckets: Effect.sync(() => identities.saltBuckets()),
      rotateSalts: (bucketIds?: ReadonlyArray<string>) =>
        Effect.map(now, (nowMs) => identities.rotateSalts(bucketIds, nowMs)),
      rawUidOf: (input: DiiInput) =>
        Effect.flatMap(
          identities.resolveInput(input),
          (id) => Effect.map(now, (nowMs) => identities.mapping(id, nowMs).current)
        ),
      optOut: (input: DiiInput) =>
        Effect.flatMap(
          identities.resolveInput(input),
          (id) => Effect.map(now, (nowMs) => identities.optOut(id, nowMs))
        ),
      issueToken: tokens.issueToken,
      ...faults.scripting
    }
  }
}
