#!/usr/bin/env bash
# The whole test suite, from a bare machine: installs what is missing, builds,
# type-checks, runs unit and kernel tests (vitest) and the network-namespace
# tests (the CLI's and the controller's), and ends with one line
# "N passed, N failed" counted from the results.
set -uo pipefail
cd "$(dirname "$0")/.."
results=.test-results
rm -rf "$results" && mkdir -p "$results"

bash scripts/install-deps.sh || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

failed_steps=0
npx tsc --noEmit || failed_steps=$((failed_steps + 1))
npm run -s lint || failed_steps=$((failed_steps + 1))
npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json"
vitest_rc=$?
bash scripts/netns-test.sh 2>&1 | tee "$results/netns.tap"
netns_rc=${PIPESTATUS[0]}
# The controller's traffic test (xdpfw run); its TAP lines are counted with the netns test's.
bash scripts/netns-controller-test.sh 2>&1 | tee -a "$results/netns.tap"
controller_rc=${PIPESTATUS[0]}

node scripts/summarize-results.mjs "$results" "$failed_steps"
summary_rc=$?
if [ $vitest_rc -ne 0 ] || [ $netns_rc -ne 0 ] || [ $controller_rc -ne 0 ] || [ $summary_rc -ne 0 ]; then exit 1; fi
