/**
 * One decision as the XDP program wrote it to a ring (struct
 * xdpfw_trace_event): the trace ring and the log ring carry the same record.
 */

import { EVENT_AUDIT, EVENT_LOG, STRUCT } from '../contract/kernel.js';

const EVENT = STRUCT.xdpfw_trace_event;
const NO_RULE = 0xffff_ffff;

/** One decision as the program recorded it. */
export interface TraceRecord {
  ifname: string;
  /** CLOCK_MONOTONIC, ns. */
  timeNs: bigint;
  /** The deciding rule's index, or null: the default, a malformed or a non-IP packet (see counter). */
  rule: number | null;
  /** XDPFW_CNT_* when no rule decided. */
  counter: number;
  /** XDP_* returned; with `audit`, what would have been returned. */
  action: number;
  /** Not enforced: an `audit` rule's would-be decision, or what `mode audit` passed. */
  audit: boolean;
  /** The deciding rule has `log`. */
  logged: boolean;
  frameLength: number;
  /** The frame's first bytes (up to TRACE_SNAPLEN). */
  frame: Buffer;
}

export function decodeTraceRecord(ifname: string, record: Buffer): TraceRecord {
  const rule = record.readUInt32LE(EVENT.fields.rule);
  const captured = Math.min(record.readUInt32LE(EVENT.fields.captured), record.length - EVENT.fields.data);
  return {
    ifname,
    timeNs: record.readBigUInt64LE(EVENT.fields.time_ns),
    rule: rule === NO_RULE ? null : rule,
    counter: record.readUInt32LE(EVENT.fields.counter),
    action: record.readUInt32LE(EVENT.fields.action),
    audit: (record.readUInt32LE(EVENT.fields.flags) & EVENT_AUDIT) !== 0,
    logged: (record.readUInt32LE(EVENT.fields.flags) & EVENT_LOG) !== 0,
    frameLength: record.readUInt32LE(EVENT.fields.frame_len),
    frame: record.subarray(EVENT.fields.data, EVENT.fields.data + captured),
  };
}
