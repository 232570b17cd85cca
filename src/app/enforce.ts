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
  type CarriedPairs,
  type CounterSnapshot,
  type LoadedProgram,
  type SetCounters,
  type SnapshotTotals,
} from '../xdp/index.js';
import {
  carriedBases,
  carriedGlobalBases,
  fromJson,
  NO_OVER_LIMIT,
  NO_SET_COUNTS,
  pairsById,
  ruleSince,
  toJson,
  ZERO,
  type Figures,
  type Count,
  type FiguresJson,
} from './counter-carry.js';
import { loadState, stateFor, writePendingState, type AppliedState } from './state.js';

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

/** Figures as the state keeps them: none where all are zero. */
const withoutZero = <T extends Figures<T>>(c: T): FiguresJson<T> | undefined =>
  Object.values<bigint>(c).every((x) => x === 0n) ? undefined : toJson(c);

/**
 * What the old program's counters go to in the new one: a rule's by its id
 * and whether it is enforced (a rule that moves into or out of `audit`, or
 * whose interface changes mode, counts afresh: would-drops and drops do not
 * add up), its limit's only where the new rule has a limit (elsewhere it is
 * not shown), a dynamic set's by its name. Only what the old maps hold.
 */
function carriedPairs(described: AppliedState, iface: CompiledInterface, old: SnapshotTotals): Required<CarriedPairs> {
  const enforcedId = (r: { id: string; audit?: true }, auditMode: boolean) => (r.audit || auditMode ? `audit ${r.id}` : r.id);
  const rules = pairsById(
    described.rules.map((r) => enforcedId(r, described.auditMode === true)),
    iface.rules.map((r) => enforcedId(r, iface.constants.auditMode === true)),
  );
  const sets = pairsById(
    (described.dynamicSets ?? []).map((set) => set.name),
    iface.dynamicSets.map((set) => set.name),
  );
  return {
    rules: rules.filter(([from]) => from < old.rules.length),
    overLimit: rules.filter(([from, to]) => iface.tails[to]?.limit && from < old.overLimit.length),
    sets: sets.filter(([from]) => from < old.sets.length),
  };
}

/** The new bases of every carried counter: the old state's plus what the old program counted after the copy. */
function carriedAll(
  described: AppliedState | undefined,
  iface: CompiledInterface,
  pairs: Required<CarriedPairs>,
  before: SnapshotTotals,
  after: SnapshotTotals,
): { rules: Count[]; overLimit: (typeof NO_OVER_LIMIT)[]; sets: SetCounters[] } {
  const carried = <T extends Figures<T>>(
    which: readonly (readonly [number, number])[],
    newCount: number,
    zero: T,
    oldBases: T[],
    pick: (t: SnapshotTotals) => T[],
  ) => carriedBases({ pairs: which, newCount, oldBases, before: pick(before), after: pick(after), zero });
  const oldRules = described?.rules ?? [];
  return {
    rules: carried(
      pairs.rules,
      iface.rules.length,
      ZERO,
      oldRules.map((r) => fromJson(r.base)),
      (t) => t.rules,
    ),
    overLimit: carried(
      pairs.overLimit,
      iface.rules.length,
      NO_OVER_LIMIT,
      oldRules.map((r) => fromJson(r.limitBase, NO_OVER_LIMIT)),
      (t) => t.overLimit,
    ),
    sets: carried(
      pairs.sets,
      iface.dynamicSets.length,
      NO_SET_COUNTS,
      (described?.dynamicSets ?? []).map((set) => fromJson(described?.setBases?.[set.name], NO_SET_COUNTS)),
      (t) => t.sets,
    ),
  };
}

function setBasesByName(iface: CompiledInterface, bases: SetCounters[]): AppliedState['setBases'] {
  const kept = iface.dynamicSets.flatMap((set, i) => {
    const json = withoutZero(bases[i]);
    return json ? [[set.name, json] as const] : [];
  });
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

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
    const totalsBefore = before ? snapshotTotals(before) : { rules: [], global: [], overLimit: [], sets: [] };
    const pairs = described ? carriedPairs(described, iface, totalsBefore) : { rules: [], overLimit: [], sets: [] };
    if (before) await seedCounters(program.maps, before, pairs);

    const since = ruleSince(
      pairs.rules,
      iface.rules.length,
      (described?.rules ?? []).map((r) => r.since ?? described?.attachedSince),
      now,
    );
    /** The new state, with what the old program counted up to `totalsAfter` carried as bases. */
    const stateAfter = (totalsAfter: SnapshotTotals): AppliedState => {
      const bases = carriedAll(described, iface, pairs, totalsBefore, totalsAfter);
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
        rules: iface.rules.map((r, j) => ({
          ...r,
          since: since[j],
          base: withoutZero(bases.rules[j]),
          limitBase: withoutZero(bases.overLimit[j]),
        })),
        counterBase: before ? carriedGlobalBases(previous?.counterBase, totalsBefore.global, totalsAfter.global) : undefined,
        setBases: setBasesByName(iface, bases.sets),
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
    return { interface: iface.name, replaced: true, state, carried: pairs.rules.length, swapMs, waited };
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
