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
import { liveFramesOptions } from '../../src/xdp/test-run.js';
import { loadBenchObject } from './programs.js';

const CHUNK = 50_000;

async function main(): Promise<void> {
  const [ifname, hex] = process.argv.slice(2);
  if (!ifname || !hex) throw new Error('usage: livegen-main.ts IFNAME FRAME_HEX');
  const obj = loadBenchObject('txgen');
  const data = Buffer.from(hex, 'hex');
  const live = liveFramesOptions(data, ifindexOf(ifname), CHUNK);
  let stop = false;
  process.stdin.on('end', () => (stop = true)).on('close', () => (stop = true));
  process.stdin.resume();
  process.stdout.write('ready\n');
  let sent = 0;
  const t0 = process.hrtime.bigint();
  while (!stop) {
    const r = bpf.progTestRun(obj.progFd, live.opts);
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
