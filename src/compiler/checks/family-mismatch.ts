/**
 * `family-mismatch`: a rule whose constraints leave no address family, so no
 * packet can match it — an IPv4 source with an IPv6 destination, `icmp` with
 * `ip6`, `icmpv6` with an IPv4 set. A rule's family set is the intersection
 * of its address matches' families, `ip4`/`ip6`, `icmp` (4) and `icmpv6` (6).
 */
import type { Match, Rule } from '../../policy/ast.js';
import { diagnostic } from '../codes.js';
import type { Check, CheckContext } from '../context.js';

/** Families as bits: IPv4 1, IPv6 2. */
export const V4 = 1;
export const V6 = 2;

interface FamilyConstraint {
  match: Match;
  label: string;
  families: number;
}

export const checkFamilies: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    const seen: FamilyConstraint[] = [];
    let left = V4 | V6;
    for (const match of rule.matches) {
      const constraint = familyConstraint(context, match);
      if (!constraint) continue;
      if ((left & constraint.families) === 0) {
        // `left` is one family here: some earlier constraint narrowed it to that alone.
        const earlier = seen.find((c) => c.families === left)!;
        out.push(
          diagnostic(
            'family-mismatch',
            match.span,
            `no packet can match this rule: ${earlier.label} is ${familyText(earlier.families)} but ${constraint.label} is ${familyText(constraint.families)}`,
            hintFor(earlier, constraint),
          ),
        );
        break;
      }
      seen.push(constraint);
      left &= constraint.families;
    }
  }
  return out;
};

/** The families a rule's matches leave (IPv4 1, IPv6 2); 0 when they contradict (reported above). */
export function ruleFamilies(context: CheckContext, rule: Rule): number {
  let left = V4 | V6;
  for (const match of rule.matches) left &= familyConstraint(context, match)?.families ?? V4 | V6;
  return left;
}

function familyConstraint(context: CheckContext, match: Match): FamilyConstraint | undefined {
  const single = (family: number, label: string) => ({ match, label, families: family });
  switch (match.kind) {
    case 'address-match': {
      const { prefixes } = context.resolveAddresses(match.value);
      if (prefixes.size === 0) return undefined; // unknown or empty: reported elsewhere
      return { match, label: `'${match.direction}'`, families: (prefixes.count4 > 0 ? V4 : 0) | (prefixes.count6 > 0 ? V6 : 0) };
    }
    case 'family-match':
      return single(match.family === 'ip4' ? V4 : V6, `'${match.family}'`);
    case 'protocol-match':
      if (match.protocol === 'icmp') return single(V4, "'icmp'");
      if (match.protocol === 'icmpv6') return single(V6, "'icmpv6'");
      return undefined;
    case 'icmp-type-match':
      return single(match.protocol === 'icmp' ? V4 : V6, `'${match.protocol} type'`);
    default:
      return undefined;
  }
}

function familyText(families: number): string {
  return families === (V4 | V6) ? 'IPv4 and IPv6' : families === V4 ? 'IPv4 only' : 'IPv6 only';
}

function hintFor(a: FamilyConstraint, b: FamilyConstraint): string {
  const labels = [a.label, b.label];
  if (labels.includes("'icmp'") && labels.includes("'ip6'")) return "ICMP for IPv6 is 'icmpv6'";
  if (labels.includes("'icmpv6'") && labels.includes("'ip4'")) return "ICMP for IPv4 is 'icmp'";
  return 'a packet is either IPv4 or IPv6: write one rule per family';
}
