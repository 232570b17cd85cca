// Counts test results from vitest's JSON reports (on the machine's Node.js,
// and for the whole suite on the current LTS too), the failed steps of the
// unprivileged stage and the netns scripts' TAP output, and prints the single
// line CI reads: "N passed, N failed". A stage whose results are missing is a
// failure, and so is a run that executed nothing.
//
//   node scripts/summarize-results.mjs DIR --stage unprivileged|root|all
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, flag, stage = 'all'] = process.argv.slice(2);
if (!dir || (flag !== undefined && flag !== '--stage') || !['unprivileged', 'root', 'all'].includes(stage)) {
  console.error('usage: summarize-results.mjs DIR [--stage unprivileged|root|all]');
  process.exit(2);
}
let passed = 0;
let failed = 0;
let skipped = 0;

function missing(what) {
  failed += 1;
  console.error(`no results: ${what} did not run`);
}

function vitest(file, what) {
  const path = join(dir, file);
  if (!existsSync(path)) return missing(what);
  const report = JSON.parse(readFileSync(path, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  // A file that failed to load (syntax error, import failure) has no tests in the counts.
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
  }
}

if (stage !== 'root') {
  vitest('vitest-unit.json', 'the unit tests');
  const steps = join(dir, 'unprivileged.steps');
  if (existsSync(steps)) failed += Number(readFileSync(steps, 'utf8').trim()) || 0;
  else missing('the unprivileged checks (typecheck, lint, format, generated files)');
}
if (stage !== 'unprivileged') {
  vitest('vitest-kernel.json', 'the kernel tests');
  const tap = join(dir, 'netns.tap');
  if (!existsSync(tap)) missing('scripts/netns-test.sh');
  else {
    for (const line of readFileSync(tap, 'utf8').split('\n')) {
      if (/^ok \d+/.test(line)) passed += 1;
      else if (/^not ok \d+/.test(line)) failed += 1;
    }
  }
}

if (stage === 'all') {
  vitest('vitest-unit-lts.json', 'the unit tests on the Node.js LTS');
  vitest('vitest-kernel-lts.json', 'the kernel tests on the Node.js LTS');
}

if (passed === 0) failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
