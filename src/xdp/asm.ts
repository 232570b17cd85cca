/**
 * A small eBPF instruction encoder (cilium/ebpf's asm/, for what xdpfw
 * emits): the opcode fields of linux/bpf.h, registers, and an assembler
 * that appends `struct bpf_insn`s, resolves jumps to labels and encodes
 * them. It knows nothing of what it encodes; src/xdp/fast-path.ts uses it.
 */

/** Opcode classes, sizes, modes and operations of linux/bpf.h (`BPF_*`). */
const CLASS = { ld: 0x00, ldx: 0x01, st: 0x02, stx: 0x03, alu: 0x04, jmp: 0x05, jmp32: 0x06, alu64: 0x07 } as const;
const SIZE = { u32: 0x00, u16: 0x08, u8: 0x10, u64: 0x18 } as const;
const MODE = { imm: 0x00, mem: 0x60 } as const;
/** The operand: the immediate (BPF_K) or the source register (BPF_X). */
const SOURCE = { imm: 0x00, reg: 0x08 } as const;
const ALU = { add: 0x00, sub: 0x10, and: 0x50, mov: 0xb0, end: 0xd0 } as const;
const JUMP = { ja: 0x00, eq: 0x10, gt: 0x20, ge: 0x30, set: 0x40, ne: 0x50, call: 0x80, exit: 0x90, lt: 0xa0, le: 0xb0 } as const;
/** BPF_END's direction bit: to big endian (BPF_TO_BE), in the place of BPF_X. */
const TO_BE = 0x08;
/** ld_imm64's source register for a map fd (BPF_PSEUDO_MAP_FD). */
const PSEUDO_MAP_FD = 1;

export type Size = keyof typeof SIZE;
export type Condition = Exclude<keyof typeof JUMP, 'ja' | 'call' | 'exit'>;
export type Register = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** r0 the return value and helper result, r1-r5 arguments, r6-r9 kept across calls, r10 the frame pointer. */
export const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R4 = 4,
  R5 = 5,
  R6 = 6,
  R7 = 7,
  R8 = 8,
  R9 = 9,
  FP = 10;

/** Helper function ids (enum bpf_func_id). */
export const HELPER = { mapLookupElem: 1 } as const;

/** One struct bpf_insn; `off` is a label until the assembler resolves it. */
export interface Insn {
  code: number;
  dst: Register;
  src: Register;
  off: number | Label;
  imm: number;
}

/** A jump target, placed with `Assembler.place`. */
export class Label {
  pos = -1;
}

export function insn(code: number, dst: Register, src: Register, off: number | Label, imm: number): Insn {
  return { code, dst, src, off, imm };
}

export class Assembler {
  readonly insns: Insn[] = [];

  private add(code: number, dst: Register, src: Register, off: number | Label, imm: number): void {
    this.insns.push(insn(code, dst, src, off, imm));
  }

  /** dst = *(size *)(base + off) */
  load(size: Size, dst: Register, base: Register, off: number): void {
    this.add(CLASS.ldx | MODE.mem | SIZE[size], dst, base, off, 0);
  }
  /** *(u64 *)(base + off) = src */
  store64(base: Register, off: number, src: Register): void {
    this.add(CLASS.stx | MODE.mem | SIZE.u64, base, src, off, 0);
  }
  /** *(u32 *)(base + off) = imm */
  store32Imm(base: Register, off: number, imm: number): void {
    this.add(CLASS.st | MODE.mem | SIZE.u32, base, 0, off, imm);
  }

  mov64Imm(dst: Register, imm: number): void {
    this.add(CLASS.alu64 | ALU.mov | SOURCE.imm, dst, 0, 0, imm);
  }
  mov64(dst: Register, src: Register): void {
    this.add(CLASS.alu64 | ALU.mov | SOURCE.reg, dst, src, 0, 0);
  }
  add64Imm(dst: Register, imm: number): void {
    this.add(CLASS.alu64 | ALU.add | SOURCE.imm, dst, 0, 0, imm);
  }
  add64(dst: Register, src: Register): void {
    this.add(CLASS.alu64 | ALU.add | SOURCE.reg, dst, src, 0, 0);
  }
  sub64(dst: Register, src: Register): void {
    this.add(CLASS.alu64 | ALU.sub | SOURCE.reg, dst, src, 0, 0);
  }
  /** 32-bit: dst = (u32)dst & imm, the upper half cleared. */
  and32Imm(dst: Register, imm: number): void {
    this.add(CLASS.alu | ALU.and | SOURCE.imm, dst, 0, 0, imm);
  }
  /**
   * be16/be32/be64: dst's low `bits` in big-endian order. A swap on a
   * little-endian host, so it also turns a value loaded in network order
   * into the host's.
   */
  hostToBigEndian(dst: Register, bits: 16 | 32 | 64): void {
    this.add(CLASS.alu | ALU.end | TO_BE, dst, 0, 0, bits);
  }

  /** goto to */
  jump(to: Label): void {
    this.add(CLASS.jmp | JUMP.ja, 0, 0, to, 0);
  }
  /** if (dst <condition> imm) goto to; 64-bit, unsigned. */
  jumpImm(condition: Condition, dst: Register, imm: number, to: Label): void {
    this.add(CLASS.jmp | JUMP[condition] | SOURCE.imm, dst, 0, to, imm);
  }
  /** As jumpImm on the registers' low 32 bits. */
  jump32Imm(condition: Condition, dst: Register, imm: number, to: Label): void {
    this.add(CLASS.jmp32 | JUMP[condition] | SOURCE.imm, dst, 0, to, imm);
  }
  /** if (dst <condition> src) goto to; 64-bit, unsigned. */
  jumpReg(condition: Condition, dst: Register, src: Register, to: Label): void {
    this.add(CLASS.jmp | JUMP[condition] | SOURCE.reg, dst, src, to, 0);
  }
  call(helper: number): void {
    this.add(CLASS.jmp | JUMP.call, 0, 0, 0, helper);
  }
  exit(): void {
    this.add(CLASS.jmp | JUMP.exit, 0, 0, 0, 0);
  }
  /** dst = the map of `fd` (ld_imm64, two slots; the kernel swaps in the map's address). */
  loadMapFd(dst: Register, fd: number): void {
    this.add(CLASS.ld | MODE.imm | SIZE.u64, dst, PSEUDO_MAP_FD, 0, fd);
    this.add(0, 0, 0, 0, 0);
  }

  /** The next instruction is `label`'s. */
  place(label: Label): void {
    label.pos = this.insns.length;
  }

  /**
   * The struct bpf_insn[] (little-endian), every jump resolved; `end`, if
   * given, is placed just past the last instruction (what follows them).
   */
  assemble(end?: Label): Buffer {
    if (end) end.pos = this.insns.length;
    const out = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((ins, i) => {
      let off = ins.off;
      if (off instanceof Label) {
        if (off.pos < 0) throw new Error(`instruction ${i} jumps to a label never placed`);
        off = off.pos - i - 1;
      }
      if (off < -0x8000 || off > 0x7fff) throw new RangeError(`instruction ${i}: jump offset ${off} out of range`);
      out.writeUInt8(ins.code, i * 8);
      out.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(ins.imm | 0, i * 8 + 4);
    });
    return out;
  }
}
