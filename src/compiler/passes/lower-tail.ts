/**
 * Lowering of a rule's stateful tail (docs/DESIGN.md, "Rate limits and
 * dynamic sets"): its dynamic-set matches, its limit and its ban; the limit
 * ids of an interface; the dynamic sets it names. Call only on checked rules.
 */
import type { InterfaceBlock, LimitMatch, Rule } from '../../policy/ast.js';
import type { CheckContext } from '../context.js';
import type { IrDynamicSet, IrLimit, IrRule, IrTail } from '../ir.js';
import { BURST, dynamicSetSettings, isRateUnit } from '../rate-limits.js';
import { durationSeconds } from '../syntax/duration.js';
import { ruleTextWithoutRate } from '../syntax/print.js';

/** The rule's tail, or null; `families` are the rule's after its stateless matches. */
export function lowerTail(rule: Rule, context: CheckContext, families: IrRule['families']): IrTail | null {
  const tail: IrTail = { srcSet: null, dstSet: null, limit: null, ban: null };
  for (const match of rule.matches) {
    if (match.kind === 'address-match') {
      const set = context.dynamicSetOf(match.value);
      if (set !== undefined) tail[match.direction === 'src' ? 'srcSet' : 'dstSet'] = { set, negated: match.negated };
    } else if (match.kind === 'limit-match') {
      tail.limit = lowerLimit(match, families);
    }
  }
  if (rule.ban) {
    const set = rule.ban.set.name;
    const given = rule.ban.duration && durationSeconds(rule.ban.duration);
    const seconds = typeof given === 'number' ? given : dynamicSetTimeout(context, set)!;
    tail.ban = { set, seconds, origin: 0 }; // assignLimitIds() gives the origin
  }
  return tail.srcSet || tail.dstSet || tail.limit || tail.ban ? tail : null;
}

function dynamicSetTimeout(context: CheckContext, name: string): number | null {
  const source = context.sets.get(name)?.source;
  return source?.kind === 'dynamic' ? dynamicSetSettings(source).timeout : null;
}

/** The id is filled in by assignLimitIds, which sees the interface's other rules. */
function lowerLimit(match: LimitMatch, families: IrRule['families']): IrLimit {
  const unit = match.rate!.unit.name;
  if (!isRateUnit(unit)) throw new Error(`unchecked rate unit '${unit}'`);
  return {
    id: 0,
    over: match.over,
    rate: match.rate!.value.value,
    unit,
    burst: match.burst?.value ?? BURST.default,
    per: match.per
      ? {
          field: match.per.field,
          ...perLengths(
            match.per.lengths.map((l) => l.value),
            families,
          ),
        }
      : null,
  };
}

/** `/L4/L6` as given; one length is the rule's one family's (the checks refuse it on a rule of both); none is the whole address. */
function perLengths(lengths: number[], families: IrRule['families']): { length4: number; length6: number } {
  if (lengths.length === 2) return { length4: lengths[0]!, length6: lengths[1]! };
  if (lengths.length === 1) return families.ipv4 ? { length4: lengths[0]!, length6: 128 } : { length4: 32, length6: lengths[0]! };
  return { length4: 32, length6: 128 };
}

/**
 * Each limit's id: FNV-1a-32 of `interface NUL (name ?? text without rate
 * and burst)`, so a bucket survives an apply that changes the rate or moves
 * the rule. Rules of one interface whose texts hash alike (the same text, or
 * an FNV collision) get NUL and their occurrence number (2, 3, …) appended,
 * in rule order, until the id is unused. A ban's origin is the same id (a
 * rule that bans without a limit gets one too), which `xdpfw set list`
 * names the rule by.
 */
export function assignLimitIds(block: InterfaceBlock, rules: readonly Rule[], lowered: readonly IrRule[]): void {
  const used = new Set<number>();
  lowered.forEach((ir, i) => {
    const { limit, ban } = ir.tail ?? {};
    if (!limit && !ban) return;
    const base = `${block.name.name}\0${rules[i]!.name?.value ?? ruleTextWithoutRate(rules[i]!)}`;
    let id = fnv1a32(base);
    for (let n = 2; used.has(id); n++) id = fnv1a32(`${base}\0${n}`);
    used.add(id);
    if (limit) limit.id = id;
    if (ban) ban.origin = id;
  });
}

/** FNV-1a, 32 bits, over the text's UTF-8 bytes. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The dynamic sets an interface's rules name, matched or banned into, in the order they are first named. */
export function interfaceDynamicSets(rules: readonly IrRule[], context: CheckContext): IrDynamicSet[] {
  const names: string[] = [];
  const note = (name: string | undefined) => {
    if (name !== undefined && !names.includes(name)) names.push(name);
  };
  for (const { tail } of rules) {
    note(tail?.srcSet?.set);
    note(tail?.dstSet?.set);
    note(tail?.ban?.set);
  }
  return names.map((name) => {
    const source = context.sets.get(name)!.source;
    if (source.kind !== 'dynamic') throw new Error(`unchecked: set '@${name}' is not dynamic`);
    return { name, ...dynamicSetSettings(source) };
  });
}
