/**
 * What the data plane's tail loop bounds (docs/DESIGN.md, "Rate limits and
 * dynamic sets"): `too-many-tails`, more than MAX_TAIL_RULES rules of an
 * interface with a dynamic set, a limit, a ban or `audit`; `too-many-dynamic-sets`,
 * more than MAX_DYNSETS dynamic sets named by one interface's rules.
 */
import type { Rule } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { MAX_DYNSETS, MAX_TAIL_RULES } from '../../contract/kernel.js';
import { diagnostic } from '../codes.js';
import type { Check, CheckContext } from '../context.js';

export const checkTailCounts: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const block of context.interfaces) {
    const rules = block.statements.filter((s): s is Rule => s.kind === 'rule');
    const tails = rules.filter((rule) => hasTail(rule, context));
    if (tails.length > MAX_TAIL_RULES) {
      out.push(
        diagnostic(
          'too-many-tails',
          tails[MAX_TAIL_RULES]!.span,
          `interface '${block.name.name}' has ${tails.length} rules with a dynamic set, a limit, a ban or audit; at most ${MAX_TAIL_RULES} are supported (this is the ${MAX_TAIL_RULES + 1}th)`,
          'the data plane checks these one by one: merge rules that share a limit, or put their addresses in one set',
        ),
      );
    }
    const named = new Set<string>();
    for (const rule of rules) {
      for (const reference of dynamicSetReferences(rule, context)) {
        if (named.has(reference.name)) continue;
        named.add(reference.name);
        if (named.size !== MAX_DYNSETS + 1) continue;
        out.push(
          diagnostic(
            'too-many-dynamic-sets',
            reference.span,
            `interface '${block.name.name}' names more than ${MAX_DYNSETS} dynamic sets (this is the ${MAX_DYNSETS + 1}th)`,
            'ban into fewer sets: one set can hold the bans of many rules',
          ),
        );
      }
    }
  }
  return out;
};

function hasTail(rule: Rule, context: CheckContext): boolean {
  return (
    rule.audit !== undefined ||
    rule.ban !== undefined ||
    rule.matches.some((m) => m.kind === 'limit-match') ||
    dynamicSetReferences(rule, context).length > 0
  );
}

/** The dynamic sets a rule names, as matched alone and banned into, in the order written. */
function dynamicSetReferences(rule: Rule, context: CheckContext): { name: string; span: Rule['span'] }[] {
  const out: { name: string; span: Rule['span'] }[] = [];
  for (const match of rule.matches) {
    if (match.kind === 'address-match' && context.dynamicSetOf(match.value) !== undefined) {
      out.push({ name: context.dynamicSetOf(match.value)!, span: match.value.span });
    }
  }
  if (rule.ban && context.isDynamicSet(rule.ban.set.name)) out.push({ name: rule.ban.set.name, span: rule.ban.set.span });
  return out;
}
