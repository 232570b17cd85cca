/**
 * `nd-dropped` (warning): IPv6 neighbour discovery (ICMPv6 133–136) would be
 * dropped — by `default drop` or by an earlier drop rule. Without it a host
 * cannot resolve its neighbours or find its router: IPv6 breaks silently.
 * Decided by evaluating the IR on representative ND packets (link-local
 * sources, the multicast groups ND uses, duplicate address detection). A
 * rule that depends on state (a dynamic set, a limit) is taken as not
 * holding: ND that only a limited rule lets through is dropped once the
 * limit is reached, which breaks IPv6 as surely.
 */
import ipaddr from 'ipaddr.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { IrCheck } from '../context.js';
import { evaluate, type FieldPacket } from '../evaluate.js';
import { icmpTypeName } from '../syntax/names.js';

const bytes = (text: string) => ipaddr.IPv6.parse(text).toByteArray();

const PROBES: { type: number; src: string; dst: string }[] = [
  { type: 133, src: 'fe80::1', dst: 'ff02::2' }, // router solicitation
  { type: 134, src: 'fe80::1', dst: 'ff02::1' }, // router advertisement
  { type: 135, src: 'fe80::1', dst: 'ff02::1:ff00:2' }, // neighbour solicitation
  { type: 135, src: '::', dst: 'ff02::1:ff00:2' }, // duplicate address detection
  { type: 136, src: 'fe80::2', dst: 'fe80::1' }, // neighbour advertisement
  { type: 136, src: 'fe80::2', dst: 'ff02::1' }, // unsolicited advertisement
];

const ALLOW_ND = 'allow icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }';

export const checkNeighbourDiscovery: IrCheck = (ir) => {
  const out: Diagnostic[] = [];
  for (const iface of ir.interfaces) {
    // Keyed by the deciding rule's index, or -1 for the default.
    const dropped = new Map<number, Set<number>>();
    for (const probe of PROBES) {
      const packet: FieldPacket = {
        family: 6,
        protocol: 58,
        src: bytes(probe.src),
        dst: bytes(probe.dst),
        icmpType: probe.type,
      };
      const verdict = evaluate(iface, packet, () => false);
      if (verdict.action === 'allow') continue;
      const key = verdict.rule ? verdict.rule.index : -1;
      dropped.set(key, (dropped.get(key) ?? new Set()).add(probe.type));
    }
    for (const [key, types] of [...dropped].sort((a, b) => a[0] - b[0])) {
      const names = [...types].map((t) => icmpTypeName('icmpv6', t)).join(', ');
      const rule = key >= 0 ? iface.rules[key] : undefined;
      const span = rule ? rule.span : (iface.defaultSpan ?? iface.span);
      const by = rule ? 'this rule' : `'default ${iface.defaultAction}' of interface '${iface.name}'`;
      out.push(
        diagnostic(
          'nd-dropped',
          span,
          iface.auditMode
            ? `IPv6 neighbour discovery (${names}) would be dropped by ${by} once enforced (mode audit passes it now): that would silently break IPv6`
            : `IPv6 neighbour discovery (${names}) is dropped by ${by}: this silently breaks IPv6`,
          `add before it: ${ALLOW_ND}`,
        ),
      );
    }
  }
  return out;
};
