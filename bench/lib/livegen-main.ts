/**
 * A live-frames sender in its own process, for the control bench: the parent
 * replaces programs while this one keeps traffic flowing. Run inside the
 * sending namespace (`ip netns exec xdpfw-bench-tx …`). Prints `ready`, sends
 * in chunks until its stdin closes, then prints `{"sent":N,"ns":T}`.
 *
 *   tsx bench/lib/livegen-main.ts IFNAME FRAME_HEX
 */
import { ifindexOf } from '../../src/xdp/link.js';
import * as bpf from '../../src/xdp/libbpf.js';
import { OPTS } from '../../src/xdp/uapi.js';
import { loadBenchObject } from './programs.js';

const CHUNK = 50_000;

async function main(): Promise<void> {
  const [ifname, hex] = process.argv.slice(2);
  if (!ifname || !hex) throw new Error('usage: livegen-main.ts IFNAME FRAME_HEX');
  const obj = loadBenchObject('txgen');
  const data = Buffer.from(hex, 'hex');
  const ctx = Buffer.alloc(24);
  ctx.writeUInt32LE(data.length, 4);
  ctx.writeUInt32LE(ifindexOf(ifname), 12);
  const o = OPTS.testRun;
  const opts = Buffer.alloc(o.size);
  opts.writeBigUInt64LE(BigInt(o.size), 0);
  opts.writeBigUInt64LE(bpf.addressOf(data), o.dataIn);
  opts.writeUInt32LE(data.length, o.dataSizeIn);
  opts.writeBigUInt64LE(bpf.addressOf(ctx), o.ctxIn);
  opts.writeUInt32LE(24, o.ctxSizeIn);
  opts.writeUInt32LE(CHUNK, o.repeat);
  opts.writeUInt32LE(1 << 1 /* BPF_F_TEST_XDP_LIVE_FRAMES */, o.flags);
  opts.writeUInt32LE(64, o.batchSize);
  let stop = false;
  process.stdin.on('end', () => (stop = true)).on('close', () => (stop = true));
  process.stdin.resume();
  process.stdout.write('ready\n');
  let sent = 0;
  const t0 = process.hrtime.bigint();
  while (!stop) {
    const r = bpf.progTestRun(obj.progFd, opts);
    if (r < 0) throw new Error(`live frames: errno ${-r}`);
    sent += CHUNK;
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.stdout.write(`${JSON.stringify({ sent, ns: Number(process.hrtime.bigint() - t0) })}\n`);
  obj.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`livegen: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
