/**
 * Sharer programs: encrypt raw UIDs into V4 sharing tokens and decrypt
 * received ones, with the sharing lifetime limit.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Crypto } from "./Crypto.js"
import { decrypt as decryptCore, type DecryptResult, encryptRawUid } from "./Decryption.js"
import type { DecryptError, EncryptError } from "./Errors.js"
import { liftDecrypt, liftEncrypt } from "./internal/lift.js"
import { KeyStore } from "./KeyStore.js"
import type { DecryptedToken } from "./Token.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface SharingClientShape {
  /** Encrypts a raw UID (standard Base64 text) into a V4 sharing token at Effect's `Clock` time. */
  readonly encrypt: (rawUid: string) => Effect.Effect<string, EncryptError>
  /** Decrypts a sharing token at Effect's `Clock` time. */
  readonly decrypt: (token: string) => Effect.Effect<DecryptedToken, DecryptError>
  /** Encrypts many raw UIDs, reading the ring and the clock once; failures are returned in place. */
  readonly encryptAll: (rawUids: Iterable<string>) => Effect.Effect<Array<string | EncryptError>>
  /** Decrypts many tokens, reading the ring and the clock once; failures are returned in place. */
  readonly decryptAll: (tokens: Iterable<string>) => Effect.Effect<Array<DecryptResult>>
  /** Synchronous encrypt for loops outside Effect, at `nowMs` (default: the wall clock). */
  readonly encryptSync: (rawUid: string, nowMs?: number) => string | EncryptError
  /** Synchronous decrypt for loops outside Effect, at `nowMs` (default: the wall clock). */
  readonly decryptSync: (token: string, nowMs?: number) => DecryptResult
}

/**
 * The sharer client service.
 *
 * @since 0.1.0
 * @category tags
 */
export class SharingClient extends Context.Tag("effect-uid2/SharingClient")<SharingClient, SharingClientShape>() {
  /** `yield* SharingClient.encrypt(rawUid)` */
  static encrypt(rawUid: string) {
    return Effect.flatMap(SharingClient, (client) => client.encrypt(rawUid))
  }
  /** `yield* SharingClient.decrypt(token)` */
  static decrypt(token: string) {
    return Effect.flatMap(SharingClient, (client) => client.decrypt(token))
  }
}

const SHARING = { clientType: "sharing" } as const

/**
 * Builds the sharing functions over a key store and a crypto implementation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<SharingClientShape, never, KeyStore | Crypto> = Effect.gen(function*() {
  const store = yield* KeyStore
  const crypto = yield* Crypto
  const encryptSync = (rawUid: string, nowMs: number = Date.now()) =>
    encryptRawUid(store.current(), crypto, rawUid, nowMs)
  const decryptSync = (token: string, nowMs: number = Date.now()) =>
    decryptCore(store.current(), crypto, token, nowMs, SHARING)
  return {
    encryptSync,
    decryptSync,
    encrypt: (rawUid) =>
      Effect.clockWith((clock) => liftEncrypt(encryptSync(rawUid, clock.unsafeCurrentTimeMillis()))),
    decrypt: (token) =>
      Effect.clockWith((clock) => liftDecrypt(decryptSync(token, clock.unsafeCurrentTimeMillis()))),
    encryptAll: (rawUids) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const ring = store.current()
          const now = clock.unsafeCurrentTimeMillis()
          return Array.from(rawUids, (uid) => encryptRawUid(ring, crypto, uid, now))
        })
      ),
    decryptAll: (tokens) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const ring = store.current()
          const now = clock.unsafeCurrentTimeMillis()
          return Array.from(tokens, (token) => decryptCore(ring, crypto, token, now, SHARING))
        })
      )
  }
})

/**
 * The client over whatever `KeyStore` and `Crypto` are provided.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromKeyStore: Layer.Layer<SharingClient, never, KeyStore | Crypto> = Layer.effect(
  SharingClient,
  make
)
