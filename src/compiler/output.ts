/**
 * What a policy compiles to, per interface: the load-time constants and the
 * content of every map of bpf/xdpfw.h. The loader (src/xdp) writes these into
 * a freshly loaded program's maps; `xdpfw compile --json` prints them.
 * Deterministic: the same policy gives the same object (and the same hash).
 */

import type { Action, IrRule } from './ir.js';

export interface CompiledConstants {
  /** cfg_nrules */
  nrules: number;
  /** cfg_nwords = max(1, ceil(nrules / 64)) */
  nwords: number;
  /** cfg_fields: bit (1 << XDPFW_FIELD_*) set for each enabled field; PROTO always set. */
  fields: number;
  /** cfg_default_action: 1 = drop (XDP_DROP), 2 = allow (XDP_PASS). */
  defaultAction: 1 | 2;
  /** cfg_absent_class[XDPFW_NFIELDS]: class used when the packet lacks the field. */
  absentClass: number[];
}

/** One LPM trie entry; the trie always holds a /0 entry (the "no prefix" class). */
export interface LpmEntry {
  /** Network-order address, host bits zero (4 or 16 bytes). */
  bytes: number[];
  prefixLength: number;
  /** Canonical text, for display. */
  text: string;
  /** Index into `vectors`. */
  classId: number;
}

export interface CompiledRule {
  index: number;
  id: string;
  name?: string;
  action: Action;
  text: string;
  /** `file:line:col` of the rule. */
  location: string;
}

export interface CompiledInterface {
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
  /** Rule index → XDPFW_ACTION_* (1 drop, 2 pass). */
  actions: number[];
  /**
   * The deduplicated bit vectors; vectors[c] has `nwords` words, word w bit b
   * set = rule 64*w+b matches. Words are unsigned 64-bit values.
   */
  vectors: bigint[][];
  /** 512 class ids: index family*256 + protocol (family 0 = IPv4, 1 = IPv6). */
  protoClass: number[];
  /** 65,536 class ids each, or null when the field is disabled. */
  sportClass: number[] | null;
  dportClass: number[] | null;
  /** 256 class ids each, or null when the field is disabled. */
  tcpFlagsClass: number[] | null;
  icmpTypeClass: number[] | null;
  /** LPM entries; empty when the field is disabled. */
  src4: LpmEntry[];
  src6: LpmEntry[];
  dst4: LpmEntry[];
  dst6: LpmEntry[];
}

export interface CompiledPolicy {
  interfaces: CompiledInterface[];
}

export type { IrRule };
