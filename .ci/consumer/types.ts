// Type-checked in the consumer project under moduleResolution nodenext and bundler: every subpath resolves to
// its declarations, and they are real types (the @ts-expect-error lines fail if anything came out as any).
import type { Token } from "effect-uid2"
import { Bidstream, type Crypto } from "effect-uid2"
import * as FileKeyStore from "effect-uid2/adapters/file"
import type * as RedisKeyStore from "effect-uid2/adapters/redis"
import * as NativeCrypto from "effect-uid2/native-crypto"
import { createBidstreamClient, type DecryptResult, Uid2Error } from "effect-uid2/promise"
import { TestOperator } from "effect-uid2/testing"
import type * as Layer from "effect/Layer"

export const uidOf = async (token: string, baseUrl: string): Promise<string> => {
  const client = await createBidstreamClient({
    baseUrl,
    apiKey: TestOperator.DSP_CLIENT.apiKey,
    secretKey: TestOperator.DSP_CLIENT.secret,
    keyStore: FileKeyStore.layer({ directory: "/tmp/uid2-keys" })
  })
  try {
    const result: DecryptResult = client.decrypt(token, "example.com")
    return result.ok ? result.uid : result.reason
  } finally {
    await client.close()
  }
}

export const crypto: Layer.Layer<Crypto.Crypto> = NativeCrypto.layerBest
export const bidstream: typeof Bidstream.layer = Bidstream.layer
export const tried: NativeCrypto.NativeCryptoUnavailable["tried"] = NativeCrypto.searchPaths
export const missing: RedisKeyStore.RedisKeyStoreUnavailable["reason"] = "MissingDependency"
export const codeOf = (error: unknown): string | undefined => error instanceof Uid2Error ? error.code : undefined
export const version = (details: Token.TokenDetails): number => details.version

// @ts-expect-error baseUrl is a string
void createBidstreamClient({ baseUrl: 1, apiKey: "k", secretKey: "s" })
// @ts-expect-error not a reason the Redis store fails with
export const wrong: RedisKeyStore.RedisKeyStoreUnavailable["reason"] = "Nope"
