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
import { liveFramesOptions } from '../../../src/xdp/test-run.js';

const [object, ifname, srcMac, dstMac, host, port, count, chunk, pauseMs] = process.argv.slice(2);
const frame = Buffer.from(
  buildFrame(
    { family: 4, protocol: 6, src: '10.200.0.1', dst: host, sport: 1000, dport: Number(port), tcpFlags: 0x02 },
    { srcMac, dstMac },
  ),
);
const loaded = loadObject(object);
const live = liveFramesOptions(frame, ifindexOf(ifname), Number(chunk));

const t0 = process.hrtime.bigint();
let sent = 0;
while (sent < Number(count)) {
  const r = bpf.progTestRun(loaded.progFd, live.opts);
  if (r < 0) throw new Error(`live-frames test run failed: errno ${-r}`);
  sent += Number(chunk);
  await new Promise((resolve) => setTimeout(resolve, Number(pauseMs)));
}
process.stdout.write(`${JSON.stringify({ sent, seconds: Number(process.hrtime.bigint() - t0) / 1e9 })}\n`);
loaded.close();
