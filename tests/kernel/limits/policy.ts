/**
 * Policies with rule tails for the kernel tests, until the language has
 * `limit` and dynamic sets: a stateless policy compiled by the compiler,
 * then given the tails, sets and meter settings the compiler will emit
 * (src/compiler/output.ts, RuleTail).
 */
import fs from 'node:fs';
import path from 'node:path';

import type { CompiledDynamicSet, CompiledInterface, CompiledLimit, RuleTail } from '../../../src/compiler/output.js';
import { setsDir } from '../../../src/xdp/dynsets.js';
import { fnv1a32 } from '../../../src/compiler/passes/lower-tail.js';
import { limitsDir } from '../../../src/xdp/limits.js';
import { stateRoot, type PinOptions } from '../../../src/xdp/pins.js';
import { compileInterfaceText } from '../../support/kernel.js';

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

/** `text` compiled (bit vectors), with `tails` by rule index, the interface's dynamic sets and the meter table's size. */
export function withTails(
  text: string,
  tails: Record<number, RuleTail>,
  dynamicSets: CompiledDynamicSet[] = [],
  meterSize = 1024,
): CompiledInterface {
  const compiled = compileInterfaceText(text, { classify: 'lbvs' });
  const all = compiled.rules.map((_, i) => tails[i] ?? null);
  const limited = all.some((t) => t?.limit);
  return { ...compiled, tails: all, dynamicSets, limits: limited ? { size: meterSize } : null };
}

/** A pin key of the test's own (no namespace has it, so `xdpfw gc` leaves it alone). */
export const testPins = (tag: string): PinOptions => ({ netnsId: `test-limits-${tag}-${process.pid}` });

/** Removes the test's meter table, sets and set declarations. */
export function removeTailTables(o: PinOptions): void {
  for (const dir of [limitsDir(o), setsDir(o), path.join(stateRoot(o), o.netnsId!)]) fs.rmSync(dir, { recursive: true, force: true });
}
