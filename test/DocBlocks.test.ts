// Every ```ts block of README.md and docs/ type-checks as written, on its own, against the built package
// installed the way a user gets it: imports of "effect-uid2", "effect-uid2/promise", "effect-uid2/testing"…
// resolve through package.json's `exports` to the declarations `npm run build` makes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { blocksOf, type DocBlock, extractBlocks, installBuiltPackage } from "./support/docBlocks.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** What a user's strict ESM project on Node would set. */
const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2022.d.ts"],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  moduleDetection: ts.ModuleDetectionKind.Force,
  types: ["node"],
  strict: true,
  skipLibCheck: true,
  noEmit: true
}

// Blocks that must fail: proof that the check sees mistakes and that `exports` is what resolves imports.
const CANARIES: ReadonlyArray<DocBlock> = [
  { file: "canary/undefined-name.md", line: 1, code: "import { Bidstream } from \"effect-uid2\"\nBidstream.nope\n" },
  { file: "canary/internal-path.md", line: 1, code: "import * as Retry from \"effect-uid2/internal/retry\"\nRetry\n" },
  { file: "canary/source-path.md", line: 1, code: "import * as Index from \"effect-uid2/src/index.js\"\nIndex\n" }
]

// Every subpath a user imports.
const SPECIFIERS = [
  "effect-uid2",
  "effect-uid2/promise",
  "effect-uid2/testing",
  "effect-uid2/adapters/file",
  "effect-uid2/adapters/redis",
  "effect-uid2/native-crypto"
]

interface Checked {
  /** Messages by block (`file:line` of its first line), each message at the failing line. */
  readonly failures: Map<string, Array<string>>
  readonly global: Array<string>
  readonly resolved: Map<string, string | undefined>
}

const fileName = (block: DocBlock) => `${block.file.replace(/[^A-Za-z0-9]+/g, "_")}_L${block.line}.ts`

const check = (dir: string, blocks: ReadonlyArray<DocBlock>): Checked => {
  const blockDir = join(dir, "blocks")
  const byPath = new Map<string, DocBlock>()
  for (const block of blocks) {
    const path = join(blockDir, fileName(block))
    byPath.set(path, block)
  }
  // An ESM package of its own, as a user's project with "type": "module" (top-level await works).
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "doc-blocks", type: "module", private: true }))
  mkdirSync(blockDir)
  for (const [path, block] of byPath) writeFileSync(path, block.code)
  const program = ts.createProgram([...byPath.keys()], compilerOptions)
  const failures = new Map<string, Array<string>>()
  const global: Array<string> = []
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
    const block = diagnostic.file === undefined ? undefined : byPath.get(diagnostic.file.fileName)
    if (diagnostic.file === undefined || block === undefined) {
      global.push(`${diagnostic.file?.fileName ?? "(options)"}: TS${diagnostic.code} ${text}`)
      continue
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    const key = `${block.file}:${block.line}`
    failures.set(key, [
      ...(failures.get(key) ?? []),
      `${block.file}:${block.line + line}: TS${diagnostic.code} ${text}`
    ])
  }
  const host = ts.createCompilerHost(compilerOptions)
  const from = join(blockDir, "resolve.ts")
  const resolved = new Map<string, string | undefined>()
  for (const specifier of SPECIFIERS) {
    const result = ts.resolveModuleName(
      specifier,
      from,
      compilerOptions,
      host,
      undefined,
      undefined,
      ts.ModuleKind.ESNext
    )
    resolved.set(specifier, result.resolvedModule?.resolvedFileName)
  }
  return { failures, global, resolved }
}

describe("documentation code blocks", () => {
  const blocks = blocksOf(root)
  let dir: string
  let checked: Checked

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "effect-uid2-docblocks-"))
    await installBuiltPackage(root, dir)
    checked = check(dir, [...blocks, ...CANARIES])
  }, 300_000)

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("finds the blocks: README.md and every guide have TypeScript to check", () => {
    const files = new Set(blocks.map((b) => b.file))
    expect(files).toContain("README.md")
    for (const guide of ["bidstream", "sharing", "publisher", "identity-map", "optout", "testing", "fleet"]) {
      expect(files).toContain(join("docs", "guides", `${guide}.md`))
    }
  })

  it("imports resolve through the package's exports to the built declarations", () => {
    for (const [specifier, file] of checked.resolved) {
      expect(file, specifier).toBeDefined()
      expect(relative(dir, file!), specifier).toMatch(/^node_modules\/effect-uid2\/dist\/.*\.d\.ts$/)
    }
    const canary = (file: string) => checked.failures.get(`${file}:1`) ?? []
    expect(canary("canary/undefined-name.md").join("\n")).toContain("nope")
    expect(canary("canary/internal-path.md").join("\n")).toMatch(/TS2307/)
    expect(canary("canary/source-path.md").join("\n")).toMatch(/TS2307/)
  })

  it("every block type-checks as written", () => {
    const failing = [...checked.failures]
      .filter(([key]) => !key.startsWith("canary/"))
      .flatMap(([, messages]) => messages)
    expect([...checked.global, ...failing].join("\n")).toBe("")
  })
})

describe("extractBlocks", () => {
  it("takes ts and typescript fences with their first code line, and skips code inside other fences", () => {
    const text = [
      "# Title", // 1
      "```ts", // 2
      "const a = 1", // 3
      "```", // 4
      "````md", // 5
      "```ts", // 6
      "not code", // 7
      "```", // 8
      "````", // 9
      "1. item", // 10
      "   ```typescript", // 11
      "   const b = 2", // 12
      "   ```", // 13
      "```sh", // 14
      "npm test", // 15
      "```" // 16
    ].join("\n")
    expect(extractBlocks("x.md", text)).toEqual([
      { file: "x.md", line: 3, code: "const a = 1\n" },
      { file: "x.md", line: 12, code: "const b = 2\n" }
    ])
  })
})
