/**
 * `define-cycle`: defines and sets that refer to themselves, directly or
 * through each other (`define a = $b`, `define b = $a`; `set s { @s }`).
 * Reported once per cycle, at the reference that closes it.
 */
import type { DefineReference, SetReference } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkDefineCycles: Check = (context) => {
  const edges = new Map<string, (SetReference | DefineReference)[]>();
  for (const { owner, declaration, reference } of context.references()) {
    if (!owner || !declaration) continue;
    // Only the declaration in use (the first of duplicates) has edges.
    const inUse = declaration.kind === 'set' ? context.sets : context.defines;
    if (inUse.get(declaration.name.name) !== declaration) continue;
    edges.set(owner, [...(edges.get(owner) ?? []), reference]);
  }
  const out: Diagnostic[] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    stack.push(node);
    for (const reference of edges.get(node) ?? []) {
      const target = (reference.kind === 'set-ref' ? '@' : '$') + reference.name;
      const at = stack.indexOf(target);
      if (at >= 0) {
        const path = [...stack.slice(at), target].join(' → ');
        const what = target.startsWith('$') ? 'define' : 'set';
        out.push(diagnostic('define-cycle', reference.span, `${what} '${target}' refers to itself: ${path}`, 'break the cycle'));
      } else if (!done.has(target)) {
        visit(target);
      }
    }
    stack.pop();
    done.add(node);
  };
  for (const item of context.document.items) {
    if (item.kind !== 'define' && item.kind !== 'set') continue;
    const node = (item.kind === 'set' ? '@' : '$') + item.name.name;
    if (!done.has(node)) visit(node);
  }
  return out;
};
