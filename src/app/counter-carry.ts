/**
 * The arithmetic of keeping counters across a reload (the kernel side is
 * src/xdp/carry.ts). Pure: ids in, index pairs and base offsets out.
 *
 * A rule keeps its counters when the new policy has a rule with the same id
 * (its name, or a hash of its content when unnamed). Its total is always
 * `base + kernel counter`. At a reload the old program's per-CPU values are
 * copied into the new program's map before the swap (snapshot `before`), and
 * what the old program counted between that copy and the swap
 * (`after - before`, read once no old run is in flight) is added to the base.
 */

import type { GlobalCounterName } from '../xdp/index.js';

export interface Count {
  packets: bigint;
  bytes: bigint;
}
/** A Count in JSON: decimal strings, exact beyond 2^53. */
export interface CounterJson {
  packets: string;
  bytes: string;
}
export type GlobalBases = Partial<Record<GlobalCounterName, CounterJson>>;

export const ZERO: Count = Object.freeze({ packets: 0n, bytes: 0n });

export const GLOBAL_NAMES: readonly GlobalCounterName[] = ['default', 'malformed', 'nonIp', 'fragment', 'rejectSent', 'rejectSuppressed'];

export const add = (a: Count, b: Count): Count => ({ packets: a.packets + b.packets, bytes: a.bytes + b.bytes });

/** b - a, never negative (a counter cannot go down; a smaller value means another map). */
export function grown(a: Count, b: Count): Count {
  const d = (x: bigint, y: bigint) => (y > x ? y - x : 0n);
  return { packets: d(a.packets, b.packets), bytes: d(a.bytes, b.bytes) };
}

export const toJson = (c: Count): CounterJson => ({ packets: c.packets.toString(), bytes: c.bytes.toString() });

export function fromJson(c: CounterJson | undefined): Count {
  if (!c) return ZERO;
  try {
    return { packets: BigInt(c.packets), bytes: BigInt(c.bytes) };
  } catch {
    return ZERO; // a hand-edited state file: start over rather than fail the reload
  }
}

/**
 * [old index, new index] for each new rule whose id an old rule has. Ids
 * are unique per interface except for identical unnamed rules (shadowed,
 * a warning): those pair up in order of appearance.
 */
export function rulePairs(oldIds: readonly string[], newIds: readonly string[]): [number, number][] {
  const byId = new Map<string, number[]>();
  oldIds.forEach((id, i) => {
    const list = byId.get(id);
    if (list) list.push(i);
    else byId.set(id, [i]);
  });
  const pairs: [number, number][] = [];
  newIds.forEach((id, j) => {
    const from = byId.get(id)?.shift();
    if (from !== undefined) pairs.push([from, j]);
  });
  return pairs;
}

/**
 * The new bases: for each pair, the old rule's base plus what the old program
 * counted after the copy. Rules without a pair start at zero.
 */
export function carriedBases(args: {
  pairs: readonly (readonly [number, number])[];
  newCount: number;
  oldBases: readonly Count[];
  before: readonly Count[];
  after: readonly Count[];
}): Count[] {
  const bases: Count[] = Array.from({ length: args.newCount }, () => ZERO);
  for (const [from, to] of args.pairs) {
    const lateCounts = grown(args.before[from] ?? ZERO, args.after[from] ?? ZERO);
    bases[to] = add(args.oldBases[from] ?? ZERO, lateCounts);
  }
  return bases;
}

/** Global counters are always carried, index for index. */
export function carriedGlobalBases(old: GlobalBases | undefined, before: readonly Count[], after: readonly Count[]): GlobalBases {
  const out: GlobalBases = {};
  GLOBAL_NAMES.forEach((name, i) => {
    out[name] = toJson(add(fromJson(old?.[name]), grown(before[i] ?? ZERO, after[i] ?? ZERO)));
  });
  return out;
}

/** When each new rule's counters began: the old rule's `since` when carried, else `now`. */
export function ruleSince(
  pairs: readonly (readonly [number, number])[],
  newCount: number,
  oldSince: readonly (string | undefined)[],
  now: string,
): string[] {
  const since = Array.from({ length: newCount }, () => now);
  for (const [from, to] of pairs) since[to] = oldSince[from] ?? now;
  return since;
}
