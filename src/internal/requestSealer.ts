/**
 * A request payload sealed afresh for each attempt (new timestamp, nonce
 * and IV), holding only its latest envelope between attempts: a retry opens
 * that envelope again with the client's own key to get the payload back. A
 * large request in flight (an identity-map batch) is then held once, not
 * twice, for as long as it waits for its answer.
 */
import type { CryptoShape } from "../Crypto.js"
import { type EncodedRequest, encodeRequestRandom, type SecretKey } from "../Envelope.js"
import { openRequest, PREFIX } from "./envelopeBytes.js"

/** Seals the payload for one attempt. */
export interface RequestSealer {
  readonly seal: (nowMs: number) => EncodedRequest
}

/** The payload inside one of our own request envelopes. */
const opened = (crypto: CryptoShape, key: SecretKey, envelope: EncodedRequest): Uint8Array => {
  const plain = openRequest(crypto, key, envelope.bytes)
  // Our own envelope under our own key: failing to open it is a bug, not an input problem.
  if (plain === undefined) throw new Error("a request envelope of this client did not open with its key")
  return plain.subarray(PREFIX)
}

/** A sealer of `payload` (`undefined`: an empty one) under `key`. */
export const requestSealer = (
  crypto: CryptoShape,
  key: SecretKey,
  payload: Uint8Array | undefined
): RequestSealer => {
  let first = payload
  let last: EncodedRequest | undefined
  return {
    seal: (nowMs) => {
      const current = first ?? (last === undefined ? undefined : opened(crypto, key, last))
      const next = encodeRequestRandom(crypto, key, { nowMs, payload: current })
      first = undefined
      last = next
      return next
    }
  }
}
