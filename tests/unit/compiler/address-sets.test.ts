/**
 * Point questions about address constraints: the prefix scan that answers
 * the first ones and the interval search that answers the rest agree, on
 * random nested prefix lists of both families and addresses at their edges.
 */
import { describe, expect, test } from 'vitest';
import {
  addressIntervals,
  addressValue,
  containsValue,
  prefixesContain,
  scanContains,
} from '../../../src/compiler/structures/address-sets.js';
import type { AddressConstraint, Prefix } from '../../../src/compiler/ir.js';
import { PrefixList } from '../../../src/compiler/structures/prefix-list.js';
import { Random, randomPrefix, toBytes, toValue } from '../../support/generate.js';

function prefixOf(text: string): Prefix {
  const [address, length] = text.split('/');
  const family = address.includes(':') ? 6 : 4;
  const value = family === 4 ? BigInt(address.split('.').reduce((v, b) => v * 256 + Number(b), 0)) : ipv6Value(address);
  return { family, bytes: toBytes(family, value), length: Number(length), text };
}

/** A prefix of any length near one address, so that lists nest and touch. */
function anyLength(r: Random, family: 4 | 6): Prefix {
  const bits = family === 4 ? 32 : 128;
  const length = r.int(0, bits);
  const base = family === 4 ? 0x0a000000n : 0x20010db8n << 96n;
  const value = (base | BigInt(r.int(0, 255)) | (BigInt(r.int(0, 3)) << BigInt(bits - 40))) & ~((1n << BigInt(bits - length)) - 1n);
  return { family, bytes: toBytes(family, value), length, text: `${value}/${length}` };
}

function ipv6Value(text: string): bigint {
  const [head, tail] = text.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => BigInt(parseInt(g, 16))) : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill(0n), ...t];
  return all.reduce((v, g) => (v << 16n) | g, 0n);
}

describe('point questions about an address constraint', () => {
  test('the prefix scan and the intervals agree at every prefix edge, IPv4 and IPv6', () => {
    let inside = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = new Random(40_000 + seed);
      const family = seed % 2 === 0 ? 4 : 6;
      // Half the lists from the policy generator (nested prefixes), half of any length 0..32 / 0..128.
      const prefixes = Array.from({ length: r.int(0, 12) }, () =>
        r.chance(0.5) ? prefixOf(randomPrefix(r, family)) : anyLength(r, family),
      );
      const list = PrefixList.of(prefixes);
      const constraint: AddressConstraint = { negated: false, prefixes: list, sets: [] };
      const bits = family === 4 ? 32 : 128;
      const probes: bigint[] = [0n, (1n << BigInt(bits)) - 1n];
      for (const p of prefixes) {
        const start = toValue(p.bytes);
        const size = 1n << BigInt(bits - p.length);
        probes.push(start, start + size - 1n, start - 1n, start + size);
      }
      const intervals = addressIntervals(constraint, family);
      for (const value of probes.filter((v) => v >= 0n && v < 1n << BigInt(bits))) {
        const bytes = toBytes(family, value);
        const want = containsValue(intervals, addressValue(family, bytes));
        expect(scanContains(list, family, bytes), `${prefixes.map((p) => p.text).join(' ')} ∋ ${value}`).toBe(want);
        if (want) inside++;
      }
    }
    expect(inside).toBeGreaterThan(500);
  });

  test('a constraint asked many times gets the same answers once its intervals are built', () => {
    const list = PrefixList.of(['2001:db8::/32', '2001:db8:1::5/128', '10.0.0.0/8'].map(prefixOf));
    const constraint: AddressConstraint = { negated: false, prefixes: list, sets: [] };
    const asks: [4 | 6, bigint, boolean][] = [
      [6, ipv6Value('2001:db8:ffff::1'), true],
      [6, ipv6Value('2001:db9::'), false],
      [4, BigInt(0x0a010203), true],
      [4, BigInt(0x0b000000), false],
    ];
    for (let round = 0; round < 10; round++) {
      for (const [family, value, want] of asks) expect(prefixesContain(constraint, family, toBytes(family, value))).toBe(want);
    }
  });
});
