/** `unknown-define`: `$name` that no `define` declares, with a did-you-mean. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { suggest } from '../../policy/format.js';

export const checkUnknownDefines: Check = (context) => {
  const names = [...context.defines.keys()];
  const out = [];
  for (const { reference } of context.references()) {
    if (reference.kind !== 'define-ref' || context.defines.has(reference.name)) continue;
    const guess = suggest(reference.name, names);
    const message = `unknown define '$${reference.name}'${guess ? ` (did you mean '$${guess}'?)` : ''}`;
    const hint = names.length > 0 ? undefined : 'declare it with: define NAME = …';
    out.push(diagnostic('unknown-define', reference.span, message, hint));
  }
  return out;
};
