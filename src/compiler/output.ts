/**
 * What a policy compiles to, per interface: the load-time constants and the
 * content of every map of bpf/xdpfw.h. The loader (src/xdp) writes these into
 * a freshly loaded program's maps; `xdpfw compile --json` prints them.
 * Deterministic: the same policy gives the same object (and the same hash).
 */

import { ACTION, ADDR_SLOT } from '../contract/kernel.js';
import type { Span } from '../policy/ast.js';
import type { Action, ConntrackSettings, IrRule, PortInterval } from './ir.js';

/** An action as the data plane stores it (enum xdpfw_action): XDP_DROP, XDP_PASS, or reject. */
export type KernelAction = (typeof ACTION)[keyof typeof ACTION];

/** The policy's verbs as the data plane's actions: `allow` lets the packet pass (XDPFW_ACTION_PASS). */
export const KERNEL_ACTION: Readonly<Record<Action, KernelAction>> = { allow: ACTION.pass, drop: ACTION.drop, reject: ACTION.reject };

export interface CompiledConstants {
  /** cfg_nrules */
  nrules: number;
  /** cfg_nwords = max(1, ceil(nrules / 64)) */
  nwords: number;
  /** cfg_fields: bit (1 << XDPFW_FIELD_*) set for each enabled field; PROTO always set. */
  fields: number;
  /** cfg_default_action (KERNEL_ACTION of the policy's default). */
  defaultAction: KernelAction;
  /** cfg_absent_class[XDPFW_NFIELDS]: class used when the packet lacks the field. */
  absentClass: number[];
  /** cfg_addr_*: how each address field is looked up, per family. */
  addressLookup: Record<AddressSlot, AddressLookup>;
  /**
   * cfg_linear and cfg_lin_*: the rules as the linear path checks them, in
   * order (passes/linear.ts); null when the bit vectors classify the interface.
   */
  linear: LinearRule[] | null;
  /** cfg_ct: a rule uses `ct state`, so the program computes every packet's connection state. */
  ct: boolean;
  /**
   * cfg_reject: a rule or the default rejects, so the program keeps the code
   * that answers. Present only when true, so that the hash of a policy
   * without `reject` is what it was before the action existed.
   */
  reject?: true;
  /** cfg_audit_rules: a rule is `audit` (the exit counts and traces those that held). Present only when true, as reject. */
  auditRules?: true;
  /** cfg_audit_mode: `mode audit`, drops pass as counted would-drops. Present only when true. */
  auditMode?: true;
  /** cfg_log: a rule has `log` (its action carries XDPFW_ACTION_LOG). Present only when true. */
  log?: true;
}

/** One rule of the linear path (bpf/xdpfw.h); a null field is not checked. */
export interface LinearRule {
  /** cfg_lin_action: KERNEL_ACTION of the rule's action… */
  action: KernelAction;
  /** …with XDPFW_ACTION_LOG: `log`. */
  log?: true;
  families: { ipv4: boolean; ipv6: boolean };
  protocol: number | null;
  src: MaskedPrefix | null;
  dst: MaskedPrefix | null;
  sport: PortInterval | null;
  dport: PortInterval | null;
  /** Holds when (flags & mask) === value. */
  tcpFlags: { mask: number; value: number } | null;
  icmpType: number | null;
  /** cfg_lin_ctstate: 1 << enum xdpfw_ct_state for each state the rule accepts. */
  ctStates: number | null;
}

/** An address match of one prefix: an address lies in it when (address & mask) === value. */
export interface MaskedPrefix {
  family: 4 | 6;
  /** Unsigned 32-bit words, most significant first: 1 for IPv4, 4 for IPv6. */
  value: number[];
  mask: number[];
  /** `!`: the match holds when the address lies outside. */
  negated: boolean;
}

/** enum xdpfw_addr_slot: an address field and a family. */
export type AddressSlot = keyof typeof ADDR_SLOT;
export const ADDRESS_SLOTS = (Object.keys(ADDR_SLOT) as AddressSlot[]).sort((a, b) => ADDR_SLOT[a] - ADDR_SLOT[b]);

/**
 * How the data plane finds an address's class (bpf/xdpfw.h, XDPFW_ADDR_*):
 * the LPM trie holding every entry, or the address table (`addressTables`).
 */
export interface AddressLookup {
  mode: 'trie' | 'table';
  /** table: the address bits before the 24 bucket bits, which every entry longer than /16 shares (IPv4: 0)… */
  shift: number;
  /** …and their value (0 when shift is 0). */
  base: number;
  /**
   * table, IPv4: the class of the /32 entries a bucket's record names inline
   * instead of the hash (the class most /32 entries have; 0 when none).
   */
  host: number;
}

/** The arrays of an address table; see bpf/xdpfw.h. Derived from the entries and the lookup, so not hashed. */
export interface AddressTable {
  /** 65,536 class ids, one per /16, with XDPFW_DEEPER (bit 31) when longer entries lie inside. */
  l16: Uint32Array;
  /** 2^24 bits, little-endian within each u64 word: bucket b is bit b % 64 of word b / 64. */
  buckets: Uint8Array;
  /** For each bitmap row of 512 buckets, how many marked buckets precede it. */
  rank: Uint32Array;
  /**
   * One byte per marked bucket, in bucket order (xdpfw.h, xdpfw_<slot>_quick):
   * QUICK_RECORD (0xff) when the bucket's class is not its /16's, else bit i
   * set when an entry longer than the bucket meets its i-th eighth.
   */
  quick: Uint8Array;
  /** One record per marked bucket, in bucket order. */
  records: BucketRecords;
  /** The entries of the exact-match hash: those longer than shift + 24. */
  hashed: PrefixClasses;
}

/**
 * Prefixes of one family, each with a class, as parallel arrays: a million
 * objects would cost seconds to build, hash and encode. Used for the LPM
 * entries of a field (sorted by address, then length: trie pre-order) and
 * for an address table's hashed prefixes.
 */
export interface PrefixClasses {
  prefixLength: Uint8Array;
  classId: Uint32Array;
  /** The address, host bits zero, as 1 (IPv4) or 4 (IPv6) unsigned 32-bit words per prefix, most significant first. */
  words: Uint32Array;
}

/**
 * The records of the marked buckets as the map holds them: struct
 * xdpfw_bucket4 / xdpfw_bucket6 of bpf/xdpfw.h in little-endian u32 words
 * (passes/address-tables.ts RECORD gives each field's word), whole map rows of
 * RECORD[family].perRow records, the unused ones zero. Built in place, so
 * applying a million-entry set copies no 24 MB of records.
 */
export interface BucketRecords {
  count: number;
  words: Uint32Array;
}

/** One LPM entry as an object (display, tests): see structures/prefix-classes.ts to convert. */
export interface LpmEntry {
  /** Network-order address, host bits zero (4 or 16 bytes). */
  bytes: number[];
  prefixLength: number;
  /** Canonical text. */
  text: string;
  /** Index into `vectors`. */
  classId: number;
}

export interface CompiledRule {
  index: number;
  id: string;
  name?: string;
  action: Action;
  /** `audit ACTION`: the rule counts and traces what it would decide; evaluation goes on. */
  audit?: true;
  /** `log`: the rule's decisions go to the log stream (the controller's log). */
  log?: true;
  text: string;
  /** `file:line:col` of the rule. */
  location: string;
}

/**
 * A rule's stateful tail (docs/DESIGN.md, "Rate limits and dynamic sets"),
 * checked in this order once the rule's stateless matches held.
 */
export interface RuleTail {
  /** `src @S` / `dst @S` with S dynamic: `set` indexes CompiledInterface.dynamicSets. */
  srcSet: DynamicSetMatch | null;
  dstSet: DynamicSetMatch | null;
  limit: CompiledLimit | null;
  /**
   * `ban @S [D]`: when the rule decides, the packet's `per` prefix (else its
   * source) enters S for `seconds`, its entry's origin naming the rule (the
   * limit's id, or the same hash for a rule without a limit).
   */
  ban: { set: number; seconds: number; origin: number } | null;
  /** `audit`: when the rest holds, the rule counts the packet (and bans nothing), and the next rule is tried. */
  audit?: true;
}

export interface DynamicSetMatch {
  set: number;
  /** `!`: holds when the address is not in the set. */
  negated: boolean;
}

/** `limit rate [over] N/UNIT [burst B] [per …]`. */
export interface CompiledLimit {
  /**
   * The bucket's identity in the host's table: FNV-1a-32 of the interface
   * name, a NUL, and the rule's name or its text without the rate and burst.
   */
  id: number;
  over: boolean;
  rate: number;
  unit: 'second' | 'minute' | 'hour';
  burst: number;
  /** Nanoseconds of tokens a packet costs: unit in ns / rate, rounded down. */
  costNs: bigint;
  /** The bucket's capacity: burst × costNs. */
  capacityNs: bigint;
  /** One bucket per prefix of this field; null: one bucket for the rule. */
  per: { field: 'src' | 'dst'; length4: number; length6: number } | null;
}

/** `set NAME dynamic [timeout T] [size N]`, as an interface uses it. */
export interface CompiledDynamicSet {
  name: string;
  /** Seconds an entry lasts when added without a duration; null: until deleted. */
  timeout: number | null;
  /** Entries the set's trie holds at most (fixed when it is created). */
  size: number;
}

export interface CompiledInterface {
  /**
   * Rule index → its tail, or null; every entry null when no rule has one
   * (then the program has no tail code: cfg_tails).
   */
  tails: (RuleTail | null)[];
  /** The dynamic sets this interface's rules name (match or ban), in first-use order; tails index them. */
  dynamicSets: CompiledDynamicSet[];
  /** The host's meter-table settings when a rule of this interface has a `limit`, else null. */
  limits: LimitSettings | null;
  /** The host's connection-tracking settings when a rule of this interface uses `ct state` (they enter the hash), else null. */
  conntrack: ConntrackSettings | null;
  name: string;
  /**
   * sha256 hex of what the data plane gets: constants, actions, vectors and
   * tables. It leaves out the interface name and the rules' text and
   * locations, so a comment added above a rule, or the same policy on another
   * interface, has the same hash.
   */
  hash: string;
  defaultAction: Action;
  constants: CompiledConstants;
  rules: CompiledRule[];
  /** Rule index → its KERNEL_ACTION (xdpfw_actions, with XDPFW_ACTION_LOG where rules[index].log). */
  actions: KernelAction[];
  /**
   * The deduplicated bit vectors; vectors[c] has `nwords` words, word w bit b
   * set = rule 64*w+b matches.
   */
  vectors: BigUint64Array[];
  /** 512 class ids: index family*256 + protocol (family 0 = IPv4, 1 = IPv6). */
  protoClass: number[];
  /** 65,536 class ids each, or null when the field is disabled. */
  sportClass: number[] | null;
  dportClass: number[] | null;
  /** 256 class ids each, or null when the field is disabled. */
  tcpFlagsClass: number[] | null;
  icmpTypeClass: number[] | null;
  /** CTSTATE_CLS_ENTRIES (4) class ids, by enum xdpfw_ct_state, or null when no rule uses `ct state`. */
  ctStateClass: number[] | null;
  /**
   * LPM entries of each slot: every prefix of the family in a rule's match on
   * the field, and /0 (the "no prefix" class); none when the field is disabled.
   */
  src4: PrefixClasses;
  src6: PrefixClasses;
  dst4: PrefixClasses;
  dst6: PrefixClasses;
  /** The address table of each slot whose lookup is 'table'; null otherwise. */
  addressTables: Record<AddressSlot, AddressTable | null>;
}

/** `limits { size N }`: buckets in the host's meter table. */
export interface LimitSettings {
  size: number;
}

export interface CompiledPolicy {
  interfaces: CompiledInterface[];
  /** The `protect` statements, proven against every interface before anything was compiled. */
  protects: { text: string; span: Span }[];
  /** The meter table's settings for the host; null when no interface has a `limit`. */
  limits: LimitSettings | null;
  /** Connection tracking's settings for the host (times in seconds); null when no interface uses `ct state`. */
  conntrack: ConntrackSettings | null;
}

export type { IrRule };
