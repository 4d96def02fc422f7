/**
 * The demo's roles, as a newcomer meets them: a publisher issues and keeps
 * an identity, a DSP decrypts the publisher's token from a bid request (and
 * refuses one presented on the wrong domain), a sharer passes the raw UID2
 * on as a sharing token, an advertiser maps its customer list and checks
 * opt-outs. Each step uses the SDK exactly as an integration
 * would, over HTTP, with that role's own credentials.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Bidstream from "../Bidstream.js"
import type * as HttpTransport from "../HttpTransport.js"
import * as IdentityMap from "../IdentityMap.js"
import * as IdentityTokens from "../IdentityTokens.js"
import * as OptOut from "../OptOut.js"
import * as Publisher from "../Publisher.js"
import * as Sharing from "../Sharing.js"
import * as TestOperator from "../testing/TestOperator.js"
import * as TokenGenerateInput from "../TokenGenerateInput.js"
import type { Role } from "./demoRunner.js"
import { abbreviate } from "./text.js"
import { duration } from "./time.js"

/**
 * What the steps pass on to one another, and the operator they run against.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoState {
  readonly operator: TestOperator.TestOperatorShape
  publisher?: Publisher.PublisherClientShape
  identity?: IdentityTokens.IdentityTokens
  dsp?: Bidstream.BidstreamClientShape
  rawUid?: string
  clientSideToken?: string
  sharer?: Sharing.SharingClientShape
  sharingToken?: string
  mappedRawUids?: ReadonlyArray<string>
}

/** The user the publisher signs in. */
export const DEMO_EMAIL = "jane.doe@example.com"
/** The domain the publisher's site (1001) allows for client-side tokens. */
export const PUBLISHER_DOMAIN = "publisher.example"
/** A domain no site allows. */
export const OTHER_DOMAIN = "attacker.example"

/**
 * The connection options of one role's client: short timeouts and few
 * retries, so a faulty operator fails a step quickly.
 *
 * @since 0.1.0
 * @category options
 */
export const clientOptions = (
  operator: TestOperator.TestOperatorShape,
  client: TestOperator.ClientCredentials
): HttpTransport.Options => ({
  baseUrl: operator.baseUrl,
  apiKey: Redacted.make(client.apiKey),
  secretKey: Redacted.make(client.secret),
  timeout: "5 seconds",
  retry: { times: 1, base: "50 millis" }
})

const keyClientOptions = { startup: { timeout: "5 seconds" } } as const

const need = <A>(value: A | undefined, what: string): Effect.Effect<A, string> =>
  value === undefined ? Effect.fail(`not run: needs ${what}`) : Effect.succeed(value)

const service = <I, S>(tag: Context.Tag<I, S>, layer: Layer.Layer<I, unknown>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, tag))

const fromEither = <A, E>(either: Either.Either<A, E>): Effect.Effect<A, E> =>
  Either.match(either, { onLeft: Effect.fail, onRight: Effect.succeed })

const inMinutes = (at: number) => `in ${duration(at - Date.now())}`

/**
 * The publisher: generate, store, refresh, and an opted-out user.
 *
 * @since 0.1.0
 * @category roles
 */
export const publisher: Role<DemoState> = {
  key: "publisher",
  title: "Publisher",
  blurb: "turns a signed-in user's email into a token, keeps the identity in the session, refreshes and checks it",
  steps: [
    {
      name: "generate a token",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* service(
            Publisher.PublisherClient,
            Publisher.layer(clientOptions(state.operator, TestOperator.PUBLISHER_CLIENT))
          )
          state.publisher = client
          const input = yield* fromEither(TokenGenerateInput.fromEmail(DEMO_EMAIL))
          const response = yield* client.generateToken(input)
          if (response._tag !== "Success") return yield* Effect.fail(`expected a token, got ${response._tag}`)
          state.identity = response.identity
          return `${DEMO_EMAIL} → advertising token ${abbreviate(response.identity.advertisingToken, 10)}` +
            ` (refresh ${inMinutes(response.identity.refreshFrom)})`
        })
    },
    {
      name: "store the identity",
      run: (state) =>
        Effect.gen(function*() {
          const identity = yield* need(state.identity, "the generated identity")
          const json = IdentityTokens.toJsonString(identity)
          const restored = yield* fromEither(IdentityTokens.fromJsonString(json))
          if (!Equal.equals(restored, identity)) return yield* Effect.fail("the identity read back differs")
          return `identity JSON of ${json.length} characters saved in the session and read back equal`
        })
    },
    {
      name: "refresh it",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.publisher, "the publisher client")
          const identity = yield* need(state.identity, "the stored identity")
          const response = yield* client.refreshToken(identity)
          if (response._tag !== "Success") return yield* Effect.fail(`expected a new identity, got ${response._tag}`)
          if (response.identity.advertisingToken === identity.advertisingToken) {
            return yield* Effect.fail("the refresh returned the same advertising token")
          }
          state.identity = response.identity
          return `new advertising token ${abbreviate(response.identity.advertisingToken, 10)}, expires` +
            ` ${inMinutes(response.identity.identityExpires)}`
        })
    },
    {
      name: "validate the token",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.publisher, "the publisher client")
          const identity = yield* need(state.identity, "the refreshed identity")
          const valid = yield* client.validateToken(identity.advertisingToken, { email: DEMO_EMAIL })
          if (!valid) return yield* Effect.fail(`the operator says the token is not ${DEMO_EMAIL}'s`)
          const other = yield* client.validateToken(identity.advertisingToken, { email: "someone.else@example.com" })
          if (other) return yield* Effect.fail("the operator says the token is someone else's too")
          return `the operator confirms the token is ${DEMO_EMAIL}'s (and not someone else's)`
        })
    },
    {
      name: "an opted-out user",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.publisher, "the publisher client")
          const email = TestOperator.TestIdentities.optoutEmail
          const input = yield* fromEither(TokenGenerateInput.fromEmail(email))
          const response = yield* client.generateToken(input)
          if (response._tag !== "OptOut") return yield* Effect.fail(`expected optout, got ${response._tag}`)
          return `${email} → optout: no token, nothing to store`
        })
    }
  ]
}

/**
 * The DSP: keys, the publisher's token, a client-side token on its domain
 * and on another.
 *
 * @since 0.1.0
 * @category roles
 */
export const dsp: Role<DemoState> = {
  key: "dsp",
  title: "DSP",
  blurb: "decrypts the advertising tokens of bid requests into raw UID2s, checking the domain of client-side tokens",
  steps: [
    {
      name: "fetch bidstream keys",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* service(
            Bidstream.BidstreamClient,
            Bidstream.layer({ ...clientOptions(state.operator, TestOperator.DSP_CLIENT), ...keyClientOptions })
          )
          state.dsp = client
          const status = yield* client.status
          return `${status.keyCount} keys from /v2/key/bidstream, refreshed hourly in the background`
        })
    },
    {
      name: "decrypt the publisher's token",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.dsp, "the bidstream keys")
          const identity = yield* need(state.identity, "the publisher's token")
          const result = client.decryptSync(identity.advertisingToken, PUBLISHER_DOMAIN)
          if (result._tag !== "DecryptedToken") return yield* Effect.fail(result)
          state.rawUid = result.uid
          return `raw UID ${result.uid} of site ${result.siteId} (V${result.version}, ${result.identityType})`
        })
    },
    {
      name: "client-side token, its domain",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.dsp, "the bidstream keys")
          const issued = yield* state.operator.issueToken({
            email: DEMO_EMAIL,
            siteId: TestOperator.PUBLISHER_CLIENT.siteId,
            privacyBits: 3
          })
          state.clientSideToken = issued.advertisingToken
          const result = client.decryptSync(issued.advertisingToken, PUBLISHER_DOMAIN)
          if (result._tag !== "DecryptedToken") return yield* Effect.fail(result)
          return `accepted on ${PUBLISHER_DOMAIN}, which site ${result.siteId} allows`
        })
    },
    {
      name: "client-side token, other domain",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.dsp, "the bidstream keys")
          const token = yield* need(state.clientSideToken, "the client-side token")
          const result = client.decryptSync(token, OTHER_DOMAIN)
          if (result._tag === "DecryptedToken") {
            return yield* Effect.fail(`accepted on ${OTHER_DOMAIN}; expected a refusal`)
          }
          if (result._tag !== "DomainOrAppNameCheckFailed") return yield* Effect.fail(result)
          return `refused on ${OTHER_DOMAIN}, as it must be: ${result._tag}: ${result.message}`
        })
    }
  ]
}

/**
 * The sharer: keys, encrypt the DSP's raw UID2, decrypt it back.
 *
 * @since 0.1.0
 * @category roles
 */
export const sharer: Role<DemoState> = {
  key: "sharer",
  title: "Sharer",
  blurb: "passes raw UID2s to partners as sharing tokens, and decrypts the ones it receives",
  steps: [
    {
      name: "fetch sharing keys",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* service(
            Sharing.SharingClient,
            Sharing.layer({ ...clientOptions(state.operator, TestOperator.SHARER_CLIENT), ...keyClientOptions })
          )
          state.sharer = client
          const status = yield* client.status
          return `${status.keyCount} keys from /v2/key/sharing`
        })
    },
    {
      name: "encrypt a raw UID2",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.sharer, "the sharing keys")
          const rawUid = state.rawUid ?? (yield* state.operator.rawUidOf({ email: DEMO_EMAIL }))
          const token = yield* client.encrypt(rawUid)
          state.rawUid = rawUid
          state.sharingToken = token
          return `${abbreviate(rawUid, 8)} → sharing token ${abbreviate(token, 10)}`
        })
    },
    {
      name: "decrypt it back",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* need(state.sharer, "the sharing keys")
          const token = yield* need(state.sharingToken, "the sharing token")
          const decrypted = yield* client.decrypt(token)
          if (decrypted.uid !== state.rawUid) return yield* Effect.fail("decrypted to a different raw UID")
          return `the same raw UID, from site ${decrypted.siteId}, expires ${inMinutes(decrypted.expiry)}`
        })
    }
  ]
}

/** The advertiser's customer list: people the publisher knows, an opted-out one, and bad entries. */
export const CUSTOMER_LIST: ReadonlyArray<IdentityMap.Input> = [
  IdentityMap.email(DEMO_EMAIL),
  IdentityMap.phone(TestOperator.TestIdentities.validatePhone),
  IdentityMap.email(TestOperator.TestIdentities.optoutEmail),
  IdentityMap.emailHash("this is not a hash of anything"),
  IdentityMap.email("not an email")
]

const count = (n: number, what: string) => `${n} ${what}`

/**
 * The advertiser: map a mixed list, then the opt-out status of raw UIDs.
 *
 * @since 0.1.0
 * @category roles
 */
export const advertiser: Role<DemoState> = {
  key: "advertiser",
  title: "Advertiser",
  blurb: "maps customer emails and phones to raw UID2s in batches, and honours opt-outs",
  steps: [
    {
      name: "map a mixed list",
      run: (state) =>
        Effect.gen(function*() {
          const client = yield* service(
            IdentityMap.IdentityMapClient,
            IdentityMap.layer(clientOptions(state.operator, TestOperator.MAPPER_CLIENT))
          )
          const response = yield* client.map(CUSTOMER_LIST)
          const mapped = Array.from(response.mapped.values())
          const unmapped = Array.from(response.unmapped.values())
          if (response.failed.size > 0) return yield* Effect.fail(Array.from(response.failed.values())[0]!.error)
          const jane = response.mapped.get(DEMO_EMAIL)
          if (jane === undefined) return yield* Effect.fail(`${DEMO_EMAIL} was not mapped`)
          if (state.rawUid !== undefined && jane.currentRawUid !== state.rawUid) {
            return yield* Effect.fail("the mapped raw UID differs from the one in the publisher's token")
          }
          if (response.unmapped.get(TestOperator.TestIdentities.optoutEmail)?.reason !== "OptOut") {
            return yield* Effect.fail("the opted-out user was not reported as opted out")
          }
          state.mappedRawUids = mapped.map((m) => m.currentRawUid)
          return `${CUSTOMER_LIST.length} inputs: ${count(mapped.length, "mapped")} (${DEMO_EMAIL} to the raw UID the` +
            ` DSP saw), ${unmapped.length} unmapped (${unmapped.map((u) => u.reason).join(", ")}),` +
            ` ${response.invalid.size} rejected before sending`
        })
    },
    {
      name: "opt-out status",
      run: (state) =>
        Effect.gen(function*() {
          const mapped = yield* need(state.mappedRawUids, "the mapped raw UIDs")
          const client = yield* service(
            OptOut.OptOutClient,
            OptOut.layer(clientOptions(state.operator, TestOperator.MAPPER_CLIENT))
          )
          // A raw UID a partner passed on, whose user has since opted out.
          const partners = yield* state.operator.rawUidOf({ email: TestOperator.TestIdentities.optoutEmail })
          const response = yield* client.status([...mapped, partners])
          if (response.failed.size > 0) return yield* Effect.fail(Array.from(response.failed.values())[0]!.error)
          const optedOut = response.optedOut.get(partners)
          if (optedOut === undefined) return yield* Effect.fail("the opted-out raw UID was not reported")
          if (response.notOptedOut.size !== mapped.length) {
            return yield* Effect.fail("a mapped raw UID is reported opted out")
          }
          return `${count(response.notOptedOut.size, "not opted out")}; the partner's raw UID opted out` +
            ` ${DateTime.formatIso(optedOut.optedOutSince)}: stop using it`
        })
    }
  ]
}

/**
 * Every role, in the order the demo walks them.
 *
 * @since 0.1.0
 * @category roles
 */
export const roles: ReadonlyArray<Role<DemoState>> = [publisher, dsp, sharer, advertiser]
