/**
 * A tiny stand-in for the compiler: builds a CompiledInterface for IPv4 rules
 * on protocol, source prefix and destination port (what fixtures/mini.bpf.c
 * judges), with the same LBVS construction as src/compiler. Keeps the
 * loader's tests independent of the compiler's progress.
 */

import type { AddressLookup, CompiledInterface, LpmEntry } from '../../../../src/compiler/output.js';
import { emptyPrefixClasses, fromEntries } from '../../../../src/compiler/structures/prefix-classes.js';

export interface MiniRule {
  action: 'allow' | 'drop';
  proto?: number;
  /** IPv4 prefixes as [a, b, c, d, length]. */
  src?: [number, number, number, number, number][];
  dport?: [number, number];
}

const FIELD_SRC = 1;
const FIELD_DPORT = 4;

class Vectors {
  readonly list: bigint[][] = [];
  private readonly ids = new Map<string, number>();
  constructor(private readonly nwords: number) {}

  /** The class id of the vector with bit r set for each r where `matches(r)`. */
  classOf(nrules: number, matches: (r: number) => boolean): number {
    const words: bigint[] = new Array(this.nwords).fill(0n);
    for (let r = 0; r < nrules; r++) if (matches(r)) words[r >> 6] |= 1n << BigInt(r & 63);
    const key = words.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.ids.set(key, id);
      this.list.push(words);
    }
    return id;
  }
}

const ipv4 = (p: number[]): number => ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
const mask = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
function contains(outer: number[], inner: number[]): boolean {
  return outer[4] <= inner[4] && ((ipv4(outer) ^ ipv4(inner)) & mask(outer[4])) === 0;
}

export function compileMini(
  rules: MiniRule[],
  defaultAction: 'allow' | 'drop',
  options: { extraSrc?: LpmEntry[] } = {},
): CompiledInterface {
  const n = rules.length;
  const nwords = Math.max(1, Math.ceil(n / 64));
  const v = new Vectors(nwords);
  const usesSrc = rules.some((r) => r.src);
  const usesDport = rules.some((r) => r.dport);

  const protoClass: number[] = [];
  for (let i = 0; i < 512; i++) {
    const family = i >> 8;
    protoClass.push(v.classOf(n, (r) => family === 0 && (rules[r].proto === undefined || rules[r].proto === (i & 255))));
  }
  const noSrc = v.classOf(n, (r) => !rules[r].src);
  const src4: LpmEntry[] = [{ bytes: [0, 0, 0, 0], prefixLength: 0, text: '0.0.0.0/0', classId: noSrc }];
  const seen = new Set<string>(['0.0.0.0/0']);
  for (const rule of rules) {
    for (const p of rule.src ?? []) {
      const text = `${p.slice(0, 4).join('.')}/${p[4]}`;
      if (seen.has(text)) continue;
      seen.add(text);
      const classId = v.classOf(n, (r) => !rules[r].src || rules[r].src!.some((q) => contains(q, p)));
      src4.push({ bytes: p.slice(0, 4), prefixLength: p[4], text, classId });
    }
  }
  src4.push(...(options.extraSrc ?? []));
  const noDport = v.classOf(n, (r) => !rules[r].dport);
  const dportClass: number[] = [];
  for (let port = 0; usesDport && port < 65536; port++) {
    dportClass.push(v.classOf(n, (r) => !rules[r].dport || (rules[r].dport![0] <= port && port <= rules[r].dport![1])));
  }
  const absentClass = [0, noSrc, 0, 0, noDport, 0, 0, 0];
  return {
    name: 'test0',
    hash: 'test',
    conntrack: null,
    limits: null,
    tails: rules.map(() => null),
    dynamicSets: [],
    defaultAction,
    constants: {
      nrules: n,
      nwords,
      fields: 1 | (usesSrc ? 1 << FIELD_SRC : 0) | (usesDport ? 1 << FIELD_DPORT : 0),
      defaultAction: defaultAction === 'drop' ? 1 : 2,
      absentClass,
      addressLookup: { src4: TRIE, src6: TRIE, dst4: TRIE, dst6: TRIE },
      linear: null,
      ct: false,
    },
    rules: rules.map((r, index) => ({
      index,
      id: `rule-${index}`,
      action: r.action,
      text: JSON.stringify(r),
      location: `test:${index + 1}:1`,
    })),
    actions: rules.map((r) => (r.action === 'drop' ? 1 : 2)),
    vectors: v.list.map((words) => BigUint64Array.from(words)),
    protoClass,
    sportClass: null,
    dportClass: usesDport ? dportClass : null,
    tcpFlagsClass: null,
    icmpTypeClass: null,
    ctStateClass: null,
    src4: fromEntries(usesSrc || src4.length > 1 ? src4 : [], 4),
    src6: emptyPrefixClasses(6),
    dst4: emptyPrefixClasses(4),
    dst6: emptyPrefixClasses(6),
    addressTables: { src4: null, src6: null, dst4: null, dst6: null },
  };
}

const TRIE = { mode: 'trie', shift: 0, base: 0, host: 0 } as const satisfies AddressLookup;

/** An Ethernet + IPv4 + TCP/UDP frame (checksums zero: XDP does not check them). */
export function ipv4Frame(p: { src: number[]; dst?: number[]; proto: number; dport?: number; sport?: number }): Buffer {
  const l4 = p.proto === 6 ? 20 : p.proto === 17 ? 8 : 8;
  const f = Buffer.alloc(14 + 20 + l4);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(20 + l4, 16);
  f[22] = 64;
  f[23] = p.proto;
  f.set(p.src, 26);
  f.set(p.dst ?? [192, 0, 2, 1], 30);
  f.writeUInt16BE(p.sport ?? 40000, 34);
  f.writeUInt16BE(p.dport ?? 0, 36);
  if (p.proto === 6) f[46] = 0x50;
  return f;
}

/** An ARP frame: not IP, so every xdpfw program passes it. */
export function arpFrame(): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  f.writeUInt16BE(0x0806, 12);
  return f;
}
