/** `duplicate-default`, `duplicate-mode`: more than one `default`, or more than one `mode`, in an interface. */
import { diagnostic, lineRef } from '../codes.js';
import type { Check } from '../context.js';
import type { DefaultStatement, ModeStatement } from '../../policy/ast.js';

type Single = DefaultStatement | ModeStatement;

/** How a statement that stands once per interface is named in the message. */
const written = (s: Single): string => (s.kind === 'default' ? `default ${s.action}` : `mode ${s.mode}`);

export const checkDuplicateDefaults: Check = (context) => {
  const out = [];
  for (const block of context.interfaces) {
    const first = new Map<Single['kind'], Single>();
    for (const statement of block.statements) {
      if (statement.kind === 'rule') continue;
      const earlier = first.get(statement.kind);
      if (!earlier) {
        first.set(statement.kind, statement);
        continue;
      }
      out.push(
        diagnostic(
          `duplicate-${statement.kind}`,
          statement.span,
          `interface '${block.name.name}' already has a ${statement.kind} (${written(earlier)}, ${lineRef(earlier.span, statement.span)})`,
          `keep one ${statement.kind} statement`,
        ),
      );
    }
  }
  return out;
};
