/** `too-many-rules`: more rules in an interface than the data plane's bit vectors hold. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { MAX_RULES } from '../../contract/kernel.js';

export const checkRuleCount: Check = (context) => {
  const out = [];
  for (const block of context.interfaces) {
    const rules = block.statements.filter((s) => s.kind === 'rule');
    if (rules.length <= MAX_RULES) continue;
    out.push(
      diagnostic(
        'too-many-rules',
        rules[MAX_RULES].span,
        `interface '${block.name.name}' has ${rules.length} rules; at most ${MAX_RULES} are supported (this is rule ${MAX_RULES + 1})`,
        'merge rules that differ only in addresses or ports into one rule with a set or a list',
      ),
    );
  }
  return out;
};
