/**
 * Where the in-kernel time goes, by difference: the real program and maps of
 * the 4,096-rule, 1M-set policy under load-time constants that switch parts
 * of the classifier off one by one (the verdicts are then wrong; only the
 * time matters); and the IPv4 address lookup alone with each candidate
 * structure for a redesign, on the same set.
 */
import type { CompiledInterface } from '../../src/compiler/output.js';
import { loadPolicyProgram } from '../../src/xdp/index.js';
import { FIELD } from '../../src/contract/kernel.js';
import { loadCandidates } from './candidates.js';
import { benchPolicy, compileBenchPolicy, type AddressSet } from './policy-gen.js';
import { fixed, percent, table } from './stats.js';
import { runCase, timeCases, type Case, type Packets, type Timing } from './timing.js';

interface Variant {
  name: string;
  constants: (c: CompiledInterface['constants']) => CompiledInterface['constants'];
}

const bit = (f: number) => 1 << f;
const VARIANTS: Variant[] = [
  { name: 'as compiled (5 fields, 64 words)', constants: (c) => c },
  { name: 'word loop cut to 1 word', constants: (c) => ({ ...c, nwords: 1 }) },
  { name: '… and no dst lookup (4k prefixes)', constants: (c) => ({ ...c, nwords: 1, fields: c.fields & ~bit(FIELD.dst) }) },
  {
    name: '… and no src lookup (1M+100k set)',
    constants: (c) => ({ ...c, nwords: 1, fields: c.fields & ~(bit(FIELD.src) | bit(FIELD.dst)) }),
  },
  { name: '… and no port lookups: protocol only', constants: (c) => ({ ...c, nwords: 1, fields: bit(FIELD.proto) }) },
];

const spread = (t: Timing, mode: keyof Timing) => `±${percent(t[mode].spread / 2)}`;

/** Each variant's figure and its difference from the row above, for the default path, IPv4 and IPv6. */
export async function differentialProfile(compiled: CompiledInterface, packets: Packets): Promise<string> {
  const cases = [packets.get('large', 'none'), packets.get('large', 'none6')];
  const rows: string[][] = [];
  let previous: Timing[] | null = null;
  for (const v of VARIANTS) {
    const program = await loadPolicyProgram({ ...compiled, constants: v.constants(compiled.constants) });
    try {
      const t = timeCases(program.progFd, cases);
      const cell = (i: number, mode: keyof Timing) =>
        previous
          ? `${fixed(t[i][mode].median, 0)} (${fixed(t[i][mode].median - previous[i][mode].median, 0)})`
          : fixed(t[i][mode].median, 0);
      rows.push([v.name, cell(0, 'hot'), cell(0, 'warm'), cell(0, 'cold'), cell(1, 'hot'), cell(1, 'warm'), cell(1, 'cold')]);
      previous = t;
    } finally {
      program.close();
    }
  }
  return table(
    ['4,096 rules + 1M+100k set, default path: ns (Δ)', 'IPv4 hot', 'IPv4 warm', 'IPv4 cold', 'IPv6 hot', 'IPv6 warm', 'IPv6 cold'],
    rows,
  );
}

/** The IPv4 lookup alone in each candidate structure, every answer checked by the program's counters. */
export function candidateStructures(packets: Packets, large: AddressSet): string {
  const cases: [Case, 'hit' | 'miss'][] = [
    [packets.get('large', 'first'), 'hit'],
    [packets.get('large', 'none'), 'miss'],
  ];
  const candidates = loadCandidates(large);
  try {
    const rows: string[][] = [];
    for (const c of candidates) {
      for (const [k, want] of cases) {
        const size = k.rotators.cold.size;
        const before = c.counts();
        runCase(c.obj.progFd, k, 'cold', size);
        const moved = c.counts()[want] - before[want];
        if (moved !== size) throw new Error(`${c.name}: ${moved} of ${size} ${want}s: a bug in the prototype`);
      }
      const [hit, miss] = timeCases(
        c.obj.progFd,
        cases.map(([k]) => k),
      );
      rows.push([
        c.name,
        fixed(hit.hot.median, 0),
        fixed(hit.warm.median, 0),
        `${fixed(hit.cold.median, 0)} ${spread(hit, 'cold')}`,
        fixed(miss.hot.median, 0),
        fixed(miss.warm.median, 0),
        `${fixed(miss.cold.median, 0)} ${spread(miss, 'cold')}`,
      ]);
    }
    return table(
      ['IPv4 source lookup alone, 1M-entry set: ns', 'hit hot', 'hit warm', 'hit cold', 'miss hot', 'miss warm', 'miss cold'],
      rows,
    );
  } finally {
    for (const c of candidates) c.close();
  }
}

/**
 * The same small policies with their address fields forced to the LPM trie
 * or to the address table: what the compiler's switch-over point
 * (ADDRESS_TABLE_MIN_ENTRIES) costs below it. Default path and last rule.
 */
export async function lookupModes(packets: Packets, small: AddressSet, counts: number[]): Promise<string> {
  const cases = [packets.get('small', 'none'), packets.get('small', 'last')];
  const rows: string[][] = [];
  for (const n of counts) {
    const policy = benchPolicy(n, small);
    for (const mode of ['trie', 'table'] as const) {
      const program = await loadPolicyProgram(compileBenchPolicy(policy, { addressLookup: mode }));
      try {
        const [none, last] = timeCases(program.progFd, cases);
        rows.push([
          String(n),
          mode,
          fixed(none.hot.median, 0),
          fixed(none.warm.median, 0),
          fixed(none.cold.median, 0),
          fixed(last.hot.median, 0),
          fixed(last.cold.median, 0),
        ]);
      } finally {
        program.close();
      }
    }
  }
  return table(
    ['rules (10+10 set)', 'address lookup', 'default hot', 'default warm', 'default cold', 'last rule hot', 'last rule cold'],
    rows,
  );
}
