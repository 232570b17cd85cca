/** `duplicate-define`: a second `define` with a name already taken (the first one is used). */
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

export const checkDuplicateDefines: Check = (context) =>
  context.document.items.flatMap((item) => {
    if (item.kind !== 'define') return [];
    const first = context.defines.get(item.name.name);
    if (!first || first === item) return [];
    return [
      diagnostic(
        'duplicate-define',
        item.name.span,
        `define '$${item.name.name}' is already declared at ${location(first.name.span)}`,
        'rename one of them',
      ),
    ];
  });
