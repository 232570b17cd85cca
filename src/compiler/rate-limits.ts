/**
 * Rate limits and dynamic sets (docs/DESIGN.md, "Rate limits and dynamic
 * sets"; docs/language.md lists them): the units, the defaults and ranges of
 * `limit`, of `set NAME dynamic` and of the `limits { … }` block — the one
 * place they are written. The checks validate against these; lowering fills
 * in what a policy leaves out.
 */
import type { DynamicSetSource, LimitsBlock, SettingOption } from '../policy/ast.js';
import { durationSeconds } from './syntax/duration.js';

/** Nanoseconds per unit of a rate. */
export const RATE_UNITS = { second: 1_000_000_000n, minute: 60_000_000_000n, hour: 3_600_000_000_000n } as const;
export type RateUnit = keyof typeof RATE_UNITS;
export const RATE_UNIT_NAMES = Object.keys(RATE_UNITS) as RateUnit[];

export function isRateUnit(name: string): name is RateUnit {
  return Object.hasOwn(RATE_UNITS, name);
}

/**
 * Packets a unit: at most one a nanosecond a second (a cost of 1 ns), the
 * same bound for every unit so the message reads the same.
 */
export const RATE = { min: 1, max: 1_000_000_000 } as const;
/** Packets a bucket holds: 5 as in nftables; at most a million, so burst × cost fits 63 bits at 1/hour. */
export const BURST = { default: 5, min: 1, max: 1_000_000 } as const;
/** Buckets in the host's meter table, and entries of a dynamic set's trie. */
export const LIMITS_SIZE = { default: 65_536, min: 1024, max: 16_777_216 } as const;
export const DYNAMIC_SET_SIZE = { default: 65_536, min: 1, max: 16_777_216 } as const;

export const LIMITS_OPTION_NAMES = ['size'] as const;
export const DYNAMIC_SET_OPTION_NAMES = ['timeout', 'size'] as const;

/** The settings of a checked `set NAME dynamic`: timeout in seconds (null: until deleted) and size. */
export function dynamicSetSettings(source: DynamicSetSource): { timeout: number | null; size: number } {
  const settings: { timeout: number | null; size: number } = { timeout: null, size: DYNAMIC_SET_SIZE.default };
  for (const option of firstOfEach(source.options)) {
    if (option.name.name === 'timeout') {
      const seconds = durationSeconds(option.value);
      if (typeof seconds === 'number') settings.timeout = seconds;
    } else if (option.name.name === 'size' && option.value.kind === 'number') {
      settings.size = option.value.value;
    }
  }
  return settings;
}

/** The meter table's size from a checked `limits { … }` block (or the default). */
export function limitsSize(block: LimitsBlock | undefined): number {
  const size = firstOfEach(block?.options ?? []).find((o) => o.name.name === 'size');
  return size?.value.kind === 'number' ? size.value.value : LIMITS_SIZE.default;
}

function firstOfEach(options: readonly SettingOption[]): SettingOption[] {
  const seen = new Set<string>();
  return options.filter((o) => !seen.has(o.name.name) && seen.add(o.name.name));
}
