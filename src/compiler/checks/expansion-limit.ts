/**
 * `expansion-limit`: a define, a set or a match's value that stands for more
 * than MAX_EXPANDED_ELEMENTS elements once its defines and sets are
 * expanded (limits.ts). Counted before anything is expanded, so a few lines
 * of nested defines fail at once instead of filling memory. Reported where
 * the limit is first passed: what names an oversized define is not reported
 * again.
 */
import type { AddressElement, DefineValue } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { CheckContext, Check } from '../context.js';
import { MAX_EXPANDED_ELEMENTS } from '../limits.js';

export const checkExpansionLimits: Check = (context) => {
  const out: Diagnostic[] = [];
  const hint = 'a define or set is copied wherever it is named; name the large part once, or split it';
  for (const item of context.document.items) {
    if (item.kind !== 'define' && item.kind !== 'set') continue;
    const key = (item.kind === 'set' ? '@' : '$') + item.name.name;
    if ((item.kind === 'set' ? context.sets : context.defines).get(item.name.name) !== item) continue;
    if (!context.tooLarge(key) || namesTooLarge(context, item.kind === 'set' ? item.source : item.value)) continue;
    const size = context.expansionSize(key);
    const message = `${item.kind} '${key}' expands to ${count(size)} elements, more than the ${count(MAX_EXPANDED_ELEMENTS)} allowed`;
    out.push(diagnostic('expansion-limit', item.name.span, message, hint));
  }
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'address-match' && match.kind !== 'port-match') continue;
      const size = context.valueSize(match.value);
      if (size <= MAX_EXPANDED_ELEMENTS || namesTooLarge(context, match.value)) continue;
      const message = `'${match.direction}' expands to ${count(size)} elements, more than the ${count(MAX_EXPANDED_ELEMENTS)} allowed`;
      out.push(diagnostic('expansion-limit', match.value.span, message, hint));
    }
  }
  return out;
};

/** Whether a value names a define or set that is itself too large (reported at its own declaration). */
function namesTooLarge(
  context: CheckContext,
  value: DefineValue | { kind: 'inline'; elements: readonly AddressElement[] } | { kind: 'file' } | { kind: 'dynamic' },
): boolean {
  if (value.kind === 'file' || value.kind === 'dynamic') return false;
  const elements: readonly (DefineValue | AddressElement)[] = value.kind === 'list' || value.kind === 'inline' ? value.elements : [value];
  return elements.some(
    (e) =>
      (e.kind === 'define-ref' && context.defines.has(e.name) && context.tooLarge(`$${e.name}`)) ||
      (e.kind === 'set-ref' && context.sets.has(e.name) && context.tooLarge(`@${e.name}`)),
  );
}

/** 4194304 → "4,194,304". */
function count(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : 'more than 2^1024';
}
