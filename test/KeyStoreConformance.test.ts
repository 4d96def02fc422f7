// The public KeyStore conformance suite, run against the memory, file and Redis stores.
import { afterAll, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as FileKeyStore from "../adapters/file/index.js"
import * as RedisKeyStore from "../adapters/redis/index.js"
import * as KeyStore from "../src/KeyStore.js"
import * as KeyStoreConformance from "../src/testing/KeyStoreConformance.js"
import * as TestOperator from "../src/testing/TestOperator.js"
import { randomPrefix, rawRedis, REDIS_URL } from "./support/redis.js"

KeyStoreConformance.suite(layer(KeyStore.layerMemory), { name: "memory store" })

const directory = mkdtempSync(join(tmpdir(), "uid2-conformance-"))
afterAll(() => rmSync(directory, { recursive: true, force: true }))
KeyStoreConformance.suite(layer(FileKeyStore.layer({ directory }), { excludeTestServices: true }), {
  name: "file store",
  changeFeed: false,
  // A write cut short by a crash of something that did not write atomically.
  corrupt: (slot) =>
    Effect.sync(() => writeFileSync(join(directory, `${slot}.json`), "{\"format\":\"effect-uid2/key-ring\",\"ver"))
})

const prefix = randomPrefix()
KeyStoreConformance.suite(
  layer(
    RedisKeyStore.layer({
      url: REDIS_URL,
      clientSecret: Redacted.make(TestOperator.DSP_CLIENT.secret),
      keyPrefix: prefix,
      pollInterval: "500 millis"
    }),
    { excludeTestServices: true }
  ),
  {
    name: "Redis store",
    corrupt: (slot) =>
      Effect.scoped(
        Effect.flatMap(rawRedis(), (redis) =>
          Effect.promise(() => redis.hset(`{${prefix}:${slot}}:ring`, "d", "bm90IGEgcmluZw==")))
      )
  }
)
