#!/usr/bin/env bash
# The unprivileged stage, which any contributor runs without root: types,
# lint, formatting, generated files in step with their sources, and the unit and docs
# tests. Needs the dependencies installed (`npm ci`); builds the parser and
# the JavaScript (not the BPF object, which needs clang). Results go to $XDPFW_RESULTS
# (default .test-results); run alone, it ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
results=${XDPFW_RESULTS:-.test-results}
mkdir -p "$results"
rm -f "$results/vitest-unit.json" "$results/unprivileged.steps"

failed=0
step() { # step NAME CMD...: runs CMD; a failure is counted and named
	local name=$1
	shift
	if ! "$@"; then
		echo "unprivileged stage: $name failed" >&2
		failed=$((failed + 1))
	fi
}
step build sh -c 'npm run -s build:parser && npm run -s build:ts'
step typecheck npx tsc --noEmit
step lint npm run -s lint
step format npm run -s format:check
step generated npm run -s check:generated
npx vitest run tests/unit --reporter=default --reporter=json --outputFile="$results/vitest-unit.json"
vitest_rc=$?
echo "$failed" >"$results/unprivileged.steps"

if [ -z "${XDPFW_RESULTS:-}" ]; then
	node scripts/summarize-results.mjs "$results" --stage unprivileged || exit 1
fi
[ "$failed" -eq 0 ] && [ "$vitest_rc" -eq 0 ]
