#!/usr/bin/env bash
# Builds the native Crypto addon into adapters/native-crypto/build/Release/native_crypto.node.
#
# Offline by design: node-gyp is pointed at the headers of the running Node
# (which include the OpenSSL headers Node ships), so it never downloads a
# header tarball. npm's bundled node-gyp is used; no dependency is added.
#
# Environment overrides:
#   NATIVE_CRYPTO_NODEDIR   directory holding include/node/common.gypi
#   NATIVE_CRYPTO_NODE_GYP  path to node-gyp's bin/node-gyp.js
#   NATIVE_CRYPTO_DEBUG=1   debug build (build/Debug)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
node_bin="$(command -v node)"

# 1. Node headers: explicit override, npm's `nodedir`, or the prefix of the running node.
nodedir="${NATIVE_CRYPTO_NODEDIR:-}"
if [[ -z "$nodedir" ]]; then
  cfg="$(npm config get nodedir 2>/dev/null || true)"
  if [[ -n "$cfg" && "$cfg" != "undefined" && "$cfg" != "null" && -f "$cfg/include/node/common.gypi" ]]; then
    nodedir="$cfg"
  fi
fi
if [[ -z "$nodedir" ]]; then
  prefix="$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)"
  if [[ -f "$prefix/include/node/common.gypi" ]]; then nodedir="$prefix"; fi
fi
if [[ -z "$nodedir" || ! -f "$nodedir/include/node/node_api.h" || ! -f "$nodedir/include/node/openssl/evp.h" ]]; then
  echo "native-crypto: cannot find Node headers with OpenSSL (include/node/{node_api.h,openssl/evp.h})." >&2
  echo "native-crypto: set NATIVE_CRYPTO_NODEDIR; this script never downloads headers." >&2
  exit 1
fi
want="$("$node_bin" -p 'process.versions.node')"
have="$(sed -n 's/^#define NODE_\(MAJOR\|MINOR\|PATCH\)_VERSION \([0-9]*\).*/\2/p' "$nodedir/include/node/node_version.h" | paste -sd. -)"
if [[ "$want" != "$have" ]]; then
  echo "native-crypto: warning: headers are for Node $have, running Node $want (Node-API is ABI-stable; OpenSSL 3.x API is stable)" >&2
fi

# 2. node-gyp: override, the copy npm exports to `npm run` scripts, npm's bundled copy, or a local install.
gyp="${NATIVE_CRYPTO_NODE_GYP:-${npm_config_node_gyp:-}}"
if [[ -z "$gyp" || ! -f "$gyp" ]]; then
  npm_cli="$(readlink -f "$(command -v npm)" 2>/dev/null || true)"
  for candidate in \
    "$(dirname "$npm_cli")/../node_modules/node-gyp/bin/node-gyp.js" \
    "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
    "$here/../../node_modules/node-gyp/bin/node-gyp.js"; do
    if [[ -f "$candidate" ]]; then gyp="$candidate"; break; fi
  done
fi
if [[ -z "$gyp" || ! -f "$gyp" ]]; then
  echo "native-crypto: node-gyp not found (npm normally bundles it); set NATIVE_CRYPTO_NODE_GYP" >&2
  exit 1
fi

mode="--release"
if [[ "${NATIVE_CRYPTO_DEBUG:-}" == "1" ]]; then mode="--debug"; fi

cd "$here"
"$node_bin" "$gyp" rebuild "$mode" --nodedir="$nodedir" --jobs=max --loglevel=warn
echo "native-crypto: built $(ls "$here"/build/*/native_crypto.node)"
