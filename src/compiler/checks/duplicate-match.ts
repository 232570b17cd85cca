/**
 * `duplicate-match`: the same match twice in one rule (`dport 80 dport 443`,
 * `src … src …`, `tcp tcp`, `ip4 ip4`). All of a rule's matches must hold,
 * so the second one is a mistake for a list.
 */
import type { Match } from '../../policy/ast.js';
import { diagnostic } from '../codes.js';
import type { Check, CheckContext } from '../context.js';

export const checkDuplicateMatches: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    const seen = new Map<string, Match>();
    for (const match of rule.matches) {
      const key = matchKey(match, context);
      const first = seen.get(key);
      if (!first) {
        seen.set(key, match);
        continue;
      }
      const hint = key.endsWith('@<dynamic set>')
        ? 'a rule checks one dynamic set per field: write one rule for each set'
        : match.kind === 'address-match' || match.kind === 'port-match'
          ? `all of a rule's matches must hold; to accept several values write one list, e.g. ${match.direction} { A, B }`
          : `remove one of them`;
      out.push(
        diagnostic('duplicate-match', match.span, `'${key}' appears twice in this rule (first at column ${first.span.start.column})`, hint),
      );
    }
  }
  return out;
};

/**
 * A dynamic set's match is the rule's tail, checked besides the address
 * constraint: `src 10.0.0.0/8 src @banned` is two conditions, two dynamic
 * sets on one field are one too many (the tail has one per field).
 */
function matchKey(match: Match, context: CheckContext): string {
  switch (match.kind) {
    case 'address-match':
      return context.dynamicSetOf(match.value) === undefined ? match.direction : `${match.direction} @<dynamic set>`;
    case 'port-match':
      return match.direction;
    case 'protocol-match':
      return typeof match.protocol === 'string' ? match.protocol : `proto ${match.protocol.value}`;
    case 'tcp-flags-match':
      return 'tcp flags';
    case 'icmp-type-match':
      return `${match.protocol} type`;
    case 'family-match':
      return match.family;
    case 'ct-state-match':
      return 'ct state';
    case 'limit-match':
      return 'limit';
  }
}
