/**
 * Which of a list of rules can match some packet of a region, without
 * trying each: for walks that run many regions through many rules (the
 * import proof runs tens of thousands of regions through a thousand rules,
 * and a region meets a handful).
 *
 * Per field, the values the rules name cut the field's range into
 * elementary intervals; a segment tree over them holds, per node, the
 * bitset of rules whose condition holds somewhere in its intervals. A rule
 * without a condition on the field (or with a negated one, which this
 * index does not look into) is in the field's `always` set. A region's
 * candidates are, field by field, the rules of the intervals its values
 * touch, ANDed over the fields: a rule meets a box only if it meets every
 * field of it, so no rule that meets the region is left out; a candidate
 * may still miss it (a negated condition, or values coarsened below).
 * select() computes them into a scratch bitset and next() reads it, so a
 * walk that tries regions by the ten thousand allocates nothing here.
 */
import type { IrRule } from '../ir.js';
import { CT_STATE_NAMES } from '../syntax/names.js';
import { conditionsOf, FIELDS, type FieldName, type Ranges, type Region, type Value } from './header-space.js';

/** A field whose region holds more intervals than this is looked up by its span, first to last value. */
const MAX_LOOKED_UP_INTERVALS = 8;

interface FieldIndex {
  /** Start of each elementary interval, sorted; the first is the field's lowest value. */
  starts: Value[];
  /** The field's highest value. */
  last: Value;
  /** Segment tree over the intervals: node k's bitset at words [k * width, (k + 1) * width); leaves from `leaves`. */
  tree: Uint32Array;
  leaves: number;
  /** Rules without a positive condition on the field: candidates whatever the value. */
  always: Uint32Array;
  /** Rules without any condition on the field: the only ones a region lacking the field can meet. */
  unconstrained: Uint32Array;
}

export class RuleIndex {
  private readonly fields: Record<FieldName, FieldIndex>;
  private readonly width: number;
  /** Scratch bitsets of candidates(): the walks call it for every region, and allocation was a third of its cost. */
  private readonly result: Uint32Array;
  private readonly field: Uint32Array;

  /** The rules of one family, by their position in `rules`. */
  constructor(
    readonly rules: readonly IrRule[],
    readonly family: 4 | 6,
  ) {
    this.width = Math.max(1, Math.ceil(rules.length / 32));
    this.result = new Uint32Array(this.width);
    this.field = new Uint32Array(this.width);
    this.fields = Object.fromEntries(FIELDS.map((name) => [name, this.buildField(name)])) as Record<FieldName, FieldIndex>;
  }

  /**
   * Selects the rules that may meet `region` (of this index's family), to
   * be read in order with next(); the selection lasts until the next call.
   */
  select(region: Region): void {
    const width = this.width;
    const { result, field } = this;
    result.fill(0xffffffff);
    for (const name of FIELDS) {
      const index = this.fields[name];
      const values = region.fields[name];
      if (values === null) {
        for (let w = 0; w < width; w++) result[w] &= index.unconstrained[w];
        continue;
      }
      // A region holding every value of the field selects every rule with it: nothing to AND.
      if (index.leaves === 1 || (values.starts.length === 1 && values.starts[0] === index.starts[0] && values.ends[0] === index.last))
        continue;
      field.set(index.always);
      const spans = values.starts.length > MAX_LOOKED_UP_INTERVALS ? 1 : values.starts.length;
      for (let i = 0; i < spans; i++) {
        const last = spans === 1 ? values.ends[values.ends.length - 1] : values.ends[i];
        this.orRange(index, intervalOf(index.starts, values.starts[i]), intervalOf(index.starts, last), field);
      }
      for (let w = 0; w < width; w++) result[w] &= field[w];
    }
  }

  /** The first selected position at or after `from`, or -1. */
  next(from: number): number {
    const { result, width } = this;
    for (let w = from >>> 5; w < width; w++) {
      // The bits below `from` in its own word are masked off.
      const bits = w === from >>> 5 ? result[w] & ~((1 << (from & 31)) - 1) : result[w];
      if (bits !== 0) return w * 32 + (31 - Math.clz32(bits & -bits));
    }
    return -1;
  }

  /** ORs the bitsets of elementary intervals first … last into `into`. */
  private orRange(index: FieldIndex, first: number, last: number, into: Uint32Array): void {
    const { tree, leaves } = index;
    const width = this.width;
    for (let low = first + leaves, high = last + leaves + 1; low < high; low >>= 1, high >>= 1) {
      if (low & 1) {
        for (let w = 0, at = low * width; w < width; w++) into[w] |= tree[at + w];
        low++;
      }
      if (high & 1) {
        high--;
        for (let w = 0, at = high * width; w < width; w++) into[w] |= tree[at + w];
      }
    }
  }

  private buildField(name: FieldName): FieldIndex {
    const width = this.width;
    const always = new Uint32Array(width);
    const unconstrained = new Uint32Array(width);
    const positive: { position: number; ranges: Ranges }[] = [];
    const set = (bits: Uint32Array, position: number, offset = 0) => {
      bits[offset + (position >>> 5)] |= 1 << (position & 31);
    };
    this.rules.forEach((rule, position) => {
      const conditions = conditionsOf(rule, this.family);
      if (!conditions) return;
      const condition = conditions[name];
      if (!condition) set(unconstrained, position);
      if (!condition || condition.negated) set(always, position);
      else positive.push({ position, ranges: condition.ranges });
    });
    const cuts = new Set<Value>([typeof FIELD_MAX[this.family][name] === 'bigint' ? 0n : 0]);
    for (const { ranges } of positive) {
      for (let i = 0; i < ranges.starts.length; i++) {
        cuts.add(ranges.starts[i]);
        cuts.add(typeof ranges.ends[i] === 'bigint' ? (ranges.ends[i] as bigint) + 1n : (ranges.ends[i] as number) + 1);
      }
    }
    const starts = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const leaves = starts.length;
    const tree = new Uint32Array(2 * leaves * width);
    for (const { position, ranges } of positive) {
      for (let i = 0; i < ranges.starts.length; i++) {
        const last = intervalOf(starts, ranges.ends[i]);
        for (let k = intervalOf(starts, ranges.starts[i]); k <= last; k++) set(tree, position, (leaves + k) * width);
      }
    }
    for (let node = leaves - 1; node >= 1; node--) {
      for (let w = 0; w < width; w++) tree[node * width + w] = tree[2 * node * width + w] | tree[(2 * node + 1) * width + w];
    }
    return { starts, last: FIELD_MAX[this.family][name], tree, leaves, always, unconstrained };
  }
}

/** Each field's highest value (header-space.ts's familySpace): ports 65535, addresses 2^32 - 1 or 2^128 - 1, bytes 255. */
const FIELD_MAX: Record<4 | 6, Record<FieldName, Value>> = {
  4: {
    protocol: 255,
    src: 2 ** 32 - 1,
    dst: 2 ** 32 - 1,
    sport: 65535,
    dport: 65535,
    tcpFlags: 255,
    icmpType: 255,
    ctState: CT_STATE_NAMES.length - 1,
  },
  6: {
    protocol: 255,
    src: (1n << 128n) - 1n,
    dst: (1n << 128n) - 1n,
    sport: 65535,
    dport: 65535,
    tcpFlags: 255,
    icmpType: 255,
    ctState: 3,
  },
};

/** The elementary interval holding `value`: the last start at or below it. */
function intervalOf(starts: readonly Value[], value: Value): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (starts[mid] <= value) low = mid;
    else high = mid - 1;
  }
  return low;
}
