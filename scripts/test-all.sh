#!/usr/bin/env bash
# The whole test suite, from a bare machine: installs what is missing and
# builds (scripts/install-deps.sh), then the unprivileged stage
# (scripts/test-unprivileged.sh: types, lint, format, generated files, unit
# and docs tests) and the root stage (scripts/test-root.sh: kernel tests,
# network-namespace tests), and ends with one line "N passed, N failed"
# counted from the results of both.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDPFW_RESULTS=.test-results
rm -rf "$XDPFW_RESULTS" && mkdir -p "$XDPFW_RESULTS"

bash scripts/install-deps.sh || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

bash scripts/test-unprivileged.sh
unprivileged_rc=$?
bash scripts/test-root.sh
root_rc=$?

node scripts/summarize-results.mjs "$XDPFW_RESULTS" --stage all
summary_rc=$?
[ $unprivileged_rc -eq 0 ] && [ $root_rc -eq 0 ] && [ $summary_rc -eq 0 ]
