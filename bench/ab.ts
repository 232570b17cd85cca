/**
 * bench:ab — compares builds of the data plane on the performance target's case,
 * the default path of 10 rules + 10-entry set against 4,096 rules + 1M set,
 * with the two halves of that step in between (10 rules + 1M set: what the
 * set costs; 4,096 rules + 10-entry set: what the rules cost), hot / warm /
 * cold. Each object gets the same policies, maps and packets, in paired,
 * interleaved rounds (lib/paired.ts) that load each object afresh: where
 * the kernel places a map's pages moves a cold figure by several ns from one
 * load to the next, so one load per object would compare placements, not
 * builds. Rounds where the machine ran slow (a busy neighbour raises every
 * figure, the 10-rule hot one included, by up to half) are left out.
 *
 *   make -C bpf && cp bpf/xdpfw.bpf.o ../a.o    # one build, then another
 *   npm run bench:ab -- [--rounds N] [--kind none] ../a.o ../b.o …
 *   npm run bench:ab -- $(npx tsx bench/probes.ts as-built no-bitmap)   # probe builds
 *   git worktree add ../before <commit> && make -C ../before/bpf
 *   npm run bench:ab -- ../before .              # checkouts: each one's object, loaded by its own loader
 *
 * A directory names a checkout (its node_modules may be a link to these),
 * whose loader then runs in a process of its own (lib/checkout-loader.ts):
 * builds whose maps differ in layout are timed side by side too.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { PacketKind } from './lib/frames.js';
import { pinTo, requireRoot, statsOff, SysctlGuard } from './lib/machine.js';
import { benchSubject, type Build, keptMedian, keptRatios, otherCheckout, pairedRatios, pairedRounds, thisCheckout } from './lib/paired.js';
import { addressSet } from './lib/policy-gen.js';
import { fixed, sample } from './lib/stats.js';
import { MODES, Packets } from './lib/timing.js';

/** Ratios as their median and range. */
function ratios(xs: number[]): string {
  const r = sample(xs);
  return `${fixed(r.median, 2)}× (${fixed(r.min, 2)}–${fixed(r.max, 2)})`;
}

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
  const builds: Build[] = [];
  try {
    statsOff(guard);
    const cases = [
      [10, 'small'],
      [10, 'large'],
      [4096, 'small'],
      [4096, 'large'],
    ] as const;
    const subjects = cases.map(([rules, set]) => benchSubject(rules, set, sets));
    const target = subjects.length - 1;
    for (const o of objects) builds.push(fs.statSync(o).isDirectory() ? await otherCheckout(o, subjects) : thisCheckout(o));
    const res = await pairedRounds(builds, subjects, packets, values.kind as PacketKind, Number(values.rounds));
    console.log(
      `rounds kept: ${res.kept.length} of ${res.rounds} (10-rule hot floor ${fixed(res.floor, 0)} ns); ` +
        `ns for ${subjects.map((s) => s.label).join(' / ')}; ratio of the last to the first (median of rounds, range)`,
    );
    objects.forEach((objectPath, o) => {
      const cells = MODES.map((m) => {
        const ns = subjects.map((_, i) => fixed(keptMedian(res, o, i, m), 0)).join('/');
        return `${m} ${ns} = ${ratios(keptRatios(res, o, target, 0, m))}`;
      });
      console.log(`${objectPath}: ${cells.join('  ')}`);
    });
    // Pairs of one subject are timed back to back, so their ratio holds in busy rounds too.
    objects.slice(1).forEach((objectPath, j) => {
      const cells = MODES.map((m) => `${m} ${ratios(pairedRatios(res, j + 1, target, m))}`);
      console.log(`${objectPath} / ${objects[0]}, ${subjects[target].label}, all ${res.rounds} rounds: ${cells.join('  ')}`);
    });
  } finally {
    for (const b of builds) b.close();
    packets.close();
    guard.restore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
