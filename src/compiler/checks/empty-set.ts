/**
 * `empty-set`: a set with no entries, or an empty `{ }` list in a define or a rule: a
 * rule using it would match nothing (or, negated, everything), which is
 * never what was meant. A set file that could not be read is the loader's
 * error, not this one.
 */
import { setEntryCount } from '../../policy/set-file.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkEmptySets: Check = (context) => {
  const out = [];
  for (const item of context.document.items) {
    if (item.kind !== 'set') continue;
    const { source } = item;
    if (source.kind === 'dynamic') continue; // filled at run time
    if ((source.kind === 'file' ? (source.entries ? setEntryCount(source.entries) : 0) : source.elements.length) > 0) continue;
    if (item.source.kind === 'file' && item.source.resolvedPath === undefined) continue;
    const where = item.source.kind === 'file' ? ` (${item.source.path.value} has no entries)` : '';
    out.push(
      diagnostic(
        'empty-set',
        item.name.span,
        `set '@${item.name.name}' is empty${where}`,
        'a rule using an empty set matches nothing; add entries or remove the set',
      ),
    );
  }
  for (const item of context.document.items) {
    if (item.kind !== 'define' || item.value.kind !== 'list' || item.value.elements.length > 0) continue;
    out.push(
      diagnostic(
        'empty-set',
        item.value.span,
        `define '$${item.name.name}' is an empty list: a rule using it could never match`,
        'add values to the list or remove the define',
      ),
    );
  }
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'address-match' && match.kind !== 'port-match') continue;
      if (match.value.kind !== 'list' || match.value.elements.length > 0) continue;
      out.push(
        diagnostic(
          'empty-set',
          match.value.span,
          `'${match.direction} { }' is an empty list: the rule could never match`,
          'add values to the list or remove the match',
        ),
      );
    }
  }
  return out;
};
