/**
 * Sends the flood test's spoofed SYNs from inside the peer namespace
 * (`ip netns exec PEER node --import TS_LOADER synflood-send.ts …`): the
 * synflood fixture run in live-frames mode puts each frame on IFNAME, in
 * chunks with pauses so that the host stays able to run its other flows.
 * Prints `{"sent":N,"seconds":S}`.
 *
 *   synflood-send.ts OBJECT IFNAME SRC_MAC DST_MAC HOST PORT COUNT CHUNK PAUSE_MS
 */
import { buildFrame } from '../../../src/packet/build.js';
import * as bpf from '../../../src/xdp/libbpf.js';
import { ifindexOf } from '../../../src/xdp/link.js';
import { loadObject } from '../../../src/xdp/object.js';
import { OPTS } from '../../../src/xdp/uapi.js';

const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
const XDP_MD_SIZE = 24; // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex

const [object, ifname, srcMac, dstMac, host, port, count, chunk, pauseMs] = process.argv.slice(2);
const frame = Buffer.from(
  buildFrame(
    { family: 4, protocol: 6, src: '10.200.0.1', dst: host, sport: 1000, dport: Number(port), tcpFlags: 0x02 },
    { srcMac, dstMac },
  ),
);
const loaded = loadObject(object);
const ctx = Buffer.alloc(XDP_MD_SIZE);
ctx.writeUInt32LE(frame.length, 4);
ctx.writeUInt32LE(ifindexOf(ifname), 12);
const o = OPTS.testRun;
const opts = Buffer.alloc(o.size);
opts.writeBigUInt64LE(BigInt(o.size), 0);
opts.writeBigUInt64LE(bpf.addressOf(frame), o.dataIn);
opts.writeUInt32LE(frame.length, o.dataSizeIn);
opts.writeBigUInt64LE(bpf.addressOf(ctx), o.ctxIn);
opts.writeUInt32LE(XDP_MD_SIZE, o.ctxSizeIn);
opts.writeUInt32LE(Number(chunk), o.repeat);
opts.writeUInt32LE(BPF_F_TEST_XDP_LIVE_FRAMES, o.flags);
opts.writeUInt32LE(64, o.batchSize);

const t0 = process.hrtime.bigint();
let sent = 0;
while (sent < Number(count)) {
  const r = bpf.progTestRun(loaded.progFd, opts);
  if (r < 0) throw new Error(`live-frames test run failed: errno ${-r}`);
  sent += Number(chunk);
  await new Promise((resolve) => setTimeout(resolve, Number(pauseMs)));
}
process.stdout.write(`${JSON.stringify({ sent, seconds: Number(process.hrtime.bigint() - t0) / 1e9 })}\n`);
loaded.close();
