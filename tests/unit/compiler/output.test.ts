/**
 * The compiled output as the loader and `xdpfw compile --json` see it:
 * determinism, hashing, constants, disabled fields and the JSON view.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import { ACTION, FIELD, NFIELDS } from '../../../src/contract/kernel.js';
import { compiledToJson, compileInterface, prefixCount, toEntries } from '../../../src/compiler/index.js';
import { compileText } from './helpers.js';
import { Random, randomPolicy } from '../../support/generate.js';

const json = (text: string) => JSON.stringify(compiledToJson(compileText(text).compiled!));

/** `value` with each typed array as a digest of its type and bytes: toEqual would walk the address tables' megabytes one element at a time. */
function digested(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) {
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return `${value.constructor.name} ${createHash('sha256').update(bytes).digest('hex')}`;
  }
  if (Array.isArray(value)) return value.map(digested);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, digested(v)]));
  return value;
}

describe('determinism', () => {
  test('the same policy compiles to identical JSON and hashes, every time', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const text = randomPolicy(new Random(seed));
      expect(json(text)).toBe(json(text));
    }
  });

  test('compiling an IR interface twice gives identical output', () => {
    const ir = compileText(randomPolicy(new Random(7))).ir!.interfaces[0];
    expect(digested(compileInterface(ir))).toEqual(digested(compileInterface(ir)));
  });

  test('the hash covers the maps and rule identities, not the interface name or where rules are written', () => {
    const hash = (text: string) => compileText(text).compiled!.interfaces.map((c) => c.hash);
    const [eth0, eth1] = hash('interface eth0 { allow tcp dport 22 }\ninterface eth1 { allow tcp dport 22 }\n');
    expect(eth0).toMatch(/^[0-9a-f]{64}$/);
    expect(eth1).toBe(eth0);
    expect(hash('interface eth0 { allow tcp dport 23 }\n')[0]).not.toBe(eth0);
    expect(hash('interface eth0 { drop tcp dport 22 }\n')[0]).not.toBe(eth0);
    expect(hash('interface eth0 {\n  default drop\n  allow tcp dport 22\n}\n')[0]).not.toBe(eth0);
    expect(hash('# a comment\n\ninterface eth0 {\n    allow tcp dport 22\n}\n')[0]).toBe(eth0);
    expect(hash('interface eth0 { allow tcp dport 22 name "ssh" }\n')[0]).not.toBe(eth0);
  });
});

describe('compiled interface', () => {
  test('constants: rule count, words, enabled fields, default action, actions', () => {
    const c = compileText('interface eth0 {\n  default drop\n  allow tcp dport 22\n  drop src 10.0.0.0/8\n}\n').compiled!.interfaces[0];
    expect(c.constants).toMatchObject({ nrules: 2, nwords: 1, defaultAction: ACTION.drop });
    expect(c.constants.fields).toBe((1 << FIELD.proto) | (1 << FIELD.src) | (1 << FIELD.dport));
    expect(c.actions).toEqual([ACTION.pass, ACTION.drop]);
    expect(c.constants.absentClass).toHaveLength(NFIELDS);
    expect(c.rules[1]).toEqual({ index: 1, id: c.rules[1].id, action: 'drop', text: 'drop src 10.0.0.0/8', location: 'test.xdpfw:4:3' });
  });

  test('fields no rule constrains are disabled: null tables, empty tries', () => {
    const c = compileText('interface eth0 { allow tcp }\n').compiled!.interfaces[0];
    expect(c.constants.fields).toBe(1 << FIELD.proto);
    expect([c.sportClass, c.dportClass, c.tcpFlagsClass, c.icmpTypeClass]).toEqual([null, null, null, null]);
    expect([c.src4, c.src6, c.dst4, c.dst6].map(prefixCount)).toEqual([0, 0, 0, 0]);
    expect(c.protoClass).toHaveLength(512);
  });

  test('an enabled address field has a /0 entry in both tries, also for a family no rule names', () => {
    const c = compileText('interface eth0 { drop src 10.0.0.0/8 }\n').compiled!.interfaces[0];
    expect(toEntries(c.src4, 4).map((e) => e.text)).toEqual(['0.0.0.0/0', '10.0.0.0/8']);
    expect(toEntries(c.src6, 6).map((e) => e.text)).toEqual(['::/0']);
    expect(toEntries(c.src6, 6)[0]).toMatchObject({ bytes: new Array(16).fill(0), prefixLength: 0 });
  });

  test('a policy without rules compiles to one word of zeros', () => {
    const c = compileText('interface eth0 {\n  default allow\n}\n').compiled!.interfaces[0];
    expect(c.constants).toMatchObject({ nrules: 0, nwords: 1, fields: 1 });
    expect(c.vectors.map((v) => [...v])).toEqual([[0n]]);
  });

  test('vectors have ceil(nrules / 64) words and no bits beyond the last rule in the protocol table', () => {
    const rules = Array.from({ length: 130 }, (_, i) => `  allow tcp dport ${i}`).join('\n');
    const c = compileText(`interface eth0 {\n${rules}\n}\n`).compiled!.interfaces[0];
    expect(c.constants.nwords).toBe(3);
    expect(c.vectors.every((v) => v.length === 3)).toBe(true);
    const tcp = c.vectors[c.protoClass[6]];
    expect([...tcp]).toEqual([2n ** 64n - 1n, 2n ** 64n - 1n, 3n]);
    expect([...c.vectors[c.dportClass![129]]]).toEqual([0n, 0n, 2n]);
  });
});

describe('JSON view', () => {
  test('a vector lists the rules of every set bit, across word and half-word edges', () => {
    expect(rulesOf([(1n << 63n) | (1n << 32n) | (1n << 31n) | 1n, 0n, 5n])).toEqual([0, 31, 32, 63, 128, 130]);
  });

  test('64-bit words become hex, vectors list their rules, big tables become runs of numbers, rules become references', () => {
    const view = compiledToJson(compileText('interface eth0 {\n  allow tcp dport 22\n  allow tcp flags syn\n}\n').compiled!) as {
      interfaces: Record<string, unknown>[];
    };
    const c = view.interfaces[0];
    expect(c.vectors).toContainEqual({ class: expect.any(Number), words: ['0x0000000000000003'], rules: [0, 1] });
    expect(c.dport).toEqual([
      { from: 0, to: 21, class: expect.any(Number) },
      { from: 22, to: 22, class: expect.any(Number) },
      { from: 23, to: 65535, class: expect.any(Number) },
    ]);
    expect((c.tcpFlags as { from: number; to: number }[]).slice(0, 3).map((r) => [r.from, r.to])).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(c.sport).toBeNull();
    expect(c.constants).toMatchObject({ fields: 0b110001, enabledFields: ['proto', 'dport', 'tcpflags'], classification: 'linear' });
    expect(c.rules).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^rule-/),
        name: null,
        file: 'test.xdpfw',
        line: 2,
        col: 3,
        action: 'allow',
        audit: false,
        log: false,
        text: 'allow tcp dport 22',
      },
      {
        index: 1,
        id: expect.stringMatching(/^rule-/),
        name: null,
        file: 'test.xdpfw',
        line: 3,
        col: 3,
        action: 'allow',
        audit: false,
        log: false,
        text: 'allow tcp flags syn',
      },
    ]);
    expect(() => JSON.stringify(view)).not.toThrow();
  });
});
