/**
 * ICMP and ICMPv6 type names, shared by the packet text (`type echo-request`)
 * and the policy language (`icmp type echo-request`). Dependency-free on
 * purpose: the compiler imports it too.
 */

/** ICMP (IPv4) types by name. */
export const ICMP_TYPES: Readonly<Record<string, number>> = Object.freeze({
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
  'info-request': 15,
  'info-reply': 16,
  'address-mask-request': 17,
  'address-mask-reply': 18,
});

/** ICMPv6 types by name. */
export const ICMPV6_TYPES: Readonly<Record<string, number>> = Object.freeze({
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'mld-listener-reduction': 132, // RFC 2710's name for "done"
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'router-renumbering': 138,
  'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142,
  'mld2-listener-report': 143,
});

/** 4: ICMP (IPv4); 6: ICMPv6. */
export type IcmpFamily = 4 | 6;

function table(family: IcmpFamily): Readonly<Record<string, number>> {
  return family === 4 ? ICMP_TYPES : ICMPV6_TYPES;
}

/** The type number of a name (case-insensitive), or undefined for an unknown name. */
export function icmpTypeByName(family: IcmpFamily, name: string): number | undefined {
  const types = table(family);
  const key = name.toLowerCase();
  return Object.hasOwn(types, key) ? types[key] : undefined;
}

/** The (first) name of a type number, or undefined when it has none. */
export function icmpTypeName(family: IcmpFamily, type: number): string | undefined {
  for (const [name, value] of Object.entries(table(family))) {
    if (value === type) return name;
  }
  return undefined;
}

/** Every name of the family's table, aliases included, in type order (for "did you mean" and help). */
export function icmpTypeNames(family: IcmpFamily): string[] {
  return Object.keys(table(family));
}
