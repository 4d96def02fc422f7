// What the installed package holds: the Apache-2.0 LICENSE and the metadata, source maps whose every
// source is in the package, no tests or benchmarks, no native build output, and the prebuilt binary.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative, resolve, sep } from "node:path"

const root = dirname(createRequire(import.meta.url).resolve("effect-uid2/package.json"))
const fail = (message) => {
  console.error(`check-package: ${message}`)
  process.exit(1)
}
const files = readdirSync(root, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => relative(root, join(entry.parentPath ?? entry.path, entry.name)))

const license = readFileSync(join(root, "LICENSE"), "utf8")
if (!/Apache License\s+Version 2\.0, January 2004/.test(license) || !license.includes("END OF TERMS AND CONDITIONS")) {
  fail("LICENSE is not the Apache-2.0 text")
}
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
for (const field of ["repository", "homepage", "bugs", "keywords", "license"]) {
  if (pkg[field] === undefined || pkg[field].length === 0) fail(`package.json has no ${field}`)
}

const unwanted = files.filter((file) =>
  file.split(sep).some((part) => part === "test" || part === "bench" || part === "build") ||
  /\.test\.[cm]?[jt]s$|(^|\/)bench\.ts$/.test(file)
)
if (unwanted.length > 0) fail(`tests, benchmarks or build output shipped: ${unwanted.slice(0, 10).join(", ")}`)

const maps = files.filter((file) => file.endsWith(".map"))
let sources = 0
for (const file of maps) {
  const map = JSON.parse(readFileSync(join(root, file), "utf8"))
  const base = resolve(root, dirname(file), map.sourceRoot ?? "")
  for (const source of map.sources) {
    const target = resolve(base, source)
    if (!target.startsWith(root + sep) || !existsSync(target)) fail(`${file}: source ${source} is not in the package`)
    sources++
  }
}
const compiled = files.filter((file) => /\.(js|d\.ts)$/.test(file) && file.startsWith(`dist${sep}`))
for (const file of compiled) {
  const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(join(root, file), "utf8"))?.[1]
  if (url === undefined) fail(`${file} has no source map comment`)
  if (!existsSync(resolve(root, dirname(file), url))) fail(`${file}: its map ${url} is not in the package`)
}
if (maps.length === 0) fail("no source maps")

const prebuilt = join("prebuilds", "linux-x64-glibc", "native_crypto.node")
if (!files.includes(prebuilt)) fail(`${prebuilt} is not in the package`)

console.log(
  `check-package: ${files.length} files; LICENSE Apache-2.0; ${maps.length} maps, all ${sources} sources present; ` +
    `no tests, benchmarks or build output; ${prebuilt} shipped`
)
