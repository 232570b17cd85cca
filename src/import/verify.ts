/**
 * `import --verify`: a proof that the compiled policy decides every packet
 * as the source program does, over the whole header space (both families,
 * every protocol, address, port, TCP flag byte, ICMP type and connection
 * state), or a packet on which they differ. Exact, not sampled, on the
 * lockout proof's regions (compiler/structures/header-space.ts):
 *
 * 1. The source's meaning is computed by walking its chains symbolically,
 *    as the kernel walks them for one packet but with a region of packets:
 *    each rule splits what reaches it into what it takes and what it
 *    leaves; a jump walks the chain with what it takes, and what falls off
 *    that chain (or meets a RETURN) goes on after the jump; a goto's
 *    fall-off returns to the caller's caller; the entry chain's fall-off
 *    gets its policy. The result: regions, each decided by one source rule
 *    (or the policy) for all its packets.
 * 2. Each decided region is run through the compiled interface's rules,
 *    first match wins, the default last; a part some rule (or the default)
 *    decides otherwise is a counterexample.
 *
 * The source side reads the program (chains, conditions, targets), not the
 * flattened rules or the policy text, so a fault in flattening, in
 * conjoining or in writing the policy shows up as a difference. Reading
 * the iptables or nft rules into conditions is the front ends'; the
 * namespace differential tests hold that part to the kernel.
 */
import type { IrInterface, IrPolicy, IrRule, PortInterval } from '../compiler/ir.js';
import { dependsOnState } from '../compiler/evaluate.js';
import { samplePacket } from '../compiler/lockout.js';
import { makePrefix } from '../compiler/structures/address.js';
import { familySpace, intersectRule, mayMeetRule, subtractRule, type Region } from '../compiler/structures/header-space.js';
import { PrefixList } from '../compiler/structures/prefix-list.js';
import { RuleIndex } from '../compiler/structures/rule-index.js';
import { ctStateBit, tcpFlagBit } from '../compiler/syntax/names.js';
import type { Cidr } from './iptables-addresses.js';
import type { AddressMatch, Condition, Interval } from './iptables-conditions.js';
import type { Citation, SourceProgram, SourceRule, Verdict } from './program.js';

/** Regions the source walk may cut off in all; past it, the proof stops and says so. */
export const MAX_VERIFY_REGIONS = 1_000_000;

export type VerifyPacket = ReturnType<typeof samplePacket>;

/** Who decided on the source side: the rules from the entry chain's jump down to the deciding rule, or the policy. */
export interface SourceDecision {
  verdict: Verdict;
  /** Empty: the entry chain's policy (`policyOf` names the chain), or (unjudged) nothing. */
  path: Citation[];
  policyOf?: string;
  /** A packet of the family the source's rules never see (IPv6 for iptables-save): it passes. */
  unjudged?: true;
}

export interface PolicyDecision {
  verdict: Verdict;
  /** Undefined: the interface's default. */
  rule?: IrRule;
}

export type VerifyOutcome =
  | { kind: 'equivalent'; interfaces: string[]; regions: number }
  | {
      kind: 'counterexample';
      iface: string;
      packet: VerifyPacket;
      source: SourceDecision;
      policy: PolicyDecision;
      /** Whether the stateful part (a limit, a dynamic set) of these source rules held for the packet. */
      assumed: { line: number; text: string; holds: boolean }[];
    }
  | { kind: 'too-large'; iface: string }
  /** A rule with a limit or a dynamic set that names no source rule to pair it with; the policy may still be right. */
  | { kind: 'unsupported'; iface: string; reason: string };

/**
 * Whether the stateful part (a limit, a dynamic-set match) of the rules
 * met so far held, by the source rule's key (tailKey): the proof takes it
 * as a free choice, the same on both sides, and follows both.
 */
type Tails = ReadonlyMap<string, boolean>;
const NO_TAILS: Tails = new Map();
const withTail = (tails: Tails, key: string, holds: boolean): Tails => new Map([...tails, [key, holds]]);

/** Packets of one region, with what their rules' stateful parts did. */
interface Part {
  region: Region;
  tails: Tails;
}

interface Piece extends Part {
  decision: SourceDecision;
}

/** What a source rule's stateful part is known by: its line and text, as the policy's comments cite it. */
export const tailKey = (cite: Citation): string => `${cite.line}\n${cite.text.trim()}`;

/**
 * The source rule an IR rule comes from, read from the comments above it
 * (`# FILE:LINE: TEXT`, the last one the rule's own); undefined when it
 * has none. `text` is the policy file `file` the rules were compiled from.
 */
export function sourceKeysFromText(text: string, file: string): (rule: IrRule) => string | undefined {
  const lines = text.split('\n');
  return (rule) => {
    if (rule.span.file !== file) return undefined;
    for (let i = rule.span.start.line - 2; i >= 0 && lines[i].trim().startsWith('#'); i--) {
      const cite = /^\s*# .*?:(\d+): (.*)$/.exec(lines[i]);
      if (cite) return tailKey({ line: Number(cite[1]), text: cite[2] });
    }
    return undefined;
  };
}

class TooLarge extends Error {}

/**
 * Proves `compiled` (the translation of `program`, compiled) equivalent to
 * it on each interface; given a program per family (an iptables and an
 * ip6tables dump merged), each judges its own family.
 */
export function verifyTranslation(
  program: SourceProgram | readonly SourceProgram[],
  compiled: IrPolicy,
  sourceOf: (rule: IrRule) => string | undefined = () => undefined,
): VerifyOutcome {
  const programs = Array.isArray(program) ? program : [program as SourceProgram];
  let regions = 0;
  for (const iface of compiled.interfaces) {
    // Audit rules decide nothing, their limits included (a LOG with -m limit).
    const enforced = iface.rules.filter((rule) => !rule.audit);
    const unpaired = enforced.find((rule) => dependsOnState(rule) && sourceOf(rule) === undefined);
    if (unpaired) {
      return {
        kind: 'unsupported',
        iface: iface.name,
        reason: `rule '${unpaired.text}' has a limit or a dynamic set, and no '# FILE:LINE:' comment above it names the source rule it comes from`,
      };
    }
    let pieces: Piece[];
    try {
      pieces = sourcePieces(programs, iface.name);
    } catch (error) {
      if (error instanceof TooLarge) return { kind: 'too-large', iface: iface.name };
      throw error;
    }
    regions += pieces.length;
    const indexes = { 4: new RuleIndex(enforced, 4), 6: new RuleIndex(enforced, 6) };
    for (const piece of pieces) {
      const found = firstDifference(indexes[piece.region.family], iface, piece, sourceOf);
      if (found) {
        const assumed = [...found.tails].map(([key, holds]) => {
          const [line, text] = key.split('\n');
          return { line: Number(line), text, holds };
        });
        return { kind: 'counterexample', iface: iface.name, packet: found.packet, policy: found.policy, source: piece.decision, assumed };
      }
    }
  }
  return { kind: 'equivalent', interfaces: compiled.interfaces.map((i) => i.name), regions };
}

/** The header space of interface `iface` cut into regions, each decided by one source rule or the policy. */
function sourcePieces(programs: readonly SourceProgram[], iface: string): Piece[] {
  const pieces: Piece[] = [];
  for (const family of [4, 6] as const) {
    const program = programs.find((p) => p.family === 'both' || p.family === family);
    if (program) pieces.push(...programPieces(program, iface, familySpace(family)));
    // The source judges this family's packets not at all: they pass.
    else
      for (const region of familySpace(family))
        pieces.push({ region, tails: NO_TAILS, decision: { verdict: 'allow', path: [], unjudged: true } });
  }
  return pieces;
}

/** The regions `starts` cut into regions, each decided by one rule of the program or its policy. */
function programPieces(program: SourceProgram, iface: string, starts: Region[]): Piece[] {
  const pieces: Piece[] = [];
  // Per chain and family, the rules that can match here (a LOG decides nothing; a rule for another interface matches nothing).
  const chains = new Map<string, { rules: SourceRule[]; index: Record<4 | 6, RuleIndex> }>();
  for (const [name, rules] of program.chains) {
    const kept: SourceRule[] = [];
    const matchers: IrRule[] = [];
    for (const rule of rules) {
      const matcher = rule.target.kind === 'log' || rule.target.kind === 'refused' ? null : conditionRule(rule.condition, iface);
      if (matcher === null) continue;
      kept.push(rule);
      matchers.push(matcher);
    }
    chains.set(name, { rules: kept, index: { 4: new RuleIndex(matchers, 4), 6: new RuleIndex(matchers, 6) } });
  }
  let held = 0;

  /** Decides what of `start` the chain decides; returns what falls off it or returns. */
  const walk = (name: string, start: Part, path: Citation[]): Part[] => {
    const chain = chains.get(name)!;
    const index = chain.index[start.region.family];
    const returned: Part[] = [];
    // The path to each rule of this chain, built once: a rule decides thousands of regions.
    const paths = new Map<SourceRule, Citation[]>();
    const pathTo = (rule: SourceRule) => paths.get(rule) ?? paths.set(rule, [...path, rule.cite]).get(rule)!;
    const work = [{ ...start, from: 0 }];
    for (let item = work.pop(); item !== undefined; item = work.pop()) {
      const { region, from, tails } = item;
      const met = firstMet(index, region, from);
      if (!met) {
        returned.push({ region, tails });
        continue;
      }
      const { position } = met;
      const rule = chain.rules[position];
      const rests = subtractRule(region, index.rules[position]);
      for (const rest of rests) work.push({ region: rest, from: position + 1, tails });
      held += rests.length;
      if (held > MAX_VERIFY_REGIONS) throw new TooLarge();
      let part: Part = { region: met.part, tails };
      if (rule.condition.limit || rule.condition.dynamicSet) {
        // Its stateful part may fail: then the packets go on with the next rule.
        const key = tailKey(rule.cite);
        const known = tails.get(key);
        if (known === false || known === undefined) work.push({ region: met.part, from: position + 1, tails: withTail(tails, key, false) });
        if (known === false) continue;
        part = { region: met.part, tails: withTail(tails, key, true) };
      }
      const target = rule.target;
      const here = pathTo(rule);
      if (target.kind === 'verdict') pieces.push({ ...part, decision: { verdict: target.verdict, path: here } });
      else if (target.kind === 'return') returned.push(part);
      else if (target.kind === 'jump') for (const back of walk(target.chain, part, here)) work.push({ ...back, from: position + 1 });
      else if (target.kind === 'goto') returned.push(...walk(target.chain, part, here));
    }
    return returned;
  };

  const fallOff: SourceDecision = { verdict: program.policy, path: [], policyOf: program.entry };
  for (const region of starts)
    for (const rest of walk(program.entry, { region, tails: NO_TAILS }, [])) pieces.push({ ...rest, decision: fallOff });
  return pieces;
}

/** The first rule at or after `from` that matches some packet of `region`, and the packets it matches. */
function firstMet(index: RuleIndex, region: Region, from: number): { position: number; part: Region } | undefined {
  index.select(region);
  for (let position = index.next(from); position !== -1; position = index.next(position + 1)) {
    const rule = index.rules[position];
    const part = mayMeetRule(region, rule) ? intersectRule(region, rule) : null;
    if (part) return { position, part };
  }
  return undefined;
}

/**
 * The first packet of the piece the interface decides otherwise, with who
 * decides it; undefined when none. A rule with a limit or a dynamic set
 * takes the packets when its source rule's stateful part held for them,
 * and both ways when the source never asked it.
 */
function firstDifference(
  index: RuleIndex,
  iface: IrInterface,
  piece: Piece,
  sourceOf: (rule: IrRule) => string | undefined,
): { packet: VerifyPacket; policy: PolicyDecision; tails: Tails } | undefined {
  const expected = piece.decision.verdict;
  const work = [{ region: piece.region, tails: piece.tails, from: 0 }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    const { tails } = item;
    const met = firstMet(index, item.region, item.from);
    if (!met) {
      const verdict = iface.auditMode ? 'allow' : iface.defaultAction;
      if (verdict !== expected) return { packet: samplePacket(item.region), policy: { verdict }, tails };
      continue;
    }
    const rule = index.rules[met.position];
    for (const rest of subtractRule(item.region, rule)) work.push({ region: rest, tails, from: met.position + 1 });
    let holding = tails;
    if (dependsOnState(rule)) {
      const key = sourceOf(rule)!;
      const known = tails.get(key);
      if (known === false || known === undefined)
        work.push({ region: met.part, tails: withTail(tails, key, false), from: met.position + 1 });
      if (known === false) continue;
      holding = withTail(tails, key, true);
    }
    if (rule.action !== expected) return { packet: samplePacket(met.part), policy: { verdict: rule.action, rule }, tails: holding };
  }
  return undefined;
}

/**
 * A source condition as a rule of the IR's shape, for the region
 * arithmetic: null when it can match nothing on `iface` (an `-i` of another
 * interface).
 */
function conditionRule(c: Condition, iface: string): IrRule | null {
  if (c.iface !== undefined && c.iface !== iface) return null;
  const addressFamilies = [c.src, c.dst].flatMap((a) => a?.cidrs.map((cidr) => cidr.family) ?? []);
  // A protocol number implies no family on the source side (nft's `meta l4proto icmp` meets an IPv6 packet too).
  const allows = (family: 4 | 6) => addressFamilies.every((f) => f === family) && (c.family === undefined || c.family === family);
  const ports = (intervals: readonly Interval[] | undefined): PortInterval[] | null =>
    intervals ? intervals.map(([low, high]) => ({ low, high })) : null;
  const bits = (names: readonly string[], bit: (name: string) => number | undefined) => names.reduce((acc, name) => acc | bit(name)!, 0);
  return {
    index: -1,
    id: 'source',
    action: 'allow',
    families: { ipv4: allows(4), ipv6: allows(6) },
    protocols: c.protocol === undefined ? null : [c.protocol],
    src: address(c.src),
    dst: address(c.dst),
    sport: ports(c.sport),
    dport: ports(c.dport),
    tcpFlags: c.tcpFlags ? { mask: bits(c.tcpFlags.mask, tcpFlagBit), value: bits(c.tcpFlags.set, tcpFlagBit) } : null,
    icmpTypes: c.icmpTypes ? [...c.icmpTypes] : null,
    ctStates: c.ctStates ? bits(c.ctStates, ctStateBit) : null,
    tail: null,
    text: 'source condition',
    span: { file: 'source', start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } },
  };
}

function address(match: AddressMatch | undefined): IrRule['src'] {
  if (!match) return null;
  return { negated: match.negated, prefixes: PrefixList.of(match.cidrs.map(cidrPrefix)), sets: [] };
}

function cidrPrefix({ family, value, length }: Cidr) {
  const width = family === 4 ? 4 : 16;
  const bytes = Array.from({ length: width }, (_, i) => Number((value >> BigInt(8 * (width - 1 - i))) & 0xffn));
  return makePrefix(family, bytes, length);
}
