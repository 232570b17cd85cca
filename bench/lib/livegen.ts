/**
 * Traffic from the kernel's XDP "live frames" mode: the
 * bench/bpf/txgen.bpf.c program returns XDP_TX, and BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES and ingress_ifindex = the sending veth puts
 * each run's frame on that veth, so its peer receives it as from a NIC —
 * 3+ Mpps from one CPU, where sockets manage under 1 Mpps. The spoofing
 * variant (bench/bpf/txspoof.bpf.c) makes each TCP frame a SYN or an ACK
 * and, spread, from a random source.
 */
import { KernelError } from '../../src/xdp/errors.js';
import * as bpf from '../../src/xdp/libbpf.js';
import type { LoadedObject } from '../../src/xdp/object.js';
import { liveFramesOptions } from '../../src/xdp/test-run.js';
import { OPTS } from '../../src/xdp/uapi.js';
import { withNetns } from './native.js';
import { loadBenchObject } from './programs.js';

export class LiveGenerator {
  private readonly obj: LoadedObject;
  /** The run's options, and the frame and context they point into (kept alive with them). */
  private readonly run: { opts: Buffer; ctx: Buffer; frame: Buffer };

  /**
   * `netns`/`ifindex`: the sending veth, as seen from inside its namespace.
   * `spoof`: a TCP frame sent as spoofed SYNs and ACKs, of its one flow or
   * spread over random sources.
   */
  constructor(
    frame: Uint8Array,
    private readonly netns: string,
    ifindex: number,
    spoof?: 'one flow' | 'spread',
  ) {
    this.obj = spoof ? loadBenchObject('txspoof', { rodata: { cfg_spread: spoof === 'spread' ? 1 : 0 } }) : loadBenchObject('txgen');
    this.run = liveFramesOptions(Buffer.from(frame), ifindex, 1);
  }

  /** Puts `count` frames on the wire; returns the wall time it took, in ns. */
  send(count: number): number {
    this.run.opts.writeUInt32LE(count, OPTS.testRun.repeat);
    return withNetns(this.netns, () => {
      const t0 = process.hrtime.bigint();
      const r = bpf.progTestRun(this.obj.progFd, this.run.opts);
      const t1 = process.hrtime.bigint();
      if (r < 0) throw new KernelError('sending live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES)', -r);
      return Number(t1 - t0);
    });
  }

  close(): void {
    this.obj.close();
  }
}
