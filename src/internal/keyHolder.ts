import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"
import type { CryptoShape } from "../Crypto.js"
import { NotInitialized } from "../DecryptError.js"
import { prepare, type PreparedRing } from "../Decryption.js"
import type { KeySource } from "../KeyRefresher.js"
import type { StoredRing } from "../KeyStore.js"

export type { KeySource }

/**
 * One client's key state: the ring it decrypts with, prepared for its Crypto, plus what its status
 * reports. Every client owns one, so clients merged into one app never share keys or scratch buffers.
 */
export interface KeyHolder {
  /** The prepared ring decrypts use now; a plain read, no Effect. */
  readonly current: () => PreparedRing | undefined
  /** What a decrypt answers before any ring is loaded (carries the last failure). */
  readonly notInitialized: () => NotInitialized
  /** Makes `stored` current unless the ring in use is newer; answers whether it did. */
  readonly install: (stored: StoredRing, source: KeySource) => Effect.Effect<boolean>
  /** Completes once a ring is current. */
  readonly ready: Deferred.Deferred<void>
  readonly fetchedAt: () => number | undefined
  readonly source: () => KeySource | undefined
  /** Keeps the last failure's message for {@link KeyHolder.notInitialized}. */
  readonly setLastFailure: (message: string | undefined) => void
  /** Completes once the ring in use was fetched after `fetchedAt` (at once if it already was). */
  readonly awaitNewerThan: (fetchedAt: number) => Effect.Effect<void>
  /** Decrypt outcomes of this client, counted on the hot path without an Effect. */
  readonly tally: DecryptTally
}

/**
 * Plain counters of decrypt outcomes by result tag: one integer increment per
 * decrypt. A sampler reads them into Effect metrics off the hot path.
 */
export interface DecryptTally {
  /** Counts `result` under its tag and hands it back. */
  readonly record: <R extends { readonly _tag: string }>(result: R) => R
  /** Every tag seen, with its count since the holder was made. */
  readonly counts: () => ReadonlyArray<readonly [tag: string, count: number]>
}

// Every outcome a decrypt or encrypt can have, so the counter object keeps one shape from the start.
const OUTCOMES = [
  "DecryptedToken",
  "NotInitialized",
  "KeysNotSynced",
  "InvalidPayload",
  "VersionNotSupported",
  "InvalidIdentityScope",
  "NotAuthorizedForMasterKey",
  "NotAuthorizedForKey",
  "ExpiredToken",
  "UserOptedOut",
  "DomainOrAppNameCheckFailed",
  "InvalidTokenLifetime",
  "EncryptionFailure"
] as const

const makeTally = (): DecryptTally => {
  const counts: Record<string, number> = {}
  for (const tag of OUTCOMES) counts[tag] = 0
  return {
    record: (result) => {
      const tag = result._tag
      counts[tag] = (counts[tag] ?? 0) + 1
      return result
    },
    counts: () => Object.entries(counts)
  }
}

const plainNotInitialized = new NotInitialized({})

/** A holder whose rings are released when they are replaced and when the scope closes. */
export const makeKeyHolder = (
  crypto: CryptoShape,
  describe: { readonly endpoint: string; readonly slot: string; readonly store: string }
): Effect.Effect<KeyHolder, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<void>()
    let current: PreparedRing | undefined
    let fetchedAt: number | undefined
    let source: KeySource | undefined
    let notInitialized = plainNotInitialized
    // Replaced on every install: waiters for a newer ring wake and look again.
    let installed = Deferred.unsafeMake<void>(FiberId.none)

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        current?.release()
        current = undefined
      })
    )

    const install = (stored: StoredRing, from: KeySource): Effect.Effect<boolean> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (!stored.ring.isValid(now)) return Effect.succeed(false)
        // This client's own fetch always wins; a stored or peer ring only when it is newer than the one in use.
        const stale = current !== undefined &&
          (current.ring === stored.ring || (from !== "operator" && stored.fetchedAt <= (fetchedAt ?? 0)))
        if (stale) return Effect.succeed(false)
        const next = prepare(stored.ring, crypto)
        // Built here, off the hot path, so the first decrypt after a refresh does not pay for it.
        next.table()
        const previous = current
        current = next
        fetchedAt = stored.fetchedAt
        // Decrypts are synchronous, so none can still be running on the ring just replaced.
        previous?.release()
        const changed = source !== from
        source = from
        const wake = installed
        installed = Deferred.unsafeMake<void>(FiberId.none)
        Deferred.unsafeDone(wake, Exit.void)
        return Deferred.succeed(ready, undefined).pipe(
          Effect.zipRight(
            changed
              ? Effect.logInfo("UID2 key source changed").pipe(
                Effect.annotateLogs({ ...describe, source: from, keys: stored.ring.keys.length })
              )
              : Effect.void
          ),
          Effect.as(true)
        )
      })

    const awaitNewerThan = (than: number): Effect.Effect<void> =>
      Effect.suspend(() =>
        current !== undefined && (fetchedAt ?? -Infinity) > than
          ? Effect.void
          : Effect.zipRight(Deferred.await(installed), awaitNewerThan(than))
      )

    return {
      awaitNewerThan,
      tally: makeTally(),
      current: () => current,
      notInitialized: () => notInitialized,
      install,
      ready,
      fetchedAt: () => fetchedAt,
      source: () => source,
      setLastFailure: (message) => {
        notInitialized = message === undefined ? plainNotInitialized : new NotInitialized({ lastFailure: message })
      }
    }
  })
