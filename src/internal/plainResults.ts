/**
 * Identity map and opt-out results as plain JavaScript values for the
 * Promise API: `Date` instead of `DateTime`, `undefined` instead of
 * `Option`, `{ email }`-style inputs instead of tagged ones.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as IdentityMap from "../IdentityMap.js"
import type * as OptOut from "../OptOut.js"
import type { MapResponse, MapResult, OptOutResponse, OptOutResult, StoredIdentity } from "../promise/advertiser.js"
import type { ErrorInfo, Identity } from "../promise/common.js"

const errorInfo = (error: { readonly _tag: string; readonly message: string }): ErrorInfo => ({
  code: error._tag,
  message: error.message.length > 0 ? error.message : error._tag
})

/** The caller's identity back in the shape it was given. */
export const identityOf = (input: IdentityMap.Input): Identity => {
  switch (input._tag) {
    case "Email":
      return { email: input.value }
    case "Phone":
      return { phone: input.value }
    case "EmailHash":
      return { emailHash: input.value }
    case "PhoneHash":
      return { phoneHash: input.value }
  }
}

/** The string a result is keyed by: the identity as given. */
const keyOf = (identity: Identity): unknown => Object.values(identity)[0]

export const mapResultOf = (result: IdentityMap.MapResult): MapResult => {
  const input = identityOf(result.input)
  switch (result._tag) {
    case "Mapped":
      return {
        status: "mapped",
        input,
        currentRawUid: result.currentRawUid,
        previousRawUid: Option.getOrUndefined(result.previousRawUid),
        refreshFrom: DateTime.toDate(result.refreshFrom)
      }
    case "Unmapped":
      return { status: "unmapped", input, reason: result.reason, rawReason: result.rawReason }
    case "Invalid":
      return { status: "invalid", input, error: errorInfo(result.error) }
    case "Failed":
      return { status: "failed", input, error: errorInfo(result.error) }
  }
}

export const optOutResultOf = (result: OptOut.StatusResult): OptOutResult => {
  const rawUid = result.rawUid
  switch (result._tag) {
    case "OptedOut":
      return { status: "optedOut", rawUid, optedOutSince: DateTime.toDate(result.optedOutSince) }
    case "NotOptedOut":
      return { status: "notOptedOut", rawUid }
    case "Invalid":
      return { status: "invalid", rawUid, error: errorInfo(result.error) }
    case "Failed":
      return { status: "failed", rawUid, error: errorInfo(result.error) }
  }
}

type ByStatus<R extends { readonly status: string }, S extends R["status"]> = Map<string, Extract<R, { status: S }>>

const groupBy = <R extends { readonly status: string }>(
  results: ReadonlyArray<R>,
  keyOfResult: (result: R) => unknown
): Map<string, Map<string, R>> => {
  const groups = new Map<string, Map<string, R>>()
  for (const result of results) {
    const key = keyOfResult(result)
    if (typeof key !== "string") continue
    let group = groups.get(result.status)
    if (group === undefined) groups.set(result.status, group = new Map())
    group.set(key, result)
  }
  return groups
}

const group = <R extends { readonly status: string }, S extends R["status"]>(
  groups: Map<string, Map<string, R>>,
  status: S
): ByStatus<R, S> => (groups.get(status) ?? new Map()) as ByStatus<R, S>

export const mapResponseOf = (results: ReadonlyArray<MapResult>): MapResponse => {
  const groups = groupBy(results, (r) => keyOf(r.input))
  return {
    results,
    mapped: group(groups, "mapped"),
    unmapped: group(groups, "unmapped"),
    invalid: group(groups, "invalid"),
    failed: group(groups, "failed")
  }
}

export const optOutResponseOf = (results: ReadonlyArray<OptOutResult>): OptOutResponse => {
  const groups = groupBy(results, (r) => r.rawUid)
  return {
    results,
    optedOut: group(groups, "optedOut"),
    notOptedOut: group(groups, "notOptedOut"),
    invalid: group(groups, "invalid"),
    failed: group(groups, "failed")
  }
}

export const dueForRemap = (stored: Iterable<StoredIdentity>, at: Date | number = Date.now()): Array<Identity> => {
  const atMs = typeof at === "number" ? at : at.getTime()
  const due: Array<Identity> = []
  for (const s of stored) if (s.refreshFrom.getTime() <= atMs) due.push(s.input)
  return due
}

/**
 * A progress ref whose every change is passed to `onProgress` (from a fiber
 * of the current scope), and whose final value is passed once more when the
 * scope closes if the fiber had not delivered it yet. A callback that throws
 * is ignored: progress reporting never fails the work.
 */
export const progressRef = <P>(
  initial: P,
  onProgress: ((progress: P) => void) | undefined
): Effect.Effect<SubscriptionRef.SubscriptionRef<P> | undefined, never, Scope.Scope> => {
  if (onProgress === undefined) return Effect.succeed(undefined)
  return Effect.gen(function*() {
    const ref = yield* SubscriptionRef.make(initial)
    let delivered: P | undefined
    const deliver = (progress: P) =>
      Effect.sync(() => {
        delivered = progress
        try {
          onProgress(progress)
        } catch {
          // the caller's callback; its failure is not the SDK's
        }
      })
    // Added before the fork so that it runs after the fork is interrupted.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(SubscriptionRef.get(ref), (last) => last === delivered ? Effect.void : deliver(last))
    )
    yield* Effect.forkScoped(Stream.runForEach(Stream.drop(ref.changes, 1), deliver))
    return ref
  })
}
