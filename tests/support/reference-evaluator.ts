/**
 * The reference evaluator: the policy's meaning computed directly from the
 * AST, with none of the compiler's code (no IR, no bit vectors, no tables).
 * It is the oracle of the differential test: for every generated policy and
 * packet, the kernel program must give the same verdict and the same rule.
 * Written for clarity, not speed. Semantics: docs/DESIGN.md. A rule's
 * tail (dynamic sets, limit, ban) is state: the evaluator consults a
 * ReferenceTails (reference-limits.ts) at a given time, and refuses a
 * policy with tails when given none.
 */
import ipaddr from 'ipaddr.js';
import type {
  AddressElement,
  AddressMatch,
  DefineValue,
  InterfaceBlock,
  Match,
  PolicyDocument,
  PortElement,
  Rule,
  SetDeclaration,
} from '../../src/policy/ast.js';
import type { PacketSpec, Verdict } from '../../src/packet/spec.js';
import { setEntryCount, setEntryLiteral } from '../../src/policy/set-file.js';
import { icmpTypeNumber, tcpFlagBit } from './names.js';
import { dynamicSetsOf, ReferenceTails, tailOf, type DynamicSetModel, type TailModel } from './reference-limits.js';

/** The state a policy with tails is judged in, and the time of the packet. */
export interface TailContext {
  tails: ReferenceTails;
  now: bigint;
}

/** A set's entries as AST nodes (a set file's, one by one). */
function setElements(source: SetDeclaration['source']): AddressElement[] {
  if (source.kind === 'inline') return source.elements;
  if (source.kind === 'dynamic') return []; // matched by the tail, not as addresses
  const { entries } = source;
  return entries ? Array.from({ length: setEntryCount(entries) }, (_, i) => setEntryLiteral(entries, i)) : [];
}

type Family = 4 | 6;

/** A verdict names the audit rules that counted the packet only when there are some. */
const withAudits = (audited: number[]): Pick<Verdict, 'audited'> => (audited.length > 0 ? { audited } : {});
const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;

export class ReferenceEvaluator {
  private readonly defines = new Map<string, DefineValue>();
  private readonly sets = new Map<string, AddressElement[]>();
  private readonly block: InterfaceBlock;
  readonly dynamicSets: Map<string, DynamicSetModel>;
  /** By rule index: its tail, or null. */
  readonly tails: (TailModel | null)[];

  constructor(document: PolicyDocument, interfaceName: string) {
    let block: InterfaceBlock | undefined;
    for (const item of document.items) {
      if (item.kind === 'define') this.defines.set(item.name.name, item.value);
      if (item.kind === 'set') this.sets.set(item.name.name, setElements(item.source));
      if (item.kind === 'interface' && item.name.name === interfaceName) block = item;
    }
    if (!block) throw new Error(`no interface ${interfaceName}`);
    this.block = block;
    this.dynamicSets = dynamicSetsOf(document);
    this.tails = this.rules.map((rule) => tailOf(rule, this.dynamicSets, this.ruleFamilies(rule)));
  }

  /** A fresh state for this policy's tails: empty sets, full buckets, zero counters. */
  newTailState(): ReferenceTails {
    return new ReferenceTails(this.dynamicSets);
  }

  get rules(): Rule[] {
    return this.block.statements.filter((s): s is Rule => s.kind === 'rule');
  }

  /**
   * The verdict and the deciding rule. A rule whose stateless matches hold
   * has its tail checked in order (source set, destination set, limit);
   * when it fails the next rule is tried, and the rule that decides bans.
   */
  evaluate(packet: PacketSpec, context?: TailContext): Verdict {
    return this.enforced(this.decide(packet, context));
  }

  /** `mode audit`: a drop or reject is counted and not done. */
  private enforced(v: Verdict): Verdict {
    const audit = this.block.statements.some((s) => s.kind === 'mode' && s.mode === 'audit');
    return audit && v.action !== 'allow' ? { ...v, wouldDrop: true } : v;
  }

  /**
   * An `audit` rule whose matches (tail included) hold counts the packet,
   * bans nothing, and the next rule is tried.
   */
  private decide(packet: PacketSpec, context?: TailContext): Verdict {
    if ((packet.vlans?.length ?? 0) > 2) return { action: 'drop', matched: 'malformed' };
    const rules = this.rules;
    const audited: number[] = [];
    for (let i = 0; i < rules.length; i++) {
      if (!this.ruleMatches(rules[i], packet)) continue;
      const tail = this.tails[i];
      if (tail) {
        if (!context) throw new Error('a policy with rate limits or dynamic sets needs a TailContext');
        if (!tailHolds(i, tail, packet, context)) continue;
        if (tail.ban && !rules[i].audit) context.tails.ban(tail, packet, context.now, this.originOf(rules[i]));
      }
      if (rules[i].audit) {
        audited.push(i);
        continue;
      }
      return { action: rules[i].action, matched: i, ...withAudits(audited) };
    }
    const fallback = this.block.statements.find((s) => s.kind === 'default');
    return { action: fallback?.kind === 'default' ? fallback.action : 'allow', matched: 'default', ...withAudits(audited) };
  }

  /** The rule's stateless matches hold (its dynamic sets and limit are the tail's). */
  ruleMatches(rule: Rule, packet: PacketSpec): boolean {
    if (!this.ruleFamilies(rule).has(packet.family)) return false;
    return rule.matches.every((match) => this.isTailMatch(match) || this.matchHolds(match, packet));
  }

  /** The ban's origin: FNV-1a-32 of the interface, a NUL and the rule's name; -1 (some non-zero hash) for a rule without one. */
  originOf(rule: Rule): number {
    return rule.name ? fnv1a32(`${this.block.name.name}\0${rule.name.value}`) : -1;
  }

  private isTailMatch(match: Match): boolean {
    return (
      match.kind === 'limit-match' ||
      (match.kind === 'address-match' && match.value.kind === 'set-ref' && this.dynamicSets.has(match.value.name))
    );
  }

  private ruleFamilies(rule: Rule): Set<Family> {
    const families = new Set<Family>([4, 6]);
    for (const match of rule.matches) {
      if (this.isTailMatch(match)) continue; // a dynamic set holds either family
      for (const family of [4, 6] as const) {
        if (!this.familiesOf(match).has(family)) families.delete(family);
      }
    }
    return families;
  }

  private familiesOf(match: Match): Set<Family> {
    switch (match.kind) {
      case 'address-match':
        return new Set(this.prefixes(match).map((p) => p.family));
      case 'family-match':
        return new Set([match.family === 'ip4' ? 4 : 6]);
      case 'protocol-match':
        if (match.protocol === 'icmp') return new Set([4]);
        if (match.protocol === 'icmpv6') return new Set([6]);
        return new Set([4, 6]);
      case 'icmp-type-match':
        return new Set([match.protocol === 'icmp' ? 4 : 6]);
      default:
        return new Set([4, 6]);
    }
  }

  private matchHolds(match: Match, packet: PacketSpec): boolean {
    const firstFragment = !packet.fragment || packet.fragment.offset === 0;
    switch (match.kind) {
      case 'family-match':
        return true; // folded into the family set
      case 'address-match': {
        const address = ipaddr.parse(match.direction === 'src' ? packet.src : packet.dst);
        const inside = this.prefixes(match).some((p) => p.family === packet.family && address.match(p.range));
        return match.negated ? !inside : inside;
      }
      case 'protocol-match': {
        const number = typeof match.protocol === 'string' ? PROTOCOLS[match.protocol] : match.protocol.value;
        return packet.protocol === number;
      }
      case 'port-match': {
        const hasPorts = firstFragment && (packet.protocol === 6 || packet.protocol === 17);
        if (!hasPorts) return false;
        const port = (match.direction === 'sport' ? packet.sport : packet.dport) ?? 0;
        return this.portElements(match.value).some((e) =>
          e.kind === 'port' ? port === e.value : e.kind === 'port-range' && port >= e.low && port <= e.high,
        );
      }
      case 'tcp-flags-match': {
        if (!firstFragment || packet.protocol !== 6) return false;
        const flags = packet.tcpFlags ?? 0;
        const set = bits(match.flags.map((f) => f.name));
        if (!match.mask) return (flags & set) === set;
        const mask = bits(match.mask.map((f) => f.name));
        return (flags & mask) === set;
      }
      case 'icmp-type-match': {
        const icmpProtocol = packet.family === 4 ? 1 : 58;
        if (!firstFragment || packet.protocol !== icmpProtocol) return false;
        return match.types.some((t) => (t.kind === 'number' ? t.value : icmpTypeNumber(match.protocol, t.name)) === packet.icmpType);
      }
      case 'ct-state-match':
        // A packet given no state is one no connection entry knows: new.
        return match.states.some((s) => s.name === (packet.ctState ?? 'new'));
      case 'limit-match':
        throw new Error('a limit is part of the tail');
    }
  }

  private prefixes(match: AddressMatch): { family: Family; range: [ipaddr.IPv4 | ipaddr.IPv6, number] }[] {
    const values = match.value.kind === 'list' ? match.value.elements : [match.value];
    return values
      .flatMap((v) => this.expandAddress(v))
      .map((text) => {
        const [address, length] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), text.includes(':') ? 128 : 32];
        const family: Family = address.kind() === 'ipv4' ? 4 : 6;
        return { family, range: [address, length] as [ipaddr.IPv4 | ipaddr.IPv6, number] };
      });
  }

  private expandAddress(element: AddressElement | DefineValue): string[] {
    switch (element.kind) {
      case 'address':
        return [element.text];
      case 'set-ref':
        return (this.sets.get(element.name) ?? []).flatMap((e) => this.expandAddress(e));
      case 'define-ref':
        return this.expandAddress(this.define(element.name));
      case 'list':
        return element.elements.flatMap((e) => this.expandAddress(e));
      default:
        throw new Error(`not an address: ${element.kind}`);
    }
  }

  private portElements(value: PortElement | DefineValue): PortElement[] {
    switch (value.kind) {
      case 'port':
      case 'port-range':
        return [value];
      case 'define-ref':
        return this.portElements(this.define(value.name));
      case 'list':
        return value.elements.flatMap((e) => this.portElements(e));
      default:
        throw new Error(`not a port: ${value.kind}`);
    }
  }

  private define(name: string): DefineValue {
    const value = this.defines.get(name);
    if (!value) throw new Error(`unknown define $${name}`);
    return value;
  }
}

function tailHolds(rule: number, tail: TailModel, packet: PacketSpec, { tails, now }: TailContext): boolean {
  for (const [member, address] of [
    [tail.srcSet, packet.src],
    [tail.dstSet, packet.dst],
  ] as const) {
    if (member && tails.has(member.set, address, now) === member.negated) return false;
  }
  return !tail.limit || tails.limitHolds(rule, tail.limit, packet, now);
}

/** FNV-1a, 32 bits, over the UTF-8 bytes. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function bits(names: string[]): number {
  return names.reduce((acc, name) => acc | tcpFlagBit(name), 0);
}
