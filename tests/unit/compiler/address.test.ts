/**
 * Address literals: the IPv4 fast path and the general path (ipaddr.js)
 * agree, texts are canonical, and malformed input is rejected with a reason.
 */
import ipaddr from 'ipaddr.js';
import { describe, expect, test } from 'vitest';
import { addAddress, isAddressError, parseAddress } from '../../../src/compiler/structures/address.js';
import { ipv6Order, PrefixBuilder, PrefixList } from '../../../src/compiler/structures/prefix-list.js';
import type { Prefix } from '../../../src/compiler/ir.js';
import { Random } from '../../support/generate.js';

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

  test('the set-file path (straight into columns) agrees with parseAddress on every form, valid or not', () => {
    const r = new Random(11);
    const texts = [
      '::',
      '::/0',
      ':::',
      '1::2::3',
      '12345::',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::8',
      'g::1',
      '1:',
      ':1::',
      '1:2:3:4:5:6:7::',
      '::1:2:3:4:5:6:7',
      '2001:db8::/032',
      '2001:db8::/129',
      '2001:db8::/',
      '2001:db8::1%eth0',
      '::ffff:1.2.3.4',
      '1.2.3.4',
      '01.2.3.4',
      '1.2.3.4/33',
      '1.2.3.4/0',
      '0.0.0.0/0',
      '1.2.3.0/24',
      '1.2.3.4/',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
    ];
    for (let k = 0; k < 3000; k++) {
      const groups = Array.from({ length: 8 }, () => r.pick([0, 0, 1, 0xdb8, 0xffff, r.int(0, 0xffff)]));
      const length = r.pick([undefined, 0, 32, 48, 64, 127, 128, r.int(0, 128)]);
      const bytes = groups.flatMap((g) => [g >> 8, g & 255]);
      const address = ipaddr.fromByteArray(bytes) as ipaddr.IPv6;
      const forms = [
        address.toString(),
        address.toNormalizedString(),
        groups.map((g) => g.toString(16).padStart(4, '0')).join(':'),
        address.toString().toUpperCase(),
      ];
      const form = r.pick(forms);
      texts.push(length === undefined ? form : `${form}/${length}`);
    }
    for (const text of texts) {
      const builder = new PrefixBuilder();
      const error = addAddress(builder, `  ${text}  `, 2, 2 + text.length);
      const parsed = parseAddress(text);
      if (isAddressError(parsed)) {
        expect(error, text).toEqual(parsed);
      } else {
        expect(error, text).toBeUndefined();
        expect(builder.build().at(0), text).toEqual(parsed);
      }
    }
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
    // 20,000: well over the 4,096 IPv4 prefixes where the radix sort takes over.
    for (const size of [10, 5000, 20_000]) {
      const texts = Array.from({ length: size }, () =>
        r.chance(0.2)
          ? `2001:db8:${r.int(0, 9)}::/${r.pick([48, 64])}`
          : r.pick([
              `10.${r.int(0, 9)}.${r.int(0, 3)}.0/24`,
              `10.${r.int(0, 9)}.0.0/16`,
              `10.${r.int(0, 9)}.0.${r.int(0, 3)}`,
              `${r.int(1, 3) * 64}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}`,
              `${r.int(1, 3) * 64}.${2 * r.int(0, 127)}.0.0/15`,
            ]),
      );
      const parsed = texts.map((t) => parseAddress(t)) as Prefix[];
      const sorted = PrefixList.of(parsed).toArray();
      const key = (p: Prefix) =>
        `${p.family}|${p.bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}|${String(p.length).padStart(3, '0')}`;
      const expected = [...new Set(parsed.map(key))].sort();
      expect(sorted.map(key)).toEqual(expected);
    }
  });

  test('IPv6 prefixes come in (address, length, index) order, whatever bits differ; sorted input as it is', () => {
    const r = new Random(11);
    // Words 0-1 shared by half, duplicates, every length.
    const n = 12_000;
    const words = new Uint32Array(4 * n);
    const length = new Uint8Array(n);
    const word = () => r.pick([0, 0xffffffff, 0x80000000, r.int(0, 0xffff) * 0x10000 + r.int(0, 0xffff)]);
    for (let i = 0; i < n; i++) {
      const copy = i > 0 && r.chance(0.1) ? r.int(0, i - 1) : -1;
      for (let w = 0; w < 4; w++) words[4 * i + w] = copy >= 0 ? words[4 * copy + w] : w < 2 && r.chance(0.5) ? [0x20010db8, 0][w] : word();
      length[i] = copy >= 0 && r.chance(0.5) ? length[copy] : r.int(0, 128);
    }
    const keys = { words, length };
    const reference = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      for (let w = 0; w < 4; w++) if (words[4 * a + w] !== words[4 * b + w]) return words[4 * a + w] - words[4 * b + w];
      return length[a] - length[b] || a - b;
    });
    expect([...ipv6Order(keys)]).toEqual(reference);
    const sorted = { words: new Uint32Array(4 * n), length: new Uint8Array(n) };
    reference.forEach((i, k) => {
      sorted.words.set(words.subarray(4 * i, 4 * i + 4), 4 * k);
      sorted.length[k] = length[i];
    });
    expect([...ipv6Order(sorted)]).toEqual(reference.map((_, k) => k));
  });

  test('columns that are already sorted and unique are kept as they are', () => {
    const address = Uint32Array.from({ length: 5000 }, (_, i) => (10 << 24) | (i << 8));
    const length = new Uint8Array(5000).fill(24);
    const v6 = { words: new Uint32Array(0), length: new Uint8Array(0) };
    expect(PrefixList.build({ address, length }, v6).v4.address).toBe(address);
  });
});
