// Counts test results from vitest's JSON report and the netns script's TAP
// output and prints the single line CI reads: "N passed, N failed".
// A run that executed nothing is a failure, not a green run.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [dir, failedStepsArg = '0'] = process.argv.slice(2);
let passed = 0;
let failed = Number(failedStepsArg);
let skipped = 0;

const vitestFile = join(dir, 'vitest.json');
if (existsSync(vitestFile)) {
  const report = JSON.parse(readFileSync(vitestFile, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  // A file that failed to load (syntax error, import failure) has no tests in the counts.
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed += 1;
  }
} else {
  failed += 1;
  console.error('no vitest results: the unit and kernel tests did not run');
}

const tapFile = join(dir, 'netns.tap');
if (existsSync(tapFile)) {
  for (const line of readFileSync(tapFile, 'utf8').split('\n')) {
    if (/^ok \d+/.test(line)) passed += 1;
    else if (/^not ok \d+/.test(line)) failed += 1;
  }
} else {
  failed += 1;
  console.error('no netns results: scripts/netns-test.sh did not run');
}

if (passed === 0) failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
