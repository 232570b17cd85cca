/**
 * `limit-per`: the prefix lengths of `per src|dst/LEN[/LEN6]`. A length is
 * of the rule's one family; a rule that matches both needs both (`/24/64`),
 * or `ip4`/`ip6`, because a /24 means nothing to an IPv6 address. At most
 * two; each within its family (32, 128).
 */
import type { LimitPer } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { ruleFamilies, V4, V6 } from './family-mismatch.js';

export const checkLimitPer: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'limit-match' || !match.per) continue;
      const finding = checkPer(match.per, ruleFamilies(context, rule));
      if (finding) out.push(finding);
    }
  }
  return out;
};

function checkPer(per: LimitPer, families: number): Diagnostic | undefined {
  const { lengths, field } = per;
  const written = `per ${field}${lengths.map((l) => `/${l.value}`).join('')}`;
  if (lengths.length > 2) {
    return diagnostic(
      'limit-per',
      lengths[2]!.span,
      `'${written}' has ${lengths.length} lengths; at most two (IPv4, then IPv6)`,
      `as in 'per ${field}/24/64'`,
    );
  }
  if (lengths.length === 1 && families === (V4 | V6)) {
    return diagnostic(
      'limit-per',
      per.span,
      `'${written}' gives one prefix length, but the rule matches IPv4 and IPv6`,
      `give a length for each, as in 'per ${field}/${lengths[0]!.value}/64', or restrict the rule with 'ip4' or 'ip6'`,
    );
  }
  const maxima = lengths.length === 2 ? [32, 128] : [families === V6 ? 128 : 32];
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    const max = maxima[i]!;
    if (length.value <= max) continue;
    const family = max === 32 ? 'IPv4' : 'IPv6';
    return diagnostic(
      'limit-per',
      length.span,
      `'${written}': an ${family} prefix is at most /${max}`,
      `the length is of ${family} addresses here`,
    );
  }
  return undefined;
}
