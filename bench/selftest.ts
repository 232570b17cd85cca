/**
 * bench:selftest — checks the bench's own machinery that the test suite
 * does not cover, without root: that every probe build of bench/probes.ts
 * still finds the statement it goes before in bpf/, and compiles. Prints
 * one line per check; exits 1 when any fails.
 *
 *   npm run bench:selftest
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ANCHORS, BPF_DIR, buildProbes, probeFile, probeSource, PROBES } from './probes.js';
import { run } from './lib/sh.js';

type Check = () => string | undefined;

let failures = 0;

/** Runs one check: it returns nothing, or what it found wrong, or throws. */
function check(name: string, fn: Check): void {
  let problem: string | undefined;
  try {
    problem = fn();
  } catch (err) {
    problem = err instanceof Error ? err.message : String(err);
  }
  if (problem === undefined) {
    console.log(`ok    ${name}`);
  } else {
    failures++;
    console.log(`FAIL  ${name}: ${problem}`);
  }
}

/** Where `actual` differs from `expected`, or nothing. */
function differs(actual: string, expected: string): string | undefined {
  return actual === expected ? undefined : `got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}

const sourceOf = (name: string) => fs.readFileSync(path.join(BPF_DIR, probeFile(name)), 'utf8');
const disassembly = (object: string) => run('llvm-objdump', ['-d', '-r', object]).split('\n').slice(2).join('\n');

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-bench-selftest-'));
  try {
    check('probe as-built leaves the data plane source unchanged', () =>
      probeSource(sourceOf('as-built'), 'as-built') === sourceOf('as-built') ? undefined : 'the source changed',
    );
    for (const [name, probe] of Object.entries(PROBES)) {
      if (name === 'as-built') continue;
      const { file, statement } = ANCHORS[probe.before ?? 'bitmap'];
      check(`probe ${name} adds its code once, before its statement in ${file}`, () => {
        const text = sourceOf(name);
        const out = probeSource(text, name);
        if (out.length - text.length !== probe.code.length)
          return `it added ${out.length - text.length} characters, not ${probe.code.length}`;
        if (out.split(probe.code + statement).length !== 2) return 'its code is not once right before the statement';
        return undefined;
      });
    }
    check('an unknown probe is refused with the list of probes', () => {
      try {
        probeSource('', 'no-such');
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return differs(message, `unknown probe "no-such"; probes: ${Object.keys(PROBES).join(', ')}`);
      }
      return 'no error';
    });
    check('a data plane changed under a probe names the statement it lacks and its file', () => {
      const changed = sourceOf('no-bitmap').replace(ANCHORS.bitmap.statement, '\tat = 0;\n');
      try {
        probeSource(changed, 'no-bitmap');
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return differs(message, 'bench/probes.ts: "at = bucket_rank(bkt, rank, addr >> 8);" is not once in lib/addr_table.h');
      }
      return 'no error';
    });

    run('make', ['-s', '-C', BPF_DIR]);
    for (const name of Object.keys(PROBES)) {
      const what = name === 'as-built' ? 'compiles to the instructions of bpf/xdpfw.bpf.o' : 'compiles';
      check(`probe ${name} ${what}`, () => {
        const [object] = buildProbes([name], dir);
        const size = fs.statSync(object).size;
        if (size < 10_000) return `${object} is only ${size} bytes`;
        if (name !== 'as-built') return undefined;
        return disassembly(object) === disassembly(path.join(BPF_DIR, 'xdpfw.bpf.o')) ? undefined : 'its instructions differ';
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (failures > 0) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
  }
}

main();
