/**
 * The front end never crashes: `xdpfw check` of damaged policies and set files
 * (tests/support/mutate.ts: truncations, splices, duplicated and swapped
 * tokens, random and non-UTF-8 bytes, huge numbers, deep nesting and
 * reference chains, include loops, includes and set files that are
 * directories, devices or FIFOs, very long lines, a megabyte of garbage)
 * exits 0 or 1 with located, documented diagnostics — never 4, never a stack
 * trace, never a hang.
 *
 * Seeded: XDPFW_FUZZ_SEED and XDPFW_FUZZ_CASES change the seed and the number
 * of cases; XDPFW_FUZZ_ONLY=12,345 runs those cases alone (a failure names its
 * case). Each case draws from its own generator, so a case is the same alone
 * as in the full run.
 */
import { isAscii } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILER_CODES } from '../../../src/compiler/codes.js';
import { POLICY_CODES } from '../../../src/policy/codes.js';
import { runCli, type CliRun } from '../../support/cli.js';
import { generatePolicy } from '../../support/generate.js';
import { loadSample, sampleDirectories, textSample, type FuzzSample } from '../../support/fuzz-samples.js';
import { MUTATION_KINDS, mutate, type MutationKind } from '../../support/mutate.js';
import { Random } from '../../support/random.js';
import { scratchDir } from '../../support/scratch.js';
import { Watchdog } from '../../support/watchdog.js';

const SEED = Number(process.env.XDPFW_FUZZ_SEED ?? 20261206);
const CASES = Number(process.env.XDPFW_FUZZ_CASES ?? 3000);
const ONLY = process.env.XDPFW_FUZZ_ONLY?.split(',').map(Number);
/** Longest one case may take (a megabyte of garbage takes ~50 ms). */
const CASE_LIMIT_MS = 3_000;
/** A case still running after this is a hang: the watchdog ends the run. */
const HANG_MS = 20_000;

const REPO = join(import.meta.dirname, '../../..');
const SAMPLES = join(REPO, 'tests/unit/policy/samples');
const corpus: FuzzSample[] = [
  ...readdirSync(SAMPLES).map((name) => loadSample(name, join(SAMPLES, name), 'input.xdpfw')),
  loadSample('policies/edge', join(REPO, 'policies'), 'edge.xdpfw'),
  loadSample('policies/netns-test', join(REPO, 'policies'), 'netns-test.xdpfw'),
  // Valid policies of every match kind, as the differential test generates them.
  ...Array.from({ length: 6 }, (_, i) => textSample(`generated-${i + 1}`, generatePolicy(new Random(i + 1)).text)),
];

const DOCUMENTED = new Set([...Object.keys(POLICY_CODES), ...Object.keys(COMPILER_CODES)]);
const HEADER = /^(.*):(\d+):(\d+): (error|warning)\[([^\]]*)\]: /;
const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;

/**
 * How often each kind comes up in a round: the ones that write and read
 * megabytes or resolve thousands of names take ~50-150 ms a case, the others
 * a few, so they come up a quarter as often.
 */
const SCHEDULE = MUTATION_KINDS.flatMap((kind) =>
  Array<MutationKind>(['long-line', 'garbage-1mb', 'deep-references'].includes(kind) ? 1 : 4).fill(kind),
);

const scratch = scratchDir('xdpfw-fuzz-');
const places = { fifo: join(scratch, 'fifo') };
execFileSync('mkfifo', [places.fifo]);
// Every case writes into the same directories, made once: removing a
// directory can take milliseconds (2 ms an rmdir on an ext4 mounted with
// `discard`), three thousand times over; removing a file takes microseconds.
const work = join(scratch, 'work');
for (const dir of sampleDirectories(corpus)) mkdirSync(join(work, dir), { recursive: true });
const watchdog = new Watchdog(HANG_MS);
afterAll(() => watchdog.stop());

/** Writes the sample's files into `work`; returns a function that removes them. */
function writeSample(sample: FuzzSample): () => void {
  const paths = [...sample.files.keys(), ...sample.symlinks.keys()].map((path) => join(work, path));
  for (const [path, bytes] of sample.files) writeFileSync(join(work, path), bytes);
  for (const [path, target] of sample.symlinks) symlinkSync(target, join(work, path));
  return () => paths.forEach((path) => unlinkSync(path));
}

/** The lines of a file as the CLI's file host decodes it (the last file asked for is kept: diagnostics come by file). */
let lastDecoded: { path: string; lines: string[] | undefined } | undefined;
function linesOf(path: string): string[] | undefined {
  // A policy's lines end where the grammar's do (src/policy/lines.ts); a set file's at '\n' only.
  const ends = path.endsWith('.xdpfw') ? /\r\n|[\n\r\v\f\u0085\u2028\u2029]/ : '\n';
  if (lastDecoded?.path !== path) lastDecoded = { path, lines: decodeFile(path)?.split(ends) };
  return lastDecoded.lines;
}

function decodeFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return undefined;
    const bytes = readFileSync(path);
    return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  } catch {
    return undefined;
  }
}

/** What is wrong with one run of `check`, if anything. */
function problems(run: CliRun, root: string, ms: number): string[] {
  const found: string[] = [];
  if (run.code !== 0 && run.code !== 1) found.push(`exit code ${run.code}`);
  if (run.stderr.includes('internal error') || STACK_FRAME.test(run.stderr)) found.push('a stack trace');
  if (ms > CASE_LIMIT_MS) found.push(`took ${Math.round(ms)} ms`);
  const headers = run.stderr.split('\n').flatMap((line) => {
    const m = HEADER.exec(line);
    return m ? [{ file: m[1]!, line: Number(m[2]), column: Number(m[3]), severity: m[4]!, code: m[5]! }] : [];
  });
  if (run.code === 1 && !headers.some((h) => h.severity === 'error' && DOCUMENTED.has(h.code))) {
    found.push('exit 1 without a located error of a documented code');
  }
  if (run.code === 0 && !run.stdout.includes(`${root}: ok`)) found.push('exit 0 without ok');
  if (/^error\[/m.test(run.stderr)) found.push('an error without a location');
  for (const h of headers) {
    if (!DOCUMENTED.has(h.code)) found.push(`undocumented code '${h.code}'`);
    const lines = linesOf(h.file);
    const line = lines?.[h.line - 1];
    if (h.line < 1 || h.column < 1 || (lines !== undefined && (line === undefined || h.column > line.length + 1))) {
      found.push(`${h.code} located at ${h.line}:${h.column}, outside the text of ${h.file}`);
    }
  }
  return found;
}

interface CaseResult {
  kind: MutationKind;
  label: string;
  code: number;
  /** How long `check` ran. */
  ms: number;
  problems: string[];
  stderr: string;
}

/** Case `index`: a sample damaged by the kind the schedule says, written out and checked. */
async function runCase(index: number): Promise<CaseResult> {
  const random = new Random(SEED ^ Math.imul(index + 1, 0x9e3779b9));
  const kind = SCHEDULE[index % SCHEDULE.length]!;
  const sample = random.pick(corpus);
  const label = `case ${index} (${kind} of ${sample.name}, seed ${SEED})`;
  const remove = writeSample(mutate(kind, sample, corpus, random, places));
  const root = join(work, sample.root);
  lastDecoded = undefined;
  watchdog.enter(label);
  const started = performance.now();
  let run: CliRun;
  try {
    run = await runCli('check', root);
  } catch (error) {
    run = { code: -1, stdout: '', stderr: `thrown: ${(error as Error).stack}` };
  }
  const ms = performance.now() - started;
  watchdog.leave();
  const found = problems(run, root, ms);
  remove();
  return { kind, label, code: run.code, ms, problems: found, stderr: run.stderr };
}

interface Tally {
  cases: number;
  exit0: number;
  exit1: number;
  /** The cases' whole time: mutating, writing, checking, judging. */
  ms: number;
}

function report(tallies: Map<MutationKind, Tally>, seconds: number, slowest: CaseResult | undefined): string {
  const total = [...tallies.values()].reduce((sum, t) => sum + t.cases, 0);
  const row = (...cells: (string | number)[]) =>
    `  ${String(cells[0]).padEnd(18)}${cells
      .slice(1)
      .map((c) => String(c).padStart(8))
      .join('')}`;
  return [
    `fuzz: seed ${SEED}, ${total} cases in ${seconds.toFixed(1)} s; slowest ${slowest?.label}: ${Math.round(slowest?.ms ?? 0)} ms`,
    row('mutation', 'cases', 'exit 0', 'exit 1', 'seconds'),
    ...[...tallies].map(([kind, t]) => row(kind, t.cases, t.exit0, t.exit1, (t.ms / 1000).toFixed(1))),
  ].join('\n');
}

describe('xdpfw check of mutated policies and set files', () => {
  it(`exits 0 or 1 with located, documented diagnostics in every case (seed ${SEED})`, async () => {
    const tallies = new Map(MUTATION_KINDS.map((kind): [MutationKind, Tally] => [kind, { cases: 0, exit0: 0, exit1: 0, ms: 0 }]));
    const failures: string[] = [];
    let slowest: CaseResult | undefined;
    await runCli('check', join(REPO, 'policies/edge.xdpfw')); // loads the commands' modules, outside any case's time
    const started = performance.now();
    for (const index of ONLY ?? Array.from({ length: CASES }, (_, i) => i)) {
      const caseStarted = performance.now();
      const result = await runCase(index);
      const tally = tallies.get(result.kind)!;
      tally.cases++;
      if (result.code === 0) tally.exit0++;
      if (result.code === 1) tally.exit1++;
      tally.ms += performance.now() - caseStarted;
      if (result.ms > (slowest?.ms ?? 0)) slowest = result;
      if (result.problems.length > 0) failures.push(`${result.label}: ${result.problems.join('; ')}\n${result.stderr.slice(0, 800)}`);
    }
    console.log(report(tallies, (performance.now() - started) / 1000, slowest));
    expect(failures.slice(0, 10), `${failures.length} cases failed`).toEqual([]);
  }, 300_000);
});
