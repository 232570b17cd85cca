#!/usr/bin/env bash
# The unit and kernel tests again on the current Node.js LTS (scripts/
# install-runtimes.sh puts it in scripts/runtimes; the system's Node stays
# as it is). Every process the tests start (the CLI, the daemon, the
# compile workers) runs on it too: it comes first on PATH, and the tests
# start children with process.execPath. Results go to $XDPFW_RESULTS as
# vitest-unit-lts.json and vitest-kernel-lts.json.
set -uo pipefail
cd "$(dirname "$0")/.."
results=${XDPFW_RESULTS:-.test-results}
mkdir -p "$results"
rm -f "$results/vitest-unit-lts.json" "$results/vitest-kernel-lts.json"

bin=$(bash scripts/install-runtimes.sh) || exit 1
export PATH="$bin:$PATH"
echo "tests on Node.js $(node --version)"

vitest() { node node_modules/vitest/vitest.mjs run "$@"; }
vitest tests/unit --reporter=default --reporter=json --outputFile="$results/vitest-unit-lts.json"
unit_rc=$?
# The package's test is left out: the executable carries its own Node, whatever runs the tests.
vitest tests/kernel --exclude 'tests/kernel/package/**' --reporter=default --reporter=json --outputFile="$results/vitest-kernel-lts.json"
kernel_rc=$?
[ "$unit_rc" -eq 0 ] && [ "$kernel_rc" -eq 0 ]
