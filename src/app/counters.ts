/**
 * Counter totals of an interface, as `xdpfw stats` and the controller's
 * metrics show them: the kernel's per-CPU counters summed, plus what earlier
 * programs counted (the state's bases), so a rule's total runs from the
 * moment it first appeared, across reloads.
 */

import { readCounters, type Counters, type CounterValue } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { add, fromJson } from './counter-carry.js';
import { loadState, type AppliedState } from './state.js';
import { ruleRef, type RuleRef } from '../compiler/rule-ref.js';
import { UserError } from './user-error.js';

/**
 * Exact totals: a u64 counter passes 2^53 (9 PB of bytes) long before it
 * wraps, and a Number would round it. The CLI writes them as exact JSON
 * numbers (src/cli/io.ts); only Prometheus, whose values are doubles, rounds.
 */
export interface Count {
  packets: bigint;
  bytes: bigint;
}

export interface RuleStats extends Count, RuleRef {
  action: string;
  text: string;
  /** When the rule first appeared on the interface: its counters count from then. */
  since: string | null;
}

export interface InterfaceStats {
  name: string;
  policyHash: string;
  commit: string | null;
  rules: RuleStats[];
  default: Count & { action: string };
  malformed: Count;
  nonIp: Count;
  fragment: Count;
  /** When the global counters began (xdpfw first attached to the interface). */
  since: string;
}

const count = (c: CounterValue): Count => ({ packets: c.packets, bytes: c.bytes });

/** Totals of an interface from its kernel counters and its state. */
export function totalsOf(ifname: string, state: AppliedState, counters: Counters): InterfaceStats {
  const global = (name: keyof Counters['global']): Count => count(add(counters.global[name], fromJson(state.counterBase?.[name])));
  return {
    name: ifname,
    policyHash: state.policyHash,
    commit: state.commit ?? null,
    rules: state.rules.map((rule, i) => ({
      ...ruleRef(rule),
      action: rule.action,
      text: rule.text,
      since: rule.since ?? null,
      ...count(add(counters.rules[i] ?? { packets: 0n, bytes: 0n }, fromJson(rule.base))),
    })),
    default: { action: state.defaultAction, ...global('default') },
    malformed: global('malformed'),
    nonIp: global('nonIp'),
    fragment: global('fragment'),
    since: state.attachedSince,
  };
}

/** Reads the counters of an interface xdpfw enforces. */
export function interfaceStats(ifname: string): InterfaceStats {
  const state = loadState(ifname);
  if (!state) throw new UserError('not-attached', `xdpfw is not attached to ${ifname}`, ExitCode.policy);
  return totalsOf(ifname, state, readCounters({ ifname }, { nrules: state.rules.length }));
}
