// Runs the `uid2` command as a child process: real argv, real stdin, real exit code.
//
// The TypeScript sources are transformed once per test run, with the same esbuild transform that
// `node --import tsx src/cli/main.ts` applies, into a cache directory mirroring the tree, and each
// process runs that JavaScript with plain node: a CLI process then starts in half the CPU time
// (tsx's loader hooks cost more than the transform itself), which keeps these suites quick on a
// small machine. The cache is keyed by the sources' sizes and times, so an edit is always picked up.
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const sources = (): Array<string> => {
  const walk = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name)
      return entry.isDirectory() ? walk(path) : entry.name.endsWith(".ts") ? [path] : []
    })
  const adapter = join(ROOT, "adapters", "native-crypto")
  const loader = readdirSync(adapter).filter((name) => name.endsWith(".ts")).map((name) => join(adapter, name))
  return [...walk(join(ROOT, "src")), ...loader]
}

interface Esbuild {
  readonly transformSync: (code: string, options: Record<string, unknown>) => { readonly code: string }
}

// The esbuild tsx runs on, resolved from tsx's own dependencies.
const esbuild = (): Esbuild => {
  const fromTsx = createRequire(createRequire(join(ROOT, "package.json")).resolve("tsx/package.json"))
  return fromTsx("esbuild") as Esbuild
}

let built: string | undefined

/** The directory holding the transformed sources (built on first use, shared by parallel workers). */
export const buildDir = (): string => {
  if (built !== undefined) return built
  const files = sources()
  const key = createHash("sha256")
  for (const file of files) {
    const info = statSync(file)
    key.update(`${relative(ROOT, file)}:${info.size}:${info.mtimeMs}\n`)
  }
  const cache = join(ROOT, "node_modules", ".cache", "uid2-cli-test")
  const dir = join(cache, key.digest("hex").slice(0, 16))
  if (!existsSync(join(dir, "package.json"))) {
    const temp = `${dir}.${process.pid}.tmp`
    rmSync(temp, { recursive: true, force: true })
    const { transformSync } = esbuild()
    for (const file of files) {
      const out = join(temp, relative(ROOT, file)).replace(/\.ts$/, ".js")
      mkdirSync(dirname(out), { recursive: true })
      const { code } = transformSync(readFileSync(file, "utf8"), {
        loader: "ts",
        format: "esm",
        target: "node20",
        sourcefile: file,
        tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true } }
      })
      writeFileSync(out, code)
    }
    writeFileSync(join(temp, "package.json"), "{\"type\":\"module\"}\n")
    try {
      renameSync(temp, dir)
    } catch {
      // Another worker got there first: its copy is the same.
      rmSync(temp, { recursive: true, force: true })
    }
  }
  built = dir
  return dir
}

export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  /** Written to stdin, which is then closed (default: stdin closed at once). */
  readonly input?: string
  /** Added to the environment; `UID2_*` of the parent are never passed on. */
  readonly env?: Record<string, string>
  readonly timeoutMs?: number
  /** Run the TypeScript source through tsx, as `npm start` does, instead of the transformed copy. */
  readonly tsx?: boolean
}

const NATIVE = join(ROOT, "adapters", "native-crypto", "build", "Release", "native_crypto.node")

const cleanEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("UID2_") && name !== "FORCE_COLOR") env[name] = value
  }
  // The transformed adapter lives elsewhere; point it at the addon this tree built.
  if (existsSync(NATIVE) && env["EFFECT_UID2_NATIVE_CRYPTO"] === undefined) env["EFFECT_UID2_NATIVE_CRYPTO"] = NATIVE
  return env
}

/** Starts `uid2 ...args` and returns the child (for commands that keep running). */
export const start = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  spawn(process.execPath, [
    ...(options.tsx === true
      ? ["--import", "tsx", join(ROOT, "src", "cli", "main.ts")]
      : [join(buildDir(), "src", "cli", "main.js")]),
    ...args
  ], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...options.env },
    stdio: ["pipe", "pipe", "pipe"]
  })

/** Runs `uid2 ...args` to completion. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = start(args, options)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 90_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.on("error", () => undefined)
    child.stdin.end(options.input ?? "")
  })

/** The JSON objects of an NDJSON text, one per non-empty line. */
export const jsonLines = (text: string): Array<Record<string, unknown>> =>
  text.split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>)

/** A generous bound for tests that start a few processes on a busy machine. */
export const SLOW = 180_000
