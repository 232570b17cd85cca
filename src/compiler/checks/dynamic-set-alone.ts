/**
 * `dynamic-set-alone`: a dynamic set named anywhere but alone in a `src` or
 * `dst` match (or after `ban`) — in a list, a define or another set. Its
 * entries exist only at run time, in the set's own table, so it is checked
 * apart from the rule's other conditions and cannot be merged into a value.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkDynamicSetsAlone: Check = (context) => {
  const out: Diagnostic[] = [];
  const report = (name: string, span: Diagnostic['span'], where: string) =>
    out.push(
      diagnostic(
        'dynamic-set-alone',
        span,
        `dynamic set '@${name}' cannot be ${where}: its entries exist only at run time`,
        `name it alone in a match, as in 'src @${name}'; a rule may add other conditions ('src 10.0.0.0/8 src @${name}')`,
      ),
    );
  for (const { reference, owner } of context.references()) {
    if (reference.kind !== 'set-ref' || owner === undefined || !context.isDynamicSet(reference.name)) continue;
    report(reference.name, reference.span, owner.startsWith('$') ? `named in define '${owner}'` : `part of set '${owner}'`);
  }
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'address-match' || match.value.kind !== 'list') continue;
      for (const element of match.value.elements) {
        if (element.kind === 'set-ref' && context.isDynamicSet(element.name)) report(element.name, element.span, 'part of a list');
      }
    }
  }
  return out;
};
