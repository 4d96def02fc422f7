/**
 * Where the native addon can be inside the package: the prebuilt binary
 * shipped for this platform, and the one built from source into the package.
 * Shared by the loader, the build command and the packing script.
 */
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The addon's file name, in every location. */
export const BINARY_NAME = "native_crypto.node"

/** The environment variable naming an addon binary to load instead of searching. */
export const ENV_OVERRIDE = "EFFECT_UID2_NATIVE_CRYPTO"

/**
 * The package root for a module in this directory: the compiled module runs
 * from `dist/adapters/native-crypto` (three levels down), the source (a
 * checkout, run through tsx or vitest) from `adapters/native-crypto`.
 */
export const packageRootOf = (moduleDir: string): string =>
  resolve(moduleDir, moduleDir.endsWith(join("dist", "adapters", "native-crypto")) ? "../../.." : "../..")

/** The root of the package this module belongs to. */
export const packageRoot: string = packageRootOf(dirname(fileURLToPath(import.meta.url)))

/**
 * The C library of this Linux process. glibc puts its runtime version in
 * Node's diagnostic report header and musl does not. When the report cannot
 * be read this answers glibc: a wrong guess only makes the glibc binary fail
 * to load, and the loader then moves on to the next candidate.
 */
export const linuxLibc = (): "glibc" | "musl" => {
  // Without network details: for open sockets the report would otherwise look up host names.
  const report = process.report as typeof process.report & { excludeNetwork?: boolean | undefined }
  const excludeNetwork = report.excludeNetwork
  try {
    report.excludeNetwork = true
    const header = (report.getReport() as { readonly header?: { readonly glibcVersionRuntime?: unknown } }).header
    return typeof header?.glibcVersionRuntime === "string" ? "glibc" : "musl"
  } catch {
    return "glibc"
  } finally {
    report.excludeNetwork = excludeNetwork
  }
}

/**
 * The prebuilt directory name for a platform: `linux-x64-glibc`,
 * `linux-arm64-musl`, `darwin-arm64`, `win32-x64`… One binary serves every
 * Node version, since the addon uses only Node-API.
 */
export const prebuildTarget = (
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch
): string => platform === "linux" ? `${platform}-${arch}-${linuxLibc()}` : `${platform}-${arch}`

/** The prebuilt binary for `target` in the package at `root`. */
export const prebuiltPath = (root: string, target: string): string => join(root, "prebuilds", target, BINARY_NAME)

/** Where building from source (`build.sh`, node-gyp) puts the binary in the package at `root`. */
export const localBuildPath = (root: string): string =>
  join(root, "adapters", "native-crypto", "build", "Release", BINARY_NAME)

/**
 * The paths to try, in order: only the override when it is set (an explicit
 * choice is never second-guessed), else this platform's prebuilt binary, then
 * the binary built from source.
 */
export const searchPathsFor = (root: string, override: string | undefined, target: string): ReadonlyArray<string> =>
  override !== undefined && override !== "" ?
    [resolve(override)] :
    [prebuiltPath(root, target), localBuildPath(root)]
