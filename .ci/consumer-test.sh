#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack compiles dist and builds the prebuilt native binary),
# then a fresh project installs the tarball with the README's install line only, and uses every entry
# point there: ESM imports, require(), TypeScript (nodenext and bundler), `npx uid2 demo`, the Promise
# facade against `npx uid2 operator`, the native layer with no build step, and the build-from-source
# fallback. Cleans up its processes and directories (CONSUMER_TEST_KEEP=1 keeps the directory to look
# into). Run locally with `bash .ci/consumer-test.sh`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fixture="$repo/.ci/consumer"
work="$(mktemp -d "${TMPDIR:-/tmp}/effect-uid2-consumer.XXXXXX")"
operator_pid=""
cleanup() {
  if [[ -n "$operator_pid" ]] && kill -0 "$operator_pid" 2>/dev/null; then
    kill -TERM -- "-$operator_pid" 2>/dev/null || kill -TERM "$operator_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$operator_pid" 2>/dev/null || true
  fi
  if [[ "${CONSUMER_TEST_KEEP:-}" == "1" ]]; then echo "consumer: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
started=$SECONDS
step() { echo "consumer [$((SECONDS - started))s]: $*"; }
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# What the README tells users to run; the tarball stands in for the package name.
install_line="npm install effect-uid2 effect@^3.22.4 @effect/platform@^0.97.1 @effect/platform-node@^0.108.2"
readme_line="$(grep -m1 -E '^npm install effect-uid2( |$)' "$repo/README.md" | sed 's/[[:space:]]*#.*$//' || true)"
if [[ -n "$readme_line" ]]; then
  install_line="$readme_line"
else
  echo "consumer: warning: README.md has no 'npm install effect-uid2 ...' line; using: $install_line" >&2
fi

step "npm pack"
mkdir "$work/pack"
(cd "$repo" && npm pack --pack-destination "$work/pack" >"$work/pack.log" 2>&1) || {
  cat "$work/pack.log" >&2
  exit 1
}
tarball="$(ls "$work"/pack/effect-uid2-*.tgz)"
step "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) files)"

app="$work/app"
mkdir "$app"
cp "$fixture"/* "$app"/
cd "$app"
npm init -y >/dev/null
npm pkg set type=module
read -r -a words <<<"$install_line"
[[ "${words[0]} ${words[1]} ${words[2]}" == "npm install effect-uid2" ]] || { echo "bad install line: $install_line" >&2; exit 1; }
step "${install_line/effect-uid2/$tarball}"
if ! npm install "$tarball" "${words[@]:3}" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  exit 1
fi
grep -i "warn" "$work/install.log" >&2 || true

step "package contents"
node check-package.mjs
step "ESM imports"
node imports.mjs
step "require()"
node require.cjs

step "npx uid2 demo"
npx uid2 demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; exit 1; }
tail -n 3 "$work/demo.log"

step "npx uid2 operator, and the Promise facade against it"
setsid npx uid2 operator --json >"$work/operator.out" 2>"$work/operator.err" &
operator_pid=$!
for _ in $(seq 300); do
  [[ -s "$work/operator.out" ]] && break
  kill -0 "$operator_pid" 2>/dev/null || { cat "$work/operator.err" >&2; exit 1; }
  sleep 0.1
done
operator_line="$(head -n 1 "$work/operator.out")"
[[ -n "$operator_line" ]] || { echo "uid2 operator printed nothing" >&2; exit 1; }
node promise.mjs "$operator_line"
# SIGTERM to the whole group (npx and the operator under it): the operator closes its socket and says so.
kill -TERM -- "-$operator_pid"
wait "$operator_pid" || true
for _ in $(seq 50); do pgrep -g "$operator_pid" >/dev/null || break; sleep 0.1; done
if pgrep -g "$operator_pid" >/dev/null; then echo "uid2 operator still running after SIGTERM" >&2; exit 1; fi
grep -q "uid2 operator: SIGTERM, stopped" "$work/operator.err" || { cat "$work/operator.err" >&2; exit 1; }
operator_pid=""

step "native crypto, no build step"
node native.mjs prebuilt

step "with ioredis installed (the optional peer of effect-uid2/adapters/redis), and TypeScript"
npm install ioredis@^5.9.0 typescript@~5.9.3 @types/node@^20.19.0 >>"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}
node imports.mjs with-ioredis
# nodenext also checks every declaration file (ours and Effect's: skipLibCheck false); bundler checks
# resolution and the types only, which is quicker.
step "TypeScript: types.ts under moduleResolution nodenext, then bundler"
npx tsc -p tsconfig.nodenext.json
npx tsc -p tsconfig.bundler.json

step "no prebuilt binary: node:crypto, then npx effect-uid2-build-native"
pkg="$app/node_modules/effect-uid2"
mv "$pkg/prebuilds" "$work/prebuilds.moved"
node native.mjs missing
npx effect-uid2-build-native >"$work/build-native.log" 2>&1 || { cat "$work/build-native.log" >&2; exit 1; }
tail -n 1 "$work/build-native.log"
node native.mjs built

step "passed in $((SECONDS - started))s"
