/**
 * BPF_PROG_TEST_RUN: run a loaded XDP program on one frame and get its
 * verdict, without an interface. The opts struct and the frame buffer are
 * laid out once per runner, so a call costs one copy and one syscall
 * (~2 µs from Node): fast enough to replay thousands of packets in a test.
 */

import { KernelError } from './errors.js';
import * as bpf from './libbpf.js';
import { OPTS, TEST_RUN_MAX_FRAME, TEST_RUN_MIN_FRAME, XDP_ACTION_NAMES } from './uapi.js';

export type XdpActionName = (typeof XDP_ACTION_NAMES)[number];

/** 0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect. */
export function xdpActionName(action: number): XdpActionName | `unknown(${number})` {
  return XDP_ACTION_NAMES[action] ?? `unknown(${action})`;
}

export interface TimedRun {
  action: number;
  /** Mean in-kernel time of one run, in ns, as the kernel measured it. */
  durationNs: number;
}

export class TestRunner {
  private readonly opts = Buffer.alloc(OPTS.testRun.size);
  private readonly data = Buffer.alloc(TEST_RUN_MAX_FRAME);
  private readonly out = Buffer.alloc(TEST_RUN_MAX_FRAME);

  constructor(readonly progFd: number) {
    const o = OPTS.testRun;
    this.opts.writeBigUInt64LE(BigInt(o.size), 0);
    this.opts.writeBigUInt64LE(bpf.addressOf(this.data), o.dataIn);
    this.opts.writeInt32LE(1, o.repeat);
  }

  /** The program's return value (an XDP action) for `frame`. */
  run(frame: Uint8Array): number {
    this.prepare(frame);
    return this.call();
  }

  /** Runs `frame` `repeat` times in the kernel; the kernel reports the mean time. */
  timed(frame: Uint8Array, repeat: number): TimedRun {
    this.prepare(frame);
    this.opts.writeInt32LE(repeat, OPTS.testRun.repeat);
    try {
      const action = this.call();
      return { action, durationNs: this.opts.readUInt32LE(OPTS.testRun.duration) };
    } finally {
      this.opts.writeInt32LE(1, OPTS.testRun.repeat);
    }
  }

  /** The verdict and the frame as the program left it (after any rewrite). */
  runWithOutput(frame: Uint8Array): { action: number; frame: Buffer } {
    const o = OPTS.testRun;
    this.prepare(frame);
    this.opts.writeBigUInt64LE(bpf.addressOf(this.out), o.dataOut);
    // data_size_out bounds the copy-out; the kernel replaces it with the frame's size
    this.opts.writeUInt32LE(this.out.length, o.dataSizeOut);
    try {
      const action = this.call();
      return { action, frame: Buffer.from(this.out.subarray(0, this.opts.readUInt32LE(o.dataSizeOut))) };
    } finally {
      this.opts.writeBigUInt64LE(0n, o.dataOut);
      this.opts.writeUInt32LE(0, o.dataSizeOut);
    }
  }

  private prepare(frame: Uint8Array): void {
    if (frame.length < TEST_RUN_MIN_FRAME || frame.length > TEST_RUN_MAX_FRAME) {
      throw new RangeError(`a test frame must be ${TEST_RUN_MIN_FRAME}..${TEST_RUN_MAX_FRAME} bytes, this one has ${frame.length}`);
    }
    this.data.set(frame, 0);
    this.opts.writeUInt32LE(frame.length, OPTS.testRun.dataSizeIn);
    // The kernel writes the output size back here, and a later call would
    // take it as the size of an output buffer (ENOSPC for a longer frame).
    this.opts.writeUInt32LE(0, OPTS.testRun.dataSizeOut);
  }

  private call(): number {
    const r = bpf.progTestRun(this.progFd, this.opts);
    if (r < 0) throw new KernelError(`test-running program fd ${this.progFd}`, -r);
    return this.opts.readUInt32LE(OPTS.testRun.retval);
  }
}

const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex. */
const XDP_MD_SIZE = 24;

/**
 * BPF_PROG_TEST_RUN options for the kernel's XDP live-frames mode: each of
 * `repeat` runs of a program that returns XDP_TX puts `frame` (as the
 * program left it) on the interface `ifindex`, whose peer receives it as
 * from a NIC — the benches' and tests' traffic generator. `opts` points
 * into `ctx` and `frame`: use it through the returned object, which keeps
 * them alive.
 */
export function liveFramesOptions(frame: Buffer, ifindex: number, repeat: number): { opts: Buffer; ctx: Buffer; frame: Buffer } {
  const o = OPTS.testRun;
  const ctx = Buffer.alloc(XDP_MD_SIZE);
  ctx.writeUInt32LE(frame.length, 4); // data_end: the whole frame
  ctx.writeUInt32LE(ifindex, 12);
  const opts = Buffer.alloc(o.size);
  opts.writeBigUInt64LE(BigInt(o.size), 0);
  opts.writeBigUInt64LE(bpf.addressOf(frame), o.dataIn);
  opts.writeUInt32LE(frame.length, o.dataSizeIn);
  opts.writeBigUInt64LE(bpf.addressOf(ctx), o.ctxIn);
  opts.writeUInt32LE(XDP_MD_SIZE, o.ctxSizeIn);
  opts.writeUInt32LE(repeat, o.repeat);
  opts.writeUInt32LE(BPF_F_TEST_XDP_LIVE_FRAMES, o.flags);
  opts.writeUInt32LE(64, o.batchSize);
  return { opts, ctx, frame };
}
