import type { CompiledInterface, CompiledRule } from '../compiler/output.js';
import { readState } from '../xdp/index.js';

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
  /** The git commit the policy came from, when the controller applied it. */
  commit?: string;
  mode: 'native' | 'generic';
  progId: number;
  linkId: number;
  /** When this policy was applied, and when xdpfw first attached to the interface. */
  appliedAt: string;
  attachedSince: string;
  defaultAction: 'allow' | 'drop';
  rules: CompiledRule[];
}

export function stateFor(
  iface: CompiledInterface,
  fields: Pick<AppliedState, 'ifindex' | 'policyFile' | 'mode' | 'progId' | 'linkId' | 'attachedSince'> & { commit?: string },
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

export function loadState(ifname: string): AppliedState | undefined {
  const state = readState(ifname) as AppliedState | null | undefined;
  return state && state.version === 1 ? state : undefined;
}
