/** `port-without-protocol`: `sport`/`dport` in a rule that does not match `tcp` or `udp`. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { impliedProtocols } from '../syntax/walks.js';

export const checkPortProtocols: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    const protocols = impliedProtocols(rule);
    const distinct = new Set(protocols.map((p) => p.protocol));
    if (distinct.size > 1) continue; // conflicting-protocols reports it
    for (const match of rule.matches) {
      if (match.kind !== 'port-match') continue;
      if (protocols.length === 0) {
        out.push(
          diagnostic(
            'port-without-protocol',
            match.span,
            `'${match.direction}' needs 'tcp' or 'udp' in the same rule`,
            `ports exist only in TCP and UDP headers: write 'tcp ${match.direction} …' or 'udp ${match.direction} …'`,
          ),
        );
      } else if (!distinct.has(6) && !distinct.has(17)) {
        out.push(
          diagnostic(
            'port-without-protocol',
            match.span,
            `'${match.direction}' needs 'tcp' or 'udp', but this rule matches '${protocols[0].label}'`,
            'ports exist only in TCP and UDP headers',
          ),
        );
      }
    }
  }
  return out;
};
