/**
 * `addToSet` of 10,000 addresses into a live dynamic set (one a program
 * uses), timed end to end as `xdpfw set add` calls it: the addresses'
 * text parsed, the set's pin opened, one batch update. Each round adds
 * addresses the set does not hold; they are deleted again, untimed.
 */
import { addToSet, deleteFromSet, type PinOptions } from '../../src/xdp/index.js';
import { fixed, grouped, sample } from './stats.js';

export const ADDS = 10_000;
const ROUNDS = 7;
const TARGET_MS = 200;

/** The figures' lines: each round's time, and the target. */
export function setAddLines(set: string, pins: PinOptions, fresh: () => string[]): string[] {
  const ms: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const addresses = fresh();
    if (addresses.length !== ADDS) throw new Error(`set-add bench: ${addresses.length} addresses, want ${ADDS}`);
    const t0 = performance.now();
    const added = addToSet(set, addresses, { ...pins, seconds: 3600 });
    ms.push(performance.now() - t0);
    if (added !== ADDS) throw new Error(`set-add bench: ${added} of ${ADDS} added`);
    const deleted = deleteFromSet(set, addresses, pins);
    if (deleted !== ADDS) throw new Error(`set-add bench: ${deleted} of ${ADDS} found again`);
  }
  const s = sample(ms);
  return [
    `set add — addToSet of ${grouped(ADDS)} IPv4 addresses into the live set @${set} (holding the bans), ` +
      `${ROUNDS} rounds: median ${fixed(s.median, 1)} ms (${fixed(s.min, 1)}–${fixed(s.max, 1)}; ` +
      `each: ${ms.map((x) => fixed(x, 1)).join(', ')})`,
    `target — set add of ${grouped(ADDS)} < ${TARGET_MS} ms: median ${fixed(s.median, 1)} ms ` +
      `${s.median < TARGET_MS ? 'met' : 'MISSED'}, slowest ${fixed(s.max, 1)} ms ${s.max < TARGET_MS ? 'met' : 'MISSED'}`,
  ];
}
