import type { Action } from '../compiler/ir.js';
import type { CompiledDynamicSet, CompiledInterface, CompiledRule, RuleTail } from '../compiler/output.js';
import { readState, removeState, status, tryLockRunDir, writeState, type PinOptions } from '../xdp/index.js';
import type { CounterJson, FiguresJson, GlobalBases } from './counter-carry.js';
import type { SetCounters } from '../xdp/index.js';

/** A rule as the state remembers it: its identity, plus what its counters carry from earlier programs. */
export interface StateRule extends CompiledRule {
  /** When a rule with this id first appeared on the interface (its counters count from then). */
  since?: string;
  /** Added to the kernel counter: what earlier programs counted that the kernel maps no longer hold. */
  base?: CounterJson;
  /** The rule has a `limit`: its over-limit packets are counted. */
  limit?: true;
  /** Added to the kernel's over-limit count, as `base` is to the packets. */
  limitBase?: FiguresJson<{ overLimit: bigint }>;
  /** The origin its bans write into a set's entries (RuleTail.ban.origin), so `set list` names the rule. */
  banOrigin?: number;
}

/** A reload the controller refused: the policy in force stayed. */
export interface RefusedReload {
  at: string;
  /** What was refused: `file PATH` or `git URL BRANCH:PATH`. */
  source: string;
  commit?: string;
  /** invalid: the policy has errors; kernel: the kernel refused it (verifier, limits); source: it could not be read. */
  reason: 'invalid' | 'kernel' | 'source';
  message: string;
  /** The first line of each diagnostic, `file:line:col: error[code]: message`. */
  diagnostics: string[];
}

/**
 * What xdpfw remembers about an interface it enforces, beside the pins: the
 * policy in force and the rules' identities, so `stats` can name counters and
 * `status` can say what runs where. Stored as JSON under /run/xdpfw/state.
 */
export interface AppliedState {
  version: 1;
  interface: string;
  ifindex: number;
  policyFile: string;
  policyHash: string;
  /** Where the controller takes the policy from: `file PATH` or `git URL BRANCH:PATH`. */
  source?: string;
  /** The git commit the policy came from, when the controller applied it. */
  commit?: string;
  mode: 'native' | 'generic';
  progId: number;
  linkId: number;
  /** When this policy was applied, and when xdpfw first attached to the interface. */
  appliedAt: string;
  attachedSince: string;
  defaultAction: Action;
  /** `mode audit`: the interface's drops are counted as would-drops and passed. */
  auditMode?: true;
  rules: StateRule[];
  /** The dynamic sets the rules name, by the index the program's tails use. */
  dynamicSets?: CompiledDynamicSet[];
  /** Carried global counters (default, malformed, non-IP, fragment), as for rules' `base`. */
  counterBase?: GlobalBases;
  /** Carried counts of the dynamic sets, by set name (a set's index may change between policies). */
  setBases?: Record<string, FiguresJson<SetCounters>>;
  /** The last reload the controller refused, until a later one succeeds. */
  refused?: RefusedReload;
  /** The controller that keeps this interface under its source, if any. */
  controller?: { pid: number; startedAt: string };
}

export function stateFor(
  iface: CompiledInterface,
  fields: Pick<AppliedState, 'ifindex' | 'policyFile' | 'mode' | 'progId' | 'linkId' | 'attachedSince'> &
    Partial<Pick<AppliedState, 'commit' | 'source' | 'rules' | 'counterBase' | 'setBases' | 'controller'>>,
): AppliedState {
  const rules: StateRule[] = (fields.rules ?? iface.rules).map((rule, i) => withTail(rule, iface.tails[i] ?? null));
  return {
    version: 1,
    interface: iface.name,
    policyHash: iface.hash,
    appliedAt: new Date().toISOString(),
    defaultAction: iface.defaultAction,
    ...(iface.constants.auditMode ? { auditMode: true as const } : {}),
    ...fields,
    rules,
    ...(iface.dynamicSets.length > 0 ? { dynamicSets: iface.dynamicSets } : {}),
  };
}

/** What `stats` and `set list` need of a rule's tail (a RuleTail holds bigints, which JSON does not). */
function withTail(rule: StateRule, tail: RuleTail | null): StateRule {
  if (!tail) return rule;
  return { ...rule, ...(tail.limit ? { limit: true as const } : {}), ...(tail.ban ? { banOrigin: tail.ban.origin } : {}) };
}

/**
 * A state written before its program was attached or swapped in, with the
 * state it replaces. Which of the two is true is decided by the program the
 * kernel runs (the pinned link), not by the file: a writer killed between
 * its kernel change and its final write leaves one of these behind.
 */
interface PendingState extends AppliedState {
  pending: { previous: AppliedState | null };
}

/** Records `next` as pending over `previous`, before the kernel changes. */
export function writePendingState(ifname: string, next: AppliedState, previous: AppliedState | undefined, o: PinOptions = {}): void {
  const pending: PendingState = { ...next, pending: { previous: previous ?? null } };
  writeState(ifname, pending, o);
}

/**
 * The state of `ifname`. A pending state is settled against the program in
 * force: the new state if it runs, else the previous one. The settled state
 * is written back only when the run directory's lock is free at once: a
 * writer holding it may be between its pending write and its swap.
 */
export function loadState(ifname: string, o: PinOptions = {}): AppliedState | undefined {
  const stored = readState(ifname, o) as AppliedState | PendingState | null | undefined;
  if (!stored || stored.version !== 1) return undefined;
  if (!('pending' in stored)) return stored;
  const settled = settle(ifname, stored, o);
  const lock = tryLockRunDir(`xdpfw (pid ${process.pid}) settling the state of ${ifname}`, o);
  if ('release' in lock) {
    try {
      const again = readState(ifname, o) as AppliedState | PendingState | null | undefined;
      if (again && 'pending' in again && again.progId === stored.progId) {
        if (settled) writeState(ifname, settled, o);
        else removeState(ifname, o);
      }
    } finally {
      lock.release();
    }
  }
  return settled;
}

function settle(ifname: string, stored: PendingState, o: PinOptions): AppliedState | undefined {
  const { pending, ...next } = stored;
  let live: ReturnType<typeof status> | undefined;
  try {
    live = status(ifname, o);
  } catch {
    live = undefined; // the interface is gone
  }
  const link = live?.link;
  if (!link || link.progId !== next.progId) return pending.previous ?? undefined;
  // A pending attach did not know its link or, in auto mode, the mode it would get.
  const mode = live?.xdp.mode === 'generic' || live?.xdp.mode === 'native' ? live.xdp.mode : next.mode;
  return { ...next, linkId: link.linkId, ifindex: link.ifindex || next.ifindex, mode };
}

/** Rewrites the state of `ifname` with `change` applied; false when there is no state. */
export function updateState(ifname: string, change: (state: AppliedState) => void, o: PinOptions = {}): boolean {
  const state = loadState(ifname, o);
  if (!state) return false;
  change(state);
  writeState(ifname, state, o);
  return true;
}
