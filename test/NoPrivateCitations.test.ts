// Comments, messages and docs in src/ and adapters/ state facts instead of citing documents that neither the
// package nor the repository gives users (protocol notes such as "keys.md §5" or "spec §3"). Only README.md
// files ship; RFC sections ("RFC 4648 §4") are public.
import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

const ROOT = join(import.meta.dirname, "..")
const SCANNED = ["src", "adapters"]
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|c|h|gyp|sh|md)$/
const SKIPPED_DIRECTORIES = new Set(["node_modules", "build", "dist"])

interface Rule {
  readonly name: string
  readonly find: (line: string) => ReadonlyArray<string>
}

const matches = (pattern: RegExp, keep: (match: string) => boolean = () => true) => (line: string) =>
  [...line.matchAll(pattern)].map((m) => m[0]).filter(keep)

const RULES: ReadonlyArray<Rule> = [
  // A Markdown file other than a README, which ships with the package and the repository.
  { name: "cites a Markdown file", find: matches(/\b[\w.-]+\.md\b/gi, (m) => m.toUpperCase() !== "README.MD") },
  // A section sign that is not part of an RFC citation ("RFC 4648 §4", "RFC 4648 §4 and §5").
  { name: "cites a section", find: matches(/(?<!RFC \d+ §[\d.]+(?:,| and| or) |RFC \d+ )§[\d.]*/g) },
  { name: "cites the design notes", find: matches(/\bDESIGN\b/g) },
  { name: "cites the specification", find: matches(/\bspec(?:ification)? (?:section|step|rule)s?\b/gi) },
  { name: "cites a conformance vector", find: matches(/\bconformance (?:vectors?|checklist|[A-Z]{1,2}-\d+)/gi) },
  { name: "cites a protocol note", find: matches(/\b(?:decrypt-rules|optout-and-validate)\b/gi) }
]

interface Finding {
  readonly where: string
  readonly rule: string
  readonly text: string
}

const findingsIn = (where: string, text: string): Array<Finding> =>
  text.split("\n").flatMap((line, index) =>
    RULES.flatMap((rule) =>
      rule.find(line).map((match) => ({ where: `${where}:${index + 1}`, rule: rule.name, text: match }))
    )
  )

const filesUnder = (directory: string): Array<string> =>
  readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    if (entry.isDirectory()) return SKIPPED_DIRECTORIES.has(entry.name) ? [] : filesUnder(path)
    return SOURCE.test(entry.name) ? [path] : []
  })

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
  })

  it("src/ and adapters/ cite none", () => {
    const files = SCANNED.flatMap((directory) => filesUnder(join(ROOT, directory)))
    // The scan reaches the sources: both trees and the addon's C source and README.
    const names = files.map((file) => relative(ROOT, file))
    expect(names).toContain(join("src", "index.ts"))
    expect(names).toContain(join("adapters", "native-crypto", "src", "native_crypto.c"))
    expect(names).toContain(join("adapters", "native-crypto", "README.md"))
    const findings = files.flatMap((file) => findingsIn(relative(ROOT, file), readFileSync(file, "utf8")))
    expect(findings.map((f) => `${f.where}: ${f.rule}: ${f.text}`)).toEqual([])
  })
})
