/**
 * How long the connection-tracking summary (`xdpfw stats`, the daemon's
 * metrics) takes on a full table: the walk with a get_next_key and a lookup
 * per entry, the batched walk, and the batched walk a batch per turn of the
 * event loop, with the longest the event loop then waited. The tables are
 * the loader's, pinned under a key of the bench's own and removed at the end;
 * the TCP table is filled directly, three entries live for one expired.
 *
 *   npx tsx bench/ct-summary.ts [--entries N] [--rounds N]    (root; ~30 s at 1,000,000)
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { compileSource } from '../src/compiler/index.js';
import { CT_ENTRY_STATE, FAMILY, MAP, STRUCT } from '../src/contract/kernel.js';
import { conntrackDir } from '../src/xdp/conntrack.js';
import { readConntrackEntries, readConntrackSummary, readConntrackSummaryInTurns } from '../src/xdp/conntrack-read.js';
import { ensureBpffs, loadPolicyProgram, type PinOptions } from '../src/xdp/index.js';
import { MemoryHost } from '../tests/support/memory-host.js';
import { fillBatch } from './lib/programs.js';
import { grouped } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '3' } },
});
const entries = Number(args.entries);
const rounds = Number(args.rounds);
const tableSize = 2 ** Math.ceil(Math.log2(entries * 1.5));

const policy = `conntrack {\n  size ${tableSize}\n}\ninterface eth0 {\n  default drop\n  allow ct state established,related\n}\n`;

function fillTcp(fd: number, nowNs: bigint): void {
  const k = STRUCT.xdpfw_ct_key;
  const v = STRUCT.xdpfw_ct_entry;
  const keys = Buffer.alloc(entries * k.size);
  const values = Buffer.alloc(entries * v.size);
  for (let i = 0; i < entries; i++) {
    const at = i * k.size;
    keys.writeUInt32BE(0x0a000001, at + k.fields.local);
    keys.writeUInt32BE(0xc0000000 + i, at + k.fields.remote);
    keys.writeUInt16LE(443, at + k.fields.lport);
    keys.writeUInt16LE(40000 + (i % 20000), at + k.fields.rport);
    keys.writeUInt8(6, at + k.fields.proto);
    keys.writeUInt8(FAMILY.ipv4, at + k.fields.family);
    const live = i % 4 !== 0;
    values.writeBigUInt64LE(live ? nowNs + 3600_000_000_000n : 1n, i * v.size + v.fields.deadline);
    values.writeUInt32LE(CT_ENTRY_STATE.established, i * v.size + v.fields.state);
  }
  fillBatch(fd, keys, values, k.size, v.size, 'the TCP connection table');
}

function timed<T>(what: string, fn: () => T): T {
  const start = process.hrtime.bigint();
  const result = fn();
  console.log(`${what.padEnd(44)} ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1).padStart(8)} ms`);
  return result;
}

async function inTurns(pins: PinOptions): Promise<void> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const start = process.hrtime.bigint();
  const summary = await readConntrackSummaryInTurns(process.hrtime.bigint(), pins);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  delay.disable();
  console.log(
    `${'summary, batched, a batch per turn'.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms` +
      `   longest event-loop wait ${(delay.max / 1e6).toFixed(1)} ms (live tcp ${summary?.entries.tcp})`,
  );
}

const pins: PinOptions = { netnsId: `bench-ct-summary-${process.pid}` };
ensureBpffs(pins);
try {
  const compiled = compileSource('ct.xdpfw', new MemoryHost({ 'ct.xdpfw': policy }));
  if (!compiled.compiled) throw new Error(compiled.rendered.join('\n'));
  const loaded = await loadPolicyProgram(compiled.compiled.interfaces[0], { pins });
  try {
    const map = loaded.maps.get(MAP.ctTcp);
    if (!map) throw new Error(`the ct program has no ${MAP.ctTcp}`);
    fillTcp(map.fd, process.hrtime.bigint());
  } finally {
    loaded.close();
  }
  console.log(`${grouped(entries)} entries in a TCP table of ${grouped(tableSize)}, ${rounds} rounds\n`);
  const perEntry = timed('summary, get_next_key + lookup per entry', () =>
    readConntrackSummary(process.hrtime.bigint(), pins, { perEntry: true }),
  );
  for (let r = 0; r < rounds; r++) {
    const batched = timed('summary, batched', () => readConntrackSummary(process.hrtime.bigint(), pins));
    if (batched?.entries.tcp !== perEntry?.entries.tcp) throw new Error('the two walks disagree');
  }
  for (let r = 0; r < rounds; r++) await inTurns(pins);
  timed('ct list entries, get_next_key + lookup', () => readConntrackEntries(process.hrtime.bigint(), pins, { perEntry: true }));
  timed('ct list entries, batched', () => readConntrackEntries(process.hrtime.bigint(), pins));
} finally {
  fs.rmSync(conntrackDir(pins), { recursive: true, force: true });
}
