import type { EnforceOptions, Enforced } from '../../../src/app/enforce.js';
import type { LoadedPolicy } from '../../../src/app/policy-loader.js';
import type { AppliedState } from '../../../src/app/state.js';
import type { CompiledInterface } from '../../../src/compiler/output.js';
import type { KernelPort, ProgramHandle } from '../../../src/controller/kernel.js';
import { createLogger, type Logger } from '../../../src/controller/logger.js';
import type { PolicyRevision, PolicySource, SourceReading } from '../../../src/controller/sources/source.js';
import type { Timers } from '../../../src/controller/timers.js';
import type { FreedPins } from '../../../src/xdp/index.js';
import { Writable } from 'node:stream';

/** A clock that only moves when told to. */
export class FakeTimers implements Timers {
  private t = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Moves the clock forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.pending.entries()].filter(([, p]) => p.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  get scheduled(): number {
    return this.pending.size;
  }
}

/** A logger whose JSON events are kept in `events`. */
export function memoryLogger(): { log: Logger; events: Record<string, unknown>[] } {
  const events: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'debug', stream, human: false }), events };
}

/** A compiled interface with just what the controller looks at. */
export function block(name: string, hash: string, ruleIds: string[] = ['r1']): CompiledInterface {
  return {
    name,
    hash,
    defaultAction: 'allow',
    rules: ruleIds.map((id, index) => ({ index, id, action: 'allow', text: id, location: 'p:1:1' })),
  } as unknown as CompiledInterface;
}

export function compiled(...blocks: CompiledInterface[]): LoadedPolicy {
  return { file: 'p', diagnostics: [], rendered: [], sources: [], compiled: { interfaces: blocks } } as unknown as LoadedPolicy;
}

export function invalid(...rendered: string[]): LoadedPolicy {
  return {
    file: 'p',
    diagnostics: rendered.map((r) => ({ code: r.includes('file-not-found') ? 'file-not-found' : 'syntax', severity: 'error', message: r })),
    rendered,
    sources: [],
  } as unknown as LoadedPolicy;
}

/** A source handing out whatever the test sets. */
export class FakeSource implements PolicySource {
  readonly description: string;
  reading: SourceReading = {};
  reads = 0;
  onChange: (() => void) | undefined;
  closed = false;

  constructor(kind: 'git' | 'file' = 'git') {
    this.description = kind === 'git' ? 'git /repo main:policy.xdpfw' : 'file /etc/p.xdpfw';
  }
  set(policy: LoadedPolicy, commit?: string, error?: Error): void {
    const revision: PolicyRevision = { policyFile: 'policy.xdpfw', commit, load: async () => policy };
    this.reading = { revision, error };
  }
  start(onChange: () => void): void {
    this.onChange = onChange;
  }
  async read(): Promise<SourceReading> {
    this.reads++;
    return this.reading;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

interface FakeIface {
  ifindex: number;
  attached: boolean;
  progId?: number;
  state?: AppliedState;
}

/** A kernel that keeps interfaces in memory; `failLoad`/`failEnforce` make it refuse. */
export class FakeKernel implements KernelPort {
  readonly ifaces = new Map<string, FakeIface>();
  nextProgId = 100;
  loads = 0;
  enforces: { iface: string; hash: string; commit?: string }[] = [];
  failLoad: Error | undefined;
  /** Interfaces whose program the verifier refuses. */
  readonly failLoadFor = new Set<string>();
  failEnforce: Error | undefined;
  /** Makes `exclusive` fail as a lock held by another writer would. */
  lockBusy: Error | undefined;
  /** Who asked for the lock, in order. */
  lockHolders: string[] = [];
  closed = 0;

  private nextIfindex = 2;
  /** State files outlive their interface, as on a real system. */
  private readonly orphanStates = new Map<string, AppliedState | undefined>();

  constructor(...names: string[]) {
    for (const n of names) this.addInterface(n);
  }
  /** Creates the interface (again), bare, with a new ifindex. */
  addInterface(name: string): number {
    const ifindex = this.nextIfindex++;
    this.ifaces.set(name, { ifindex, attached: false, state: this.orphanStates.get(name) });
    this.orphanStates.delete(name);
    return ifindex;
  }
  /** Deletes the interface; its link goes with it, its state file stays. */
  removeInterface(name: string): void {
    this.orphanStates.set(name, this.ifaces.get(name)?.state);
    this.ifaces.delete(name);
  }
  /** Pretends an earlier run left `hash` enforced on `name`. */
  pin(name: string, hash: string, commit?: string): number {
    const progId = this.nextProgId++;
    const ifindex = this.ifaces.get(name)?.ifindex ?? this.nextIfindex++;
    this.ifaces.set(name, {
      ifindex,
      attached: true,
      progId,
      state: { policyHash: hash, progId, commit, rules: [] } as unknown as AppliedState,
    });
    return progId;
  }
  async exclusive<T>(holder: string, body: () => Promise<T>): Promise<T> {
    if (this.lockBusy) throw this.lockBusy;
    this.lockHolders.push(holder);
    return body();
  }
  inspect(ifname: string) {
    const i = this.ifaces.get(ifname);
    if (!i) {
      const state = this.orphanStates.get(ifname);
      return { ifindex: undefined, attached: false, stateHash: state?.policyHash, stateProgId: state?.progId, state };
    }
    return {
      ifindex: i.ifindex,
      attached: i.attached,
      progId: i.progId,
      stateHash: i.state?.policyHash,
      stateProgId: i.state?.progId,
      state: i.state,
    };
  }
  async load(iface: CompiledInterface): Promise<ProgramHandle> {
    if (this.failLoad) throw this.failLoad;
    if (this.failLoadFor.has(iface.name)) throw new Error(`loading the program of ${iface.name}: verifier refused`);
    this.loads++;
    const progId = this.nextProgId++;
    return { progId, close: () => void this.closed++ };
  }
  async enforce(iface: CompiledInterface, program: ProgramHandle, options: EnforceOptions): Promise<Enforced> {
    if (this.failEnforce) throw this.failEnforce;
    const current = this.ifaces.get(iface.name);
    if (!current) throw new Error(`finding interface ${iface.name}: ENODEV`);
    const state = {
      version: 1,
      interface: iface.name,
      policyHash: iface.hash,
      progId: program.progId,
      commit: options.commit,
      source: options.source,
      mode: 'generic',
      rules: iface.rules,
    } as unknown as AppliedState;
    this.ifaces.set(iface.name, { ifindex: current.ifindex, attached: true, progId: program.progId, state });
    this.enforces.push({ iface: iface.name, hash: iface.hash, commit: options.commit });
    return { interface: iface.name, replaced: current.attached, state, carried: 0 };
  }
  updateState(ifname: string, change: (state: AppliedState) => void): boolean {
    const s = this.ifaces.get(ifname)?.state;
    if (!s) return false;
    change(s);
    return true;
  }
  /** What the next collectGarbage frees (then nothing), and what each call was told to keep. */
  garbage: FreedPins[] = [];
  readonly gcKeeps: (readonly string[])[] = [];
  collectGarbage(keep: readonly string[]): FreedPins[] {
    this.gcKeeps.push(keep);
    const freed = this.garbage;
    this.garbage = [];
    return freed;
  }
  detach(ifname: string): boolean {
    const i = this.ifaces.get(ifname);
    if (!i) return false;
    const was = i.attached;
    this.ifaces.set(ifname, { ifindex: i.ifindex, attached: false });
    return was;
  }
}
