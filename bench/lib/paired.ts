/**
 * Paired, interleaved rounds: each round loads every (object, policy) pair
 * afresh and times it on the same packets, one after the other, so the two
 * sides of a ratio are measured seconds apart rather than minutes. On this
 * VM the cold figures with a large set move by a quarter or more as the
 * host's other guests use the shared L3; a ratio of two figures taken
 * minutes apart then says more about that drift than about the program.
 */
import path from 'node:path';
import type { CompiledInterface } from '../../src/compiler/output.js';
import { loadPolicyProgram } from '../../src/xdp/index.js';
import type { PacketKind } from './frames.js';
import { benchPolicy, compileBenchPolicy, type AddressSet } from './policy-gen.js';
import { sample } from './stats.js';
import { MODES, type Mode, type Packets, SET_LABEL, timeCases, type SetName } from './timing.js';

export interface Subject {
  label: string;
  set: SetName;
  compiled: CompiledInterface;
}

/** The bench policy of `rules` rules with set `set`, compiled. */
export function benchSubject(rules: number, set: SetName, sets: Record<SetName, AddressSet>): Subject {
  return { label: `${rules} rules, ${SET_LABEL[set]} set`, set, compiled: compileBenchPolicy(benchPolicy(rules, sets[set])) };
}

/** What a round times: an object, loaded by this checkout's loader or another checkout's. */
export interface Build {
  /** The object; undefined: the loader's default (bpf/xdpfw.bpf.o of its checkout). */
  objectPath?: string;
  load: typeof loadPolicyProgram;
}

/** An object file loaded by this checkout (undefined: its own bpf/xdpfw.bpf.o). */
export const thisCheckout = (objectPath?: string): Build => ({ objectPath, load: loadPolicyProgram });

/**
 * Another checkout's built object, loaded by that checkout's own loader, so
 * that builds whose maps differ in layout can be timed in one process.
 * The policies are compiled here: the compilers must agree.
 */
export async function otherCheckout(dir: string): Promise<Build> {
  const mod = (await import(path.resolve(dir, 'src/xdp/index.ts'))) as { loadPolicyProgram: typeof loadPolicyProgram };
  return { objectPath: path.resolve(dir, 'bpf/xdpfw.bpf.o'), load: mod.loadPolicyProgram };
}

/** A round is kept when its slowest first-subject hot figure is within this factor of the quietest round's. */
const QUIET = 1.1;

export interface PairedResult {
  /** Indexes of the rounds kept (see QUIET). */
  kept: number[];
  rounds: number;
  /** The quietest round's first-subject hot figure, ns. */
  floor: number;
  /** perRound[object][subject][mode][round]: the median of that round's runs (lib/timing.ts), ns. */
  perRound: number[][][][];
}

/** Times every build under every subject for `rounds` interleaved rounds. */
export async function pairedRounds(
  builds: Build[],
  subjects: Subject[],
  packets: Packets,
  kind: PacketKind,
  rounds: number,
): Promise<PairedResult> {
  const perRound = builds.map(() => subjects.map(() => MODES.map(() => [] as number[])));
  // Builds alternate within each subject, so a pair of figures is seconds apart.
  for (let round = 0; round < rounds; round++) {
    for (const [i, s] of subjects.entries()) {
      for (const [o, { objectPath, load }] of builds.entries()) {
        const program = await load(s.compiled, objectPath ? { objectPath } : {});
        try {
          const [t] = timeCases(program.progFd, [packets.get(s.set, kind)]);
          MODES.forEach((m, k) => perRound[o][i][k].push(t[m].median));
        } finally {
          program.close();
        }
      }
    }
  }
  const hotOf = (r: number) => Math.max(...builds.map((_, o) => perRound[o][0][0][r]));
  const all = Array.from({ length: rounds }, (_, r) => r);
  const floor = Math.min(...all.map(hotOf));
  return { kept: all.filter((r) => hotOf(r) <= floor * QUIET), rounds, floor, perRound };
}

/** The median over the kept rounds of one object's figure for a subject and mode. */
export function keptMedian(res: PairedResult, object: number, subject: number, mode: Mode): number {
  const xs = res.perRound[object][subject][MODES.indexOf(mode)];
  return sample(res.kept.map((r) => xs[r])).median;
}

/** Every round's ratio (kept or not) of one object's figure to the first object's, for one subject and mode. */
export function pairedRatios(res: PairedResult, object: number, subject: number, mode: Mode): number[] {
  const k = MODES.indexOf(mode);
  return res.perRound[object][subject][k].map((x, r) => x / res.perRound[0][subject][k][r]);
}

/** Each kept round's ratio of subject `num` to subject `den` for one object and mode. */
export function keptRatios(res: PairedResult, object: number, num: number, den: number, mode: Mode): number[] {
  const k = MODES.indexOf(mode);
  const xs = res.perRound[object];
  return res.kept.map((r) => xs[num][k][r] / xs[den][k][r]);
}
