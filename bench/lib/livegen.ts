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
import { OPTS } from '../../src/xdp/uapi.js';
import { withNetns } from './native.js';
import { loadBenchObject } from './programs.js';

const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
const BATCH = 64;
/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
const XDP_MD_SIZE = 24;

export class LiveGenerator {
  private readonly obj: LoadedObject;
  private readonly opts = Buffer.alloc(OPTS.testRun.size);
  private readonly data: Buffer;
  private readonly ctx = Buffer.alloc(XDP_MD_SIZE);

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
    this.data = Buffer.from(frame);
    const o = OPTS.testRun;
    this.ctx.writeUInt32LE(this.data.length, 4); // data_end: the whole frame
    this.ctx.writeUInt32LE(ifindex, 12);
    this.opts.writeBigUInt64LE(BigInt(o.size), 0);
    this.opts.writeBigUInt64LE(bpf.addressOf(this.data), o.dataIn);
    this.opts.writeUInt32LE(this.data.length, o.dataSizeIn);
    this.opts.writeBigUInt64LE(bpf.addressOf(this.ctx), o.ctxIn);
    this.opts.writeUInt32LE(XDP_MD_SIZE, o.ctxSizeIn);
    this.opts.writeUInt32LE(BPF_F_TEST_XDP_LIVE_FRAMES, o.flags);
    this.opts.writeUInt32LE(BATCH, o.batchSize);
  }

  /** Puts `count` frames on the wire; returns the wall time it took, in ns. */
  send(count: number): number {
    this.opts.writeUInt32LE(count, OPTS.testRun.repeat);
    return withNetns(this.netns, () => {
      const t0 = process.hrtime.bigint();
      const r = bpf.progTestRun(this.obj.progFd, this.opts);
      const t1 = process.hrtime.bigint();
      if (r < 0) throw new KernelError('sending live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES)', -r);
      return Number(t1 - t0);
    });
  }

  close(): void {
    this.obj.close();
  }
}
