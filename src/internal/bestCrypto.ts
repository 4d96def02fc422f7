import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Crypto } from "../Crypto.js"
import { layerNode } from "../Crypto.js"

/**
 * The native Crypto adapter when it is built and loads, else node:crypto. The adapter is imported
 * only when this layer is built, so importing the SDK never evaluates it; an import that fails
 * (the adapter is not shipped, or cannot load) falls back to node:crypto with one log line.
 */
export const layerBestCrypto: Layer.Layer<Crypto> = Layer.unwrapEffect(
  Effect.promise(() => import("../../adapters/native-crypto/index.js")).pipe(
    Effect.map((native) => native.layerBest),
    Effect.catchAllDefect(() =>
      Effect.as(
        Effect.logInfo("effect-uid2 Crypto implementation: node:crypto (native adapter not importable)"),
        layerNode
      )
    )
  )
)
