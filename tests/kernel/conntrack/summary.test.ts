/**
 * Reading the connection tables in batches: the summary's live counts and
 * evictions, and `ct list`'s entries, on tables the loader created and the
 * test filled with a known mix of live and expired entries (more than one
 * batch a table), the same whether the tables are read in batches of any
 * size or one entry at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compileSource } from '../../../src/compiler/index.js';
import { CT_ENTRY_STATE, CT_STAT, FAMILY, MAP, STRUCT } from '../../../src/contract/kernel.js';
import { openConntrackTables } from '../../../src/xdp/conntrack.js';
import {
  BATCH_ENTRIES,
  readConntrackEntries,
  readConntrackSummary,
  readConntrackSummaryInTurns,
  type ConntrackEntry,
} from '../../../src/xdp/conntrack-read.js';
import { loadPolicyProgram } from '../../../src/xdp/index.js';
import * as bpf from '../../../src/xdp/libbpf.js';
import { OPTS } from '../../../src/xdp/uapi.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { MemoryHost } from '../../support/memory-host.js';
import { removeTables, testTables } from './tables.js';

const POLICY = 'interface eth0 {\n  default drop\n  allow ct state established,related\n}\n';

/** The readers' clock: its low 32 bits past half, so that deadlines straddle both halves of the comparison. */
const NOW = (5n << 32n) + 0x8000_0000n;
/** Deadlines around NOW, and whether an entry with each is live. */
const DEADLINES: [bigint, boolean][] = [
  [NOW + 3_600_000_000_000n, true],
  [NOW + 1n, true],
  [NOW, false],
  [NOW - 1n, false],
  [6n << 32n, true],
  [(5n << 32n) + 0xffff_ffffn, true],
  [5n << 32n, false],
  [(4n << 32n) + 0xffff_ffffn, false],
  [1n, false],
  [0n, false],
];
/** The states as `ct list` names them. */
const STATES: [number, string][] = [
  [CT_ENTRY_STATE.synSent, 'syn-sent'],
  [CT_ENTRY_STATE.synRecv, 'syn-recv'],
  [CT_ENTRY_STATE.established, 'established'],
  [CT_ENTRY_STATE.closing, 'closing'],
  [CT_ENTRY_STATE.unreplied, 'unreplied'],
  [CT_ENTRY_STATE.replied, 'replied'],
];

interface Planted {
  table: 'tcp' | 'udp' | 'icmp';
  proto: number;
  count: number;
}
/** TCP and UDP over more than one batch; ICMP under one. */
const PLANTED: Planted[] = [
  { table: 'tcp', proto: 6, count: 10_000 },
  { table: 'udp', proto: 17, count: 5_000 },
  { table: 'icmp', proto: 1, count: 100 },
];
const MAP_OF = { tcp: MAP.ctTcp, udp: MAP.ctUdp, icmp: MAP.ctIcmp };

/** Entry `i` of a table: every third over IPv6; its deadline, state and interface from `i`. */
function plant(
  p: Planted,
  i: number,
  key: Buffer,
  value: Buffer,
): { live: boolean; entry: Omit<ConntrackEntry, 'ageSeconds' | 'expiresInSeconds'> } {
  const k = STRUCT.xdpfw_ct_key.fields;
  const v = STRUCT.xdpfw_ct_entry.fields;
  const family = i % 3 === 0 ? 6 : 4;
  if (family === 4) {
    key.writeUInt32BE(0x0a00_0001, k.local);
    key.writeUInt32BE(0xc000_0000 + i, k.remote);
  } else {
    key.writeUInt16BE(0x2001, k.local);
    key.writeUInt16BE(0x0db8, k.local + 2);
    key[k.local + 15] = 1;
    key.writeUInt16BE(0x2001, k.remote);
    key.writeUInt16BE(0x0db8, k.remote + 2);
    key.writeUInt32BE(i + 1, k.remote + 12);
  }
  key.writeUInt16LE(443, k.lport);
  key.writeUInt16LE(1024 + (i % 50_000), k.rport);
  key[k.proto] = p.proto;
  key[k.family] = family === 4 ? FAMILY.ipv4 : FAMILY.ipv6;
  const [deadline, live] = DEADLINES[i % DEADLINES.length];
  const [state, stateName] = STATES[i % STATES.length];
  value.writeBigUInt64LE(deadline, v.deadline);
  value.writeBigUInt64LE(1000n, v.created);
  value.writeUInt32LE(state, v.state);
  value.writeUInt32LE(2 + (i % 4), v.ifindex);
  return {
    live,
    entry: {
      protocol: p.proto,
      family,
      local: family === 4 ? '10.0.0.1' : '2001:db8::1',
      remote: family === 4 ? `192.0.${i >> 8}.${i & 255}` : `2001:db8::${(i + 1).toString(16)}`,
      localPort: 443,
      remotePort: 1024 + (i % 50_000),
      state: stateName,
      finOut: false,
      finIn: false,
      ifindex: 2 + (i % 4),
    },
  };
}

function fill(fd: number, p: Planted): { live: number; entries: Omit<ConntrackEntry, 'ageSeconds' | 'expiresInSeconds'>[] } {
  const ks = STRUCT.xdpfw_ct_key.size;
  const vs = STRUCT.xdpfw_ct_entry.size;
  const keys = Buffer.alloc(p.count * ks);
  const values = Buffer.alloc(p.count * vs);
  const entries = [];
  for (let i = 0; i < p.count; i++) {
    const planted = plant(p, i, keys.subarray(i * ks, (i + 1) * ks), values.subarray(i * vs, (i + 1) * vs));
    if (planted.live) entries.push(planted.entry);
  }
  const count = Buffer.alloc(4);
  count.writeUInt32LE(p.count);
  const opts = Buffer.alloc(OPTS.mapBatch.size);
  opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
  expect(bpf.mapUpdateBatch(fd, keys, values, count, opts)).toBe(0);
  return { live: entries.length, entries };
}

/** Writes a statistic's per-CPU values: `total` split between the first two CPUs. */
function writeStat(fd: number, index: number, total: bigint): void {
  const cpus = bpf.numPossibleCpus();
  const values = Buffer.alloc(8 * cpus);
  const first = cpus > 1 ? total / 3n : total;
  values.writeBigUInt64LE(first, 0);
  if (cpus > 1) values.writeBigUInt64LE(total - first, 8);
  const key = Buffer.alloc(4);
  key.writeUInt32LE(index);
  expect(bpf.mapUpdateElem(fd, key, values)).toBe(0);
}

const identity = (e: Omit<ConntrackEntry, 'ageSeconds' | 'expiresInSeconds'>) =>
  `${e.protocol} ${e.family} ${e.local} ${e.localPort} ${e.remote} ${e.remotePort} ${e.state} ${e.ifindex} ${e.finOut} ${e.finIn}`;
const sorted = (entries: ConntrackEntry[]) => [...entries].sort((a, b) => (identity(a) < identity(b) ? -1 : 1));

describe.skipIf(skipWithoutRoot('reading the connection tables'))('reading the connection tables in batches', () => {
  const pins = testTables('sum');
  const live = { tcp: 0, udp: 0, icmp: 0 };
  const planted: string[] = [];

  beforeAll(async () => {
    ensureBpffs(pins);
    const compiled = compileSource('ct.xdpfw', new MemoryHost({ 'ct.xdpfw': POLICY }));
    const loaded = await loadPolicyProgram(compiled.compiled!.interfaces[0], { pins });
    loaded.close(); // the tables stay pinned
    const tables = openConntrackTables(pins);
    try {
      for (const p of PLANTED) {
        const filled = fill(tables.get(MAP_OF[p.table])!, p);
        live[p.table] = filled.live;
        planted.push(...filled.entries.map(identity));
      }
      const stats = tables.get(MAP.ctStats)!;
      writeStat(stats, CT_STAT.createdTcp, 12_000n);
      writeStat(stats, CT_STAT.createdUdp, 6_500n);
      writeStat(stats, CT_STAT.createdIcmp, 100n);
      writeStat(stats, CT_STAT.reused, 400n);
      writeStat(stats, CT_STAT.floodRefused, 7n);
      writeStat(stats, CT_STAT.floodSeconds, 2n);
    } finally {
      tables.forEach((fd) => bpf.closeFd(fd));
    }
  }, 60_000);
  afterAll(() => removeTables(pins));

  it('the kernel answers batch lookups on the LRU tables (no fallback to one entry at a time)', () => {
    const tables = openConntrackTables(pins);
    try {
      const opts = Buffer.alloc(OPTS.mapBatch.size);
      opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(BATCH_ENTRIES);
      const keys = Buffer.alloc(BATCH_ENTRIES * STRUCT.xdpfw_ct_key.size);
      const values = Buffer.alloc(BATCH_ENTRIES * STRUCT.xdpfw_ct_entry.size);
      expect(bpf.mapLookupBatch(tables.get(MAP.ctTcp)!, null, Buffer.alloc(4), keys, values, count, opts)).toBe(0);
      expect(count.readUInt32LE(0)).toBeGreaterThan(BATCH_ENTRIES / 2);
    } finally {
      tables.forEach((fd) => bpf.closeFd(fd));
    }
  });

  it('counts the live entries of each table and the evictions exactly', async () => {
    expect(live).toEqual({ tcp: 4000, udp: 2000, icmp: 40 });
    const expected = {
      entries: live,
      // The policy's default size: TCP takes it, UDP and ICMP a quarter each.
      size: { tcp: 262_144, udp: 65_536, icmp: 65_536 },
      created: { tcp: 12_000n, udp: 6_500n, icmp: 100n },
      // created − reused − stored (live and expired): 18,600 − 400 − 15,100
      evicted: 3_100n,
      floodRefused: 7n,
      floodSeconds: 2n,
    };
    expect(readConntrackSummary(NOW, pins)).toEqual(expected);
    expect(readConntrackSummary(NOW, pins, { perEntry: true })).toEqual(expected);
    expect(readConntrackSummary(NOW, pins, { entries: 1 })).toEqual(expected); // a bucket of two asks for more room
    expect(await readConntrackSummaryInTurns(NOW, pins, { entries: 333 })).toEqual(expected);
  });

  it('lists the live entries it was given, the same in batches as one at a time', () => {
    const batched = readConntrackEntries(NOW, pins)!;
    expect(batched.map(identity).sort()).toEqual([...planted].sort());
    expect(sorted(batched)).toEqual(sorted(readConntrackEntries(NOW, pins, { perEntry: true })!));
    expect(sorted(readConntrackEntries(NOW, pins, { entries: 7 })!)).toEqual(sorted(batched));
    expect(batched.find((e) => e.remote === '192.0.0.10')).toMatchObject({ expiresInSeconds: 3600, ageSeconds: Number(NOW - 1000n) / 1e9 });
  });

  it('says null where no policy of the namespace uses ct', async () => {
    const none = testTables('sum-none');
    expect(readConntrackSummary(NOW, none)).toBeNull();
    expect(await readConntrackSummaryInTurns(NOW, none)).toBeNull();
    expect(readConntrackEntries(NOW, none)).toBeNull();
  });
});
