// Builds the native Crypto addon before the suites run when it is missing or older than its
// source, so a fresh clone passes `npm ci && npm test` as written: the native suites and the
// node/native differential tests need it. Building uses the Node headers on this machine and
// never downloads anything (see adapters/native-crypto/build.sh).
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const adapter = join(root, "adapters", "native-crypto")
const binary = join(adapter, "build", "Release", "native_crypto.node")

const newestSource = (): number =>
  Math.max(
    ...readdirSync(join(adapter, "src")).map((name) => statSync(join(adapter, "src", name)).mtimeMs),
    statSync(join(adapter, "binding.gyp")).mtimeMs
  )

export default function setup(): void {
  if (process.env["EFFECT_UID2_NATIVE_CRYPTO"] !== undefined) return
  if (existsSync(binary) && statSync(binary).mtimeMs >= newestSource()) return
  process.stderr.write("test setup: building the native Crypto addon (npm run build:native)\n")
  execFileSync("bash", [join(adapter, "build.sh")], { cwd: root, stdio: ["ignore", "ignore", "inherit"] })
}
