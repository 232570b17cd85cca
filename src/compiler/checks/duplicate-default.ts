/** `duplicate-default`, `duplicate-mode`: more than one `default`, or more than one `mode`, in an interface. */
import { diagnostic, lineRef } from '../codes.js';
import type { Check } from '../context.js';
import type { DefaultStatement, ModeStatement } from '../../policy/ast.js';

export const checkDuplicateDefaults: Check = (context) => {
  const out = [];
  for (const block of context.interfaces) {
    let fallback: DefaultStatement | undefined;
    let mode: ModeStatement | undefined;
    for (const statement of block.statements) {
      if (statement.kind === 'default') {
        if (fallback)
          out.push(
            diagnostic(
              'duplicate-default',
              statement.span,
              `interface '${block.name.name}' already has a default (default ${fallback.action}, ${lineRef(fallback.span, statement.span)})`,
              'keep one default statement',
            ),
          );
        else fallback = statement;
      } else if (statement.kind === 'mode') {
        if (mode)
          out.push(
            diagnostic(
              'duplicate-mode',
              statement.span,
              `interface '${block.name.name}' already has a mode (mode ${mode.mode}, ${lineRef(mode.span, statement.span)})`,
              'keep one mode statement',
            ),
          );
        else mode = statement;
      }
    }
  }
  return out;
};
