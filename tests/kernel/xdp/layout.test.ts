/**
 * src/contract/kernel.ts and the codecs of src/xdp/layout.ts against
 * bpf/xdpfw.h as clang reads it: every #define, enum and struct of the
 * header put into BTF by a probe made from the header itself, and the maps
 * and .rodata of the BPF objects. The generator's arithmetic and layout
 * (scripts/contract) thus answer to the compiler's. Needs clang and
 * bpftool, no privileges.
 */

import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseHeader } from '../../../scripts/contract/parse-header.js';
import { clangBpf } from '../../../scripts/clang-bpf.js';
import { HEADER_PATH } from '../../../scripts/gen-contract.js';
import {
  ACTION,
  CLASS_ROW,
  FIELD,
  LIN_DST_NOT,
  LIN_IPV4,
  LIN_IPV6,
  MAP_LAYOUT,
  MAP_NAMES,
  MAX_WORDS,
  RODATA_VARS,
  STRUCT,
} from '../../../src/contract/kernel.js';
import { BUCKET_ROW_BYTES, encodeAddressTable, encodeVectors, rodataValues } from '../../../src/xdp/layout.js';
import { defaultObjectPath, inspectObject } from '../../../src/xdp/object.js';
import { compileInterfaceText } from '../../support/kernel.js';
import { scratchDir } from '../../support/scratch.js';
import { dumpBtf, type BtfDump } from './helpers/btf.js';
import { fixtureObject } from './helpers/env.js';

const header = parseHeader(fs.readFileSync(HEADER_PATH, 'utf8'));

/** An object whose BTF holds every struct and enum of the header, and every #define as an enum member PROBE_<name>. */
function headerProbe(): string {
  const dir = scratchDir('xdpfw-probe-');
  const source = [
    '#include <linux/types.h>',
    '#include "xdpfw.h"',
    'enum xdpfw_probe_defines {',
    ...header.defines.map((d) => `\tPROBE_${d.name} = ${d.name},`),
    '};',
    'enum xdpfw_probe_defines probe_defines;',
    ...header.structs.map((s) => `struct ${s.name} probe_${s.name};`),
    ...header.enums.map((e) => `enum ${e.name} probe_${e.name};`),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'probe.bpf.c'), `${source}\n`);
  clangBpf(path.join(dir, 'probe.bpf.c'), path.join(dir, 'probe.bpf.o'), ['-I', path.dirname(HEADER_PATH)]);
  return path.join(dir, 'probe.bpf.o');
}

function expectStructsMatch(btf: BtfDump, only?: (name: string) => boolean): void {
  for (const [name, layout] of Object.entries(STRUCT)) {
    const c = btf.structs.get(name);
    if (!c && only && !only(name)) continue;
    expect(c, `struct ${name} in BTF`).toBeDefined();
    expect({ name, size: c!.size, fields: c!.members }).toEqual({ name, size: layout.size, fields: layout.fields });
  }
}

/** The object has exactly the contract's maps, each with its key and value size, and its load-time constants. */
function expectObjectMatches(file: string): void {
  const spec = inspectObject(file);
  expect(spec.maps.map((m) => m.name).sort()).toEqual([...MAP_NAMES].sort());
  for (const name of MAP_NAMES) {
    const map = spec.maps.find((m) => m.name === name)!;
    expect({ name, keySize: map.keySize, valueSize: map.valueSize }).toEqual({ name, ...MAP_LAYOUT[name] });
  }
  // The load-time constants are the cfg_ variables; the program's own tables are .rodata too.
  const rodata = Object.fromEntries([...spec.rodata].filter(([name]) => name.startsWith('cfg_')).map(([name, v]) => [name, v.size]));
  expect(rodata).toEqual(RODATA_VARS);
}

describe('the contract and the map codecs match bpf/xdpfw.h', () => {
  const probe = dumpBtf(headerProbe());

  it('has the header struct sizes and field offsets', () => {
    expectStructsMatch(probe);
  });

  it("has the header's enums and the values clang gives its #defines", () => {
    for (const e of header.enums) {
      expect([e.name, probe.enums.get(e.name)]).toEqual([e.name, Object.fromEntries(e.members.map((m) => [m.name, m.value]))]);
    }
    const clang = probe.enums.get('xdpfw_probe_defines')!;
    // An enum holds its values as int: 0x80000000 reads back negative.
    const defines = header.defines.map((d) => [d.name, clang[`PROBE_${d.name}`] >>> 0]);
    expect(defines).toEqual(header.defines.map((d) => [d.name, d.value]));
    expect(defines.length).toBeGreaterThan(20);
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
      [LIN_IPV4 | bit(FIELD.proto) | bit(FIELD.src) | bit(FIELD.dport) | bit(FIELD.tcpflags)],
      [LIN_IPV6 | bit(FIELD.proto) | bit(FIELD.dst) | bit(FIELD.sport) | LIN_DST_NOT],
    ]);
    expect(at(rodata.cfg_lin_action, 1)).toEqual([[ACTION.drop], [ACTION.pass]]);
    expect(at(rodata.cfg_lin_proto, 1)).toEqual([[6], [17]]);
    expect(at(rodata.cfg_lin_dport, 2)).toEqual([
      [22, 23],
      [0, 0],
    ]);
    expect(at(rodata.cfg_lin_sport, 2)).toEqual([
      [0, 0],
      [53, 53],
    ]);
    expect(at(rodata.cfg_lin_tcpflags, 2)).toEqual([
      [0x12, 0x02],
      [0, 0],
    ]);
    // Value then mask, as a little-endian load of the packet's bytes gives them: 0a 01 00 00 → 0x0000010a.
    expect(at(rodata.cfg_lin_src4, 2)).toEqual([
      [0x0000010a, 0x0000ffff],
      [0, 0],
    ]);
    expect(at(rodata.cfg_lin_dst6, 8)).toEqual([new Array(8).fill(0), [0xb80d0120, 0, 0, 0, 0xffffffff, 0, 0, 0]]);
    for (const [name, size] of Object.entries(RODATA_VARS)) {
      expect([name, [rodata[name]].flat().length * 4]).toEqual([name, size]);
    }
  });

  it('leaves the linear path off, and its arrays zero, on the bit vectors', () => {
    const rodata = rodataValues(compileInterfaceText('interface eth0 { drop tcp }', { classify: 'lbvs' }).constants);
    expect(rodata.cfg_linear).toBe(0);
    const arrays = Object.entries(rodata).filter(([name]) => name.startsWith('cfg_lin_'));
    expect(arrays).toHaveLength(12);
    expect(arrays.filter(([, words]) => [words].flat().some((w) => w !== 0))).toEqual([]);
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
    const l16Rows = new Set(
      Array.from(table.l16.keys())
        .filter((i) => table.l16[i] !== 0)
        .map((i) => Math.floor(i / CLASS_ROW)),
    );
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
