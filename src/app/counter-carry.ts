/**
 * The arithmetic of keeping counters across a reload (the kernel side is
 * src/xdp/carry.ts). Pure: ids in, index pairs and base offsets out.
 *
 * A rule keeps its counters (packets and bytes, and its limit's over-limit
 * packets) when the new policy has a rule with the same id (its name, or a
 * hash of its content when unnamed); a dynamic set keeps its counts (bans
 * added, refused, expired) when the new policy names a set of the same
 * name, whatever index either gets. A total is always `base + kernel counter`. At a reload the old program's per-CPU values are
 * copied into the new program's map before the swap (snapshot `before`), and
 * what the old program counted between that copy and the swap
 * (`after - before`, read once no old run is in flight) is added to the base.
 */

import type { GlobalCounterName, SetCounters } from '../xdp/index.js';

/** A counter's figures by name: a rule's packets and bytes, a limit's over-limit packets, a set's bans. */
export type Figures<T> = Record<keyof T, bigint>;
/** Figures in JSON: decimal strings, exact beyond 2^53. */
export type FiguresJson<T> = { [K in keyof T]: string };

export interface Count {
  packets: bigint;
  bytes: bigint;
}
export type CounterJson = FiguresJson<Count>;
export type GlobalBases = Partial<Record<GlobalCounterName, CounterJson>>;

export const ZERO: Count = Object.freeze({ packets: 0n, bytes: 0n });
/** A limit's over-limit packets, and a dynamic set's counts, before anything was counted. */
export const NO_OVER_LIMIT: Readonly<{ overLimit: bigint }> = Object.freeze({ overLimit: 0n });
export const NO_SET_COUNTS: Readonly<SetCounters> = Object.freeze({ added: 0n, full: 0n, expired: 0n });

export const GLOBAL_NAMES: readonly GlobalCounterName[] = [
  'default',
  'malformed',
  'nonIp',
  'fragment',
  'rejectSent',
  'rejectSuppressed',
  'wouldDrop',
];

function each<T extends Figures<T>>(a: T, f: (key: keyof T, x: bigint) => bigint): T {
  return Object.fromEntries((Object.entries(a) as [keyof T, bigint][]).map(([k, x]) => [k, f(k, x)])) as T;
}

export const add = <T extends Figures<T>>(a: T, b: T): T => each(a, (k, x) => x + (b[k] ?? 0n));

/** b - a, never negative (a counter cannot go down; a smaller value means another map). */
export const grown = <T extends Figures<T>>(a: T, b: T): T =>
  each(a, (k, x) => {
    const y = b[k] ?? 0n;
    return y > x ? y - x : 0n;
  });

export const toJson = <T extends Figures<T>>(c: T): FiguresJson<T> =>
  Object.fromEntries((Object.entries(c) as [keyof T, bigint][]).map(([k, x]) => [k, x.toString()])) as FiguresJson<T>;

/** Figures from JSON; `zero` names the fields and stands for a missing or corrupt value. */
export function fromJson<T extends Figures<T> = Count>(c: FiguresJson<T> | undefined, zero: T = ZERO as unknown as T): T {
  if (!c) return zero;
  try {
    return each(zero, (k) => BigInt(c[k]));
  } catch {
    return zero; // a hand-edited state file: start over rather than fail the reload
  }
}

/**
 * [old index, new index] for each new id that an old one equals: rules by
 * their id, dynamic sets by their name. A rule's id is unique per
 * interface except for identical unnamed rules (shadowed, a warning):
 * those pair up in order of appearance.
 */
export function pairsById(oldIds: readonly string[], newIds: readonly string[]): [number, number][] {
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
 * The new bases: for each pair, the old entry's base plus what the old
 * program counted after the copy. Entries without a pair start at `zero`
 * (by default a rule's packets and bytes).
 */
export function carriedBases<T extends Figures<T> = Count>(args: {
  pairs: readonly (readonly [number, number])[];
  newCount: number;
  oldBases: readonly T[];
  before: readonly T[];
  after: readonly T[];
  zero?: T;
}): T[] {
  const zero = args.zero ?? (ZERO as unknown as T);
  const bases: T[] = Array.from({ length: args.newCount }, () => zero);
  for (const [from, to] of args.pairs) {
    const lateCounts = grown(args.before[from] ?? zero, args.after[from] ?? zero);
    bases[to] = add(args.oldBases[from] ?? zero, lateCounts);
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
