import { describe, expect, it } from 'vitest';

import type { InterfaceStats } from '../../../src/app/counters.js';
import { totalsOf } from '../../../src/app/counters.js';
import type { AppliedState } from '../../../src/app/state.js';
import { renderStats, statsLine } from '../../../src/cli/commands/stats.js';
import { json, jsonText } from '../../../src/cli/io.js';

const HUGE = 2n ** 60n + 1n; // 1152921504606846977: a double would say ...976
const BASE = 2n ** 53n + 1n; // the first integer a double cannot hold

/** An interface's totals the way `xdpfw stats` builds them: kernel counters plus the state's carried bases. */
function stats(): InterfaceStats {
  const state = {
    policyHash: 'ab'.repeat(32),
    defaultAction: 'drop',
    attachedSince: '2026-01-01T00:00:00.000Z',
    rules: [
      {
        id: 'big',
        name: 'big',
        action: 'drop',
        text: 'drop udp',
        index: 0,
        location: 'p.xdpfw:3:3',
        base: { packets: '0', bytes: BASE.toString() },
      },
    ],
    counterBase: { default: { packets: '1', bytes: '1' } },
  } as unknown as AppliedState;
  const zero = { packets: 0n, bytes: 0n };
  return totalsOf('eth0', state, {
    rules: [{ packets: HUGE, bytes: 1n }],
    global: {
      default: { packets: HUGE, bytes: HUGE },
      malformed: zero,
      nonIp: zero,
      fragment: zero,
      rejectSent: zero,
      rejectSuppressed: zero,
      wouldDrop: zero,
    },
  } as never);
}

describe('counters above 2^53 keep every digit', () => {
  it('stats --json writes them as exact JSON numbers', () => {
    const chunks: string[] = [];
    json({ stdout: { write: (c: string) => chunks.push(c) }, stderr: { write: () => undefined } }, { interfaces: [stats()] });
    const text = chunks.join('');
    expect(text).toContain('"packets": 1152921504606846977');
    expect(text).toContain('"bytes": 9007199254740994'); // 1 counted + the carried 2^53 + 1
    expect(text).toContain('"packets": 1152921504606846978'); // the default: 2^60 + 1 and a base of 1
    expect(text).not.toMatch(/"\d+"/); // numbers, never strings
  });

  it('stats --watch --json writes one compact line with exact numbers', () => {
    const line = statsLine([stats()], new Date('2026-01-02T03:04:05.678Z'));
    expect(line).not.toContain('\n');
    expect(line.startsWith('{"at":"2026-01-02T03:04:05.678Z","interfaces":[{"name":"eth0"')).toBe(true);
    expect(line).toContain('"since":null,"packets":1152921504606846977,"bytes":9007199254740994,"overLimit":null}');
    // A reader that parses into doubles still gets a number (rounded by itself, not by us).
    expect(typeof (JSON.parse(line) as { interfaces: { rules: { packets: unknown }[] }[] }).interfaces[0].rules[0].packets).toBe('number');
  });

  it('the human table prints exact figures', () => {
    const text = renderStats([stats()], undefined, 1);
    expect(text).toContain('1,152,921,504,606,846,977');
    expect(text).toContain('9,007,199,254,740,994');
    expect(text).toContain('1,152,921,504,606,846,978');
  });

  it('a string that looks like a marked bigint stays a string', () => {
    expect(jsonText({ n: 5n, s: 'bigint-00:5', neg: -(2n ** 70n) })).toBe('{"n":5,"s":"bigint-00:5","neg":-1180591620717411303424}');
  });
});
