// ESM: every subpath in the package's `exports` imports and has exports; internals stay private. The Redis
// adapter imports without its optional peer ioredis and says so when a store is built; with ioredis
// installed (argument "with-ioredis") the store builds, even with Redis down.
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createRequire } from "node:module"

const withIoredis = process.argv[2] === "with-ioredis"
const pkg = createRequire(import.meta.url)("effect-uid2/package.json")
const fail = (message) => {
  console.error(`imports: ${message}`)
  process.exit(1)
}

const subpaths = Object.entries(pkg.exports)
  .filter(([subpath, target]) => target !== null && subpath !== "./package.json")
  .map(([subpath]) => (subpath === "." ? "effect-uid2" : `effect-uid2${subpath.slice(1)}`))
const counts = []
for (const specifier of subpaths) {
  const module = await import(specifier)
  const names = Object.keys(module)
  if (names.length === 0) fail(`${specifier} has no exports`)
  counts.push(`${specifier} (${names.length})`)
}
console.log(`imports: ${counts.join(", ")}`)

const internal = await import("effect-uid2/internal/retry.js").then(() => undefined, (error) => error)
if (internal?.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") fail(`effect-uid2/internal/* is importable (${internal})`)

const hasIoredis = await import("ioredis").then(() => true, () => false)
if (hasIoredis !== withIoredis) fail(`ioredis is ${hasIoredis ? "" : "not "}installed, expected otherwise`)
const RedisKeyStore = await import("effect-uid2/adapters/redis")
const store = RedisKeyStore.make({
  url: "redis://127.0.0.1:1",
  clientSecret: Redacted.make(Buffer.alloc(32, 7).toString("base64")),
  connectTimeout: "200 millis"
})
const outcome = await Effect.runPromise(Effect.scoped(Effect.either(store)))
if (withIoredis) {
  if (outcome._tag !== "Right") fail(`with ioredis the Redis store does not build: ${outcome.left.message}`)
  console.log("imports: with ioredis, the Redis store builds (Redis down on port 1: decryption never waits on it)")
} else {
  if (outcome._tag !== "Left" || outcome.left.reason !== "MissingDependency") {
    fail(`without ioredis, building the Redis store gave ${JSON.stringify(outcome)}`)
  }
  console.log(`imports: without ioredis, the Redis adapter imports; building a store fails: ${outcome.left.message}`)
}
