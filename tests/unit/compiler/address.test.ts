/**
 * Address literals: the IPv4 fast path and the general path (ipaddr.js)
 * agree, texts are canonical, and malformed input is rejected with a reason.
 */
import ipaddr from 'ipaddr.js';
import { describe, expect, test } from 'vitest';
import { isAddressError, parseAddress } from '../../../src/compiler/address.js';
import { sortUniquePrefixes } from '../../../src/compiler/prefixes.js';
import type { Prefix } from '../../../src/compiler/ir.js';
import { Random } from './random-policy.js';

describe('address literals', () => {
  test('IPv4 addresses and CIDRs parse like ipaddr.js says, host bits and all', () => {
    const r = new Random(3);
    for (let k = 0; k < 5000; k++) {
      const octets = Array.from({ length: 4 }, () => r.pick([0, 1, 10, 127, 128, 255, r.int(0, 255)]));
      const length = r.pick([undefined, 0, 1, 7, 8, 16, 24, 31, 32, r.int(0, 32)]);
      const text = length === undefined ? octets.join('.') : `${octets.join('.')}/${length}`;
      const parsed = parseAddress(text);
      const network = ipaddr.IPv4.networkAddressFromCIDR(`${octets.join('.')}/${length ?? 32}`).toString();
      if (network !== octets.join('.')) {
        expect(isAddressError(parsed) && parsed.message, text).toBe(`${text} has host bits set; did you mean ${network}/${length}?`);
      } else {
        expect(parsed, text).toEqual({ family: 4, bytes: octets, length: length ?? 32, text: `${network}/${length ?? 32}` });
      }
    }
  });

  test('IPv6 is canonical (RFC 5952) and single addresses are /128', () => {
    expect(parseAddress('2001:DB8:0:0::1')).toMatchObject({ family: 6, length: 128, text: '2001:db8::1/128' });
    expect(parseAddress('::/0')).toMatchObject({ family: 6, length: 0, text: '::/0', bytes: new Array(16).fill(0) });
    expect(parseAddress('::ffff:192.0.2.1')).toMatchObject({ family: 6, text: '::ffff:c000:201/128' });
  });

  test.each([
    ['010.0.0.1', "invalid address '010.0.0.1'"],
    ['1.2.3', "invalid address '1.2.3'"],
    ['1.2.3.4.5', "invalid address '1.2.3.4.5'"],
    ['256.0.0.0', "invalid address '256.0.0.0'"],
    ['1.2.3.4/', "invalid prefix length '/' in '1.2.3.4/'"],
    ['1.2.3.4/08', "invalid prefix length '/08' in '1.2.3.4/08'"],
    ['1.2.3.0/24/1', "invalid prefix length '/24/1' in '1.2.3.0/24/1'"],
    ['2001:db8::/129', "invalid prefix length '/129' in '2001:db8::/129'"],
    ['2001:db8:::1', "invalid address '2001:db8:::1'"],
    ['fe80::1%eth0', "invalid address 'fe80::1%eth0'"],
  ])('%s is rejected: %s', (text, message) => {
    const parsed = parseAddress(text);
    expect(isAddressError(parsed) && parsed.message).toBe(message);
  });
});

describe('prefix order', () => {
  test('sorting is by family, address, length, without duplicates, for small and large lists', () => {
    const r = new Random(9);
    for (const size of [10, 5000]) {
      const texts = Array.from({ length: size }, () =>
        r.chance(0.2)
          ? `2001:db8:${r.int(0, 9)}::/${r.pick([48, 64])}`
          : r.pick([`10.${r.int(0, 9)}.${r.int(0, 3)}.0/24`, `10.${r.int(0, 9)}.0.0/16`, `10.${r.int(0, 9)}.0.${r.int(0, 3)}`]),
      );
      const parsed = texts.map((t) => parseAddress(t)) as Prefix[];
      const sorted = sortUniquePrefixes(parsed);
      const key = (p: Prefix) => `${p.family}|${p.bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}|${String(p.length).padStart(3, '0')}`;
      const expected = [...new Set(parsed.map(key))].sort();
      expect(sorted.map(key)).toEqual(expected);
    }
  });

  test('a list that is already sorted and unique comes back as it is', () => {
    const sorted = Array.from({ length: 5000 }, (_, i) => parseAddress(`10.${i >> 8}.${i & 255}.0/24`) as Prefix);
    expect(sortUniquePrefixes(sorted)).toBe(sorted);
  });
});
