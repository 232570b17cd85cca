/** `duplicate-default`: more than one `default` in an interface. */
import { diagnostic, lineRef } from '../codes.js';
import type { Check } from '../context.js';
import type { DefaultStatement } from '../../policy/ast.js';

export const checkDuplicateDefaults: Check = (context) => {
  const out = [];
  for (const block of context.interfaces) {
    let first: DefaultStatement | undefined;
    for (const statement of block.statements) {
      if (statement.kind !== 'default') continue;
      if (!first) {
        first = statement;
        continue;
      }
      out.push(
        diagnostic(
          'duplicate-default',
          statement.span,
          `interface '${block.name.name}' already has a default (default ${first.action}, ${lineRef(first.span, statement.span)})`,
          'keep one default statement',
        ),
      );
    }
  }
  return out;
};
