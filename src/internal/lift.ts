import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type { DecryptError, EncryptError } from "../DecryptError.js"
import type { DecryptResult } from "../Decryption.js"
import type { DecryptedToken } from "../Token.js"

/**
 * The time of the running fiber's `Clock` (TestClock in tests), read inside
 * `Effect.withFiberRuntime` so a decrypt costs one Effect step, not three.
 */
export const fiberNow = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()

/** A core decrypt result as an Exit (an Effect in Effect 3) without a further step. */
export const decryptExit = (result: DecryptResult): Exit.Exit<DecryptedToken, DecryptError> =>
  result._tag === "DecryptedToken" ? Exit.succeed(result) : Exit.fail(result)

/** A core encrypt result (token text or error) as an Exit. */
export const encryptExit = (result: string | EncryptError): Exit.Exit<string, EncryptError> =>
  typeof result === "string" ? Exit.succeed(result) : Exit.fail(result)

/**
 * `Array.from(items, f)` that never throws for untyped callers: an argument that is not iterable
 * counts as no items, and an iterator that throws ends the batch at that point.
 */
export const mapBatch = <A, B>(items: Iterable<A>, f: (item: A) => B): Array<B> => {
  const out: Array<B> = []
  try {
    if (typeof (items as { [Symbol.iterator]?: unknown } | null | undefined)?.[Symbol.iterator] !== "function") {
      return out
    }
    for (const item of items) out.push(f(item))
  } catch {
    // A hostile iterable: keep what was produced before it threw.
  }
  return out
}
