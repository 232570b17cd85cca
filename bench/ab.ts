/**
 * bench:ab — compares builds of the data plane on the target case,
 * the default path of 10 rules + 10-entry set against 4,096 rules + 1M set,
 * hot / warm / cold: each object gets the same policies, maps and packets,
 * and the rounds are interleaved across the objects so drift spreads over
 * all of them alike. Every round loads each object afresh: where the
 * kernel places a map's pages moves a cold figure by several ns from one
 * load to the next, so one load per object would compare placements, not
 * builds. Rounds where the machine ran slow (on this VM a busy neighbour
 * raises every figure, the 10-rule hot one included, by up to half) are
 * left out of the medians.
 *
 *   make -C bpf && cp bpf/xdpfw.bpf.o /tmp/a.o    # one build, then another
 *   npm run bench:ab -- [--rounds N] [--kind none] /tmp/a.o /tmp/b.o …
 */
import { parseArgs } from 'node:util';
import type { CompiledInterface } from '../src/compiler/output.js';
import { loadPolicyProgram } from '../src/xdp/index.js';
import type { PacketKind } from './lib/frames.js';
import { pinTo, requireRoot, statsOff, SysctlGuard } from './lib/machine.js';
import { addressSet, benchPolicy } from './lib/policy-gen.js';
import { compileBenchPolicy } from './lib/programs.js';
import { fixed, sample } from './lib/stats.js';
import { MODES, Packets, RUNS, timeCases, type SetName } from './lib/timing.js';

/** A round is kept when its slowest 10-rule hot figure is within this factor of the fastest round's. */
const QUIET = 1.1;

async function main(): Promise<void> {
  const { values, positionals: objects } = parseArgs({
    allowPositionals: true,
    options: { rounds: { type: 'string', default: '5' }, kind: { type: 'string', default: 'none' } },
  });
  if (objects.length === 0) throw new Error('name one or more BPF objects to compare');
  requireRoot();
  pinTo(1);
  const guard = new SysctlGuard();
  const sets = { small: addressSet(10, 10), large: addressSet(1_000_000, 100_000) };
  const packets = new Packets(sets);
  try {
    statsOff(guard);
    const subjects: { set: SetName; compiled: CompiledInterface }[] = [
      { set: 'small', compiled: compileBenchPolicy(benchPolicy(10, sets.small)).compiled },
      { set: 'large', compiled: compileBenchPolicy(benchPolicy(4096, sets.large)).compiled },
    ];
    const rounds = Number(values.rounds);
    // runs[object][subject][mode]: RUNS figures a round, rounds in order.
    const runs = objects.map(() => subjects.map(() => MODES.map(() => [] as number[])));
    for (let round = 0; round < rounds; round++) {
      for (const [o, objectPath] of objects.entries()) {
        for (const [i, s] of subjects.entries()) {
          const program = await loadPolicyProgram(s.compiled, { objectPath });
          try {
            const [t] = timeCases(program.progFd, [packets.get(s.set, values.kind as PacketKind)]);
            MODES.forEach((m, k) => runs[o][i][k].push(...t[m].runs));
          } finally {
            program.close();
          }
        }
      }
    }
    const ofRound = (xs: number[], r: number) => xs.slice(r * RUNS, (r + 1) * RUNS);
    const hotOf = (r: number) => Math.max(...objects.map((_, o) => Math.min(...ofRound(runs[o][0][0], r))));
    const all = Array.from({ length: rounds }, (_, r) => r);
    const floor = Math.min(...all.map(hotOf));
    const kept = all.filter((r) => hotOf(r) <= floor * QUIET);
    console.log(`rounds kept: ${kept.length} of ${rounds} (10-rule hot floor ${fixed(floor, 0)} ns); ns 10 rules/4,096 rules`);
    objects.forEach((objectPath, o) => {
      const median = runs[o].map((byMode) => byMode.map((xs) => sample(kept.flatMap((r) => ofRound(xs, r))).median));
      const cells = MODES.map((m, k) => `${m} ${fixed(median[0][k], 0)}/${fixed(median[1][k], 0)} = ${fixed(median[1][k] / median[0][k], 2)}×`);
      console.log(`${objectPath}: ${cells.join('  ')}`);
    });
  } finally {
    packets.close();
    guard.restore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
