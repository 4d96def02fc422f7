import * as Effect from "effect/Effect"
import type { DecryptResult } from "../Decryption.js"
import type { DecryptError, EncryptError } from "../Errors.js"
import type { DecryptedToken } from "../Token.js"

/** Lifts a core decrypt result into an Effect without any wrapper allocation. */
export const liftDecrypt = (result: DecryptResult): Effect.Effect<DecryptedToken, DecryptError> =>
  result._tag === "DecryptedToken" ? Effect.succeed(result) : Effect.fail(result)

/** Lifts a core encrypt result (token text or error) into an Effect. */
export const liftEncrypt = (result: string | EncryptError): Effect.Effect<string, EncryptError> =>
  typeof result === "string" ? Effect.succeed(result) : Effect.fail(result)
