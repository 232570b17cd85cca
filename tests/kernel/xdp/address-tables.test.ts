/**
 * Both address lookups of the data plane (bpf/xdpfw.h, XDPFW_ADDR_*): the
 * differential test's generated policies forced onto LPM tries and the bit
 * vectors, against the reference evaluator (the differential test itself
 * runs them as the compiler chooses: on address tables, the few small ones
 * on the linear path); and a policy with large IPv4 and IPv6 sets of every
 * prefix length on tables, against the same policy on tries.
 */
import { describe, expect, it } from 'vitest';
import { checkPolicy } from '../../../src/compiler/index.js';
import { compileInterfaceWith } from '../../../src/compiler/index.js';
import { buildFrame } from '../../../src/packet/build.js';
import { formatPacket } from '../../../src/packet/describe.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { PolicyJudge } from '../../../src/xdp/judge.js';
import { generatePacket, generatePolicy, Random } from '../../support/generate.js';
import { ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { MemoryHost } from '../../support/memory-host.js';
import { skipWithoutRoot } from './helpers/env.js';

async function disagreements(
  files: Record<string, string>,
  interfaceName: string,
  packets: PacketSpec[],
  choice: 'auto' | 'trie',
): Promise<{ mismatches: string[]; modes: string[] }> {
  const loaded = loadPolicy('policy.xdpfw', new MemoryHost(files));
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const checked = checkPolicy(loaded.document!);
  expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  // On the bit vectors: the linear path, which small policies would take, looks no address up.
  const iface = compileInterfaceWith(checked.ir!.interfaces[0], { addressLookup: choice, classify: 'lbvs' });
  const modes = Object.entries(iface.constants.addressLookup).map(([slot, a]) => `${slot}:${a.mode}`);
  const reference = new ReferenceEvaluator(loaded.document!, interfaceName);
  const judge = await PolicyJudge.load(iface);
  const mismatches: string[] = [];
  try {
    for (const packet of packets) {
      const kernel = judge.judge(buildFrame(packet));
      const expected = reference.evaluate(packet);
      if (kernel.action !== expected.action || kernel.matched !== expected.matched) {
        const verdicts = `kernel ${kernel.action} by ${kernel.matched}, reference ${expected.action} by ${expected.matched}`;
        mismatches.push(`${formatPacket(packet)}: ${verdicts}`);
      }
    }
  } finally {
    judge.close();
  }
  return { mismatches, modes };
}

describe.skipIf(skipWithoutRoot('address tables'))('address tables in the kernel', () => {
  // tests/kernel/differential.test.ts runs these policies as the compiler chooses; here, on tries.
  for (let seed = 1; seed <= 40; seed++) {
    it(`the trie lookup agrees with the reference on generated policy ${seed}`, async () => {
      const random = new Random(seed);
      const policy = generatePolicy(random);
      const packets = Array.from({ length: 100 }, () => generatePacket(random, policy));
      const files = { 'policy.xdpfw': policy.text };
      const { mismatches, modes } = await disagreements(files, policy.interfaceName, packets, 'trie');
      expect(modes.every((m) => m.endsWith(':trie'))).toBe(true);
      expect(mismatches, policy.text).toEqual([]);
    });
  }

  it('address tables agree with tries on large sets of every prefix length', async () => {
    const r = new Random(99);
    // Nested and overlapping: IPv4 inside 10.0.0.0/8 (lengths 12..32), IPv6 inside 2001:db8::/30 (17..128).
    const v4 = randomPrefixes(r, 4, 6000, 12, 32, 0x0a000000n << 0n, 8);
    const v6 = randomPrefixes(r, 6, 3000, 17, 128, 0x20010db8n << 96n, 30);
    const text = [
      'set big4 from "big4.txt"',
      'set big6 from "big6.txt"',
      'interface xdpfw0 {',
      '  default allow',
      '  allow tcp dport 22 src { 10.1.0.0/16, 2001:db8:1::/48 }',
      '  drop src @big4',
      '  drop dst @big6',
      '  drop udp src ! @big4 dst 10.0.0.0/8',
      '}',
      '',
    ].join('\n');
    const packets: PacketSpec[] = [];
    for (let i = 0; i < 4000; i++) {
      const family = r.pick([4, 6] as const);
      const list = family === 4 ? v4 : v6;
      const near = (): bigint => (r.chance(0.6) ? inside(r, r.pick(list), family) : inside(r, r.pick(list), family, 8));
      const [src, dst] = family === 4 ? [near(), inside(r, { value: 0x0a000000n, length: 8 }, 4)] : [near(), near()];
      packets.push({
        family,
        protocol: r.pick([6, 17]),
        src: addressText(family, r.chance(0.1) && family === 4 ? src ^ (1n << 24n) : src), // some in 11/8
        dst: addressText(family, dst),
        sport: r.int(1, 65535),
        dport: r.pick([22, 53, 80]),
      });
    }
    // The reference evaluator is too slow for sets this large: the trie program, which the
    // differential test checks against it, is the oracle here.
    const setFile = (family: 4 | 6, list: Prefix[]) => list.map((p) => `${addressText(family, p.value)}/${p.length}`).join('\n');
    const files = { 'policy.xdpfw': text, 'big4.txt': setFile(4, v4), 'big6.txt': setFile(6, v6) };
    const loaded = loadPolicy('policy.xdpfw', new MemoryHost(files));
    const ir = checkPolicy(loaded.document!).ir!.interfaces[0];
    const tables = compileInterfaceWith(ir, { addressLookup: 'auto' });
    const modes = Object.entries(tables.constants.addressLookup).map(([slot, a]) => `${slot}:${a.mode}`);
    expect(modes).toEqual(['src4:table', 'src6:table', 'dst4:table', 'dst6:table']);
    const tries = compileInterfaceWith(ir, { addressLookup: 'trie' });
    const judges = [await PolicyJudge.load(tables), await PolicyJudge.load(tries)];
    const mismatches: string[] = [];
    const decided = new Set<string>();
    try {
      for (const packet of packets) {
        const [table, trie] = judges.map((j) => j.judge(buildFrame(packet)));
        decided.add(String(trie.matched));
        if (table.action !== trie.action || table.matched !== trie.matched) {
          const verdicts = `tables ${table.action} by ${table.matched}, tries ${trie.action} by ${trie.matched}`;
          mismatches.push(`${formatPacket(packet)}: ${verdicts}`);
        }
      }
    } finally {
      for (const j of judges) j.close();
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect([...decided].sort()).toEqual(['0', '1', '2', '3', 'default']);
  });
});

interface Prefix {
  value: bigint;
  length: number;
}

const widthOf = (family: 4 | 6) => (family === 4 ? 32 : 128);

/** `n` distinct prefixes of lengths min..max under `base`/`baseLength`. */
function randomPrefixes(r: Random, family: 4 | 6, n: number, min: number, max: number, base: bigint, baseLength: number): Prefix[] {
  const out = new Map<string, Prefix>();
  while (out.size < n) {
    const length = r.int(min, max);
    const value = inside(r, { value: base, length: baseLength }, family) & hostMask(family, length, true);
    out.set(`${value}/${length}`, { value, length });
  }
  return [...out.values()];
}

/** The network bits of a prefix length (`network`), or the host bits. */
function hostMask(family: 4 | 6, length: number, network = false): bigint {
  const width = BigInt(widthOf(family));
  const host = (1n << (width - BigInt(length))) - 1n;
  return network ? ((1n << width) - 1n) ^ host : host;
}

/** A random address inside `p`, or inside its enclosing prefix `widen` bits shorter. */
function inside(r: Random, p: Prefix, family: 4 | 6, widen = 0): bigint {
  const length = Math.max(0, p.length - widen);
  let random = 0n;
  for (let i = 0; i < widthOf(family) / 16; i++) random = (random << 16n) | BigInt(r.int(0, 0xffff));
  return (p.value & hostMask(family, length, true)) | (random & hostMask(family, length));
}

function addressText(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => (value >> s) & 255n).join('.');
  return Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}
