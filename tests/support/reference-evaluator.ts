/**
 * The reference evaluator: the policy's meaning computed directly from the
 * AST, with none of the compiler's code (no IR, no bit vectors, no tables).
 * It is the oracle of the differential test: for every generated policy and
 * packet, the kernel program must give the same verdict and the same rule.
 * Written for clarity, not speed. Semantics: docs/DESIGN.md.
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

/** A set's entries as AST nodes (a set file's, one by one). */
function setElements(source: SetDeclaration['source']): AddressElement[] {
  if (source.kind === 'inline') return source.elements;
  if (source.kind === 'dynamic') throw new Error('the reference evaluator does not model dynamic sets');
  const { entries } = source;
  return entries ? Array.from({ length: setEntryCount(entries) }, (_, i) => setEntryLiteral(entries, i)) : [];
}

type Family = 4 | 6;
const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;

export class ReferenceEvaluator {
  private readonly defines = new Map<string, DefineValue>();
  private readonly sets = new Map<string, AddressElement[]>();
  private readonly block: InterfaceBlock;

  constructor(document: PolicyDocument, interfaceName: string) {
    let block: InterfaceBlock | undefined;
    for (const item of document.items) {
      if (item.kind === 'define') this.defines.set(item.name.name, item.value);
      if (item.kind === 'set') this.sets.set(item.name.name, setElements(item.source));
      if (item.kind === 'interface' && item.name.name === interfaceName) block = item;
    }
    if (!block) throw new Error(`no interface ${interfaceName}`);
    this.block = block;
  }

  get rules(): Rule[] {
    return this.block.statements.filter((s): s is Rule => s.kind === 'rule');
  }

  evaluate(packet: PacketSpec): Verdict {
    if ((packet.vlans?.length ?? 0) > 2) return { action: 'drop', matched: 'malformed' };
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      if (this.ruleMatches(rules[i], packet)) return { action: rules[i].action, matched: i };
    }
    const fallback = this.block.statements.find((s) => s.kind === 'default');
    return { action: fallback?.kind === 'default' ? fallback.action : 'allow', matched: 'default' };
  }

  ruleMatches(rule: Rule, packet: PacketSpec): boolean {
    const families = new Set<Family>([4, 6]);
    for (const match of rule.matches) {
      for (const family of [4, 6] as const) {
        if (!this.familiesOf(match).has(family)) families.delete(family);
      }
    }
    if (!families.has(packet.family)) return false;
    return rule.matches.every((match) => this.matchHolds(match, packet));
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
        // Buckets are state: a stateless oracle would take every limit as always holding.
        throw new Error('the reference evaluator does not model rate limits');
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

function bits(names: string[]): number {
  return names.reduce((acc, name) => acc | tcpFlagBit(name), 0);
}
