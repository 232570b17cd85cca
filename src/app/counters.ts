/**
 * Counter totals of an interface, as `xdpfw stats` and the controller's
 * metrics show them: the kernel's per-CPU counters summed, plus what earlier
 * programs counted (the state's bases), so a rule's total runs from the
 * moment it first appeared, across reloads.
 */

import { readCounters, readLiveTailCounters, type Counters, type CounterValue, type TailCounters } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { add, fromJson, NO_OVER_LIMIT, NO_SET_COUNTS } from './counter-carry.js';
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
  /** `audit ACTION`: its packets are the ones it would have decided; evaluation went on past it. */
  audit: boolean;
  text: string;
  /** When the rule first appeared on the interface: its counters count from then. */
  since: string | null;
  /** Packets its limit found over the rate, since `since` (reloads keep them); null for a rule without a limit. */
  overLimit: bigint | null;
}

/** A dynamic set as one interface's programs count it, since the set first appeared in the interface's policy. */
export interface SetStats {
  name: string;
  /** Entries this interface's bans wrote. */
  added: bigint;
  /** Expired entries this interface's lookups deleted. */
  expired: bigint;
  /** Bans refused because the set was full. */
  full: bigint;
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
  /** Packets a reject answered, and those it dropped without an answer (over the answers' rate, or not to be answered). */
  rejectSent: Count;
  rejectSuppressed: Count;
  /** `mode audit`: the policy enforces nothing; drops (rules, default, malformed) are counted here and passed. */
  auditMode: boolean;
  /** Packets `mode audit` passed that the policy drops or rejects (each is also counted by its rule, or as default or malformed). */
  wouldDrop: Count;
  /** How the program is attached (XDP native or generic). */
  attachMode: 'native' | 'generic';
  /** When the global counters began (xdpfw first attached to the interface). */
  since: string;
  /** The dynamic sets of the interface's policy, by name carried across reloads as the rules' counters are. */
  sets: SetStats[];
  appliedAt: string;
}

const count = (c: CounterValue): Count => ({ packets: c.packets, bytes: c.bytes });

/** Totals of an interface from its kernel counters and its state. */
export function totalsOf(ifname: string, state: AppliedState, counters: Counters, tails: TailCounters | null = null): InterfaceStats {
  const global = (name: keyof Counters['global']): Count => count(add(counters.global[name], fromJson(state.counterBase?.[name])));
  return {
    name: ifname,
    policyHash: state.policyHash,
    commit: state.commit ?? null,
    rules: state.rules.map((rule, i) => ({
      ...ruleRef(rule),
      action: rule.action,
      audit: rule.audit === true,
      text: rule.text,
      since: rule.since ?? null,
      ...count(add(counters.rules[i] ?? { packets: 0n, bytes: 0n }, fromJson(rule.base))),
      overLimit: rule.limit ? (tails?.overLimit[i] ?? 0n) + fromJson(rule.limitBase, NO_OVER_LIMIT).overLimit : null,
    })),
    default: { action: state.defaultAction, ...global('default') },
    malformed: global('malformed'),
    nonIp: global('nonIp'),
    fragment: global('fragment'),
    rejectSent: global('rejectSent'),
    rejectSuppressed: global('rejectSuppressed'),
    auditMode: state.auditMode === true,
    wouldDrop: global('wouldDrop'),
    attachMode: state.mode,
    since: state.attachedSince,
    sets: (state.dynamicSets ?? []).map((set, i) => {
      const { added, expired, full } = add(tails?.sets[i] ?? NO_SET_COUNTS, fromJson(state.setBases?.[set.name], NO_SET_COUNTS));
      return { name: set.name, added, expired, full };
    }),
    appliedAt: state.appliedAt,
  };
}

/** Reads the counters of an interface xdpfw enforces. */
export function interfaceStats(ifname: string): InterfaceStats {
  const state = loadState(ifname);
  if (!state) throw new UserError('not-attached', `xdpfw is not attached to ${ifname}`, ExitCode.policy);
  const nsets = state.dynamicSets?.length ?? 0;
  // A program without tails counts nothing there: its maps need not be opened.
  const tails = nsets > 0 || state.rules.some((r) => r.limit) ? readLiveTailCounters(ifname, { nrules: state.rules.length, nsets }) : null;
  return totalsOf(ifname, state, readCounters({ ifname }, { nrules: state.rules.length }), tails);
}
