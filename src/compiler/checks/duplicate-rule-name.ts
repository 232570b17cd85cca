/** `duplicate-rule-name`: two rules of one interface named alike (names identify counters). */
import { diagnostic, lineRef } from '../codes.js';
import type { Check } from '../context.js';
import type { Rule } from '../../policy/ast.js';

export const checkDuplicateRuleNames: Check = (context) => {
  const out = [];
  for (const block of context.interfaces) {
    const seen = new Map<string, Rule>();
    for (const statement of block.statements) {
      if (statement.kind !== 'rule' || !statement.name) continue;
      const name = statement.name.value;
      const first = seen.get(name);
      if (!first) {
        seen.set(name, statement);
        continue;
      }
      out.push(
        diagnostic(
          'duplicate-rule-name',
          statement.name.span,
          `rule name "${name}" is already used in interface '${block.name.name}' (${lineRef(first.span, statement.span)})`,
          'rule names identify counters and must be unique within an interface',
        ),
      );
    }
  }
  return out;
};
