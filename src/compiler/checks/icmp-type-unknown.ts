/** `icmp-type-unknown`: an ICMP/ICMPv6 type name that does not exist, or a number above 255. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { suggest } from '../../policy/format.js';
import { icmpTypeNameList, icmpTypeNumber } from '../syntax/names.js';

export const checkIcmpTypes: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'icmp-type-match') continue;
      const label = match.protocol === 'icmp' ? 'ICMP' : 'ICMPv6';
      const other = match.protocol === 'icmp' ? 'icmpv6' : 'icmp';
      for (const type of match.types) {
        if (type.kind === 'number') {
          if (Number.isInteger(type.value) && type.value >= 0 && type.value <= 255) continue;
          out.push(diagnostic('icmp-type-unknown', type.span, `${label} type ${type.value} is out of range (0–255)`));
          continue;
        }
        if (icmpTypeNumber(match.protocol, type.name) !== undefined) continue;
        const names = icmpTypeNameList(match.protocol);
        const guess = suggest(type.name, names);
        const hint =
          icmpTypeNumber(other, type.name) !== undefined
            ? `'${type.name}' is an ${other === 'icmp' ? 'ICMP' : 'ICMPv6'} type: write '${other} type ${type.name}'`
            : `${label} types: ${names.join(', ')}, or a number 0–255`;
        out.push(
          diagnostic(
            'icmp-type-unknown',
            type.span,
            `unknown ${label} type '${type.name}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
            hint,
          ),
        );
      }
    }
  }
  return out;
};
