// Comments, messages and docs state facts instead of citing documents that neither the package nor the
// repository gives users (protocol notes such as "keys.md §5" or "spec §3"). README.md files and the
// repository's own Markdown, named by its path ("docs/guides/sharing.md"), are there to read; RFC sections
// ("RFC 4648 §4") are public.
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { basename, join, relative } from "node:path"

const ROOT = join(import.meta.dirname, "..")
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|c|h|gyp|sh|md)$/
const SKIPPED_DIRECTORIES = new Set(["node_modules", "build", "dist"])

interface Rule {
  readonly name: string
  readonly find: (line: string) => ReadonlyArray<string>
}

const matches = (pattern: RegExp, keep: (match: string) => boolean = () => true) => (line: string) =>
  [...line.matchAll(pattern)].map((m) => m[0]).filter(keep)

/** A README, or a path to Markdown the repository holds ("docs/guides/bidstream.md"). */
const isReadableMarkdown = (path: string) =>
  basename(path).toUpperCase() === "README.MD" || (path.includes("/") && existsSync(join(ROOT, path)))

// Citations of files: the ones every scanned tree is held to, tests and benchmarks included.
const FILE_RULES: ReadonlyArray<Rule> = [
  // A Markdown file other than a README or one of the repository's own.
  { name: "cites a Markdown file", find: matches(/\b[\w./-]*\.md\b/gi, (m) => !isReadableMarkdown(m)) },
  // A section sign that is not part of an RFC citation ("RFC 4648 §4", "RFC 4648 §4 and §5").
  { name: "cites a section", find: matches(/(?<!RFC \d+ §[\d.]+(?:,| and| or) |RFC \d+ )§[\d.]*/g) },
  { name: "cites the design notes", find: matches(/\bDESIGN\b/g) },
  { name: "cites the specification", find: matches(/\bspec(?:ification)? (?:section|step|rule)s?\b/gi) },
  { name: "cites a protocol note", find: matches(/\b(?:decrypt-rules|optout-and-validate)\b/gi) }
]

// src/ and adapters/ (the adapters' tests included) also never call a vector "conformance K-2"; test/ and
// bench/ name their cases by vector id.
const RULES: ReadonlyArray<Rule> = [
  ...FILE_RULES,
  { name: "cites a conformance vector", find: matches(/\bconformance (?:vectors?|checklist|[A-Z]{1,2}-\d+)/gi) }
]

interface Scan {
  readonly directories: ReadonlyArray<string>
  readonly rules: ReadonlyArray<Rule>
}

const SOURCES: Scan = { directories: ["src", "adapters"], rules: RULES }
const TESTS: Scan = { directories: ["test", "bench", ".ci"], rules: FILE_RULES }

// This file quotes the citations it looks for.
const SELF = join("test", "NoPrivateCitations.test.ts")

// Made-up Markdown names that the doc-block tests feed their own checker, per file.
const FIXTURE_NAMES: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  [
    join("test", "DocBlocks.test.ts"),
    new Set(["canary/undefined-name.md", "canary/internal-path.md", "canary/source-path.md", "x.md"])
  ]
])

interface Finding {
  readonly where: string
  readonly rule: string
  readonly text: string
}

const findingsIn = (where: string, text: string, rules: ReadonlyArray<Rule> = RULES): Array<Finding> => {
  const fixtureNames = FIXTURE_NAMES.get(where) ?? new Set<string>()
  return text.split("\n").flatMap((line, index) =>
    rules.flatMap((rule) =>
      rule.find(line)
        .filter((match) => !fixtureNames.has(match))
        .map((match) => ({ where: `${where}:${index + 1}`, rule: rule.name, text: match }))
    )
  )
}

const filesUnder = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) return SKIPPED_DIRECTORIES.has(entry.name) ? [] : filesUnder(path)
    return SOURCE.test(entry.name) ? [path] : []
  })

/** The files of a scan, relative to the repository root. */
const filesOf = (scan: Scan): Array<string> =>
  scan.directories.flatMap((directory) => filesUnder(join(ROOT, directory))).map((file) => relative(ROOT, file))

const findingsOf = (scan: Scan, files: ReadonlyArray<string>): Array<string> =>
  files
    .filter((file) => file !== SELF)
    .flatMap((file) => findingsIn(file, readFileSync(join(ROOT, file), "utf8"), scan.rules))
    .map((f) => `${f.where}: ${f.rule}: ${f.text}`)

describe("no citations of documents users cannot see", () => {
  it("the rules flag private citations and leave facts, READMEs and RFC sections alone", () => {
    const flagged = (line: string) => findingsIn("sample", line).map((f) => f.text)
    expect(flagged("Absent values mean what keys.md §5 says.")).toEqual(["keys.md", "§5"])
    expect(flagged("(publisher.md §1.1, §3.4)")).toEqual(["publisher.md", "§1.1", "§3.4"])
    expect(flagged("see the hot path rule in DESIGN.md")).toEqual(["DESIGN.md", "DESIGN"])
    expect(flagged("the decrypt algorithm of decrypt-rules step 14")).toEqual(["decrypt-rules"])
    expect(flagged("as spec §3 says")).toEqual(["§3"])
    expect(flagged("the spec section on order, conformance K-2")).toEqual(["spec section", "conformance K-2"])
    expect(flagged("Strict Base64 (RFC 4648 §4) and Base64URL (RFC 4648 §5)")).toEqual([])
    expect(flagged("RFC 4648 §4 and §5")).toEqual([])
    expect(flagged("see README.md and adapters/native-crypto/README.md")).toEqual([])
    expect(flagged("a token spec that cannot be encoded; the KeyStore conformance suite")).toEqual([])
    // The repository's Markdown counts only as an existing path; a bare name may be a protocol note.
    expect(flagged("see docs/guides/publisher.md and docs/guides/sharing.md")).toEqual([])
    expect(flagged("see publisher.md, docs/guides/keys.md and spec/keys.md")).toEqual([
      "publisher.md",
      "docs/guides/keys.md",
      "spec/keys.md"
    ])
  })

  it("tests may name vectors, but not the documents they come from", () => {
    const flagged = (where: string, line: string) => findingsIn(where, line, TESTS.rules).map((f) => f.text)
    expect(flagged("test/Token.test.ts", "describe(\"key ring (K-2, conformance K-4)\"")).toEqual([])
    expect(flagged("test/Token.test.ts", "// fixtures of conformance.md §0; decrypt-rules step 14")).toEqual([
      "conformance.md",
      "§0",
      "decrypt-rules"
    ])
    // The doc-block fixture names pass only in the file that uses them, and only those names.
    const docBlocks = join("test", "DocBlocks.test.ts")
    expect(flagged(docBlocks, "{ file: \"canary/source-path.md\" }, extractBlocks(\"x.md\", text)")).toEqual([])
    expect(flagged(docBlocks, "canary/keys.md, as tokens.md §3 says")).toEqual(["canary/keys.md", "tokens.md", "§3"])
    expect(flagged("test/Other.test.ts", "extractBlocks(\"x.md\", text)")).toEqual(["x.md"])
  })

  it("src/ and adapters/ cite none", () => {
    const files = filesOf(SOURCES)
    // The scan reaches the sources: both trees, the addon's C source and README, and the adapters' tests.
    expect(files).toContain(join("src", "index.ts"))
    expect(files).toContain(join("adapters", "native-crypto", "src", "native_crypto.c"))
    expect(files).toContain(join("adapters", "native-crypto", "README.md"))
    expect(files).toContain(join("adapters", "native-crypto", "test", "tokenOpener.test.ts"))
    expect(findingsOf(SOURCES, files)).toEqual([])
  })

  it("test/, bench/ and .ci/ cite none", () => {
    const files = filesOf(TESTS)
    // The scan reaches nested test helpers, the doc-block tests, the benchmarks and the consumer checks.
    expect(files).toContain(join("test", "cli", "vectors.ts"))
    expect(files).toContain(join("test", "support", "docBlocks.ts"))
    expect(files).toContain(join("test", "DocBlocks.test.ts"))
    expect(files).toContain(join("bench", "fixtures.ts"))
    expect(files).toContain(join(".ci", "consumer", "types.ts"))
    expect(files).toContain(SELF) // skipped by name, so the name must be right
    expect(findingsOf(TESTS, files)).toEqual([])
  })
})
