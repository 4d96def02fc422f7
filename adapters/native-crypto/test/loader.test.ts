/**
 * Where the loader finds the addon: package layouts built in temporary
 * directories (a copy of the sources, the real binary copied to where an
 * installed package has it), each loaded in a child process with its own
 * environment.
 *
 * Requires the addon to be built: `npm run build:native`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { spawnSync } from "node:child_process"
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import * as NativeCrypto from "../index.js"
import { localBuildPath, prebuildTarget, prebuiltPath } from "../paths.js"

const repo = fileURLToPath(new URL("../../../", import.meta.url))
const loaded = NativeCrypto.load()
if (Either.isLeft(loaded)) throw new Error(`${loaded.left.message}; build it with npm run build:native`)
const binary = loaded.right.path
const target = prebuildTarget()

const scratch = mkdtempSync(join(tmpdir(), "native-loader-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** A package root holding the loader's sources (no binary anywhere yet). */
const layout = (name: string): string => {
  const root = join(scratch, name)
  cpSync(join(repo, "src"), join(root, "src"), { recursive: true })
  mkdirSync(join(root, "adapters", "native-crypto"), { recursive: true })
  for (const file of ["index.ts", "paths.ts"]) {
    copyFileSync(join(repo, "adapters", "native-crypto", file), join(root, "adapters", "native-crypto", file))
  }
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"))
  return root
}

const place = (path: string, contents?: string): string => {
  mkdirSync(dirname(path), { recursive: true })
  if (contents === undefined) copyFileSync(binary, path)
  else writeFileSync(path, contents)
  return path
}

interface Report {
  readonly searchPaths: ReadonlyArray<string>
  readonly defaultPath: string
  readonly loaded:
    | { readonly ok: true; readonly path: string }
    | {
      readonly ok: false
      readonly reason: string
      readonly path: string
      readonly tried: ReadonlyArray<string>
      readonly message: string
    }
  readonly active: string
  readonly lines: ReadonlyArray<string>
}

const prebuiltOnly = layout("prebuilt")
place(prebuiltPath(prebuiltOnly, target))

const both = layout("both")
place(prebuiltPath(both, target))
place(localBuildPath(both))

const overridden = layout("override")
place(prebuiltPath(overridden, target))
const custom = place(join(overridden, "elsewhere", "custom.node"))

const overriddenMissing = layout("override-missing")
place(prebuiltPath(overriddenMissing, target))
const missingOverride = join(overriddenMissing, "elsewhere", "absent.node")

const empty = layout("empty")

const brokenPrebuilt = layout("broken-prebuilt")
place(prebuiltPath(brokenPrebuilt, target), "not an ELF file")
place(localBuildPath(brokenPrebuilt))

const brokenOnly = layout("broken-only")
place(prebuiltPath(brokenOnly, target), "not an ELF file")

const cases = [
  { root: prebuiltOnly },
  { root: both },
  { root: overridden, env: custom },
  { root: overriddenMissing, env: missingOverride },
  { root: empty },
  { root: brokenPrebuilt },
  { root: brokenOnly }
]
const child = spawnSync(
  process.execPath,
  ["--import", "tsx", fileURLToPath(new URL("./fixtures/loader-report.ts", import.meta.url)), JSON.stringify(cases)],
  { cwd: repo, encoding: "utf8", timeout: 60_000 }
)
if (child.status !== 0) throw new Error(`loader-report failed (${child.status}): ${child.stderr}`)
const [prebuilt, prebuiltFirst, override, override404, none, skipBroken, broken] = JSON.parse(child.stdout) as Array<
  Report
>

const literally = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const NATIVE_LINE = literally("effect-uid2 Crypto implementation: native (N-API, ")

describe("native crypto loader", () => {
  it("the prebuilt target names this platform, with the C library on Linux", () => {
    expect(target.startsWith(`${process.platform}-${process.arch}`)).toBe(true)
    if (process.platform === "linux") expect(target).toMatch(/-(glibc|musl)$/)
  })

  it("uses the prebuilt binary for this platform when there is no local build", () => {
    const path = prebuiltPath(prebuiltOnly, target)
    expect(prebuilt!.searchPaths).toEqual([path, localBuildPath(prebuiltOnly)])
    expect(prebuilt!.defaultPath).toBe(path)
    expect(prebuilt!.loaded).toEqual({ ok: true, path })
    expect(prebuilt!.active).toBe("native")
    expect(prebuilt!.lines).toEqual([
      expect.stringMatching(new RegExp(`^${NATIVE_LINE}OpenSSL .*\\) from ${literally(path)}$`))
    ])
  })

  it("the prebuilt binary comes before a local build", () => {
    expect(prebuiltFirst!.loaded).toEqual({ ok: true, path: prebuiltPath(both, target) })
  })

  it("EFFECT_UID2_NATIVE_CRYPTO is the only path tried when set", () => {
    expect(override!.searchPaths).toEqual([custom])
    expect(override!.loaded).toEqual({ ok: true, path: custom })
    expect(override!.lines).toEqual([expect.stringContaining(` from ${custom}`)])

    // Pointing it at nothing does not fall back to the prebuilt binary next to it.
    expect(override404!.searchPaths).toEqual([missingOverride])
    expect(override404!.loaded).toEqual({
      ok: false,
      reason: "NotBuilt",
      path: missingOverride,
      tried: [missingOverride],
      message:
        `native crypto addon not found; tried ${missingOverride}; EFFECT_UID2_NATIVE_CRYPTO is set, so no other path is tried`
    })
    expect(override404!.active).toBe("node")
  })

  it("nothing found: NotBuilt naming every absolute path tried and how to build; layerBest runs on node:crypto", () => {
    const tried = [prebuiltPath(empty, target), localBuildPath(empty)]
    const message = `native crypto addon not found; tried ${tried.join(", ")}; to build it from source (needs a C ` +
      "compiler, make and python3): npx effect-uid2-build-native"
    expect(none!.loaded).toEqual({ ok: false, reason: "NotBuilt", path: tried[0], tried, message })
    expect(none!.active).toBe("node")
    expect(none!.lines).toEqual([`effect-uid2 Crypto implementation: node (native unavailable: NotBuilt: ${message})`])
  })

  it("a prebuilt binary that does not load is skipped for the local build", () => {
    const path = localBuildPath(brokenPrebuilt)
    expect(skipBroken!.defaultPath).toBe(prebuiltPath(brokenPrebuilt, target))
    expect(skipBroken!.loaded).toEqual({ ok: true, path })
    expect(skipBroken!.active).toBe("native")
    expect(skipBroken!.lines).toEqual([expect.stringContaining(` from ${path}`)])
  })

  it("a broken binary and nothing else: LoadFailed names it (not NotBuilt) and lists what was tried", () => {
    const path = prebuiltPath(brokenOnly, target)
    const tried = [path, localBuildPath(brokenOnly)]
    expect(broken!.loaded).toMatchObject({ ok: false, reason: "LoadFailed", path, tried })
    const failure = broken!.loaded as { readonly message: string }
    expect(failure.message).toMatch(
      new RegExp(`^native crypto addon failed to load \\(${literally(path)}\\): .+; tried `)
    )
    expect(failure.message.endsWith(`; tried ${tried.join(", ")}`)).toBe(true)
    expect(broken!.active).toBe("node")
    expect(broken!.lines).toEqual([expect.stringContaining("(native unavailable: LoadFailed: ")])
  })
})
