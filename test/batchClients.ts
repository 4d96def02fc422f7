// Identity-map and opt-out clients pointed at a TestOperator over loopback, for the
// end-to-end and pipeline suites.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as Dii from "../src/Dii.js"
import type * as HttpTransport from "../src/HttpTransport.js"
import * as IdentityMap from "../src/IdentityMap.js"
import * as OptOut from "../src/OptOut.js"
import * as TestOperator from "../src/testing/TestOperator.js"

type Credentials = Pick<TestOperator.ClientCredentials, "apiKey" | "secret">

const transportOptions = (
  operator: TestOperator.TestOperatorShape,
  credentials: Credentials
): HttpTransport.Options => ({
  baseUrl: operator.baseUrl,
  apiKey: Redacted.make(credentials.apiKey),
  secretKey: Redacted.make(credentials.secret),
  // fast retries: the pipeline suites script many transient failures
  retry: { base: "5 millis" }
})

/** An identity map client (its own layer, scoped) on `operator`. */
export const identityMapClient = (
  operator: TestOperator.TestOperatorShape,
  options: Partial<IdentityMap.Options> = {},
  credentials: Credentials = TestOperator.MAPPER_CLIENT
): Effect.Effect<IdentityMap.IdentityMapClientShape, never, Scope.Scope> =>
  Layer.build(IdentityMap.layer({ ...transportOptions(operator, credentials), ...options })).pipe(
    Effect.orDie,
    Effect.map(Context.get(IdentityMap.IdentityMapClient))
  )

/** An opt-out status client (its own layer, scoped) on `operator`. */
export const optOutClient = (
  operator: TestOperator.TestOperatorShape,
  options: Partial<OptOut.Options> = {},
  credentials: Credentials = TestOperator.MAPPER_CLIENT
): Effect.Effect<OptOut.OptOutClientShape, never, Scope.Scope> =>
  Layer.build(OptOut.layer({ ...transportOptions(operator, credentials), ...options })).pipe(
    Effect.orDie,
    Effect.map(Context.get(OptOut.OptOutClient))
  )

/** Base64 SHA-256 of a string. */
export const sha256b64 = (s: string): string => createHash("sha256").update(s).digest("base64")

/** The `email_hash` the client sends for an email. */
export const emailHashOf = (email: string): string => {
  const normalized = Dii.normalizeEmail(email)
  if (normalized._tag === "Left") throw new Error("test email does not normalize")
  return sha256b64(normalized.right)
}

/** A `RequestRule.when` that matches identity-map requests carrying `hash`. */
export const carries = (hash: string) => (payload: unknown): boolean => {
  const p = payload as { email_hash?: ReadonlyArray<string>; phone_hash?: ReadonlyArray<string> }
  return (p.email_hash?.includes(hash) ?? false) || (p.phone_hash?.includes(hash) ?? false)
}
