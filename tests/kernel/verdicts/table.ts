/**
 * Verdict tables, as Katran's lib/testing fixtures and bpfilter's e2e
 * matchers: each case is a policy, a packet, and what the real XDP program
 * must do with it — its action, the counter that decided (a rule index,
 * `default`, `malformed` or `non-ip`), whether the fragment counter moved,
 * and where asked, that the deciding counter grew by the frame's length.
 * Semantics: docs/DESIGN.md, "Packet semantics". Every case runs on the bit
 * vectors, and again on the linear path when its policy qualifies for it.
 */
import { afterAll, describe, expect, it } from 'vitest';

import type { ClassifyChoice } from '../../../src/compiler/index.js';
import { layOutFrame, type FrameLayout } from '../../../src/packet/build.js';
import { parsePacket } from '../../../src/packet/describe.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import type { Counters } from '../../../src/xdp/maps.js';
import type { Judgement, PolicyJudge } from '../../../src/xdp/judge.js';
import { compileInterfaceText, judgePolicy, skipWithoutRoot } from '../../support/kernel.js';

/** Packet text (src/packet/describe.ts), a spec, or a built frame edited byte by byte. */
export type PacketInput = string | PacketSpec | EditedFrame;

export interface VerdictCase {
  /** A sentence stating the behaviour: it is the test's name. */
  description: string;
  /** Policy text with one interface. */
  policy: string;
  /** Set files and includes the policy reads, by path. */
  files?: Record<string, string>;
  packet: PacketInput;
  verdict: 'allow' | 'drop';
  matched: Judgement['matched'];
  /** The packet is a non-first fragment, so the fragment counter moves too. Default false. */
  fragment?: boolean;
  /** Also assert that the deciding counter (and the fragment counter) grew by one packet of the frame's length. */
  countsBytes?: boolean;
}

/** A frame built from packet text or a spec, then changed where the builder cannot express it. */
export interface EditedFrame {
  base: string | PacketSpec;
  edit: (frame: FrameEditor) => void;
}

export function edited(base: string | PacketSpec, edit: (frame: FrameEditor) => void): EditedFrame {
  return { base, edit };
}

/** Byte-level changes at the offsets layOutFrame reports. */
export class FrameEditor {
  bytes: Uint8Array;
  /** Start of the IP header. */
  readonly l3: number;
  /** Start of the TCP/UDP/ICMP header; throws when the frame has none. */
  get l4(): number {
    if (this.layout.l4Offset === null) throw new Error('this frame has no L4 header to edit');
    return this.layout.l4Offset;
  }

  constructor(private readonly layout: FrameLayout) {
    this.bytes = layout.bytes.slice();
    this.l3 = layout.l3Offset;
  }

  set8(offset: number, value: number): this {
    this.bytes[offset] = value;
    return this;
  }

  set16(offset: number, value: number): this {
    new DataView(this.bytes.buffer, this.bytes.byteOffset).setUint16(offset, value);
    return this;
  }

  get16(offset: number): number {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset).getUint16(offset);
  }

  /** Keeps the first `length` bytes. */
  cut(length: number): this {
    this.bytes = this.bytes.slice(0, length);
    return this;
  }

  /** Grows the frame to `length` bytes of `fill`, as a NIC pads a short Ethernet frame. */
  padTo(length: number, fill = 0): this {
    const out = new Uint8Array(Math.max(length, this.bytes.length)).fill(fill);
    out.set(this.bytes);
    this.bytes = out;
    return this;
  }
}

export function frameOf(packet: PacketInput): Uint8Array {
  const specOf = (p: string | PacketSpec): PacketSpec => (typeof p === 'string' ? parsePacket(p) : p);
  if (typeof packet === 'string' || !('edit' in packet)) return layOutFrame(specOf(packet)).bytes;
  const editor = new FrameEditor(layOutFrame(specOf(packet.base)));
  packet.edit(editor);
  return editor.bytes;
}

function decidingCounter(counters: Counters, matched: Judgement['matched']): { packets: bigint; bytes: bigint } {
  if (typeof matched === 'number') return counters.rules[matched];
  return counters.global[matched === 'non-ip' ? 'nonIp' : matched];
}

/** Cases with the same key share a policy, and so a program. */
function policyKey(c: VerdictCase): string {
  return JSON.stringify([c.policy, c.files ?? {}]);
}

/**
 * Runs every case through a loaded program, on the bit vectors and, for the
 * policies that qualify, on the linear path; one program per distinct
 * policy and path, shared by its cases.
 */
export function verdictTable(title: string, cases: VerdictCase[]): void {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.description)) throw new Error(`two cases of '${title}' are named '${c.description}'`);
    names.add(c.description);
  }
  const linear = new Map<string, boolean>();
  const qualifies = (c: VerdictCase) => {
    const key = policyKey(c);
    if (!linear.has(key)) linear.set(key, compileInterfaceText(c.policy, { files: c.files }).constants.linear !== null);
    return linear.get(key)!;
  };
  const skip = skipWithoutRoot(title);
  describe.skipIf(skip)(title, () => judgeCases(cases, 'lbvs'));
  describe.skipIf(skip)(`${title}, on the linear path`, () => judgeCases(cases.filter(qualifies), 'linear'));
}

function judgeCases(cases: VerdictCase[], classify: ClassifyChoice): void {
  const judges = new Map<string, Promise<PolicyJudge>>();
  afterAll(async () => {
    for (const judge of judges.values()) (await judge.catch(() => undefined))?.close();
  });
  const judgeOf = (c: VerdictCase): Promise<PolicyJudge> => {
    const key = policyKey(c);
    let judge = judges.get(key);
    if (!judge) {
      judge = judgePolicy(c.policy, { files: c.files, classify });
      judges.set(key, judge);
    }
    return judge;
  };

  for (const c of cases) {
    it(c.description, async () => {
      const judge = await judgeOf(c);
      const frame = frameOf(c.packet);
      const before = judge.counters();
      const judgement = judge.judge(frame);
      expect(judgement).toEqual({ action: c.verdict, matched: c.matched, fragment: c.fragment ?? false, audited: [] });
      if (!c.countsBytes) return;
      const after = judge.counters();
      const grew = (pick: (counters: Counters) => { packets: bigint; bytes: bigint }) => ({
        packets: pick(after).packets - pick(before).packets,
        bytes: pick(after).bytes - pick(before).bytes,
      });
      const oneFrame = { packets: 1n, bytes: BigInt(frame.length) };
      expect(grew((counters) => decidingCounter(counters, c.matched))).toEqual(oneFrame);
      if (c.fragment) expect(grew((counters) => counters.global.fragment)).toEqual(oneFrame);
    });
  }
}
