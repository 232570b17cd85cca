/**
 * `no-rules` (warning): an interface block without rules; every packet gets
 * the default action. `no-interfaces` (warning): a policy without interface
 * blocks, which `apply` would apply nowhere.
 */
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

export const checkNoInterfaces: Check = (context) => {
  if (context.interfaces.length > 0) return [];
  const root = context.document.files[0];
  if (!root) return [];
  const at = { ...root.span, end: root.span.start };
  return [
    diagnostic('no-interfaces', at, `${root.span.file} has no interface block: it applies to no interface`, "add 'interface NAME { … }'"),
  ];
};
