// The token core over a plain ring and a Crypto, for tests that check one token at a time: each call
// prepares the ring for the Crypto and releases it afterwards (clients keep one prepared ring instead).
import * as Redacted from "effect/Redacted"
import type { CryptoShape, KeyHandle } from "../src/Crypto.js"
import * as Decryption from "../src/Decryption.js"
import type { Key, KeyRing } from "../src/KeyRing.js"

export type { ClientType, DecryptOptions, DecryptResult } from "../src/Decryption.js"

const withPrepared = <A>(
  ring: KeyRing | undefined,
  crypto: CryptoShape,
  f: (p: Decryption.PreparedRing | undefined) => A
): A => {
  const prepared = ring === undefined ? undefined : Decryption.prepare(ring, crypto)
  try {
    return f(prepared)
  } finally {
    prepared?.release()
  }
}

export const decrypt = (
  ring: KeyRing | undefined,
  crypto: CryptoShape,
  text: string,
  nowMs: number,
  options: Decryption.DecryptOptions
): Decryption.DecryptResult => withPrepared(ring, crypto, (p) => Decryption.decrypt(p, text, nowMs, options))

export const encryptRawUid = (ring: KeyRing | undefined, crypto: CryptoShape, rawUid: string, nowMs: number) =>
  withPrepared(ring, crypto, (p) => Decryption.encryptRawUid(p, rawUid, nowMs))

/** A fresh handle for one key (released by the garbage collector). */
export const handleOf = (key: Key, crypto: CryptoShape): KeyHandle => crypto.importKey(Redacted.value(key.secret))
