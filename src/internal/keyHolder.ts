import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CryptoShape } from "../Crypto.js"
import { NotInitialized } from "../DecryptError.js"
import { prepare, type PreparedRing } from "../Decryption.js"
import type { KeySource } from "../KeyRefresher.js"
import type { StoredRing } from "../KeyStore.js"


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

    return {
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
