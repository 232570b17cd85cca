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
    const references = edges.get(owner);
    if (references) references.push(reference);
    else edges.set(owner, [reference]);
  }
  const out: Diagnostic[] = [];
  const done = new Set<string>();
  // Depth first with a stack of its own: a chain of thousands of defines
  // would overflow the call stack. `path` is the chain from the walk's start
  // to the node on top; `onPath` finds a node's place in it.
  const path: { node: string; next: number }[] = [];
  const onPath = new Map<string, number>();
  const enter = (node: string): void => {
    onPath.set(node, path.length);
    path.push({ node, next: 0 });
  };
  for (const item of context.document.items) {
    if (item.kind !== 'define' && item.kind !== 'set') continue;
    const start = (item.kind === 'set' ? '@' : '$') + item.name.name;
    if (done.has(start)) continue;
    enter(start);
    while (path.length > 0) {
      const top = path[path.length - 1]!;
      const reference = edges.get(top.node)?.[top.next++];
      if (reference === undefined) {
        path.pop();
        onPath.delete(top.node);
        done.add(top.node);
        continue;
      }
      const target = (reference.kind === 'set-ref' ? '@' : '$') + reference.name;
      const at = onPath.get(target);
      if (at !== undefined) {
        const loop = describeLoop([...path.slice(at).map((p) => p.node), target]);
        const what = target.startsWith('$') ? 'define' : 'set';
        out.push(diagnostic('define-cycle', reference.span, `${what} '${target}' refers to itself: ${loop}`, 'break the cycle'));
      } else if (!done.has(target)) {
        enter(target);
      }
    }
  }
  return out;
};

/** `$a → $b → $a`; a loop through thousands of names shows its ends. */
function describeLoop(nodes: string[]): string {
  if (nodes.length <= 12) return nodes.join(' → ');
  return [...nodes.slice(0, 6), `… (${nodes.length - 10} more)`, ...nodes.slice(-4)].join(' → ');
}
