import type { CompiledInterface, CompiledRule } from '../compiler/output.js';
import { readState, writeState, type PinOptions } from '../xdp/index.js';
import type { CounterJson, GlobalBases } from './counter-carry.js';

/** A rule as the state remembers it: its identity, plus what its counters carry from earlier programs. */
export interface StateRule extends CompiledRule {
  /** When a rule with this id first appeared on the interface (its counters count from then). */
  since?: string;
  /** Added to the kernel counter: what earlier programs counted that the kernel maps no longer hold. */
  base?: CounterJson;
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
  defaultAction: 'allow' | 'drop';
  rules: StateRule[];
  /** Carried global counters (default, malformed, non-IP, fragment), as for rules' `base`. */
  counterBase?: GlobalBases;
  /** The last reload the controller refused, until a later one succeeds. */
  refused?: RefusedReload;
  /** The controller that keeps this interface under its source, if any. */
  controller?: { pid: number; startedAt: string };
}

export function stateFor(
  iface: CompiledInterface,
  fields: Pick<AppliedState, 'ifindex' | 'policyFile' | 'mode' | 'progId' | 'linkId' | 'attachedSince'> &
    Partial<Pick<AppliedState, 'commit' | 'source' | 'rules' | 'counterBase' | 'controller'>>,
): AppliedState {
  return {
    version: 1,
    interface: iface.name,
    policyHash: iface.hash,
    appliedAt: new Date().toISOString(),
    defaultAction: iface.defaultAction,
    rules: iface.rules,
    ...fields,
  };
}

export function loadState(ifname: string, o: PinOptions = {}): AppliedState | undefined {
  const state = readState(ifname, o) as AppliedState | null | undefined;
  return state && state.version === 1 ? state : undefined;
}

/** Rewrites the state of `ifname` with `change` applied; false when there is no state. */
export function updateState(ifname: string, change: (state: AppliedState) => void, o: PinOptions = {}): boolean {
  const state = loadState(ifname, o);
  if (!state) return false;
  change(state);
  writeState(ifname, state, o);
  return true;
}
