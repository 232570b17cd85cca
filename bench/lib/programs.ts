/**
 * The bench's own XDP programs (bench/bpf): the bare XDP_DROP and one-hash-
 * lookup baselines, the live-frames generator, and the address rotator that
 * keeps BPF_PROG_TEST_RUN from measuring only a cache-hot path.
 */
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { KernelError } from '../../src/xdp/errors.js';
import * as bpf from '../../src/xdp/libbpf.js';
import { loadObject, type LoadedObject } from '../../src/xdp/object.js';
import { OPTS } from '../../src/xdp/uapi.js';
import { run } from './sh.js';

export const BENCH_BPF_DIR = fileURLToPath(new URL('../bpf/', import.meta.url));

/** Builds bench/bpf (and bpf) when an object is missing or older than its source. */
export function buildBenchObjects(): void {
  run('make', ['-s', '-C', fileURLToPath(new URL('../../bpf/', import.meta.url))]);
  run('make', ['-s', '-C', BENCH_BPF_DIR]);
}

/** The token-bucket schemes of bench/bpf/meter-schemes.bpf.c, an object each (bench:meters). */
export type MeterObject = `meter-${'cas' | 'racy' | 'lock' | 'lock-lru' | 'percpu' | 'lookup' | 'clock'}`;

export function loadBenchObject(
  file:
    | 'drop'
    | 'hash'
    | 'txgen'
    | 'txspoof'
    | 'rotate4'
    | 'rotate6'
    | 'addr-trie'
    | 'addr-hashes'
    | 'addr-dir24'
    | 'addr-dir24x'
    | 'ctfloor'
    | MeterObject,
  options: Parameters<typeof loadObject>[1] = {},
): LoadedObject {
  const path = `${BENCH_BPF_DIR}${file}.bpf.o`;
  if (!fs.existsSync(path)) buildBenchObjects();
  return loadObject(path, options);
}

function mapFd(obj: LoadedObject, name: string): number {
  const m = obj.maps.get(name);
  if (!m) throw new Error(`${obj.path} has no map ${name}`);
  return m.fd;
}

/** Writes `count` entries of `keySize`/`valueSize` bytes with batch updates. */
export function fillBatch(fd: number, keys: Buffer, values: Buffer, keySize: number, valueSize: number, what: string): void {
  const total = keys.length / keySize;
  const opts = Buffer.alloc(OPTS.mapBatch.size);
  opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
  const count = Buffer.alloc(4);
  const chunk = 65536;
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    count.writeUInt32LE(n, 0);
    const r = bpf.mapUpdateBatch(
      fd,
      keys.subarray(start * keySize, (start + n) * keySize),
      values.subarray(start * valueSize, (start + n) * valueSize),
      count,
      opts,
    );
    if (r < 0) throw new KernelError(`filling ${what}`, -r);
  }
}

/** The one-hash-lookup baseline with `addrs` (network-order IPv4 as u32 numbers) in its map. */
export function loadHashBaseline(addrs: readonly number[]): LoadedObject {
  const obj = loadBenchObject('hash', { maxEntries: { bench_hash: Math.max(1, addrs.length) } });
  try {
    const keys = Buffer.alloc(addrs.length * 4);
    addrs.forEach((a, i) => keys.writeUInt32BE(a, i * 4)); // network order in the map, as in the packet
    fillBatch(mapFd(obj, 'bench_hash'), keys, Buffer.alloc(addrs.length * 4, 1), 4, 4, 'bench_hash');
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** Address pairs to rotate through: 4 or 16 network-order bytes each. */
export interface Rotation {
  family: 4 | 6;
  src: Uint8Array[];
  dst: Uint8Array[];
}

/**
 * The rotator: a program that writes the next address pair of `rotation`
 * into the test frame and tail-calls `targetFd`. Its progFd is what to
 * test-run; `retarget` points it at another program (the same table).
 */
export class Rotator {
  private readonly obj: LoadedObject;
  readonly size: number;

  constructor(private readonly rotation: Rotation) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(1, rotation.src.length)));
    if (rotation.src.length !== size || rotation.dst.length !== size) {
      throw new RangeError(`a rotation needs a power-of-two number of address pairs, not ${rotation.src.length}`);
    }
    this.size = size;
    this.obj = loadBenchObject(rotation.family === 4 ? 'rotate4' : 'rotate6', {
      rodata: { cfg_mask: size - 1 },
      maxEntries: { bench_addrs: size },
    });
    try {
      const keys = Buffer.alloc(size * 4);
      const values = Buffer.alloc(size * 32);
      for (let i = 0; i < size; i++) {
        keys.writeUInt32LE(i, i * 4);
        values.set(rotation.src[i], i * 32);
        values.set(rotation.dst[i], i * 32 + 16);
      }
      fillBatch(mapFd(this.obj, 'bench_addrs'), keys, values, 4, 32, 'bench_addrs');
    } catch (err) {
      this.obj.close();
      throw err;
    }
  }

  get progFd(): number {
    return this.obj.progFd;
  }

  /** The IPv4 source addresses of the rotation, as unsigned numbers (empty for IPv6). */
  get sources4(): number[] {
    if (this.rotation.family !== 4) return [];
    return this.rotation.src.map((b) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0));
  }

  retarget(targetFd: number): void {
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(4);
    value.writeUInt32LE(targetFd, 0);
    const r = bpf.mapUpdateElem(mapFd(this.obj, 'bench_target'), key, value);
    if (r < 0) throw new KernelError('pointing the rotator at the program under test (prog array)', -r);
  }

  close(): void {
    this.obj.close();
  }
}
