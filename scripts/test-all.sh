#!/usr/bin/env bash
# The whole test suite, from a bare machine: installs what is missing and
# builds (scripts/install-deps.sh), then the unprivileged stage
# (scripts/test-unprivileged.sh: types, lint, format, generated files, unit
# and docs tests), the root stage (scripts/test-root.sh: kernel tests,
# network-namespace tests) and the unit and kernel tests once more on the
# current Node.js LTS (scripts/test-lts.sh), and ends with one line
# "N passed, N failed" counted from the results of all three.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDPFW_RESULTS=.test-results
rm -rf "$XDPFW_RESULTS" && mkdir -p "$XDPFW_RESULTS"

bash scripts/install-deps.sh || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
# Node.js LTS and Deno, from the npm registry (the kernel tests compare Deno's output with Node's).
bash scripts/install-runtimes.sh >/dev/null || { echo "install-runtimes failed"; echo "0 passed, 1 failed"; exit 1; }

bash scripts/test-unprivileged.sh
unprivileged_rc=$?
bash scripts/test-root.sh
root_rc=$?
bash scripts/test-lts.sh
lts_rc=$?

node scripts/summarize-results.mjs "$XDPFW_RESULTS" --stage all
summary_rc=$?
[ $unprivileged_rc -eq 0 ] && [ $root_rc -eq 0 ] && [ $lts_rc -eq 0 ] && [ $summary_rc -eq 0 ]
