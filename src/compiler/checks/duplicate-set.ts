/** `duplicate-set`: a second `set` with a name already taken (the first one is used). */
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

export const checkDuplicateSets: Check = (context) =>
  context.document.items.flatMap((item) => {
    if (item.kind !== 'set') return [];
    const first = context.sets.get(item.name.name);
    if (!first || first === item) return [];
    return [
      diagnostic(
        'duplicate-set',
        item.name.span,
        `set '@${item.name.name}' is already declared at ${location(first.name.span)}`,
        'rename one of them, or merge their entries into one set',
      ),
    ];
  });
