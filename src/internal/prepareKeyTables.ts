import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Crypto } from "../Crypto.js"
import { keyTableOf, releaseHandles } from "../KeyRing.js"
import { KeyStore } from "../KeyStore.js"

/**
 * Builds the Crypto's key table (see `TokenOpener`) for each ring as it becomes current, in a
 * background fiber of the client layer's scope, so that the first decrypt after a key refresh does
 * not pay for it (a 1,000-key ring takes a few tenths of a millisecond). A ring replaced before its
 * turn is skipped: its handles have been released and a table made now would outlive it. When the
 * layer closes, the current ring's handles and table are released (a later user of the same store
 * re-creates them on demand) instead of waiting for the garbage collector.
 */
export const prepareKeyTables: Effect.Effect<void, never, KeyStore | Crypto | Scope.Scope> = Effect.gen(function*() {
  const crypto = yield* Crypto
  const store = yield* KeyStore
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      const ring = store.current()
      if (ring !== undefined) releaseHandles(ring)
    })
  )
  if (crypto.tokenOpener === undefined) return
  yield* store.changes.pipe(
    Stream.runForEach((ring) =>
      Effect.sync(() => {
        if (store.current() === ring) keyTableOf(ring, crypto)
      })
    ),
    Effect.forkScoped
  )
})
