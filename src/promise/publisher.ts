/**
 * The publisher client of the Promise API: generate, refresh and validate
 * tokens.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Dii from "../Dii.js"
import * as IdentityTokens from "../IdentityTokens.js"
import { start, transportOptions } from "../internal/promiseRuntime.js"
import * as Publisher from "../Publisher.js"
import * as TokenGenerateInput from "../TokenGenerateInput.js"
import { type CallOptions, type Closable, type ConnectionOptions, type Identity, Uid2Error } from "./common.js"

/**
 * The outcome of a generate or refresh: a new identity (store `identityJson`
 * in the user's session), or an opt-out (store nothing, drop the session).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenResult =
  | {
    readonly status: "success"
    readonly advertisingToken: string
    readonly identityJson: string
    readonly identity: IdentityTokens.IdentityTokens
  }
  | { readonly status: "optout" }

/**
 * What to do with a stored session identity on this request.
 *
 * @since 0.1.0
 * @category models
 */
export type SessionResult =
  | { readonly action: "keep"; readonly identityJson: string; readonly advertisingToken: string }
  | { readonly action: "refreshed"; readonly identityJson: string; readonly advertisingToken: string }
  | { readonly action: "drop"; readonly reason: Publisher.DropReason }

/**
 * Options of one `generateToken`.
 *
 * @since 0.1.0
 * @category models
 */
export interface GenerateOptions extends CallOptions {
  /** The user's IAB TCF v2 consent string, sent as `tcf_consent_string`; EUID operators evaluate it, UID2 ones ignore it. */
  readonly tcfConsentString?: string | undefined
}

/**
 * A publisher client.
 *
 * @since 0.1.0
 * @category models
 */
export interface PublisherClient extends Closable {
  readonly generateToken: (identity: Identity, options?: GenerateOptions) => Promise<TokenResult>
  /** Refreshes a stored identity (its JSON, as `identityJson` gave it). */
  readonly refreshToken: (identityJson: string, options?: CallOptions) => Promise<TokenResult>
  /** Keeps, refreshes or drops a stored identity: the per-request session step. */
  readonly refreshIfNeeded: (identityJson: string, options?: CallOptions) => Promise<SessionResult>
  /**
   * `/v2/token/validate`: whether `token` was generated for `dii`, sent
   * exactly as given (an email, a phone, or their hashes).
   */
  readonly validateToken: (token: string, dii: Publisher.ValidateDii, options?: CallOptions) => Promise<boolean>
}

const generateInput = (
  identity: Identity,
  tcfConsentString: string | undefined
): Effect.Effect<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii | Uid2Error> =>
  Effect.suspend(() => {
    const value = (typeof identity === "object" && identity !== null ? identity : {}) as Partial<
      Record<"email" | "phone" | "emailHash" | "phoneHash", string>
    >
    const input: Either.Either<TokenGenerateInput.TokenGenerateInput, Dii.InvalidDii | Uid2Error> =
      value.email !== undefined
        ? TokenGenerateInput.fromEmail(value.email)
        : value.phone !== undefined
        ? TokenGenerateInput.fromPhone(value.phone)
        : value.emailHash !== undefined
        ? TokenGenerateInput.fromHashedEmail(value.emailHash)
        : value.phoneHash !== undefined
        ? TokenGenerateInput.fromHashedPhone(value.phoneHash)
        : Either.left(new Uid2Error("give one of email, phone, emailHash or phoneHash", "InvalidIdentity"))
    const withConsent = tcfConsentString === undefined
      ? input
      : Either.map(input, TokenGenerateInput.withTransparencyAndConsentString(tcfConsentString))
    return Either.match(withConsent, { onLeft: Effect.fail, onRight: Effect.succeed })
  })

const tokenResult = (response: Publisher.TokenResponse): TokenResult =>
  response._tag === "Success"
    ? {
      status: "success",
      advertisingToken: response.identity.advertisingToken,
      identityJson: IdentityTokens.toJsonString(response.identity),
      identity: response.identity
    }
    : { status: "optout" }

const storedIdentity = (identityJson: string) =>
  Effect.suspend(() =>
    Either.match(IdentityTokens.fromJsonString(identityJson), { onLeft: Effect.fail, onRight: Effect.succeed })
  )

/**
 * Starts a publisher client. It fetches nothing at start-up; it rejects only
 * on a client secret that is not standard Base64 of 32 bytes
 * (`"InvalidClientSecret"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const createPublisherClient = async (options: ConnectionOptions): Promise<PublisherClient> => {
  const { closable, run, service } = await start(
    Publisher.PublisherClient,
    Publisher.layer(transportOptions(options)),
    options
  )
  return {
    generateToken: (identity, callOptions) =>
      run(
        Effect.map(
          Effect.flatMap(generateInput(identity, callOptions?.tcfConsentString), service.generateToken),
          tokenResult
        ),
        callOptions
      ),
    refreshToken: (identityJson, callOptions) =>
      run(Effect.map(Effect.flatMap(storedIdentity(identityJson), service.refreshToken), tokenResult), callOptions),
    refreshIfNeeded: (identityJson, callOptions) =>
      run(
        Effect.map(Effect.flatMap(storedIdentity(identityJson), service.refreshIfNeeded), (result): SessionResult => {
          switch (result._tag) {
            case "Keep":
              return {
                action: "keep",
                identityJson: IdentityTokens.toJsonString(result.identity),
                advertisingToken: result.identity.advertisingToken
              }
            case "Refreshed":
              return {
                action: "refreshed",
                identityJson: IdentityTokens.toJsonString(result.identity),
                advertisingToken: result.identity.advertisingToken
              }
            case "Drop":
              return { action: "drop", reason: result.reason }
          }
        }),
        callOptions
      ),
    validateToken: (token, dii, callOptions) => run(service.validateToken(token, dii), callOptions),
    ...closable
  }
}
