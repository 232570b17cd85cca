/** `duplicate-interface`: two `interface` blocks for the same interface. */
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';
import type { InterfaceBlock } from '../../policy/ast.js';

export const checkDuplicateInterfaces: Check = (context) => {
  const seen = new Map<string, InterfaceBlock>();
  const out = [];
  for (const block of context.interfaces) {
    const first = seen.get(block.name.name);
    if (!first) {
      seen.set(block.name.name, block);
      continue;
    }
    out.push(
      diagnostic(
        'duplicate-interface',
        block.name.span,
        `interface '${block.name.name}' is already declared at ${location(first.name.span)}`,
        'an interface has one policy: merge the two blocks',
      ),
    );
  }
  return out;
};
