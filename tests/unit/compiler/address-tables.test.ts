/**
 * Address tables (src/compiler/passes/address-tables.ts): a table lookup, done step
 * by step as the data plane does it (`tableClass`), gives exactly the rules
 * that match the address — over random policies compiled with tables forced,
 * and against a naive longest-prefix match over large random entry sets of
 * every length, nested, in both families.
 */
import { describe, expect, test } from 'vitest';
import { BUCKET_BITS, DEEPER, HOST4, HOST4_SHIFT, QUICK_RECORD } from '../../../src/contract/kernel.js';
import {
  BUCKETS_PER_ROW,
  bucketOf,
  buildAddressTable as buildTable,
  chooseAddressLookup as chooseLookup,
  type AddressLookupChoice,
  tableClass,
} from '../../../src/compiler/passes/address-tables.js';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import { compileInterfaceWith } from '../../../src/compiler/index.js';
import type { IrInterface, IrRule } from '../../../src/compiler/ir.js';
import type { AddressLookup, AddressSlot, LpmEntry } from '../../../src/compiler/output.js';
import { fromEntries, toEntries } from '../../../src/compiler/structures/prefix-classes.js';
import { compileText } from './helpers.js';
import { addressHolds, familyHolds } from './oracle.js';
import { Random, randomPolicy, toBytes, toValue } from '../../support/generate.js';

/** The table functions on entry objects, which the tests read more easily than columns. */
const chooseAddressLookup = (entries: readonly LpmEntry[], family: 4 | 6, choice?: AddressLookupChoice) =>
  chooseLookup(fromEntries(entries, family), family, choice);
const buildAddressTable = (entries: readonly LpmEntry[], lookup: AddressLookup, family: 4 | 6) =>
  buildTable(fromEntries(entries, family), lookup, family);

const POLICIES = 200;

/** The longest entry containing the address, naively: every length, longest first. */
function naiveLpm(entries: readonly LpmEntry[]): (address: readonly number[]) => LpmEntry | undefined {
  const byLength = new Map<number, Map<bigint, LpmEntry>>();
  for (const e of entries) {
    if (!byLength.has(e.prefixLength)) byLength.set(e.prefixLength, new Map());
    byLength.get(e.prefixLength)!.set(toValue(e.bytes), e);
  }
  const lengths = [...byLength.keys()].sort((a, b) => b - a);
  return (address) => {
    const value = toValue(address);
    const bits = BigInt(address.length * 8);
    for (const length of lengths) {
      const host = bits - BigInt(length);
      const hit = byLength.get(length)!.get((value >> host) << host);
      if (hit) return hit;
    }
    return undefined;
  };
}

/** Addresses at, inside, just outside and in the bucket next to every entry, plus random ones. */
function around(r: Random, entries: readonly LpmEntry[], family: 4 | 6, random: number): number[][] {
  const width = BigInt(family === 4 ? 32 : 128);
  const max = (1n << width) - 1n;
  const out: number[][] = [];
  for (const e of entries) {
    const start = toValue(e.bytes);
    const size = 1n << (width - BigInt(e.prefixLength));
    const end = start + size - 1n;
    const inside = start + ((BigInt(r.int(0, 2 ** 30)) * 7919n) % size);
    const bucket = 1n << (width - 24n); // the next /24 (IPv4) or 24-bit block
    for (const v of [start, end, inside, start - 1n, end + 1n, start + bucket, start ^ 4n, start | 3n]) {
      if (v >= 0n && v <= max) out.push(toBytes(family, v));
    }
  }
  for (let i = 0; i < random; i++) {
    const v = family === 4 ? BigInt(r.int(0, 2 ** 32 - 1)) : (BigInt(r.int(0, 2 ** 32 - 1)) << 96n) | BigInt(r.int(0, 2 ** 30));
    out.push(toBytes(family, v));
  }
  return out;
}

describe('address tables in compiled policies', () => {
  test(`every table lookup yields exactly the rules that match, over ${POLICIES} random policies`, () => {
    for (let seed = 1; seed <= POLICIES; seed++) {
      const r = new Random(20_000 + seed);
      const text = randomPolicy(r);
      const result = compileText(text);
      expect(
        result.diagnostics.filter((d) => d.severity === 'error'),
        text,
      ).toEqual([]);
      const ir: IrInterface = result.ir!.interfaces[0];
      const c = compileInterfaceWith(ir, { addressLookup: 'table' });
      for (const slot of ['src4', 'src6', 'dst4', 'dst6'] as AddressSlot[]) {
        const family = slot.endsWith('4') ? 4 : 6;
        const entries = toEntries(c[slot], family);
        const lookup = c.constants.addressLookup[slot];
        const table = c.addressTables[slot];
        if (entries.length === 0) {
          expect(lookup.mode).toBe('trie');
          continue;
        }
        expect(lookup.mode).toBe('table');
        const field = slot.startsWith('src') ? 'src' : 'dst';
        for (const address of around(r, entries, family, 20)) {
          const cls = tableClass(lookup, table!, address);
          const want = ir.rules
            .filter((x: IrRule) => familyHolds(x, family) && addressHolds(x[field], family, address))
            .map((x) => x.index);
          expect(rulesOf(c.vectors[cls]), `seed ${seed} ${slot} ${address.join('.')}\n${text}`).toEqual(want);
        }
      }
    }
  });

  test('auto takes the table whenever the field has entries; trie and table can be forced', () => {
    const entries: LpmEntry[] = [{ bytes: [0, 0, 0, 0], prefixLength: 0, text: '0.0.0.0/0', classId: 0 }];
    expect(chooseAddressLookup([], 4).mode).toBe('trie');
    expect(chooseAddressLookup(entries, 4).mode).toBe('table');
    expect(chooseAddressLookup(entries, 4, 'trie').mode).toBe('trie');
    const ir = compileText('interface eth0 { drop src 10.0.0.0/8\n allow tcp }\n').ir!.interfaces[0];
    const modes = (choice: 'auto' | 'trie') => compileInterfaceWith(ir, { addressLookup: choice }).constants.addressLookup;
    expect(Object.values(modes('auto')).map((a) => a.mode)).toEqual(['table', 'table', 'trie', 'trie']);
    expect(Object.values(modes('trie')).map((a) => a.mode)).toEqual(['trie', 'trie', 'trie', 'trie']);
  });
});

/** `n` random entries plus /0, each its own class, nested around a few hot spots. */
function randomEntries(r: Random, family: 4 | 6, n: number, lengths: readonly number[], spots: readonly bigint[]): LpmEntry[] {
  const width = family === 4 ? 32 : 128;
  const seen = new Set<string>(['0/0']);
  const entries: LpmEntry[] = [{ bytes: toBytes(family, 0n), prefixLength: 0, text: '0/0', classId: 0 }];
  while (entries.length <= n) {
    const length = r.pick(lengths);
    const spot = r.pick(spots);
    const noise = family === 4 ? BigInt(r.int(0, 2 ** 20)) : BigInt(r.int(0, 2 ** 30)) << 70n;
    const value = (spot ^ noise) & ~((1n << BigInt(width - length)) - 1n) & ((1n << BigInt(width)) - 1n);
    const key = `${value}/${length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push({ bytes: toBytes(family, value), prefixLength: length, text: key, classId: entries.length });
  }
  return entries;
}

describe('address tables against a naive longest-prefix match', () => {
  const cases: { name: string; family: 4 | 6; lengths: number[]; spots: bigint[] }[] = [
    {
      name: 'IPv4, every length',
      family: 4,
      lengths: Array.from({ length: 33 }, (_, i) => i),
      spots: [0x0a000000n, 0xc0a80000n, 0xffffffffn, 0n],
    },
    { name: 'IPv4, long prefixes only', family: 4, lengths: [25, 27, 28, 30, 31, 32], spots: [0x0a000000n, 0x0a00ff00n] },
    {
      name: 'IPv6, every length, one /4 (shift > 0)',
      family: 6,
      lengths: Array.from({ length: 112 }, (_, i) => i + 17),
      spots: [0x2001_0db8n << 96n, 0x2abcn << 112n],
    },
    {
      name: 'IPv6, short and long, spread (shift 0)',
      family: 6,
      lengths: [0, 8, 16, 17, 24, 33, 48, 64, 127, 128],
      spots: [0n, 0xfe80n << 112n, 0x2001n << 112n],
    },
  ];
  for (const { name, family, lengths, spots } of cases) {
    test(`${name}: the table finds the longest entry, for addresses around every entry`, () => {
      const r = new Random(77);
      const entries = randomEntries(r, family, 3000, lengths, spots);
      const lookup = chooseAddressLookup(entries, family, 'table');
      const table = buildAddressTable(entries, lookup, family);
      const longest = naiveLpm(entries);
      for (const address of around(r, entries, family, 500)) {
        expect(tableClass(lookup, table, address), `${address.join('.')}`).toBe(longest(address)!.classId);
      }
    });
  }

  test('IPv6 entries confined to 2000::/4 shift the buckets by 4 bits; IPv4 never shifts', () => {
    const r = new Random(5);
    const v6 = randomEntries(r, 6, 200, [48, 64, 128], [0x2000n << 112n, 0x2fffn << 112n]);
    expect(chooseAddressLookup(v6, 6, 'table')).toEqual({ mode: 'table', shift: 4, base: 2, host: 0 });
    const v4 = randomEntries(r, 4, 200, [32], [0x0a000000n]);
    expect(chooseAddressLookup(v4, 4, 'table')).toMatchObject({ shift: 0, base: 0 });
  });

  test('a /17 marks the 128 buckets it covers, flags its /16, and gives their records its class; a /30 goes to the hash', () => {
    const entries: LpmEntry[] = [
      { bytes: [0, 0, 0, 0], prefixLength: 0, text: '0/0', classId: 0 },
      { bytes: [10, 1, 128, 0], prefixLength: 17, text: '10.1.128.0/17', classId: 1 },
      { bytes: [10, 1, 200, 4], prefixLength: 30, text: '10.1.200.4/30', classId: 2 },
    ];
    const lookup = chooseAddressLookup(entries, 4, 'table');
    const table = buildAddressTable(entries, lookup, 4);
    expect(table.l16[(10 << 8) | 1]).toBe(DEEPER >>> 0);
    expect(table.l16[(10 << 8) | 2]).toBe(0);
    const marked: number[] = [];
    table.buckets.forEach((byte, i) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) marked.push(i * 8 + bit);
    });
    expect(table.buckets.length * 8).toBe(2 ** BUCKET_BITS);
    expect(marked).toEqual(Array.from({ length: 128 }, (_, i) => bucketOf([10, 1, 128, 0], 0) + i));
    expect([...table.hashed.prefixLength, ...table.hashed.words, ...table.hashed.classId]).toEqual([30, 0x0a01c804, 2]);
    expect(table.records.count).toBe(128);
    const row = Math.floor(marked[0] / BUCKETS_PER_ROW);
    expect(table.rank[row]).toBe(0);
    expect(table.rank[row + 1]).toBe(BUCKETS_PER_ROW - (marked[0] % BUCKETS_PER_ROW));
    const r = bucketOf([10, 1, 200, 0], 0) - marked[0];
    // struct xdpfw_bucket4 as u32 words: cls, lens (bit 32 - L), cover low, cover high.
    expect(table.records.words.length).toBe(128 * 4);
    expect([...table.records.words.subarray(4 * r, 4 * r + 4)]).toEqual([1, 1 << (32 - 30), 1 << 1, 0]);
    expect(tableClass(lookup, table, [10, 1, 200, 5])).toBe(2);
    expect(tableClass(lookup, table, [10, 1, 200, 9])).toBe(1);
    expect(tableClass(lookup, table, [10, 1, 127, 9])).toBe(0);
  });

  test("a bucket of its /16's class gets a quick byte of the eighths its longer entries meet; another class, QUICK_RECORD", () => {
    const entries: LpmEntry[] = [
      { bytes: [0, 0, 0, 0], prefixLength: 0, text: '0/0', classId: 0 },
      { bytes: [10, 1, 200, 4], prefixLength: 30, text: '10.1.200.4/30', classId: 2 },
      { bytes: [10, 1, 201, 200], prefixLength: 29, text: '10.1.201.200/29', classId: 3 },
      { bytes: [10, 1, 202, 0], prefixLength: 24, text: '10.1.202.0/24', classId: 4 },
      { bytes: [10, 1, 203, 0], prefixLength: 25, text: '10.1.203.0/25', classId: 5 },
      { bytes: [10, 1, 204, 0], prefixLength: 24, text: '10.1.204.0/24', classId: 6 },
      { bytes: [10, 1, 204, 64], prefixLength: 32, text: '10.1.204.64/32', classId: 7 },
    ];
    const lookup = chooseAddressLookup(entries, 4, 'table');
    const table = buildAddressTable(entries, lookup, 4);
    // Buckets 10.1.200 … 10.1.204, records in bucket order.
    expect([...table.quick]).toEqual([0b1, 1 << 6, QUICK_RECORD, 0b1111, QUICK_RECORD]);
    expect(table.quick.length).toBe(table.records.count);
    expect(tableClass(lookup, table, [10, 1, 200, 40])).toBe(0); // the quick byte answers
    expect(tableClass(lookup, table, [10, 1, 200, 5])).toBe(2); // eighth 0: record, then hash
    expect(tableClass(lookup, table, [10, 1, 200, 9])).toBe(0); // eighth 0: record, its 64th unmet
    expect(tableClass(lookup, table, [10, 1, 201, 201])).toBe(3);
    expect(tableClass(lookup, table, [10, 1, 202, 9])).toBe(4); // QUICK_RECORD: the record's class
    expect(tableClass(lookup, table, [10, 1, 203, 127])).toBe(5);
    expect(tableClass(lookup, table, [10, 1, 203, 128])).toBe(0);
    expect(tableClass(lookup, table, [10, 1, 204, 63])).toBe(6);
    expect(tableClass(lookup, table, [10, 1, 204, 64])).toBe(7);
  });

  test('a /24 whose /32s include exactly one of the commonest /32 class names it in its record, not in the hash', () => {
    const e = (bytes: number[], prefixLength: number, classId: number): LpmEntry => ({ bytes, prefixLength, text: '', classId });
    const entries: LpmEntry[] = [
      e([0, 0, 0, 0], 0, 0),
      e([10, 1, 1, 7], 32, 5), // alone: inline
      e([10, 1, 2, 8], 32, 5), // two of class 5 in 10.1.2: both hashed
      e([10, 1, 2, 9], 32, 5),
      e([10, 1, 3, 0], 28, 6), // with a /28 and a /32 of another class: the class-5 one inline, the others hashed
      e([10, 1, 3, 3], 32, 7),
      e([10, 1, 3, 200], 32, 5),
      e([10, 1, 4, 1], 32, 7), // another class only: hashed
    ];
    const lookup = chooseAddressLookup(entries, 4, 'table');
    expect(lookup.host).toBe(5);
    const table = buildAddressTable(entries, lookup, 4);
    const hashed = toEntries(table.hashed, 4).map((h) => `${h.text} ${h.classId}`);
    expect(hashed).toEqual(['10.1.2.8/32 5', '10.1.2.9/32 5', '10.1.3.0/28 6', '10.1.3.3/32 7', '10.1.4.1/32 7']);
    // Records in bucket order (10.1.1 … 10.1.4), lens: bit 32 - L of the hashed lengths, HOST4 and the host's last byte.
    const lens = (r: number) => table.records.words[4 * r + 1];
    expect([lens(0), lens(1), lens(2), lens(3)]).toEqual([HOST4 | (7 << HOST4_SHIFT), 1, HOST4 | (200 << HOST4_SHIFT) | 1 | (1 << 4), 1]);
    const cases: [number[], number][] = [
      [[10, 1, 1, 7], 5],
      [[10, 1, 1, 6], 0], // the host's /30, not the host: the hash has no /32 there
      [[10, 1, 2, 8], 5],
      [[10, 1, 2, 10], 0],
      [[10, 1, 3, 200], 5],
      [[10, 1, 3, 201], 0],
      [[10, 1, 3, 3], 7],
      [[10, 1, 3, 4], 6],
      [[10, 1, 4, 1], 7],
    ];
    for (const [address, cls] of cases) expect(tableClass(lookup, table, address), address.join('.')).toBe(cls);
  });

  test('IPv6 and tries name no host class; IPv4 without /32s gets class 0', () => {
    const v6 = [
      { bytes: new Array<number>(16).fill(0), prefixLength: 0, text: '::/0', classId: 0 },
      { bytes: [0x20, 1, ...new Array<number>(14).fill(1)], prefixLength: 128, text: '', classId: 3 },
    ];
    expect(chooseAddressLookup(v6, 6, 'table').host).toBe(0);
    const v4 = [
      { bytes: [0, 0, 0, 0], prefixLength: 0, text: '', classId: 0 },
      { bytes: [10, 1, 1, 0], prefixLength: 28, text: '', classId: 3 },
    ];
    expect(chooseAddressLookup(v4, 4, 'table').host).toBe(0);
    expect(chooseAddressLookup([...v4, { bytes: [10, 1, 1, 1], prefixLength: 32, text: '', classId: 3 }], 4, 'trie').host).toBe(0);
  });
});
