/**
 * The contract generator (scripts/gen-contract.ts) on a small header and on
 * bpf/xdpfw.h itself: what it reads, what it refuses, what it writes, and
 * that the committed src/contract/kernel.ts is what the header gives now.
 * tests/kernel/xdp/layout.test.ts holds the same values to clang's BTF.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, parseHeader } from '../../../scripts/contract/parse-header.js';
import { CONTRACT_PATH, HEADER_PATH, describeDifference, generateContract } from '../../../scripts/gen-contract.js';

const SNIPPET = `
#ifndef XDPFW_H
#define XDPFW_H
#ifndef XDPFW_MAX_THINGS
#define XDPFW_MAX_THINGS 128 /* things per box */
#endif
#define XDPFW_WORDS (XDPFW_MAX_THINGS / 64 + 1)
#define XDPFW_FLAG_HIGH (1u << 31) /* a flag */
#define XDPFW_MASK 0x0f
#define XDPFW_SQUARE(x) ((x) * (x))

enum xdpfw_colour {
	XDPFW_COLOUR_DARK_RED = 2, /* the first */
	XDPFW_COLOUR_BLUE,
	XDPFW_NCOLOURS,
};

enum xdpfw_addr_slot {
	XDPFW_ADDR_SRC4 = 0,
	XDPFW_ADDR_DST6 = 1,
	XDPFW_NADDR = 2,
};

struct xdpfw_pair {
	__u8 tag;     /* then 7 bytes of padding */
	__u64 value[XDPFW_WORDS];
};

struct xdpfw_row {
	__u32 head;
	struct xdpfw_pair pair[2];
};

/*
 * const volatile __u32 cfg_count;
 * const volatile __u64 cfg_masks[2 * XDPFW_WORDS];
 *
 *   xdpfw_rows          __u32                         struct xdpfw_row
 *   xdpfw_<slot>_pairs  struct xdpfw_pair             __u32
 */
#endif
`;

describe('the header parser', () => {
  const header = parseHeader(SNIPPET);

  it('reads #defines with their expressions, comments and #ifndef defaults, and skips macros and guards', () => {
    expect(header.defines).toEqual([
      { name: 'XDPFW_MAX_THINGS', value: 128, expression: '128', overridable: true, doc: 'things per box' },
      { name: 'XDPFW_WORDS', value: 3, expression: '(XDPFW_MAX_THINGS / 64 + 1)', overridable: false },
      { name: 'XDPFW_FLAG_HIGH', value: 2 ** 31, expression: '(1u << 31)', overridable: false, doc: 'a flag' },
      { name: 'XDPFW_MASK', value: 15, expression: '0x0f', overridable: false },
    ]);
  });

  it('numbers enum members as C does, counting on from the last value', () => {
    expect(header.enums[0]).toEqual({
      name: 'xdpfw_colour',
      members: [
        { name: 'XDPFW_COLOUR_DARK_RED', value: 2, expression: '2', overridable: false, doc: 'the first' },
        { name: 'XDPFW_COLOUR_BLUE', value: 3, expression: '3', overridable: false },
        { name: 'XDPFW_NCOLOURS', value: 4, expression: '4', overridable: false },
      ],
    });
  });

  it('lays structs out with natural alignment, arrays and nested structs', () => {
    expect(header.structs).toEqual([
      { name: 'xdpfw_pair', size: 32, align: 8, offsets: { tag: 0, value: 8 } },
      { name: 'xdpfw_row', size: 72, align: 8, offsets: { head: 0, pair: 8 } },
    ]);
  });

  it('reads the .rodata variables and the map table out of comments, a <slot> row once per slot', () => {
    expect(header.rodata).toEqual([
      { name: 'cfg_count', size: 4 },
      { name: 'cfg_masks', size: 48 },
    ]);
    expect(header.maps).toEqual([
      { name: 'xdpfw_rows', key: '__u32', value: 'struct xdpfw_row', keySize: 4, valueSize: 72 },
      { name: 'xdpfw_src4_pairs', key: 'struct xdpfw_pair', value: '__u32', keySize: 32, valueSize: 4 },
      { name: 'xdpfw_dst6_pairs', key: 'struct xdpfw_pair', value: '__u32', keySize: 32, valueSize: 4 },
    ]);
  });

  it('refuses what it does not understand instead of guessing', () => {
    const scope = new Map([['A', 6]]);
    expect(evaluate('A * (2 + 1) << 1 | 1', scope, 'x')).toBe(37);
    expect(() => evaluate('B + 1', scope, '#define C')).toThrow("#define C: 'B' is not a constant defined before in 'B + 1'");
    expect(() => evaluate('~0u', scope, '#define D')).toThrow("unexpected '~'");
    expect(() => evaluate('(1 + 2', scope, '#define E')).toThrow("a ')' is missing");
    expect(() => parseHeader('struct s { float f; };')).toThrow("struct s: member f has the unknown type 'float'");
    expect(() => parseHeader('/*\n *   xdpfw_m  __u32  struct nowhere\n */')).toThrow("map xdpfw_m value: unknown type 'struct nowhere'");
  });
});

describe('the generated module', () => {
  const text = generateContract(SNIPPET);

  it('names constants without XDPFW_, enums as objects of camelCase members and a count, in hex where the header is', () => {
    expect(text).toContain('export const MAX_THINGS = 128;');
    expect(text).toContain("The header's default: a build with -DXDPFW_MAX_THINGS=… differs.");
    expect(text).toContain('/** XDPFW_FLAG_HIGH = (1u << 31): a flag */\nexport const FLAG_HIGH = 2147483648;');
    expect(text).toContain('export const MASK = 0x0f;');
    expect(text).not.toContain('SQUARE');
    expect(text).toContain('export const COLOUR = {\n  /** the first */\n  darkRed: 2,\n  blue: 3,\n} as const;');
    expect(text).toContain('export const NCOLOURS = 4;');
    expect(text).toContain('  xdpfw_row: { size: 72, fields: { head: 0, pair: 8 } },');
    expect(text).toContain("  src4Pairs: 'xdpfw_src4_pairs',");
    expect(text).toContain('  xdpfw_dst6_pairs: { keySize: 32, valueSize: 4 }, // struct xdpfw_pair → __u32');
  });

  it('refuses two things of one name', () => {
    expect(() => generateContract('#define XDPFW_COLOUR 1\nenum xdpfw_colour { XDPFW_COLOUR_RED = 0, XDPFW_COLOUR_BLUE = 1 };')).toThrow(
      'enum xdpfw_colour would be named COLOUR, as something else already is',
    );
  });
});

describe('src/contract/kernel.ts', () => {
  it('is what bpf/xdpfw.h gives (npm run build:contract)', () => {
    const generated = generateContract(fs.readFileSync(HEADER_PATH, 'utf8'));
    const committed = fs.readFileSync(CONTRACT_PATH, 'utf8');
    expect(describeDifference(committed, generated), 'run `npm run build:contract`').toBeNull();
    expect(committed.split('\n')[1]).toBe(' * Generated by scripts/gen-contract.ts from bpf/xdpfw.h — DO NOT EDIT.');
  });

  it('imports nothing, and neither the policy front end nor src/packet imports it', () => {
    const src = path.join(path.dirname(CONTRACT_PATH), '..');
    const files = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const imports = (file: string) =>
      [...fs.readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*?from '([^']+)'/gm)].map((m) => m[1]);
    expect(files(path.join(src, 'contract')).flatMap(imports)).toEqual([]);
    const users = ['policy', 'packet'].flatMap((d) => files(path.join(src, d))).filter((f) => f.endsWith('.ts'));
    expect(users.length).toBeGreaterThan(5);
    expect(users.filter((f) => imports(f).some((spec) => spec.includes('contract/')))).toEqual([]);
  });
});

describe('the drift message', () => {
  it('shows the changed lines with their numbers and a little context', () => {
    const committed = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].join('\n');
    const generated = ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h', 'i'].join('\n');
    expect(describeDifference(committed, committed)).toBeNull();
    expect(describeDifference(committed, generated, 1)).toBe(
      ['     3  c', '-    4  d', '+    4  D', '     5  e', '  …', '     8  h', '+    9  i'].join('\n'),
    );
  });
});
