/**
 * The checked intermediate representation: what the policy means, with every
 * name resolved, every literal validated and every set expanded. Produced by
 * the compiler's check passes and lowering (src/compiler/passes/lower.ts)
 * from the AST; consumed by the bit-vector builder. Plain data,
 * deterministic.
 *
 * Semantics (the contract the data plane and the reference evaluator share):
 * - A packet is IPv4 or IPv6; it has an L4 protocol number (IPv6: the first
 *   next-header that is not an extension header we skip), and — when present —
 *   source/destination ports (TCP, UDP; not in non-first fragments), TCP flags
 *   (TCP, not in non-first fragments), an ICMP type (ICMP for IPv4, ICMPv6 for
 *   IPv6; not in non-first fragments).
 * - Every packet has a connection state (new, established, related,
 *   invalid; docs/DESIGN.md, "Connection tracking"); one given none is new.
 * - A rule matches when every constrained field matches. A field the rule
 *   does not constrain (null below) matches every packet, also one that lacks
 *   the field. A constrained field never matches a packet that lacks it.
 * - A rule with a tail (dynamic sets, a limit) decides only when its tail
 *   holds too, which depends on state (docs/DESIGN.md, "Rate limits and
 *   dynamic sets"); otherwise the next rule is tried.
 * - An `audit` rule never decides: a packet it matches (tail included) is
 *   counted by it, and the next rule is tried. In `mode audit`, what the
 *   interface decides to drop or reject passes, counted as a would-drop.
 */

import type { Span } from '../policy/ast.js';
import type { PrefixList } from './structures/prefix-list.js';

export type Action = 'allow' | 'drop' | 'reject';

/** One prefix: `bytes` is the network-order address (4 or 16 bytes) with host bits zeroed. */
export interface Prefix {
  family: 4 | 6;
  bytes: number[];
  length: number;
  /** Canonical text, e.g. `10.0.0.0/8`, `2001:db8::/32`, `192.0.2.1/32`. */
  text: string;
}

export interface AddressConstraint {
  /** `!`: holds when the address is in none of the prefixes of the packet's family. */
  negated: boolean;
  /** Prefixes, deduplicated and sorted (family, bytes, length), in columns. */
  prefixes: PrefixList;
  /** Names of the sets it came from, for display. */
  sets: string[];
}

/** Inclusive. */
export interface PortInterval {
  low: number;
  high: number;
}

export interface IrRule {
  /** Position among the interface's rules, 0-based: the rule's bit. */
  index: number;
  /**
   * Stable identity for counters: the rule's name if it has one, otherwise
   * `rule-<first 12 hex of sha256(canonical match text + action)>`.
   */
  id: string;
  name?: string;
  action: Action;
  /** `audit ACTION`: the rule never decides; a packet it would decide is counted and traced, and the next rule is tried. */
  audit?: true;
  /** `log`: what the rule decides (or, audited, would decide) goes to the log stream too. */
  log?: true;
  /** Which families the rule can match (after address, protocol and ip4/ip6 constraints). */
  families: { ipv4: boolean; ipv6: boolean };
  /** L4 protocol numbers the rule accepts; null = any. */
  protocols: number[] | null;
  src: AddressConstraint | null;
  dst: AddressConstraint | null;
  /** Merged, sorted, non-overlapping intervals; null = any (also no ports). */
  sport: PortInterval[] | null;
  dport: PortInterval[] | null;
  /** Holds when (flags & mask) === value; null = any. */
  tcpFlags: { mask: number; value: number } | null;
  /** ICMP (IPv4) or ICMPv6 types, per the rule's protocol; null = any. */
  icmpTypes: number[] | null;
  /** `ct state`: bit 1 << CT_STATE[state] for each state named; null = any. */
  ctStates: number | null;
  /**
   * Conditions checked once every field above held, and the ban; null for a
   * stateless rule. Its dynamic-set matches are not in `src`/`dst`.
   */
  tail: IrTail | null;
  /** The rule's source text (one line, whitespace collapsed) and span. */
  text: string;
  span: Span;
}

/**
 * A rule's stateful tail (docs/DESIGN.md, "Rate limits and dynamic sets"):
 * membership of the source or destination in a dynamic set, then a token
 * bucket; and a ban when the rule decides. Compiled into output.ts RuleTail.
 */
export interface IrTail {
  srcSet: DynamicSetCondition | null;
  dstSet: DynamicSetCondition | null;
  limit: IrLimit | null;
  /**
   * `ban @set`: the set, seconds (the duration given, else the set's
   * timeout), and the origin its entries carry: the limit's id, or the
   * same hash of a rule that bans without a limit.
   */
  ban: { set: string; seconds: number; origin: number } | null;
}

export interface DynamicSetCondition {
  set: string;
  /** `!`: holds when the address is not in the set. */
  negated: boolean;
}

/** `limit rate [over] N/UNIT [burst B] [per …]`, checked: rate, unit and burst valid, lengths for the rule's families. */
export interface IrLimit {
  /** FNV-1a-32 of the interface name, NUL, and the rule's name or its text without rate and burst; distinct within the interface. */
  id: number;
  over: boolean;
  rate: number;
  unit: 'second' | 'minute' | 'hour';
  burst: number;
  /** One bucket per prefix of this field (a length for each family); null: one bucket for the rule. */
  per: { field: 'src' | 'dst'; length4: number; length6: number } | null;
}

/** A `set NAME dynamic` as an interface uses it. */
export interface IrDynamicSet {
  name: string;
  /** Seconds an entry lasts when added without a duration; null: until deleted. */
  timeout: number | null;
  size: number;
}

export interface IrInterface {
  name: string;
  defaultAction: Action;
  /** `mode audit`: what the rules and the default drop or reject (malformed packets too) is counted as a would-drop and passed. */
  auditMode?: true;
  rules: IrRule[];
  span: Span;
  /** Span of the `default` statement; undefined when the block has none (default allow). */
  defaultSpan?: Span;
  /** The policy's conntrack settings when a rule of this interface uses `ct state`, else null. */
  conntrack: ConntrackSettings | null;
  /** The dynamic sets the rules name (matched or banned into), in first-use order: what tails index. */
  dynamicSets: IrDynamicSet[];
  /** The policy's meter-table settings when a rule of this interface has a `limit`, else null. */
  limits: { size: number } | null;
}

/** `protect MATCHES`: packets every interface must allow (compiler/lockout.ts proves it). */
export interface IrProtect {
  /** The statement as written, one line. */
  text: string;
  span: Span;
  /** Its matches, lowered as an `allow` rule's; stateless (the unprotectable-match check refuses the rest). */
  traffic: IrRule;
}

export interface IrPolicy {
  interfaces: IrInterface[];
  /** The `protect` statements, in the policy's order (includes expanded). */
  protects: IrProtect[];
  /** The conntrack block's settings, defaults filled in (src/compiler/conntrack.ts), whether or not a rule uses ct. */
  conntrack: ConntrackSettings;
  /** The `limits` block's settings, defaults filled in (src/compiler/rate-limits.ts), whether or not a rule has a limit. */
  limits: { size: number };
}

/** Connection tracking's settings (docs/DESIGN.md, "Connection tracking"); times in seconds. */
export interface ConntrackSettings {
  /** Entries of the TCP table; the UDP and ICMP tables get a quarter. */
  size: number;
  timeouts: {
    tcpSyn: number;
    tcpEstablished: number;
    tcpClose: number;
    udp: number;
    udpStream: number;
    icmp: number;
  };
  /** Half-open entries the host may create per second before the flood guard refuses more. */
  floodThreshold: number;
}
