/**
 * The names the compiler accepts, in the shape its passes use them. TCP flag
 * and ICMP type tables live in src/packet (shared with the packet text); this
 * module adapts them and adds the protocol keywords and the ND types.
 */
import { icmpTypeByName, icmpTypeName as packetIcmpTypeName, icmpTypeNames } from '../../packet/icmp-names.js';
import { TCP_FLAGS, tcpFlagByName } from '../../packet/tcp-flags.js';

export type IcmpProtocol = 'icmp' | 'icmpv6';

const familyOf = (protocol: IcmpProtocol) => (protocol === 'icmp' ? 4 : 6);

/** TCP flag names in bit order. */
export const TCP_FLAG_NAMES: readonly string[] = TCP_FLAGS.map((f) => f.name);

/** The bit of a TCP flag name, or undefined. */
export function tcpFlagBit(name: string): number | undefined {
  return tcpFlagByName(name);
}

/** The type number of an ICMP (`icmp`) or ICMPv6 (`icmpv6`) type name, or undefined. */
export function icmpTypeNumber(protocol: IcmpProtocol, name: string): number | undefined {
  return icmpTypeByName(familyOf(protocol), name);
}

/** Every type name of the protocol, in type order. */
export function icmpTypeNameList(protocol: IcmpProtocol): string[] {
  return icmpTypeNames(familyOf(protocol));
}

/** The first name of a type number, for display (`135` → `nd-neighbor-solicit`). */
export function icmpTypeName(protocol: IcmpProtocol, type: number): string | undefined {
  return packetIcmpTypeName(familyOf(protocol), type);
}

/** Protocol keywords → IP protocol numbers. */
export const PROTOCOL_NUMBERS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;

/** `ct state` names in enum xdpfw_ct_state order. */
export const CT_STATE_NAMES = ['new', 'established', 'related', 'invalid'] as const;
export type CtStateName = (typeof CT_STATE_NAMES)[number];

/** The bit of a `ct state` name in a rule's mask (1 << enum xdpfw_ct_state), or undefined. */
export function ctStateBit(name: string): number | undefined {
  const state = CT_STATE_NAMES.indexOf(name as CtStateName);
  return state < 0 ? undefined : 1 << state;
}
