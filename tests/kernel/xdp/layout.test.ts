/**
 * src/xdp/layout.ts against bpf/xdpfw.h: sizes, offsets and constants as
 * clang lays them out in BTF, and the map geometry of the BPF objects.
 * Needs clang and bpftool, no privileges.
 */

import fs from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  ACTION,
  ADDR_MODE,
  ADDR_SLOT,
  BUCKET4_ROW,
  BUCKET6_ROW,
  BUCKET_ROW_BYTES,
  CLASS_ROW,
  COUNTER_INDEX,
  FIELD,
  LIN,
  LINEAR_MAX,
  MAP_LAYOUT,
  MAP_NAMES,
  MAX_RULES,
  MAX_WORDS,
  NADDR,
  NCOUNTERS,
  NFIELDS,
  QUICK_ROW,
  RANK_ROWS,
  RODATA_VARS,
  STRUCT,
  encodeAddressTable,
  encodeVectors,
  rodataValues,
} from '../../../src/xdp/layout.js';
import { BUCKET_BITS, BUCKETS_PER_ROW, DEEPER, HOST4, HOST4_SHIFT, MAX_SHIFT6, QUICK_RECORD, RECORD } from '../../../src/compiler/passes/address-tables.js';
import { defaultObjectPath, inspectObject } from '../../../src/xdp/object.js';
import { compileInterfaceText } from '../../support/kernel.js';
import { dumpBtf, type BtfDump } from './helpers/btf.js';
import { fixtureObject } from './helpers/env.js';

function expectStructsMatch(btf: BtfDump, only?: (name: string) => boolean): void {
  for (const [name, layout] of Object.entries(STRUCT)) {
    const c = btf.structs.get(name);
    if (!c && only && !only(name)) continue;
    expect(c, `struct ${name} in BTF`).toBeDefined();
    expect({ name, size: c!.size, fields: c!.members }).toEqual({ name, size: layout.size, fields: layout.fields });
  }
}

function expectObjectMatches(file: string): void {
  const spec = inspectObject(file);
  for (const name of MAP_NAMES) {
    const map = spec.maps.find((m) => m.name === name);
    expect(map, `map ${name} in ${file}`).toBeDefined();
    expect({ name, keySize: map!.keySize, valueSize: map!.valueSize }).toEqual({ name, ...MAP_LAYOUT[name] });
  }
  const rodata = Object.fromEntries([...spec.rodata].map(([name, v]) => [name, v.size]));
  expect(rodata).toMatchObject(RODATA_VARS);
}

describe('the map codecs mirror bpf/xdpfw.h', () => {
  const header = dumpBtf(fixtureObject('layout-probe'));

  it('has the header struct sizes and field offsets', () => {
    expectStructsMatch(header);
  });

  it('has the header enums and limits', () => {
    const field = header.enums.get('xdpfw_field')!;
    expect(field).toEqual({
      XDPFW_FIELD_PROTO: FIELD.proto,
      XDPFW_FIELD_SRC: FIELD.src,
      XDPFW_FIELD_DST: FIELD.dst,
      XDPFW_FIELD_SPORT: FIELD.sport,
      XDPFW_FIELD_DPORT: FIELD.dport,
      XDPFW_FIELD_TCPFLAGS: FIELD.tcpFlags,
      XDPFW_FIELD_ICMPTYPE: FIELD.icmpType,
      XDPFW_NFIELDS: NFIELDS,
    });
    expect(header.enums.get('xdpfw_counter_index')).toEqual({
      XDPFW_CNT_DEFAULT: COUNTER_INDEX.default,
      XDPFW_CNT_MALFORMED: COUNTER_INDEX.malformed,
      XDPFW_CNT_NON_IP: COUNTER_INDEX.nonIp,
      XDPFW_CNT_FRAGMENT: COUNTER_INDEX.fragment,
      XDPFW_NCOUNTERS: NCOUNTERS,
    });
    expect(header.enums.get('xdpfw_addr_slot')).toEqual({
      XDPFW_ADDR_SRC4: ADDR_SLOT.src4,
      XDPFW_ADDR_SRC6: ADDR_SLOT.src6,
      XDPFW_ADDR_DST4: ADDR_SLOT.dst4,
      XDPFW_ADDR_DST6: ADDR_SLOT.dst6,
      XDPFW_NADDR: NADDR,
    });
    expect(header.enums.get('xdpfw_probe_defines')).toMatchObject({
      PROBE_MAX_RULES: MAX_RULES,
      PROBE_MAX_WORDS: MAX_WORDS,
      PROBE_ACTION_DROP: ACTION.drop,
      PROBE_ACTION_PASS: ACTION.pass,
      PROBE_ADDR_TRIE: ADDR_MODE.trie,
      PROBE_ADDR_TABLE: ADDR_MODE.table,
      PROBE_CLASS_ROW: CLASS_ROW,
      PROBE_BUCKET_BITS: BUCKET_BITS,
      PROBE_BUCKET_ROW_WORDS: BUCKET_ROW_BYTES / 8,
      PROBE_MAX_ADDR_SHIFT6: MAX_SHIFT6,
      PROBE_RANK_ROWS: RANK_ROWS,
      PROBE_BUCKET4_ROW: BUCKET4_ROW,
      PROBE_BUCKET6_ROW: BUCKET6_ROW,
      PROBE_QUICK_ROW: QUICK_ROW,
      PROBE_QUICK_RECORD: QUICK_RECORD,
      PROBE_HOST4: HOST4,
      PROBE_HOST4_SHIFT: HOST4_SHIFT,
      PROBE_LINEAR_MAX: LINEAR_MAX,
      PROBE_LIN_IPV4: LIN.ipv4,
      PROBE_LIN_IPV6: LIN.ipv6,
      PROBE_LIN_SRC_NOT: LIN.srcNot,
      PROBE_LIN_DST_NOT: LIN.dstNot,
    });
    expect(BUCKETS_PER_ROW).toBe(BUCKET_ROW_BYTES * 8);
    // An enum holds it as a signed int: 0x80000000 reads back negative.
    expect(header.enums.get('xdpfw_probe_defines')!.PROBE_DEEPER >>> 0).toBe(DEEPER);
  });

  it("encodes the linear path's rules as the program compares them", () => {
    const policy = [
      'interface eth0 {',
      '  drop tcp flags syn / syn,ack src 10.1.0.0/16 dport 22-23',
      '  allow ip6 udp dst ! 2001:db8::/32 sport 53',
      '}',
    ].join('\n');
    const at = (words: number[], perRule: number) => [0, 1].map((i) => words.slice(i * perRule, (i + 1) * perRule));
    const rodata = rodataValues(compileInterfaceText(policy).constants) as Record<string, number[]>;
    const bit = (field: number) => 1 << field;
    expect(rodata.cfg_linear).toBe(1);
    expect(at(rodata.cfg_lin_checks, 1)).toEqual([
      [LIN.ipv4 | bit(FIELD.proto) | bit(FIELD.src) | bit(FIELD.dport) | bit(FIELD.tcpFlags)],
      [LIN.ipv6 | bit(FIELD.proto) | bit(FIELD.dst) | bit(FIELD.sport) | LIN.dstNot],
    ]);
    expect(at(rodata.cfg_lin_action, 1)).toEqual([[ACTION.drop], [ACTION.pass]]);
    expect(at(rodata.cfg_lin_proto, 1)).toEqual([[6], [17]]);
    expect(at(rodata.cfg_lin_dport, 2)).toEqual([[22, 23], [0, 0]]);
    expect(at(rodata.cfg_lin_sport, 2)).toEqual([[0, 0], [53, 53]]);
    expect(at(rodata.cfg_lin_tcpflags, 2)).toEqual([[0x12, 0x02], [0, 0]]);
    // Value then mask, as a little-endian load of the packet's bytes gives them: 0a 01 00 00 → 0x0000010a.
    expect(at(rodata.cfg_lin_src4, 2)).toEqual([[0x0000010a, 0x0000ffff], [0, 0]]);
    expect(at(rodata.cfg_lin_dst6, 8)).toEqual([new Array(8).fill(0), [0xb80d0120, 0, 0, 0, 0xffffffff, 0, 0, 0]]);
    for (const [name, size] of Object.entries(RODATA_VARS)) {
      expect([name, [rodata[name]].flat().length * 4]).toEqual([name, size]);
    }
  });

  it('leaves the linear path off, and its arrays zero, on the bit vectors', () => {
    const rodata = rodataValues(compileInterfaceText('interface eth0 { drop tcp }', { classify: 'lbvs' }).constants);
    expect(rodata.cfg_linear).toBe(0);
    const arrays = Object.entries(rodata).filter(([name]) => name.startsWith('cfg_lin_'));
    expect(arrays).toHaveLength(11);
    expect(arrays.filter(([, words]) => [words].flat().some((w) => w !== 0))).toEqual([]);
  });

  it("has the bucket records' fields where the compiler writes them", () => {
    const words = (struct: { size: number; fields: Record<string, number> }, names: string[]) =>
      Object.fromEntries([['words', struct.size / 4], ...names.map((n) => [n, struct.fields[n] / 4])]);
    expect(header.structs.get('xdpfw_bucket4')).toMatchObject({ size: STRUCT.xdpfw_bucket4.size });
    expect(words(STRUCT.xdpfw_bucket4, ['cls', 'lens', 'cover'])).toEqual({ words: RECORD[4].words, cls: RECORD[4].cls, lens: RECORD[4].lens, cover: RECORD[4].cover });
    expect(words(STRUCT.xdpfw_bucket6, ['cls', 'lens', 'cover'])).toEqual({ words: RECORD[6].words, cls: RECORD[6].cls, lens: RECORD[6].lens, cover: RECORD[6].cover });
    expect([RECORD[4].perRow, RECORD[6].perRow]).toEqual([BUCKET4_ROW, BUCKET6_ROW]);
  });

  it('encodes a vector as its words, little-endian, and a summary bit per nonzero word', () => {
    const words = new BigUint64Array(MAX_WORDS);
    words[0] = 0x8000000000000001n;
    words[33] = 1n << 40n;
    words[MAX_WORDS - 1] = 2n;
    const e = encodeVectors([new BigUint64Array(2), words]);
    const { size, fields } = STRUCT.xdpfw_vector;
    expect([e.count, e.keySize, e.valueSize, e.keys.readUInt32LE(4)]).toEqual([2, 4, size, 1]);
    expect(e.values.subarray(0, size).every((b) => b === 0)).toBe(true);
    const second = e.values.subarray(size);
    expect(second.readBigUInt64LE(fields.summary)).toBe((1n << 0n) | (1n << 33n) | (1n << BigInt(MAX_WORDS - 1)));
    const read = Array.from({ length: MAX_WORDS }, (_, w) => second.readBigUInt64LE(fields.word + 8 * w));
    expect(read).toEqual([...words]);
    expect(() => encodeVectors([new BigUint64Array(MAX_WORDS + 1)])).toThrow(`vector 0 has ${MAX_WORDS + 1} words, at most ${MAX_WORDS}`);
  });

  it("writes an address table's /16, bitmap and rank rows only where they hold a nonzero byte (fresh maps are zero)", () => {
    const c = compileInterfaceText('interface eth0 {\n  drop src { 10.1.2.3, 10.200.0.0/24 }\n  allow src 172.16.0.0/12\n}\n');
    const table = c.addressTables.src4!;
    const e = encodeAddressTable(table, 'src4');
    const keysOf = (x: { count: number; keys: Buffer }) => Array.from({ length: x.count }, (_, i) => x.keys.readUInt32LE(4 * i));
    const bucketRow = (address: number) => Math.floor((address >>> 8) / (BUCKET_ROW_BYTES * 8));
    expect(keysOf(e.buckets)).toEqual([bucketRow(0x0a010203), bucketRow(0x0ac80000)].sort((a, b) => a - b));
    for (let i = 0; i < e.buckets.count; i++) {
      const row = keysOf(e.buckets)[i];
      expect(e.buckets.values.subarray(i * BUCKET_ROW_BYTES, (i + 1) * BUCKET_ROW_BYTES)).toEqual(
        Buffer.from(table.buckets.subarray(row * BUCKET_ROW_BYTES, (row + 1) * BUCKET_ROW_BYTES)),
      );
    }
    expect(e.buckets.describe(1)).toBe(`src4 bucket row ${keysOf(e.buckets)[1]}`);
    // /16 rows: those holding a nonzero class id or XDPFW_DEEPER (here every one: no address's class is 0).
    const l16Rows = new Set(Array.from(table.l16.keys()).filter((i) => table.l16[i] !== 0).map((i) => Math.floor(i / CLASS_ROW)));
    expect(keysOf(e.l16)).toEqual([...l16Rows].sort((a, b) => a - b));
  });

  it('matches the maps and .rodata of the test stand-in object', () => {
    expectObjectMatches(fixtureObject('mini'));
  });

  const real = defaultObjectPath();
  const haveReal = fs.existsSync(real);
  if (!haveReal && process.env.CI !== 'true') {
    console.warn(`\n*** SKIPPED the check of ${real}: not built yet (make -C bpf) ***\n`);
  }

  it.skipIf(!haveReal && process.env.CI !== 'true')('matches the maps, .rodata and BTF structs of bpf/xdpfw.bpf.o', () => {
    expectObjectMatches(real);
    expectStructsMatch(dumpBtf(real), () => false); // structs the object's BTF has must match
  });
});
