#!/usr/bin/env bash
# Puts the addon built for this machine where the package ships its prebuilt binary,
# prebuilds/<platform>-<arch>[-glibc|-musl]/native_crypto.node, after checking that it loads and passes
# its self-test. Run by `npm pack` / `npm publish` (the prepack script, after `npm run build` and
# `npm run build:native`); postpack removes the directory again, so a checkout's tests keep loading
# their own fresh build. The binary is never committed.
#
# The package is meant to ship linux-x64-glibc: pack it on such a machine. One binary serves every
# Node version, since the addon uses only Node-API.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
built="$root/adapters/native-crypto/build/Release/native_crypto.node"
loader="$root/dist/adapters/native-crypto/index.js"
[[ -f "$built" ]] || { echo "prebuild: $built is missing (npm run build:native)" >&2; exit 1; }
[[ -f "$loader" ]] || { echo "prebuild: $loader is missing (npm run build)" >&2; exit 1; }

# shellcheck disable=SC2016
target="$(node -e 'import(require("node:url").pathToFileURL(process.argv[1])).then((m) => console.log(m.prebuildTarget()))' \
  "$root/dist/adapters/native-crypto/paths.js")"
if [[ "$target" != "linux-x64-glibc" ]]; then
  echo "prebuild: warning: packing on $target; the package is meant to ship a linux-x64-glibc binary" >&2
fi

rm -rf "$root/prebuilds"
dest="$root/prebuilds/$target/native_crypto.node"
mkdir -p "$(dirname "$dest")"
cp "$built" "$dest"

# shellcheck disable=SC2016
node -e '
  import(require("node:url").pathToFileURL(process.argv[1])).then((m) => {
    const loaded = m.load({ path: process.argv[2] })
    if (loaded._tag === "Left") { console.error(`prebuild: ${loaded.left.message}`); process.exit(1) }
    console.log(`prebuild: ${process.argv[2]} (${loaded.right.opensslVersion})`)
  })' "$loader" "$dest"
