/**
 * Judging frames with the real program, as `xdpfw test` and the kernel tests
 * do: load a compiled interface (no attach), run each frame through
 * BPF_PROG_TEST_RUN, and tell which rule decided from the counter that
 * moved. The program itself reports nothing else, so what is tested is
 * exactly what runs on an interface.
 */
import type { CompiledInterface } from '../compiler/output.js';
import { loadPolicyProgram, readCounters, type Counters, type LoadedProgram, type LoadOptions } from './index.js';
import { TestRunner } from './test-run.js';
import { CT_STATE, MAP, SET_STAT } from '../contract/kernel.js';
import { check } from './errors.js';
import { mapUpdateElem } from './libbpf.js';
import { readPerCpuSums } from './limits.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

export type CtStateName = Exclude<keyof typeof CT_STATE, 'nstates'>;

export interface Judgement {
  /**
   * 'allow' (XDP_PASS), 'drop' (XDP_DROP), 'reject' (XDP_TX with the
   * answer, or XDP_DROP without one, from a rule or default that rejects),
   * or another action's name for a bug.
   */
  action: 'allow' | 'drop' | 'reject' | `xdp-action-${number}`;
  /** For a reject only: the program sent its answer (XDP_TX), a RST or an ICMP error. */
  answered?: boolean;
  /** The rule index that counted the frame, or the global counter that did. */
  matched: number | 'default' | 'malformed' | 'non-ip';
  /** The frame was counted as a non-first fragment too. */
  fragment: boolean;
  /** The `audit` rules that counted the frame (they would have decided it), in order. */
  audited: number[];
  /** `mode audit` passed the frame: `action` is the drop or reject the policy decided, not done. */
  wouldDrop?: true;
}

export class PolicyJudge {
  private readonly runner: TestRunner;
  private egressRunner: TestRunner | undefined;
  private before: Counters;

  private constructor(
    readonly compiled: CompiledInterface,
    private readonly program: LoadedProgram,
    private readonly ctGiven: boolean,
  ) {
    this.runner = new TestRunner(program.progFd);
    this.before = this.counters();
  }

  static async load(compiled: CompiledInterface, options: LoadOptions = {}): Promise<PolicyJudge> {
    return new PolicyJudge(compiled, await loadPolicyProgram(compiled, options), options.ctGiven === true);
  }

  get progFd(): number {
    return this.program.progFd;
  }

  counters(): Counters {
    return readCounters(this.program, { nrules: this.compiled.rules.length });
  }

  /**
   * The verdict of one frame; `ctState` is the connection state it is judged
   * in, for a program loaded with `ctGiven` (else the tables decide it).
   */
  judge(frame: Uint8Array, ctState: CtStateName = 'new'): Judgement {
    const given = this.program.maps.get(MAP.ctGiven);
    if (this.ctGiven && given) {
      const state = Buffer.alloc(4);
      state.writeUInt32LE(CT_STATE[ctState]);
      check(mapUpdateElem(given.fd, Buffer.alloc(4), state), 'giving the packet its connection state');
    }
    const code = this.runner.run(frame);
    const after = this.counters();
    const moved = (a: { packets: bigint }, b: { packets: bigint }) => a.packets !== b.packets;
    const counted = after.rules.flatMap((c, i) => (moved(c, this.before.rules[i]) ? [i] : []));
    const audited = counted.filter((i) => this.compiled.rules[i].audit);
    const rule = counted.find((i) => !this.compiled.rules[i].audit) ?? -1;
    const g = after.global;
    const b = this.before.global;
    const matched: Judgement['matched'] =
      rule >= 0 ? rule : moved(g.malformed, b.malformed) ? 'malformed' : moved(g.nonIp, b.nonIp) ? 'non-ip' : 'default';
    const fragment = moved(g.fragment, b.fragment);
    const wouldDrop = moved(g.wouldDrop, b.wouldDrop);
    this.before = after;
    const decider =
      typeof matched === 'number' ? this.compiled.rules[matched].action : matched === 'default' ? this.compiled.defaultAction : null;
    const rejects = decider === 'reject';
    if (wouldDrop) {
      const action = code === XDP_PASS ? (rejects ? 'reject' : 'drop') : (`xdp-action-${code}` as const);
      return { action, matched, fragment, audited, wouldDrop, ...(rejects ? { answered: false } : {}) };
    }
    const action =
      code === XDP_PASS && !rejects
        ? 'allow'
        : code === XDP_DROP
          ? rejects
            ? 'reject'
            : 'drop'
          : code === XDP_TX && rejects
            ? 'reject'
            : (`xdp-action-${code}` as const);
    return { action, matched, fragment, audited, ...(rejects ? { answered: code === XDP_TX } : {}) };
  }

  /** "Now" for a program loaded with `nowGiven`: CLOCK_MONOTONIC ns as the tails see it. */
  setNow(ns: bigint): void {
    const given = this.program.maps.get(MAP.nowGiven);
    if (!given) throw new Error(`the BPF object has no map ${MAP.nowGiven}`);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(ns);
    check(mapUpdateElem(given.fd, Buffer.alloc(4), value), 'giving the program its clock');
  }

  /** Per rule, the packets its limit found over the rate. */
  limitOver(): bigint[] {
    return readPerCpuSums(this.program.maps, MAP.limitCounters, this.compiled.rules.length);
  }

  /** Per dynamic set of the interface: entries bans added, bans refused (full), expired entries deleted. */
  setStats(): { added: bigint; full: bigint; expired: bigint }[] {
    const sums = readPerCpuSums(this.program.maps, MAP.setStats, this.compiled.dynamicSets.length * SET_STAT.nstats);
    return this.compiled.dynamicSets.map((_, i) => ({
      added: sums[i * SET_STAT.nstats + SET_STAT.added],
      full: sums[i * SET_STAT.nstats + SET_STAT.full],
      expired: sums[i * SET_STAT.nstats + SET_STAT.expired],
    }));
  }

  /** Runs the connection-tracking recorder (a policy that uses ct state) on a frame leaving the host. */
  record(frame: Uint8Array): void {
    if (this.program.egressProgFd === undefined) throw new Error('this policy records nothing: it does not use ct state');
    this.egressRunner ??= new TestRunner(this.program.egressProgFd);
    this.egressRunner.run(frame);
  }

  close(): void {
    this.program.close();
  }
}
