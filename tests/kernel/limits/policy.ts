/**
 * Support of the kernel tests of rule tails: the pin key of a test's own
 * tables and their removal, and tails built by hand (src/compiler/output.ts,
 * RuleTail) for what the compiler never emits, such as a tail on the
 * linear path.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { CompiledLimit, RuleTail } from '../../../src/compiler/output.js';
import { setsDir } from '../../../src/xdp/dynsets.js';
import { fnv1a32 } from '../../../src/compiler/passes/lower-tail.js';
import { limitsDir } from '../../../src/xdp/limits.js';
import { stateRoot, type PinOptions } from '../../../src/xdp/pins.js';

const UNIT_NS = { second: 1_000_000_000n, minute: 60_000_000_000n, hour: 3_600_000_000_000n } as const;

/** `limit rate [over] N/UNIT [burst B] [per …]` as the compiler gives it; the id names the rule. */
export function limit(
  id: string,
  rate: number,
  unit: CompiledLimit['unit'],
  options: { burst?: number; over?: boolean; per?: CompiledLimit['per'] } = {},
): CompiledLimit {
  const burst = options.burst ?? 5;
  const costNs = UNIT_NS[unit] / BigInt(rate);
  return {
    id: fnv1a32(`eth0\0${id}`),
    over: options.over ?? false,
    rate,
    unit,
    burst,
    costNs,
    capacityNs: BigInt(burst) * costNs,
    per: options.per ?? null,
  };
}

export const tail = (t: Partial<RuleTail>): RuleTail => ({ srcSet: null, dstSet: null, limit: null, ban: null, ...t });

/** A pin key of the test's own (no namespace has it, so `xdpfw gc` leaves it alone). */
export const testPins = (tag: string): PinOptions => ({ netnsId: `test-limits-${tag}-${process.pid}` });

/** Removes the test's meter table, sets and set declarations. */
export function removeTailTables(o: PinOptions): void {
  for (const dir of [limitsDir(o), setsDir(o), path.join(stateRoot(o), o.netnsId!)]) fs.rmSync(dir, { recursive: true, force: true });
}
