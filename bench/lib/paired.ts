/**
 * Paired, interleaved rounds: each round loads every (object, policy) pair
 * afresh and times it on the same packets, one after the other, so the two
 * sides of a ratio are measured seconds apart rather than minutes. On this
 * VM the cold figures with a large set move by a quarter or more as the
 * host's other guests use the shared L3; a ratio of two figures taken
 * minutes apart then says more about that drift than about the program.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledInterface } from '../../src/compiler/output.js';
import { ensureBpffs, loadPolicyProgram } from '../../src/xdp/index.js';
import { closeFd } from '../../src/xdp/libbpf.js';
import { bpffsRoot, openPinned, unpin } from '../../src/xdp/pins.js';
import type { LoaderReply, LoaderRequest } from './checkout-loader.js';
import type { PacketKind } from './frames.js';
import { benchPolicy, compileBenchPolicy, type AddressSet, type BenchPolicy } from './policy-gen.js';
import { sample } from './stats.js';
import { MODES, type Mode, type Packets, SET_LABEL, timeCases, type SetName } from './timing.js';

export interface Subject {
  label: string;
  set: SetName;
  policy: BenchPolicy;
  compiled: CompiledInterface;
}

/** The bench policy of `rules` rules with set `set`, compiled. */
export function benchSubject(rules: number, set: SetName, sets: Record<SetName, AddressSet>): Subject {
  const policy = benchPolicy(rules, sets[set]);
  return { label: `${rules} rules, ${SET_LABEL[set]} set`, set, policy, compiled: compileBenchPolicy(policy) };
}

/** A program loaded for one round: its fd, until `release`. */
interface RoundProgram {
  progFd: number;
  release(): void;
}

/** What a round times: an object, loaded by this checkout's loader or another checkout's. */
export interface Build {
  /** Loads subject `index` (of the subjects the rounds time) afresh. */
  load(subject: Subject, index: number): Promise<RoundProgram>;
  close(): void;
}

/** An object file loaded by this checkout, in this process (undefined: its own bpf/xdpfw.bpf.o). */
export const thisCheckout = (objectPath?: string): Build => ({
  async load(subject) {
    const program = await loadPolicyProgram(subject.compiled, objectPath ? { objectPath } : {});
    return { progFd: program.progFd, release: () => program.close() };
  },
  close() {},
});

let children = 0;

/** Where a child loader pins programs for this process: a directory of its own in xdpfw's bpffs. */
function benchPinDir(): string {
  ensureBpffs();
  const dir = path.join(bpffsRoot(), `xdpfw-bench-${process.pid}-${++children}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The child's next reply; its error, or its exit, as an Error. */
function nextReply(child: ChildProcess, what: string): Promise<LoaderReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: LoaderReply) => {
      child.off('exit', onExit);
      if (m.type === 'error') reject(new Error(`${what}: ${m.message}`));
      else resolve(m);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`${what}: the loader process exited (${code})`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Another checkout's built object, loaded by that checkout's own loader in
 * a child process (lib/checkout-loader.ts), so that builds whose maps
 * differ in layout can be timed side by side: the child pins each program
 * in a directory of this process's, this process opens the pin, removes
 * it, and times the program like its own. The child compiles the
 * subjects' policies with this checkout's compiler: the compilers must agree.
 */
export async function otherCheckout(dir: string, subjects: Subject[]): Promise<Build> {
  const pinDir = benchPinDir();
  const child = fork(fileURLToPath(new URL('./checkout-loader.ts', import.meta.url)), [path.resolve(dir)], {
    serialization: 'advanced', // the policies' Map of files
  });
  const send = (request: LoaderRequest) => child.send(request);
  const ready = nextReply(child, `${dir}: compiling the policies`);
  send({ type: 'policies', policies: subjects.map((s) => s.policy) });
  try {
    await ready;
  } catch (err) {
    child.kill();
    fs.rmSync(pinDir, { recursive: true, force: true });
    throw err;
  }
  let loads = 0;
  return {
    async load(subject, index) {
      const pin = path.join(pinDir, `program-${++loads}`);
      const pinned = nextReply(child, `${dir}: loading ${subject.label}`);
      send({ type: 'load', policy: index, pin });
      await pinned;
      const fd = openPinned(pin, `program of ${dir}`);
      unpin(pin); // the fd holds the program now
      if (fd === null) throw new Error(`${dir}: no program pinned at ${pin}`);
      return { progFd: fd, release: () => closeFd(fd) };
    },
    close() {
      child.disconnect();
      fs.rmSync(pinDir, { recursive: true, force: true });
    },
  };
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
      for (const [o, build] of builds.entries()) {
        const program = await build.load(s, i);
        try {
          const [t] = timeCases(program.progFd, [packets.get(s.set, kind)]);
          MODES.forEach((m, k) => perRound[o][i][k].push(t[m].median));
        } finally {
          program.release();
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
