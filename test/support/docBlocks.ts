// The TypeScript blocks of the project's Markdown, and a built copy of the package laid out as a user's
// node_modules sees it: what test/DocBlocks.test.ts type-checks.
import { execFile } from "node:child_process"
import { copyFileSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync } from "node:fs"
import { join, relative } from "node:path"
import { promisify } from "node:util"

/** One fenced TypeScript block: where it is, and its text without the fence's indentation. */
export interface DocBlock {
  /** Path relative to the repository root, e.g. `docs/guides/bidstream.md`. */
  readonly file: string
  /** 1-based line of the block's first line of code (the line after the opening fence). */
  readonly line: number
  readonly code: string
}

const OPEN = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)(?:\s.*)?$/
const ANY_OPEN = /^(\s*)(`{3,}|~{3,})/

/**
 * The ```ts and ```typescript blocks of a Markdown text. Other fences are skipped whole, so a
 * TypeScript fence shown inside a ```md block is not taken for code.
 */
export const extractBlocks = (file: string, text: string): Array<DocBlock> => {
  const lines = text.split(/\r?\n/)
  const blocks: Array<DocBlock> = []
  for (let i = 0; i < lines.length; i++) {
    const open = ANY_OPEN.exec(lines[i]!)
    if (open === null) continue
    const [, indent = "", fence = "```"] = open
    const isTs = OPEN.test(lines[i]!)
    const start = i + 1
    let end = start
    const close = new RegExp(`^\\s*${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`)
    while (end < lines.length && !close.test(lines[end]!)) end++
    if (isTs) {
      const code = lines.slice(start, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
      blocks.push({ file, line: start + 1, code: code.join("\n") + "\n" })
    }
    i = end
  }
  return blocks
}

/** README.md and every Markdown file under docs/ (except the generated API reference). */
export const markdownFiles = (root: string): Array<string> => {
  const found: Array<string> = [join(root, "README.md")]
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) {
        if (relative(root, path) !== join("docs", "api")) walk(path)
      } else if (name.endsWith(".md")) found.push(path)
    }
  }
  walk(join(root, "docs"))
  return found
}

export const blocksOf = (root: string): Array<DocBlock> =>
  markdownFiles(root).flatMap((path) => extractBlocks(relative(root, path), readFileSync(path, "utf8")))

/**
 * Builds the package's declarations with the project's build config into `<dir>/node_modules/effect-uid2/dist`,
 * beside a copy of package.json (so imports resolve through its `exports`, as for a user), and links every other
 * package of the repository's node_modules next to it. Never writes into the repository.
 */
export const installBuiltPackage = async (root: string, dir: string): Promise<string> => {
  const modules = join(dir, "node_modules")
  const pkg = join(modules, "effect-uid2")
  mkdirSync(pkg, { recursive: true })
  copyFileSync(join(root, "package.json"), join(pkg, "package.json"))
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
  await promisify(execFile)(process.execPath, [
    tsc,
    "-p",
    join(root, "tsconfig.build.json"),
    "--outDir",
    join(pkg, "dist"),
    "--emitDeclarationOnly",
    "--sourceMap",
    "false"
  ], { cwd: root, maxBuffer: 16 * 1024 * 1024 }).catch((error: { readonly stdout?: string }) => {
    throw new Error(`building the package failed:\n${error.stdout ?? String(error)}`)
  })
  for (const name of readdirSync(join(root, "node_modules"))) {
    if (name === "effect-uid2" || name.startsWith(".")) continue
    symlinkSync(realpathSync(join(root, "node_modules", name)), join(modules, name))
  }
  return pkg
}
