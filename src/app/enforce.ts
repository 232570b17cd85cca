/**
 * The one path by which a loaded program comes to enforce an interface, for
 * `xdpfw apply` and for the controller alike: attach it with a new pinned
 * link, or swap it into the link already there (bpf_link_update as a
 * compare-and-swap, never a detach), carrying every kept rule's counters over,
 * then record the state.
 */

import type { CompiledInterface } from '../compiler/output.js';
import {
  attach,
  checkBpffs,
  openPinnedCounters,
  replace,
  seedCounters,
  snapshotTotals,
  status,
  removeState,
  waitForOldRuns,
  writeState,
  type AttachMode,
  type CounterSnapshot,
  type LoadedProgram,
} from '../xdp/index.js';
import { carriedBases, carriedGlobalBases, fromJson, rulePairs, ruleSince, toJson, type Count } from './counter-carry.js';
import { loadState, stateFor, writePendingState, type AppliedState, type StateRule } from './state.js';

export interface EnforceOptions {
  mode: AttachMode;
  /** The policy file as the state and `status` show it. */
  policyFile: string;
  source?: string;
  commit?: string;
  controller?: AppliedState['controller'];
  /** The program the caller saw attached: the swap fails (EPERM) if another one runs by then. */
  expectedProgId?: number;
}

export interface Enforced {
  interface: string;
  replaced: boolean;
  nativeError?: string;
  state: AppliedState;
  /** Rules whose counters were carried over from the replaced program. */
  carried: number;
  /** Milliseconds of the swap itself (bpf_link_update and the pins), when replaced. */
  swapMs?: number;
  /** How the end of the old program's runs was awaited before its last counts were read. */
  waited?: 'rcu' | 'sleep';
}

/** What runs on an interface now, as far as xdpfw is concerned. */
export interface InterfaceView {
  /** The pinned xdpfw link holds a program on the interface. */
  attached: boolean;
  progId?: number;
  state?: AppliedState;
}

export function inspectInterface(ifname: string): InterfaceView {
  const live = status(ifname);
  const attached = !!live.link && live.link.ifindex !== 0;
  return { attached, progId: attached ? live.link?.progId : undefined, state: loadState(ifname) };
}

/** The same compiled policy is attached already: replacing it would change nothing. */
export function policyInForce(iface: CompiledInterface, view = inspectInterface(iface.name)): boolean {
  return view.attached && view.state?.policyHash === iface.hash && view.state.progId === view.progId;
}

const withoutZero = (c: Count): StateRule['base'] => (c.packets === 0n && c.bytes === 0n ? undefined : toJson(c));

/** Attaches `program` to `iface.name`, or swaps it in for the program there; records the state. */
export async function enforce(iface: CompiledInterface, program: LoadedProgram, options: EnforceOptions): Promise<Enforced> {
  checkBpffs(); // the bpffs first pinned into, not a new one that would hold this policy's pins alone
  const current = status(iface.name);
  const enforced =
    current.link && current.link.ifindex !== 0
      ? await swapIn(iface, program, options, {
          progId: current.link.progId,
          ifindex: current.link.ifindex,
          linkId: current.link.linkId,
          xdpMode: current.xdp.mode,
        })
      : attachNew(iface, program, options);
  writeState(iface.name, enforced.state);
  return enforced;
}

function attachNew(iface: CompiledInterface, program: LoadedProgram, options: EnforceOptions): Enforced {
  const now = new Date().toISOString();
  const draft = (mode: AppliedState['mode'], linkId: number, ifindex: number) =>
    stateFor(iface, {
      ifindex,
      policyFile: options.policyFile,
      source: options.source,
      commit: options.commit,
      controller: options.controller,
      mode,
      progId: program.progId,
      linkId,
      attachedSince: now,
      rules: iface.rules.map((r) => ({ ...r, since: now })),
    });
  // Written before the kernel changes: a writer killed after the attach leaves a state that readers settle.
  writePendingState(iface.name, draft(options.mode === 'generic' ? 'generic' : 'native', 0, 0), undefined);
  let attached: ReturnType<typeof attach>;
  try {
    attached = attach(program, iface.name, options.mode);
  } catch (error) {
    removeState(iface.name);
    throw error;
  }
  const state = draft(attached.mode, attached.linkId, attached.ifindex);
  return { interface: iface.name, replaced: false, state, carried: 0, nativeError: attached.nativeError };
}

async function swapIn(
  iface: CompiledInterface,
  program: LoadedProgram,
  options: EnforceOptions,
  link: { progId: number; ifindex: number; linkId: number; xdpMode: string },
): Promise<Enforced> {
  const now = new Date().toISOString();
  const previous = loadState(iface.name);
  // The state names the old map's rules only if it describes the program that runs.
  const described = previous?.progId === link.progId ? previous : undefined;
  const old = openPinnedCounters(iface.name);
  try {
    const before = old?.snapshot();
    const pairs =
      described && before
        ? rulePairs(
            described.rules.map((r) => r.id),
            iface.rules.map((r) => r.id),
          ).filter(([from]) => from < before.nrules)
        : [];
    if (before) await seedCounters(program.maps, before, pairs);

    const totalsBefore = before ? snapshotTotals(before) : { rules: [], global: [] };
    const since = ruleSince(
      pairs,
      iface.rules.length,
      (described?.rules ?? []).map((r) => r.since ?? described?.attachedSince),
      now,
    );
    /** The new state, with what the old program counted up to `totalsAfter` carried as bases. */
    const stateAfter = (totalsAfter: typeof totalsBefore): AppliedState => {
      const bases = carriedBases({
        pairs,
        newCount: iface.rules.length,
        oldBases: (described?.rules ?? []).map((r) => fromJson(r.base)),
        before: totalsBefore.rules,
        after: totalsAfter.rules,
      });
      return stateFor(iface, {
        ifindex: link.ifindex,
        policyFile: options.policyFile,
        source: options.source,
        commit: options.commit,
        controller: options.controller ?? previous?.controller,
        mode: previous?.mode ?? (link.xdpMode === 'generic' ? 'generic' : 'native'),
        progId: program.progId,
        linkId: link.linkId,
        attachedSince: previous?.attachedSince ?? now,
        rules: iface.rules.map((r, j) => ({ ...r, since: since[j], base: withoutZero(bases[j]) })),
        counterBase: before ? carriedGlobalBases(previous?.counterBase, totalsBefore.global, totalsAfter.global) : undefined,
      });
    };

    // Written before the swap: a writer killed after it leaves a state that readers settle
    // against the program in force (the counts between the seed and the swap are all it loses).
    writePendingState(iface.name, stateAfter(totalsBefore), previous);
    const t0 = performance.now();
    try {
      replace(program, iface.name, { expectedProgId: options.expectedProgId ?? link.progId });
    } catch (error) {
      if (previous) writeState(iface.name, previous);
      else removeState(iface.name);
      throw error;
    }
    const swapMs = performance.now() - t0;

    const waited = await waitForOldRuns();
    const after = lateSnapshot(old, before);
    const state = stateAfter(after ? snapshotTotals(after) : totalsBefore);
    return { interface: iface.name, replaced: true, state, carried: pairs.length, swapMs, waited };
  } finally {
    old?.close();
  }
}

/** The old maps once the old program is gone; the first snapshot if they cannot be read (nothing late is kept). */
function lateSnapshot(old: ReturnType<typeof openPinnedCounters>, before: CounterSnapshot | undefined): CounterSnapshot | undefined {
  if (!old) return undefined;
  try {
    return old.snapshot();
  } catch {
    return before;
  }
}
