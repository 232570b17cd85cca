/**
 * What an importer's front end (iptables-save, nftables JSON) hands the
 * shared back end: the source's chains as lists of rules, each with a
 * condition xdpfw can match and a target, plus the entry chain and its
 * policy. The back end flattens it into first-match rules (flatten.ts) and
 * proves the compiled policy equivalent to it (verify.ts), so both read the
 * source's meaning from this one structure.
 */
import type { Condition } from './iptables-conditions.js';

export type Verdict = 'allow' | 'drop' | 'reject';

/** Where a rule was written: its 1-based line and its text, for citing it. */
export interface Citation {
  line: number;
  text: string;
  /** The file it is in, when a policy merges two sources (the ip6tables dump beside the iptables one). */
  file?: string;
}

export type SourceTarget =
  /** `log`: nft's `log` before the verdict, which logs what the rule decides. */
  | { kind: 'verdict'; verdict: Verdict; reject?: RejectAnswer; log?: LogStatement }
  /** Jump: the chain's rules, then on after this rule when the chain returns. Goto: the chain's rules, returning to this chain's caller. */
  | { kind: 'jump' | 'goto'; chain: string }
  | { kind: 'return' }
  /** LOG, NFLOG or nft's `log` alone: records the packet and goes on with the next rule. */
  | ({ kind: 'log' } & LogStatement)
  /** A target the front end refused (the rule is not translatable). */
  | { kind: 'refused' };

/** A logging target or statement: its name in the source (LOG, NFLOG, log) and its prefix, if any. */
export interface LogStatement {
  name: string;
  prefix?: string;
}

/** What a reject answers, where xdpfw's may differ. */
export interface RejectAnswer {
  /** `tcp-reset`, `admin-prohibited`, or the source's own name of another answer (port unreachable by default). */
  answer: string;
  /** The source's text of it, for the warning. */
  shown: string;
}

export interface SourceRule {
  cite: Citation;
  /** The target's column, where structural diagnostics point. */
  column: number;
  condition: Condition;
  /** The source's comments on the rule (`-m comment`), kept beside its translation. */
  comments: string[];
  target: SourceTarget;
  /** False when the front end refused the rule: flattening skips it, and the program is not proved. */
  translatable: boolean;
}

export interface SourceProgram {
  /** The packets the source judges: IPv4 (iptables-save, nft table ip), IPv6 (ip6tables-save, ip6) or both (nft table inet). */
  family: 4 | 6 | 'both';
  entry: string;
  /** The entry chain's policy: what a packet that falls off it gets. */
  policy: Verdict;
  /** Every chain the entry chain reaches, the entry included, its rules in order. */
  chains: ReadonlyMap<string, readonly SourceRule[]>;
}
