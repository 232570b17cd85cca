#!/usr/bin/env bash
# The root stage: the kernel tests (BPF_PROG_TEST_RUN, attach, pins,
# concurrent writers) and the network-namespace tests with real traffic
# (the CLI's and the controller's). Needs root (CAP_BPF, CAP_NET_ADMIN,
# CAP_SYS_ADMIN for namespaces) and the build (`npm run build`). Results go
# to $XDPFW_RESULTS (default .test-results); run alone, it ends with
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
results=${XDPFW_RESULTS:-.test-results}
mkdir -p "$results"
rm -f "$results/vitest-kernel.json" "$results/netns.tap"

npx vitest run tests/kernel --reporter=default --reporter=json --outputFile="$results/vitest-kernel.json"
vitest_rc=$?
bash scripts/netns-test.sh 2>&1 | tee "$results/netns.tap"
netns_rc=${PIPESTATUS[0]}
# The controller's traffic test (xdpfw run); its TAP lines are counted with the netns test's.
bash scripts/netns-controller-test.sh 2>&1 | tee -a "$results/netns.tap"
controller_rc=${PIPESTATUS[0]}

if [ -z "${XDPFW_RESULTS:-}" ]; then
	node scripts/summarize-results.mjs "$results" --stage root || exit 1
fi
[ "$vitest_rc" -eq 0 ] && [ "$netns_rc" -eq 0 ] && [ "$controller_rc" -eq 0 ]
