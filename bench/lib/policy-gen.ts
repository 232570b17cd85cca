/**
 * ClassBench-like rule sets and large address sets, generated from a seed so
 * every run measures the same policies, rendered for xdpfw, iptables-legacy
 * and nft alike; and the packets that hit the first rule, the last rule or
 * none of them.
 *
 * Traffic lives in 198.18.0.0/15 (RFC 2544's benchmarking range): sources in
 * 198.18/16, destinations in 198.19/16. No generated rule's destination and
 * no set entry overlaps that range, so a packet from 198.18/16 to 198.19/16
 * matches none of them whatever its other fields; the crafted last rule is
 * the only one that covers it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileSource, type CompileOptions, type CompiledInterface } from '../../src/compiler/index.js';
import { MemoryHost } from '../../tests/support/memory-host.js';
import { Random } from '../../tests/support/random.js';

export interface Prefix4 {
  /** Network address as an unsigned 32-bit number, host bits zero. */
  addr: number;
  len: number;
}

export interface Prefix6 {
  /** 16 network-order bytes, host bits zero. */
  bytes: number[];
  len: number;
}

export type PortRange = readonly [number, number];

export interface BenchRule {
  action: 'allow' | 'drop';
  proto: 'tcp' | 'udp' | null;
  src: Prefix4 | null;
  dst: Prefix4 | null;
  sport: PortRange | null;
  dport: PortRange | null;
}

export const TRAFFIC_SRC: Prefix4 = { addr: ip4('198.18.0.0'), len: 16 };
export const TRAFFIC_DST: Prefix4 = { addr: ip4('198.19.0.0'), len: 16 };
const TRAFFIC: Prefix4 = { addr: ip4('198.18.0.0'), len: 15 };
/** The port the crafted last rule matches, and the one packets that must match nothing use. */
export const LAST_RULE_DPORT = 9;
export const NO_RULE_DPORT = 10;
/** IPv6 traffic: destinations no set entry covers. */
export const TRAFFIC6_DST = '2001:db8:ffff::';

export function ip4(text: string): number {
  const b = text.split('.').map(Number);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function ip4Text(addr: number): string {
  return [addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255].join('.');
}

export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function prefix4Text(p: Prefix4): string {
  return `${ip4Text(p.addr)}/${p.len}`;
}

export function prefix6Text(p: Prefix6): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((p.bytes[i] << 8) | p.bytes[i + 1]).toString(16));
  return `${groups.join(':')}/${p.len}`;
}

function overlaps(a: Prefix4, b: Prefix4): boolean {
  const m = maskOf(Math.min(a.len, b.len));
  return (a.addr & m) >>> 0 === (b.addr & m) >>> 0;
}

function randomPrefix(r: Random, lengths: readonly (readonly [number, number])[]): Prefix4 {
  const len = r.weighted(lengths);
  return { addr: (r.u32() & maskOf(len)) >>> 0, len };
}

/* ClassBench (Taylor & Turner) filter sets: mostly specific destinations, sources often wildcards. */
const SRC_LENGTHS = [
  [25, 0],
  [5, 8],
  [15, 16],
  [25, 24],
  [10, 28],
  [20, 32],
] as const;
const DST_LENGTHS = [
  [5, 8],
  [20, 16],
  [35, 24],
  [10, 28],
  [30, 32],
] as const;
const WELL_KNOWN = [21, 22, 23, 25, 53, 80, 110, 123, 143, 161, 443, 445, 993, 995, 1433, 3306, 3389, 5060, 8080];

function randomPorts(r: Random, kind: 'sport' | 'dport'): PortRange | null {
  if (kind === 'sport') {
    const port = r.int(1024, 65535);
    return r.weighted<PortRange | null>([
      [85, null],
      [10, [1024, 65535]],
      [5, [port, port]],
    ]);
  }
  const low = r.int(1, 60000);
  const exact = r.pick(WELL_KNOWN);
  return r.weighted<PortRange | null>([
    [35, null],
    [40, [exact, exact]],
    [15, [low, low + r.int(1, 1000)]],
    [5, [1024, 65535]],
    [5, [0, 1023]],
  ]);
}

/** One ClassBench-like rule whose destination stays out of the traffic range. */
export function randomRule(r: Random): BenchRule {
  const proto = r.weighted<'tcp' | 'udp' | null>([
    [60, 'tcp'],
    [30, 'udp'],
    [10, null],
  ]);
  let dst: Prefix4;
  do dst = randomPrefix(r, DST_LENGTHS);
  while (overlaps(dst, TRAFFIC));
  const src = randomPrefix(r, SRC_LENGTHS);
  return {
    action: r.chance(0.7) ? 'drop' : 'allow',
    proto,
    src: src.len === 0 ? null : src,
    dst,
    sport: proto ? randomPorts(r, 'sport') : null,
    dport: proto ? randomPorts(r, 'dport') : null,
  };
}

/** `n` ClassBench-like rules that no packet of the traffic range matches. */
export function classBenchRules(n: number, seed = 1): BenchRule[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => randomRule(r));
}

/** The crafted last rule: the only one that matches udp 198.18/16 → 198.19/16 dport 9. */
export const LAST_RULE: BenchRule = {
  action: 'drop',
  proto: 'udp',
  src: TRAFFIC_SRC,
  dst: TRAFFIC_DST,
  sport: null,
  dport: [LAST_RULE_DPORT, LAST_RULE_DPORT],
};

/* ---- rendering ------------------------------------------------------------ */

const portText = (p: PortRange, sep: string) => (p[0] === p[1] ? `${p[0]}` : `${p[0]}${sep}${p[1]}`);

export function xdpfwRuleText(rule: BenchRule): string {
  const parts: string[] = [rule.action];
  if (rule.proto) parts.push(rule.proto);
  if (rule.src) parts.push(`src ${prefix4Text(rule.src)}`);
  if (rule.dst) parts.push(`dst ${prefix4Text(rule.dst)}`);
  if (rule.sport) parts.push(`sport ${portText(rule.sport, '-')}`);
  if (rule.dport) parts.push(`dport ${portText(rule.dport, '-')}`);
  return parts.join(' ');
}

/** An iptables rule (without the `-A CHAIN`). */
export function iptablesRuleText(rule: BenchRule): string {
  const parts: string[] = [];
  if (rule.proto) parts.push(`-p ${rule.proto}`);
  if (rule.src) parts.push(`-s ${prefix4Text(rule.src)}`);
  if (rule.dst) parts.push(`-d ${prefix4Text(rule.dst)}`);
  if (rule.sport) parts.push(`--sport ${portText(rule.sport, ':')}`);
  if (rule.dport) parts.push(`--dport ${portText(rule.dport, ':')}`);
  parts.push(`-j ${rule.action === 'drop' ? 'DROP' : 'ACCEPT'}`);
  return parts.join(' ');
}

export function nftRuleText(rule: BenchRule): string {
  const parts: string[] = [];
  if (rule.src) parts.push(`ip saddr ${prefix4Text(rule.src)}`);
  if (rule.dst) parts.push(`ip daddr ${prefix4Text(rule.dst)}`);
  if (rule.proto && !rule.sport && !rule.dport) parts.push(`meta l4proto ${rule.proto}`);
  if (rule.proto && rule.sport) parts.push(`${rule.proto} sport ${portText(rule.sport, '-')}`);
  if (rule.proto && rule.dport) parts.push(`${rule.proto} dport ${portText(rule.dport, '-')}`);
  parts.push(rule.action === 'drop' ? 'drop' : 'accept');
  return parts.join(' ');
}

/* ---- address sets ------------------------------------------------------------ */

export interface AddressSet {
  v4: Prefix4[];
  v6: Prefix6[];
  /** Whether an IPv4 address lies in some v4 entry. */
  contains4(addr: number): boolean;
  /** Whether an IPv6 address (16 bytes) lies in some v6 entry. */
  contains6(bytes: readonly number[]): boolean;
}

const SET4_LENGTHS = [
  [60, 32],
  [30, 24],
  [5, 28],
  [4, 20],
  [1, 16],
] as const;
const SET6_LENGTHS = [
  [50, 128],
  [30, 64],
  [10, 56],
  [10, 48],
] as const;

function masked6(bytes: readonly number[], len: number): string {
  let key = `${len}:`;
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    key += ((bytes[i] & ((0xff << (8 - bits)) & 0xff)) | 0x100).toString(16);
  }
  return key;
}

/** IPv6 address bytes in 2000::/4 outside 2001:db8::/32. */
export function random6(r: Random): number[] {
  for (;;) {
    const b = Array.from({ length: 16 }, () => r.int(0, 255));
    b[0] = 0x20 | (b[0] & 0x0f);
    if (!(b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8)) return b;
  }
}

/**
 * `n4` IPv4 and `n6` IPv6 entries of mixed prefix lengths, spread over the
 * address space (IPv4 outside the traffic range and outside 0/8, 127/8,
 * 224/3; IPv6 in 2000::/4 outside 2001:db8::/32).
 */
export function addressSet(n4: number, n6: number, seed = 7): AddressSet {
  const r = new Random(seed);
  const keys4 = new Map<number, Set<number>>();
  const v4: Prefix4[] = [];
  while (v4.length < n4) {
    const p = randomPrefix(r, SET4_LENGTHS);
    const top = p.addr >>> 24;
    if (top === 0 || top === 127 || top >= 224 || overlaps(p, TRAFFIC)) continue;
    let bucket = keys4.get(p.len);
    if (!bucket) keys4.set(p.len, (bucket = new Set()));
    if (bucket.has(p.addr)) continue;
    bucket.add(p.addr);
    v4.push(p);
  }
  const keys6 = new Set<string>();
  const lengths6 = new Set<number>();
  const v6: Prefix6[] = [];
  while (v6.length < n6) {
    const len = r.weighted(SET6_LENGTHS);
    const raw = random6(r);
    const bytes = raw.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, len - i * 8)))) & 0xff));
    const key = masked6(bytes, len);
    if (keys6.has(key)) continue;
    keys6.add(key);
    lengths6.add(len);
    v6.push({ bytes, len });
  }
  return {
    v4,
    v6,
    contains4(addr) {
      for (const [len, bucket] of keys4) if (bucket.has((addr & maskOf(len)) >>> 0)) return true;
      return false;
    },
    contains6(bytes) {
      for (const len of lengths6) if (keys6.has(masked6(bytes, len))) return true;
      return false;
    },
  };
}

/** A set file's text: one entry a line. */
export function setFileText(set: AddressSet): string {
  const lines: string[] = [];
  for (const p of set.v4) lines.push(prefix4Text(p));
  for (const p of set.v6) lines.push(prefix6Text(p));
  return lines.join('\n') + '\n';
}

/** An address inside entry `p` (random host bits). */
export function addressIn4(r: Random, p: Prefix4): number {
  return (p.addr | (r.u32() & ~maskOf(p.len))) >>> 0;
}

export function addressIn6(r: Random, p: Prefix6): number[] {
  const raw = random6(r);
  return p.bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, p.len - i * 8));
    const keep = (0xff << (8 - bits)) & 0xff;
    return (b & keep) | (raw[i] & ~keep & 0xff);
  });
}

/* ---- xdpfw policy text ----------------------------------------------------- */

export interface BenchPolicy {
  /** Path of the policy in the in-memory host. */
  path: string;
  files: Map<string, string>;
  rules: number;
}

export const BENCH_IFACE = 'xdpfw-bench0';

/**
 * A policy of `nrules` rules: `drop src @blocklist` first (the set), then
 * ClassBench-like rules, then the crafted last rule; `default drop`.
 */
export function benchPolicy(nrules: number, set: AddressSet, options: { setFile?: string; seed?: number } = {}): BenchPolicy {
  if (nrules < 2) throw new RangeError('a bench policy has at least the set rule and the last rule');
  const setFile = options.setFile ?? 'blocklist.txt';
  const body = classBenchRules(nrules - 2, options.seed ?? 1).map((r) => `  ${xdpfwRuleText(r)}`);
  const text = [
    `set blocklist from "${setFile}"`,
    `interface ${BENCH_IFACE} {`,
    '  default drop',
    '  drop src @blocklist name "blocklist"',
    ...body,
    `  ${xdpfwRuleText(LAST_RULE)} name "last"`,
    '}',
    '',
  ].join('\n');
  return {
    path: 'bench.xdpfw',
    files: new Map([
      ['bench.xdpfw', text],
      [setFile, setFileText(set)],
    ]),
    rules: nrules,
  };
}

/**
 * A policy of `rules` alone, no set, `default drop`: ClassBench-like rules
 * match none of the traffic (e2e); LAST_RULE after them takes the last-rule packets.
 */
export function rulesPolicy(rules: BenchRule[]): BenchPolicy {
  const text = [`interface ${BENCH_IFACE} {`, '  default drop', ...rules.map((r) => `  ${xdpfwRuleText(r)}`), '}', ''];
  return { path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text.join('\n')]]), rules: rules.length };
}

/** Writes the policy's files into `dir`, its interface renamed to `iface`; returns the policy file's path. */
export function writePolicyFiles(dir: string, policy: BenchPolicy, iface: string): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of policy.files) fs.writeFileSync(path.join(dir, name), text.replaceAll(BENCH_IFACE, iface));
  return path.join(dir, policy.path);
}

/**
 * A generated policy's one interface, compiled through the product's entry
 * point from the in-memory files; any diagnostic that is an error is a bug
 * in the generator.
 */
export function compileBenchPolicy(policy: BenchPolicy, options: CompileOptions = {}): CompiledInterface {
  const result = compileSource(policy.path, new MemoryHost(policy.files), options);
  if (!result.compiled) throw new Error(`generated policy does not compile:\n${result.rendered.join('\n')}`);
  return result.compiled.interfaces[0];
}
