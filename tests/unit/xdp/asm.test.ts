/**
 * The instruction encoder (src/xdp/asm.ts) against encodings written out
 * by hand from linux/bpf.h's struct bpf_insn (code, dst | src << 4, off,
 * imm; little-endian), and its resolution of jumps to labels.
 */
import { describe, expect, it } from 'vitest';
import { Assembler, FP, HELPER, Label, R0, R1, R2, R3, R4, R8, R9 } from '../../../src/xdp/asm.js';

const hex = (buffer: Buffer) => (buffer.toString('hex').match(/.{16}/g) ?? []).join(' ');

describe('the BPF assembler', () => {
  it('encodes loads, stores and ALU operations as linux/bpf.h lays them out', () => {
    const a = new Assembler();
    a.load('u32', R2, R1, 4); // r2 = *(u32 *)(r1 + 4)
    a.load('u8', R4, R2, 47);
    a.load('u16', R4, R2, -2);
    a.load('u64', R1, R0, 8);
    a.store64(R0, 8, R1); // *(u64 *)(r0 + 8) = r1
    a.store32Imm(FP, -4, 7); // *(u32 *)(r10 - 4) = 7
    a.mov64Imm(R8, 2);
    a.mov64(R9, R3);
    a.add64Imm(R4, -20);
    a.add64(R1, R9);
    a.sub64(R9, R2);
    a.and32Imm(R4, 0xffffffff);
    a.hostToBigEndian(R4, 16);
    expect(hex(a.assemble())).toBe(
      [
        '6112040000000000',
        '71242f0000000000',
        '6924feff00000000',
        '7901080000000000',
        '7b10080000000000',
        '620afcff07000000',
        'b708000002000000',
        'bf39000000000000',
        '07040000ecffffff',
        '0f91000000000000',
        '1f29000000000000',
        '54040000ffffffff',
        'dc04000010000000',
      ].join(' '),
    );
  });

  it('encodes calls, exits and a map fd as a two-slot ld_imm64 with BPF_PSEUDO_MAP_FD', () => {
    const a = new Assembler();
    a.loadMapFd(R1, 42);
    a.call(HELPER.mapLookupElem);
    a.exit();
    expect(hex(a.assemble())).toBe(['18110000' + '2a000000', '0000000000000000', '8500000001000000', '9500000000000000'].join(' '));
  });

  it('resolves jumps to labels placed before or after them, relative to the next instruction', () => {
    const a = new Assembler();
    const back = new Label();
    const ahead = new Label();
    const end = new Label();
    a.place(back);
    a.jumpImm('ne', R4, 0x45, ahead); // 0: to 3
    a.jump32Imm('eq', R4, 10, end); // 1: to 4, past the last
    a.jumpReg('gt', R4, R3, back); // 2: back to 0
    a.place(ahead);
    a.jump(back); // 3: back to 0
    const out = a.assemble(end);
    expect(hex(out)).toBe(['5504020045000000', '160402000a000000', '2d34fdff00000000', '0500fcff00000000'].join(' '));
    expect(end.pos).toBe(4);
  });

  it('refuses a jump to a label it never placed', () => {
    const a = new Assembler();
    a.jump(new Label());
    expect(() => a.assemble()).toThrow('instruction 0 jumps to a label never placed');
  });
});
