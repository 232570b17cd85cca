/**
 * Timing programs with BPF_PROG_TEST_RUN in three modes, and the packets
 * they run on.
 *   hot   one frame repeated: the kernel's own figure, every map access cached;
 *   warm  the rotator writes the next of 4,096 address pairs into the frame
 *         every repeat: a working set like a busy server's active peers;
 *   cold  the same over 131,072 pairs drawn across the whole set: a flood
 *         from spread-out sources, where large maps miss the caches.
 */
import { TestRunner } from '../../src/xdp/test-run.js';
import { PACKET_LABEL, packetCase, type PacketKind } from './frames.js';
import type { AddressSet } from './policy-gen.js';
import { Rotator } from './programs.js';
import { sample, type Sample } from './stats.js';

export const REPEAT = 1_000_000;
export const RUNS = 3;
export const MODES = ['hot', 'warm', 'cold'] as const;
export type Mode = (typeof MODES)[number];
export const ROTATION_SIZE: Record<Exclude<Mode, 'hot'>, number> = { warm: 1 << 12, cold: 1 << 17 };

export type SetName = 'small' | 'large';
export const SET_LABEL: Record<SetName, string> = { small: '10+10', large: '1M+100k' };

export interface Case {
  kind: PacketKind;
  packet: string;
  /** The frame a hot run repeats (the cold rotation's first pair). */
  frame: Uint8Array;
  rotators: Record<Exclude<Mode, 'hot'>, Rotator>;
}

export type Timing = Record<Mode, Sample>;

/** Packet cases by set and kind, with their rotators loaded once and shared by every program. */
export class Packets {
  private readonly cases = new Map<string, Case>();

  constructor(private readonly sets: Record<SetName, AddressSet>) {}

  get(set: SetName, kind: PacketKind): Case {
    const key = `${set}/${kind}`;
    let c = this.cases.get(key);
    if (!c) {
      const cold = packetCase(kind, this.sets[set], ROTATION_SIZE.cold, 11);
      const warm = packetCase(kind, this.sets[set], ROTATION_SIZE.warm, 12);
      const rotators = { cold: new Rotator(cold.rotation), warm: new Rotator(warm.rotation) };
      c = { kind, packet: PACKET_LABEL[kind], frame: cold.frame, rotators };
      this.cases.set(key, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.cases.values()) for (const r of Object.values(c.rotators)) r.close();
  }
}

/** Runs `c` once in `mode` with `repeat` repeats; returns the XDP action and the kernel's mean ns. */
export function runCase(progFd: number, c: Case, mode: Mode, repeat: number): { action: number; durationNs: number } {
  if (mode === 'hot') return new TestRunner(progFd).timed(c.frame, repeat);
  const rotator = c.rotators[mode];
  rotator.retarget(progFd);
  return new TestRunner(rotator.progFd).timed(c.frame, repeat);
}

/** Times every case of one program in every mode: RUNS rounds, so drift spreads over all cases alike. */
export function timeCases(progFd: number, cases: Case[], repeat = REPEAT): Timing[] {
  const runs = cases.map(() => ({ hot: [] as number[], warm: [] as number[], cold: [] as number[] }));
  for (let round = 0; round < RUNS; round++) {
    cases.forEach((c, i) => {
      for (const mode of MODES) runs[i][mode].push(runCase(progFd, c, mode, repeat).durationNs);
    });
  }
  return runs.map((r) => ({ hot: sample(r.hot), warm: sample(r.warm), cold: sample(r.cold) }));
}
