/**
 * The stateful tails of an interface as the data plane gets them
 * (output.ts RuleTail): set names become indices into the interface's
 * dynamic sets, rates become nanosecond costs.
 */
import type { IrInterface, IrLimit, IrTail } from '../ir.js';
import type { CompiledDynamicSet, CompiledLimit, RuleTail } from '../output.js';
import { RATE_UNITS } from '../rate-limits.js';

export function compileTails(ir: IrInterface): { tails: (RuleTail | null)[]; dynamicSets: CompiledDynamicSet[] } {
  const index = new Map(ir.dynamicSets.map((set, i) => [set.name, i]));
  const setIndex = (name: string) => index.get(name)!;
  return {
    tails: ir.rules.map((rule) => {
      // An audit rule goes through the tail loop even without a condition: that is where it is counted and passed over.
      if (rule.audit) return { ...(rule.tail ? compileTail(rule.tail, setIndex) : NO_CONDITION), audit: true };
      return rule.tail && compileTail(rule.tail, setIndex);
    }),
    dynamicSets: ir.dynamicSets.map((set) => ({ name: set.name, timeout: set.timeout, size: set.size })),
  };
}

const NO_CONDITION: RuleTail = { srcSet: null, dstSet: null, limit: null, ban: null };

function compileTail(tail: IrTail, setIndex: (name: string) => number): RuleTail {
  const condition = (c: IrTail['srcSet']) => c && { set: setIndex(c.set), negated: c.negated };
  return {
    srcSet: condition(tail.srcSet),
    dstSet: condition(tail.dstSet),
    limit: tail.limit && compileLimit(tail.limit),
    ban: tail.ban && { set: setIndex(tail.ban.set), seconds: tail.ban.seconds, origin: tail.ban.origin },
  };
}

/** A packet costs unit / rate nanoseconds of tokens, rounded down; the bucket holds burst of them. */
export function compileLimit(limit: IrLimit): CompiledLimit {
  const costNs = RATE_UNITS[limit.unit] / BigInt(limit.rate);
  return {
    id: limit.id,
    over: limit.over,
    rate: limit.rate,
    unit: limit.unit,
    burst: limit.burst,
    costNs,
    capacityNs: BigInt(limit.burst) * costNs,
    per: limit.per && { ...limit.per },
  };
}
