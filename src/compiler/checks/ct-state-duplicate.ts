/**
 * `duplicate-ct-state` (warning): `ct state new,new`. The rule means the
 * same with one of them, so it is only a warning; a slip for another state
 * (`established,established` for `established,related`) is what it catches.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkCtStateDuplicates: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'ct-state-match') continue;
      const seen = new Set<string>();
      for (const state of match.states) {
        if (!seen.has(state.name)) {
          seen.add(state.name);
          continue;
        }
        out.push(diagnostic('duplicate-ct-state', state.span, `connection state '${state.name}' is listed twice`, 'remove one of them'));
      }
    }
  }
  return out;
};
