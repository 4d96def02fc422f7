#!/usr/bin/env node
/**
 * `effect-uid2-build-native` (`npx effect-uid2-build-native` in an app):
 * builds the native Crypto addon from source inside the installed package,
 * for platforms the package has no prebuilt binary for, then loads it and
 * runs its self-test. Needs bash, a C compiler, make and python3; it uses
 * npm's bundled node-gyp and the running Node's own headers, and downloads
 * nothing. Exits 1 when the build or the self-test fails.
 */
import * as Either from "effect/Either"
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { load } from "./index.js"
import { localBuildPath, packageRoot } from "./paths.js"

const say = (line: string) => process.stdout.write(`effect-uid2-build-native: ${line}\n`)

const built = spawnSync("bash", [join(packageRoot, "adapters", "native-crypto", "build.sh")], { stdio: "inherit" })
if (built.status !== 0) {
  say(
    built.error !== undefined
      ? `could not run bash (${built.error.message}); node:crypto stays in use`
      : "the build failed (see above); node:crypto stays in use"
  )
  process.exit(1)
}

const path = localBuildPath(packageRoot)
const loaded = load({ path })
if (Either.isLeft(loaded)) {
  say(loaded.left.message)
  process.exit(1)
}
say(`${path} loads and passes its self-test (${loaded.right.opensslVersion})`)

const chosen = load()
if (Either.isRight(chosen) && chosen.right.path !== path) {
  say(`note: the layers load ${chosen.right.path}, which comes before it in the search order`)
}
