/**
 * The lockout proof: every packet a `protect` matches is allowed by an
 * interface's rules, first match wins, the default included. Exact, not
 * sampled: the protect's packets are a few regions of the header space
 * (structures/header-space.ts), each rule in order takes its part of them,
 * and what no rule takes meets the default. A rule whose decision depends on
 * state (a dynamic set, a limit) may or may not take a packet, so an allow
 * rule with one takes nothing for sure and a drop rule with one may drop;
 * the connection state is a field of the regions, so the proof holds in
 * every state. `reject` drops as `drop` does. An `audit` rule takes
 * nothing, and an interface in `mode audit` drops nothing.
 */
import ipaddr from 'ipaddr.js';
import type { PacketSpec } from '../packet/spec.js';
import { dependsOnState } from './evaluate.js';
import type { IrInterface, IrRule } from './ir.js';
import { isAddressError, parseAddress } from './structures/address.js';
import { PrefixList } from './structures/prefix-list.js';
import {
  familySpace,
  icmpProtocolOf,
  intersectRule,
  subtractRule,
  type Ranges,
  type Region,
  type Value,
} from './structures/header-space.js';
import { ctStateBit, CT_STATE_NAMES, tcpFlagBit } from './syntax/names.js';

/** Regions the proof may hold at once: past it, it stops and says so rather than take the host's memory. */
export const MAX_PROOF_REGIONS = 200_000;

export type ProofOutcome =
  | { kind: 'proven' }
  /** `rule` would drop `packet` (when `stateful`, if its dynamic set or limit holds); undefined: the default. */
  | { kind: 'dropped'; rule?: IrRule; stateful: boolean; packet: PacketSpec }
  | { kind: 'too-large' };

/** Whether `iface` allows every packet `protectedTraffic` matches (its stateless matches; it has no tail). */
export function proveAllowed(iface: Pick<IrInterface, 'rules' | 'defaultAction' | 'auditMode'>, protectedTraffic: IrRule): ProofOutcome {
  if (iface.auditMode) return { kind: 'proven' };
  let regions = ([4, 6] as const).flatMap((family) => familySpace(family).flatMap((space) => intersectRule(space, protectedTraffic) ?? []));
  for (const rule of iface.rules) {
    if (regions.length === 0) return { kind: 'proven' };
    if (rule.audit) continue;
    const stateful = dependsOnState(rule);
    const remaining: Region[] = [];
    for (const region of regions) {
      const taken = intersectRule(region, rule);
      if (!taken) remaining.push(region);
      else if (rule.action !== 'allow') return { kind: 'dropped', rule, stateful, packet: samplePacket(taken) };
      else if (stateful) remaining.push(region);
      else remaining.push(...subtractRule(region, rule));
    }
    if (remaining.length > MAX_PROOF_REGIONS) return { kind: 'too-large' };
    regions = remaining;
  }
  if (regions.length > 0 && iface.defaultAction !== 'allow') return { kind: 'dropped', stateful: false, packet: samplePacket(regions[0]) };
  return { kind: 'proven' };
}

/**
 * One packet of the region: the lowest value of each field, except that a
 * packet without L4 fields prefers a protocol that has none (a TCP, UDP or
 * ICMP one is then a non-first fragment).
 */
export function samplePacket(region: Region): PacketSpec {
  const { family, fields } = region;
  const first = (r: Ranges | null): number | undefined => (r === null ? undefined : Number(r.starts[0]));
  const withL4 = fields.sport !== null || fields.icmpType !== null;
  const fragmentable = [6, 17, icmpProtocolOf(family)];
  const protocol = withL4 ? first(fields.protocol)! : (firstOutside(fields.protocol!, fragmentable) ?? first(fields.protocol)!);
  const packet: PacketSpec = {
    family,
    protocol,
    src: addressText(family, fields.src!.starts[0]),
    dst: addressText(family, fields.dst!.starts[0]),
  };
  if (fields.sport !== null) {
    packet.sport = first(fields.sport);
    packet.dport = first(fields.dport);
  }
  if (fields.tcpFlags !== null) packet.tcpFlags = first(fields.tcpFlags);
  if (fields.icmpType !== null) packet.icmpType = first(fields.icmpType);
  if (!withL4 && fragmentable.includes(protocol)) packet.fragment = { offset: 1, moreFragments: false };
  const state = CT_STATE_NAMES[first(fields.ctState)!];
  if (state !== 'new') packet.ctState = state;
  return packet;
}

/** The lowest value of `r` not in `excluded`, if any. */
function firstOutside(r: Ranges, excluded: readonly number[]): number | undefined {
  for (let i = 0; i < r.starts.length; i++) {
    for (let v = Number(r.starts[i]); v <= Number(r.ends[i]); v++) if (!excluded.includes(v)) return v;
  }
  return undefined;
}

function addressText(family: 4 | 6, value: Value): string {
  const x = BigInt(value);
  const width = family === 4 ? 4 : 16;
  const bytes = Array.from({ length: width }, (_, i) => Number((x >> BigInt(8 * (width - 1 - i))) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** A TCP connection as sshd describes it in SSH_CONNECTION: the client's end and the host's. */
export interface TcpSession {
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
}

/**
 * The inbound packets of an established TCP session as a protect would name
 * them: from the client's address and port to the host's, ACK set, SYN and
 * RST clear, in state `established` (the host's own output on the session,
 * apply's included, records it in the connection tables). Undefined when an
 * address does not parse or the two are of different families.
 */
export function sessionTraffic(session: TcpSession): IrRule | undefined {
  const client = parseAddress(session.client);
  const server = parseAddress(session.server);
  if (isAddressError(client) || isAddressError(server) || client.family !== server.family) return undefined;
  const host = (prefix: typeof client) => ({ negated: false, prefixes: PrefixList.single(prefix), sets: [] });
  const port = (p: number) => [{ low: p, high: p }];
  const [ack, syn, rst] = ['ack', 'syn', 'rst'].map((f) => tcpFlagBit(f)!);
  return {
    index: -1,
    id: 'ssh-session',
    action: 'allow',
    families: { ipv4: client.family === 4, ipv6: client.family === 6 },
    protocols: [6],
    src: host(client),
    dst: host(server),
    sport: port(session.clientPort),
    dport: port(session.serverPort),
    tcpFlags: { mask: ack | syn | rst, value: ack },
    icmpTypes: null,
    ctStates: ctStateBit('established')!,
    tail: null,
    text: "the SSH session's packets",
    span: { file: 'SSH_CONNECTION', start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } },
  };
}
