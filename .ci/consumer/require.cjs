// CommonJS: the package is ESM only. Where Node can require() ES modules (20.19+, 22.12+), every subpath
// loads through require() with the same exports as import; elsewhere require() fails with ERR_REQUIRE_ESM.
const pkg = require("effect-uid2/package.json")

const fail = (message) => {
  console.error(`require: ${message}`)
  process.exit(1)
}
const subpaths = Object.entries(pkg.exports)
  .filter(([subpath, target]) => target !== null && subpath !== "./package.json")
  .map(([subpath]) => (subpath === "." ? "effect-uid2" : `effect-uid2${subpath.slice(1)}`))

const run = async () => {
  if (pkg.type !== "module" || JSON.stringify(pkg.exports).includes("\"require\"")) {
    fail("package.json no longer says ESM only (type module, no require condition): update this check")
  }
  for (const specifier of subpaths) {
    let loaded
    try {
      loaded = require(specifier)
    } catch (error) {
      if (process.features.require_module) fail(`require(${specifier}) threw on Node ${process.version}: ${error}`)
      if (error.code !== "ERR_REQUIRE_ESM") fail(`require(${specifier}) threw ${error.code}, not ERR_REQUIRE_ESM`)
      continue
    }
    if (!process.features.require_module) fail(`require(${specifier}) worked without require(esm)`)
    const imported = await import(specifier)
    if (Object.keys(loaded).sort().join() !== Object.keys(imported).sort().join()) {
      fail(`require(${specifier}) and import(${specifier}) differ`)
    }
  }
  console.log(
    process.features.require_module
      ? `require: ESM only; on Node ${process.version} require() (require(esm)) loads all ${subpaths.length} subpaths`
      : `require: ESM only; on Node ${process.version} require() fails with ERR_REQUIRE_ESM, as expected`
  )
}
run()
