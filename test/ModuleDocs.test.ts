// Every entry point of the package and every module it re-exports opens with the comment the API reference
// shows on its page: a description and an `@example` whose TypeScript type-checks as written, against the
// sources, with the package's own import specifiers. Entry points are named by their specifier (`@module
// effect-uid2/testing`) and are exactly typedoc's entry points.
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import ts from "typescript"

const ROOT = join(import.meta.dirname, "..")
const readJson = (path: string): any => JSON.parse(readFileSync(join(ROOT, path), "utf8"))

interface EntryPoint {
  /** The import specifier, e.g. `effect-uid2/testing`. */
  readonly specifier: string
  /** The source file, relative to the root. */
  readonly source: string
}

// `"./testing": { "types": "./dist/src/testing/index.d.ts", ... }` → effect-uid2/testing at src/testing/index.ts
const entryPoints: ReadonlyArray<EntryPoint> = Object.entries(readJson("package.json").exports as object)
  .filter(([, target]) => typeof target === "object" && target !== null && "types" in target)
  .map(([subpath, target]) => ({
    specifier: subpath === "." ? "effect-uid2" : `effect-uid2${subpath.slice(1)}`,
    source: (target as { types: string }).types.replace(/^\.\/dist\//, "").replace(/\.d\.ts$/, ".ts")
  }))

// The modules an entry point re-exports as namespaces: `export * as Bidstream from "./Bidstream.js"`.
const namespacesOf = (entry: EntryPoint): Array<string> =>
  [...readFileSync(join(ROOT, entry.source), "utf8").matchAll(/^export \* as \w+ from "(\.[^"]+)\.js"/gm)]
    .map((m) => relative(ROOT, join(ROOT, dirname(entry.source), `${m[1]}.ts`)))

interface ModuleComment {
  readonly file: string
  /** Line (1-based) of the comment's first line. */
  readonly line: number
  /** The comment's lines without the leading ` * `. */
  readonly lines: ReadonlyArray<string>
}

const moduleComment = (file: string): ModuleComment | undefined => {
  const match = /^\/\*\*([\s\S]*?)\*\//.exec(readFileSync(join(ROOT, file), "utf8"))
  if (match === null) return undefined
  return { file, line: 1, lines: match[0].split("\n").map((l) => l.replace(/^\s*(\/\*\*|\*\/|\* ?)/, "")) }
}

/** The text before the first block tag. */
const description = (comment: ModuleComment): string => {
  const end = comment.lines.findIndex((l) => /^@\w/.test(l))
  return comment.lines.slice(0, end === -1 ? undefined : end).join("\n").trim()
}

const tagValue = (comment: ModuleComment, tag: string): string | undefined => {
  const line = comment.lines.find((l) => l === tag || l.startsWith(`${tag} `))
  return line === undefined ? undefined : line.slice(tag.length).trim()
}

interface CodeBlock {
  readonly file: string
  /** Line (1-based) in `file` of the block's first code line. */
  readonly line: number
  readonly code: string
}

/** The ```ts blocks of the comment's `@example` sections. */
const examples = (comment: ModuleComment): Array<CodeBlock> => {
  const blocks: Array<CodeBlock> = []
  let inExample = false
  let block: { line: number; code: Array<string> } | undefined
  comment.lines.forEach((text, index) => {
    if (block !== undefined) {
      if (text.startsWith("```")) {
        blocks.push({ file: comment.file, line: block.line, code: block.code.join("\n") })
        block = undefined
      } else {
        block.code.push(text)
      }
    } else if (/^@\w/.test(text)) {
      inExample = text.startsWith("@example")
    } else if (inExample && /^```(ts|typescript)\s*$/.test(text)) {
      block = { line: comment.line + index + 1, code: [] }
    }
  })
  return blocks
}

interface Diagnostic {
  readonly where: string
  readonly message: string
}

/**
 * Type-checks each block as a module of its own under test/ (so the package's `"type": "module"` applies),
 * with the package specifiers mapped to the sources and unused names allowed.
 */
const typeCheck = (blocks: ReadonlyArray<CodeBlock>): Array<Diagnostic> => {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    }
  })!
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    plugins: [],
    paths: Object.fromEntries(entryPoints.map((e) => [e.specifier, [join(ROOT, e.source)]]))
  }
  const virtual = new Map(blocks.map((block, i) => [join(ROOT, "test", "module-examples", `example${i}.ts`), block]))
  const host = ts.createCompilerHost(options)
  const { fileExists, getSourceFile, readFile } = host
  host.fileExists = (path) => virtual.has(path) || fileExists(path)
  host.readFile = (path) => virtual.get(path)?.code ?? readFile(path)
  host.getSourceFile = (path, language, ...rest) => {
    const block = virtual.get(path)
    return block === undefined
      ? getSourceFile(path, language, ...rest)
      : ts.createSourceFile(path, block.code, language, true)
  }
  const program = ts.createProgram([...virtual.keys()], options, host)
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
  return [
    ...global.map((d) => ({ where: "(options)", message: ts.flattenDiagnosticMessageText(d.messageText, "\n") })),
    ...[...virtual].flatMap(([path, block]) => {
      const source = program.getSourceFile(path)!
      return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
        const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line
        return {
          where: `${block.file}:${block.line + line}`,
          message: ts.flattenDiagnosticMessageText(d.messageText, "\n")
        }
      })
    })
  ]
}

const modules = [...new Set(entryPoints.flatMap((entry) => [entry.source, ...namespacesOf(entry)]))]

describe("module documentation", () => {
  it("typedoc documents exactly the package's entry points", () => {
    expect(entryPoints.map((e) => e.specifier)).toContain("effect-uid2/testing")
    expect([...readJson("typedoc.json").entryPoints].sort()).toEqual(entryPoints.map((e) => e.source).sort())
  })

  it("each entry point is named by its import specifier", () => {
    const names = entryPoints.map((e) => {
      const comment = moduleComment(e.source)
      return comment === undefined ? undefined : tagValue(comment, "@module")
    })
    expect(names).toEqual(entryPoints.map((e) => e.specifier))
  })

  it("each module has a description and an example", () => {
    // The modules re-exported as namespaces are found, not just the entry files.
    expect(modules).toContain(join("src", "Bidstream.ts"))
    expect(modules).toContain(join("src", "testing", "TestOperator.ts"))
    const problems = modules.flatMap((file) => {
      const comment = moduleComment(file)
      if (comment === undefined) return [`${file}: no leading doc comment`]
      return [
        ...(tagValue(comment, "@module") === undefined && !comment.lines.includes("@packageDocumentation")
          ? [`${file}: the first comment has neither @module nor @packageDocumentation, so typedoc ignores it`]
          : []),
        ...(description(comment).length < 80 ? [`${file}: no description paragraph`] : []),
        ...(examples(comment).length === 0 ? [`${file}: no @example with a \`\`\`ts block`] : [])
      ]
    })
    expect(problems).toEqual([])
  })

  it("every example type-checks as written, and a broken one would not", () => {
    const blocks = modules.flatMap((file) => {
      const comment = moduleComment(file)
      return comment === undefined ? [] : examples(comment)
    })
    const control: CodeBlock = {
      file: "control",
      line: 1,
      code: `import { Bidstream } from "effect-uid2"\nconst n: number = Bidstream.layer`
    }
    const diagnostics = typeCheck([...blocks, control])
    expect(diagnostics.filter((d) => d.where.startsWith("control")).length).toBeGreaterThan(0)
    expect(diagnostics.filter((d) => !d.where.startsWith("control")).map((d) => `${d.where}: ${d.message}`))
      .toEqual([])
  }, 120_000)
})
