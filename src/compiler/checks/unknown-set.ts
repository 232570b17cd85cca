/** `unknown-set`: `@name` that no `set` declares, with a did-you-mean. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { suggest } from '../../policy/format.js';

export const checkUnknownSets: Check = (context) => {
  const names = [...context.sets.keys()];
  const out = [];
  for (const { reference } of context.references()) {
    if (reference.kind !== 'set-ref' || context.sets.has(reference.name)) continue;
    const guess = suggest(reference.name, names);
    const message = `unknown set '@${reference.name}'${guess ? ` (did you mean '@${guess}'?)` : ''}`;
    const hint = names.length > 0 ? undefined : 'declare it with: set NAME { … } or set NAME from "file"';
    out.push(diagnostic('unknown-set', reference.span, message, hint));
  }
  return out;
};
