/**
 * `no-return-traffic` (warning): an interface drops (or rejects) by default and no rule
 * allows `ct state established`, so the replies to connections the host
 * opens itself (DNS lookups, package downloads, outbound TCP) are dropped.
 * An interface with a rule that allows every packet is left alone: its
 * replies pass anyway.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { CT_STATE } from '../../contract/kernel.js';
import { diagnostic } from '../codes.js';
import type { IrCheck } from '../context.js';
import { dependsOnState } from '../evaluate.js';
import type { IrRule } from '../ir.js';

const ESTABLISHED = 1 << CT_STATE.established;

export const checkReturnTraffic: IrCheck = (ir) => {
  const out: Diagnostic[] = [];
  for (const iface of ir.interfaces) {
    if (iface.defaultAction === 'allow') continue;
    // A limited rule lets through only what its limit or set allows: it does not keep replies coming.
    const allows = iface.rules.filter((r) => r.action === 'allow' && !r.audit && !dependsOnState(r));
    if (allows.some((r) => r.ctStates !== null && (r.ctStates & ESTABLISHED) !== 0) || allows.some(matchesEverything)) continue;
    out.push(
      diagnostic(
        'no-return-traffic',
        iface.defaultSpan ?? iface.span,
        `interface '${iface.name}' ${iface.defaultAction === 'reject' ? 'rejects' : 'drops'} by default and no rule allows 'ct state established': replies to the host's own connections ${iface.auditMode ? 'would be dropped once enforced (mode audit passes them now)' : 'are dropped'}`,
        'add before the rules that drop: allow ct state established,related',
      ),
    );
  }
  return out;
};

function matchesEverything(r: IrRule): boolean {
  const fields = [r.protocols, r.src, r.dst, r.sport, r.dport, r.tcpFlags, r.icmpTypes, r.ctStates];
  return r.families.ipv4 && r.families.ipv6 && fields.every((f) => f === null);
}
