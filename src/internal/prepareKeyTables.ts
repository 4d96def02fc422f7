import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Crypto } from "../Crypto.js"
import { keyTableOf } from "../KeyRing.js"
import { KeyStore } from "../KeyStore.js"

/**
 * Builds the Crypto's key table (see `TokenOpener`) for each ring as it becomes current, in a
 * background fiber of the layer's scope, so that the first decrypt after a key refresh does not pay
 * for it (a 1,000-key ring takes a few tenths of a millisecond). A ring replaced before its turn is
 * skipped: its handles have been released and a table made now would outlive it.
 */
export const prepareKeyTables: Effect.Effect<void, never, KeyStore | Crypto | Scope.Scope> = Effect.gen(function*() {
  const crypto = yield* Crypto
  if (crypto.tokenOpener === undefined) return
  const store = yield* KeyStore
  yield* store.changes.pipe(
    Stream.runForEach((ring) =>
      Effect.sync(() => {
        if (store.current() === ring) keyTableOf(ring, crypto)
      })
    ),
    Effect.forkScoped
  )
})
