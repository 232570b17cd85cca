/** `no-rules` (warning): an interface block without rules; every packet gets the default action. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkNoRules: Check = (context) =>
  context.interfaces.flatMap((block) => {
    if (block.statements.some((s) => s.kind === 'rule')) return [];
    const fallback = block.statements.find((s) => s.kind === 'default');
    const action = fallback?.kind === 'default' ? fallback.action : 'allow';
    return [
      diagnostic(
        'no-rules',
        block.name.span,
        `interface '${block.name.name}' has no rules: every packet gets the default action (${action})`,
      ),
    ];
  });
