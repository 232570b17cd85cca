/**
 * The namespace's connection-tracking tables as tests drive them: a pin
 * directory of their own (a key no namespace has, which `xdpfw gc` leaves
 * alone), time made to pass by moving every deadline back, and emptied
 * between cases.
 */
import fs from 'node:fs';

import { MAP, STRUCT } from '../../../src/contract/kernel.js';
import { conntrackDir, openConntrackTables } from '../../../src/xdp/conntrack.js';
import * as bpf from '../../../src/xdp/libbpf.js';
import type { PinOptions } from '../../../src/xdp/pins.js';

export const testTables = (tag: string): PinOptions => ({ netnsId: `test-ct-${tag}-${process.pid}` });

const TIMED = [
  { map: MAP.ctTcp, key: STRUCT.xdpfw_ct_key.size, value: STRUCT.xdpfw_ct_entry.size, times: [0, 8] },
  { map: MAP.ctUdp, key: STRUCT.xdpfw_ct_key.size, value: STRUCT.xdpfw_ct_entry.size, times: [0, 8] },
  { map: MAP.ctIcmp, key: STRUCT.xdpfw_ct_key.size, value: STRUCT.xdpfw_ct_entry.size, times: [0, 8] },
  { map: MAP.ctFrag, key: STRUCT.xdpfw_ct_frag_key.size, value: STRUCT.xdpfw_ct_frag.size, times: [0] },
];

function eachEntry(o: PinOptions, visit: (fd: number, key: Buffer, value: Buffer, times: number[]) => void): void {
  const tables = openConntrackTables(o);
  try {
    for (const t of TIMED) {
      const fd = tables.get(t.map);
      if (fd === undefined) continue;
      const keys: Buffer[] = [];
      let previous: Buffer | null = null;
      for (;;) {
        const next = Buffer.alloc(t.key);
        if (bpf.mapGetNextKey(fd, previous, next) !== 0) break;
        keys.push(next);
        previous = next;
      }
      for (const key of keys) {
        const value = Buffer.alloc(t.value);
        if (bpf.mapLookupElem(fd, key, value) === 0) visit(fd, key, value, t.times);
      }
    }
  } finally {
    for (const fd of tables.values()) bpf.closeFd(fd);
  }
}

/**
 * Makes `seconds` pass for every entry: deadlines and creation times move
 * back (the kernel's clock cannot be moved). The clock counts from boot, so
 * a time before it becomes 0, which is as expired.
 */
export function age(o: PinOptions, seconds: number): void {
  const by = BigInt(Math.round(seconds * 1e9));
  eachEntry(o, (fd, key, value, times) => {
    for (const at of times) {
      const t = value.readBigUInt64LE(at);
      value.writeBigUInt64LE(t > by ? t - by : 0n, at);
    }
    bpf.mapUpdateElem(fd, key, value);
  });
}

/** Empties the tables (their pins stay). */
export function clear(o: PinOptions): void {
  eachEntry(o, (fd, key) => bpf.mapDeleteElem(fd, key));
}

/** Removes the tables' pins. */
export function removeTables(o: PinOptions): void {
  fs.rmSync(conntrackDir(o), { recursive: true, force: true });
}
