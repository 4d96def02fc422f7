// The native Crypto layer in the installed package. "prebuilt": active from the shipped
// prebuilds/linux-x64-glibc binary with no build step (and no build directory in the package). "missing"
// (prebuilds moved away): NotBuilt naming the real absolute paths it tried, layerBest on node:crypto.
// "built" (after `npx effect-uid2-build-native`): active from the package's own build directory.
import * as NativeCrypto from "effect-uid2/native-crypto"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { existsSync, realpathSync } from "node:fs"
import { join } from "node:path"

const mode = process.argv[2]
const root = realpathSync(join(process.cwd(), "node_modules", "effect-uid2"))
const prebuilt = join(root, "prebuilds", "linux-x64-glibc", "native_crypto.node")
const built = join(root, "adapters", "native-crypto", "build", "Release", "native_crypto.node")
const fail = (message) => {
  console.error(`native (${mode}): ${message}`)
  process.exit(1)
}

const lines = []
const logger = Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
const active = await Effect.runPromise(
  NativeCrypto.activeName.pipe(
    Effect.provide(NativeCrypto.layerBest),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger))
  )
)
const loaded = NativeCrypto.load()
if (JSON.stringify(NativeCrypto.searchPaths) !== JSON.stringify([prebuilt, built])) {
  fail(`search paths ${JSON.stringify(NativeCrypto.searchPaths)}`)
}
if (lines.length !== 1) fail(`expected one log line, got ${JSON.stringify(lines)}`)

if (mode === "prebuilt" || mode === "built") {
  const expected = mode === "prebuilt" ? prebuilt : built
  if (mode === "prebuilt" && existsSync(join(root, "adapters", "native-crypto", "build"))) {
    fail("the installed package has a build directory")
  }
  if (active !== "native") fail(`active implementation ${active}: ${lines[0]}`)
  if (loaded._tag !== "Right" || loaded.right.path !== expected) fail(`loaded ${JSON.stringify(loaded)}`)
  if (!lines[0].endsWith(` from ${expected}`)) fail(`log line ${lines[0]}`)
} else if (mode === "missing") {
  if (active !== "node") fail(`active implementation ${active}`)
  if (loaded._tag !== "Left" || loaded.left.reason !== "NotBuilt") fail(`loaded ${JSON.stringify(loaded)}`)
  if (JSON.stringify(loaded.left.tried) !== JSON.stringify([prebuilt, built])) fail(`tried ${loaded.left.tried}`)
  if (!loaded.left.message.includes(`tried ${prebuilt}, ${built}`)) fail(`message ${loaded.left.message}`)
  if (!loaded.left.message.includes("npx effect-uid2-build-native")) fail(`message ${loaded.left.message}`)
} else {
  fail("mode must be prebuilt, missing or built")
}
console.log(`native (${mode}): activeName ${active}; ${lines[0]}`)
