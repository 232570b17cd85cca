/**
 * The fast path's instructions, decoded: what each rule compiles to (IPv4
 * and IPv6), that rules the fast path cannot take get no code, that every jump lands inside
 * the prefix or exactly on the C program's first instruction, and that no
 * instruction is left that no path reaches (the verifier refuses those).
 * tests/kernel/fast-path.test.ts runs it against the C program.
 */
import { describe, expect, it } from 'vitest';
import { fastPathInsns } from '../../../src/xdp/fast-path.js';
import { asLoaded } from '../../../src/xdp/layout.js';
import { compileText } from '../compiler/helpers.js';

const MAPS = { ruleCounters: 41, counters: 42, traceCfg: 43 };

interface Decoded {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function decode(buffer: Buffer): Decoded[] {
  return Array.from({ length: buffer.length / 8 }, (_, i) => ({
    code: buffer.readUInt8(i * 8),
    dst: buffer.readUInt8(i * 8 + 1) & 0xf,
    src: buffer.readUInt8(i * 8 + 1) >> 4,
    off: buffer.readInt16LE(i * 8 + 2),
    imm: buffer.readInt32LE(i * 8 + 4),
  }));
}

/** The whole prefix: the tracer's check, then the packet's and the rules' code. */
function wholePrefixOf(rules: string, defaultAction = 'drop'): Decoded[] {
  const result = compileText(`interface eth0 {\n  default ${defaultAction}\n${rules}}\n`);
  const constants = result.compiled!.interfaces[0].constants;
  expect(constants.linear, 'the policy takes the linear path').toBeTruthy();
  return decode(fastPathInsns(constants.linear!, constants.defaultAction, MAPS));
}

/** Where the tracer's check ends: after its test of the switch's word (`if r0 != 0`, to the C program). */
const afterTraceCheck = (insns: Decoded[]) => insns.findIndex((i) => i.code === 0x55 && i.dst === 0) + 1;

/** The packet's and the rules' code, after the tracer's check (jumps are relative: they stay right). */
function prefixOf(rules: string, defaultAction = 'drop'): Decoded[] {
  const whole = wholePrefixOf(rules, defaultAction);
  return whole.slice(afterTraceCheck(whole));
}

const isJump = (i: Decoded) => (i.code & 0x07) === 0x05 || (i.code & 0x07) === 0x06;
const isExit = (i: Decoded) => i.code === 0x95;
const isCall = (i: Decoded) => i.code === 0x85;
/** The map fds loaded into r1, in order. */
const mapsLoaded = (insns: Decoded[]) => insns.filter((i) => i.code === 0x18 && i.src === 1).map((i) => i.imm);

/** Instructions some path from the first reaches (ld_imm64 is two slots; a jump past the end leaves). */
function reached(insns: Decoded[]): Set<number> {
  const seen = new Set<number>();
  const todo = [0];
  while (todo.length > 0) {
    const pc = todo.pop()!;
    if (pc >= insns.length || seen.has(pc)) continue;
    seen.add(pc);
    const insn = insns[pc];
    if (insn.code === 0x18) {
      seen.add(pc + 1);
      todo.push(pc + 2);
    } else if (isExit(insn)) continue;
    else if (insn.code === 0x05) todo.push(pc + 1 + insn.off);
    else if (isJump(insn) && !isCall(insn)) todo.push(pc + 1, pc + 1 + insn.off);
    else todo.push(pc + 1);
  }
  return seen;
}

describe('the fast path prefix', () => {
  it('compiles a rule to checks against immediates', () => {
    const insns = prefixOf('  allow tcp dport 22 src 10.0.0.0/8\n');
    // proto == 6 (r6), dport == 22 after a byte swap, (src & 0xff) == 10 as a little-endian load sees them
    expect(insns).toContainEqual({ code: 0x55, dst: 6, src: 0, off: expect.any(Number), imm: 6 });
    expect(insns).toContainEqual({ code: 0xa5, dst: 4, src: 0, off: expect.any(Number), imm: 22 });
    expect(insns).toContainEqual({ code: 0x25, dst: 4, src: 0, off: expect.any(Number), imm: 22 });
    expect(insns).toContainEqual({ code: 0x54, dst: 4, src: 0, off: 0, imm: 0xff });
    expect(insns).toContainEqual({ code: 0x56, dst: 4, src: 0, off: expect.any(Number), imm: 10 });
    // the rule's action (XDP_PASS) and counter index, then the default's (XDP_DROP, the default counter)
    expect(insns).toContainEqual({ code: 0xb7, dst: 8, src: 0, off: 0, imm: 2 });
    expect(insns).toContainEqual({ code: 0x62, dst: 10, src: 0, off: -4, imm: 0 });
    expect(insns).toContainEqual({ code: 0xb7, dst: 8, src: 0, off: 0, imm: 1 });
    expect(mapsLoaded(insns)).toEqual([MAPS.counters, MAPS.ruleCounters]);
  });

  it('sends the packets a reject decides, by a rule or the default, on to the C program, which answers them', () => {
    for (const [rules, dflt] of [
      ['  reject tcp dport 25\n  allow udp\n', 'drop'],
      ['  allow tcp dport 22\n', 'reject'],
    ]) {
      const insns = prefixOf(rules, dflt);
      const end = insns.length; // the C program's first instruction
      const toC = insns.flatMap((insn, pc) => (insn.code === 0x05 && pc + 1 + insn.off === end ? [pc] : []));
      expect(toC.length, `${dflt}: unconditional jumps into the C program`).toBeGreaterThan(0);
      // no action a reject could be mistaken for is set: r8 only ever gets XDP_DROP or XDP_PASS
      for (const i of insns.filter((insn) => insn.code === 0xb7 && insn.dst === 8)) expect([1, 2]).toContain(i.imm);
      expect(reached(insns).size, `${dflt}: every instruction is reached`).toBe(insns.length);
    }
  });

  it('reads a frame behind one VLAN tag through the same code, with the data pointer moved past the tag', () => {
    const insns = prefixOf('  allow tcp dport 22\n');
    // 802.1Q and 802.1ad as a little-endian load of the Ethertype sees them, then r2 += 4
    expect(insns).toContainEqual({ code: 0x15, dst: 4, src: 0, off: expect.any(Number), imm: 0x0081 });
    expect(insns).toContainEqual({ code: 0x55, dst: 4, src: 0, off: expect.any(Number), imm: 0xa888 });
    const advance = insns.findIndex((i) => i.code === 0x07 && i.dst === 2);
    expect(insns[advance]).toEqual({ code: 0x07, dst: 2, src: 0, off: 0, imm: 4 });
    // the frame's bytes (r9) were taken before, from the untouched data pointer
    const bytes = insns.findIndex((i) => i.code === 0x1f && i.dst === 9);
    expect(bytes).toBeGreaterThanOrEqual(0);
    expect(bytes).toBeLessThan(advance);
    expect(insns[bytes - 1]).toEqual({ code: 0xbf, dst: 9, src: 3, off: 0, imm: 0 });
    expect(insns[bytes].src).toBe(2);
  });

  it('tests a negated prefix for equality, to jump away when the address is inside', () => {
    const insns = prefixOf('  allow udp dst ! 192.0.2.0/24\n');
    expect(insns).toContainEqual({ code: 0x54, dst: 4, src: 0, off: 0, imm: 0x00ffffff });
    expect(insns).toContainEqual({ code: 0x16, dst: 4, src: 0, off: expect.any(Number), imm: 0x000200c0 });
  });

  it('compares an IPv6 prefix word by word, and a negated one jumps away only when every word agrees', () => {
    const plain = prefixOf('  allow tcp src 2001:db8:1::/48\n');
    // the source's first word (frame offset 22) whole, the second masked to its top 16 bits
    expect(plain).toContainEqual({ code: 0x61, dst: 4, src: 2, off: 22, imm: 0 });
    expect(plain).toContainEqual({ code: 0x56, dst: 4, src: 0, off: expect.any(Number), imm: asLoaded(0x20010db8) | 0 });
    expect(plain).toContainEqual({ code: 0x54, dst: 4, src: 0, off: 0, imm: asLoaded(0xffff0000) | 0 });
    expect(plain).toContainEqual({ code: 0x56, dst: 4, src: 0, off: expect.any(Number), imm: asLoaded(0x00010000) | 0 });
    expect(plain.filter((i) => i.code === 0x61 && i.off >= 22 && i.off < 38)).toHaveLength(2);
    const negated = prefixOf('  allow udp dst ! 2001:db8:1::/48\n');
    const words = negated.flatMap((insn, pc) => (insn.code === 0x56 && insn.dst === 4 ? [pc] : []));
    expect(words).toHaveLength(2);
    // both differences jump past the unconditional jump that fails the rule
    const skip = words[1] + 1;
    expect(negated[skip].code).toBe(0x05);
    for (const pc of words) expect(pc + 1 + negated[pc].off).toBe(skip + 1);
  });

  it('tests no address for a /0 prefix, and gives a rule outside /0 no code', () => {
    expect(prefixOf('  allow tcp src 0.0.0.0/0 dport 80\n').filter((i) => i.code === 0x61 && i.off === 26)).toEqual([]);
    expect(prefixOf('  drop udp src ! 0.0.0.0/0\n  drop tcp dst ! ::/0\n')).toEqual(prefixOf(''));
  });

  it('gives rules no TCP or UDP packet can match no code at all', () => {
    const none = prefixOf('');
    const unreachable = prefixOf('  drop icmp\n  drop icmpv6\n  drop proto 47\n  drop src 2001:db8::/32 proto 50\n');
    expect(unreachable).toEqual(none);
    expect(mapsLoaded(none)).toEqual([MAPS.counters]);
  });

  it('stops after a rule that holds for every packet of a family: no default when both stop, nothing unreachable', () => {
    const both = prefixOf('  drop tcp dport 23\n  allow ip4\n  allow ip6\n  drop udp\n');
    expect(mapsLoaded(both)).toEqual([MAPS.ruleCounters]);
    expect(both).not.toContainEqual(expect.objectContaining({ code: 0x55, dst: 6, imm: 17 }));
    const one = prefixOf('  drop tcp dport 23\n  allow ip4\n  drop udp\n');
    expect(mapsLoaded(one)).toEqual([MAPS.counters, MAPS.ruleCounters]);
    expect(one.filter((i) => i.code === 0x55 && i.dst === 6 && i.imm === 17)).toHaveLength(1); // IPv6's `drop udp`
  });

  it('sends every packet to the C program while a tracer is on, with the context back in r1', () => {
    const whole = wholePrefixOf('  allow tcp dport 22\n');
    const head = whole.slice(0, afterTraceCheck(whole));
    expect(mapsLoaded(head)).toEqual([MAPS.traceCfg]);
    expect(head[0]).toEqual({ code: 0xbf, dst: 7, src: 1, off: 0, imm: 0 }); // r7 = r1
    const call = head.findIndex(isCall);
    expect(head[call + 1]).toEqual({ code: 0xbf, dst: 1, src: 7, off: 0, imm: 0 }); // r1 = r7, before any jump
    expect(head.at(-2)).toEqual({ code: 0x61, dst: 0, src: 0, off: 0, imm: 0 }); // the switch's first word
    const toC = head.at(-1)!;
    expect(afterTraceCheck(whole) - 1 + 1 + toC.off).toBe(whole.length); // if set: the C program
  });

  it.each([
    ['no rules', ''],
    ['rules it cannot take', '  drop icmp\n'],
    ['ports, flags and prefixes', '  allow tcp flags syn / syn,ack dport 1000-2000\n  drop udp sport 53 dst ! 192.0.2.0/24\n'],
    ['a rule for every packet first', '  allow ip4\n  drop tcp\n'],
    ['a rule for every packet last', '  drop tcp sport 1-1023\n  allow ip4\n'],
    ['a rule for every packet through /0', '  drop udp dport 53\n  allow dst 0.0.0.0/0\n  drop tcp\n'],
    ['IPv6 prefixes, plain and negated', '  drop tcp src 2001:db8::/32\n  allow udp dst ! 2001:db8:1::/48\n  allow ip6\n'],
    ['both families stopped', '  allow ip4\n  allow ip6\n'],
  ])('lands every jump inside or on the C program, and reaches every instruction: %s', (_name, rules) => {
    const insns = prefixOf(rules);
    insns.forEach((insn, pc) => {
      if (insn.code === 0x05 || (isJump(insn) && !isCall(insn) && !isExit(insn))) {
        const target = pc + 1 + insn.off;
        expect(target, `jump at ${pc}`).toBeGreaterThan(pc);
        expect(target, `jump at ${pc}`).toBeLessThanOrEqual(insns.length);
      }
    });
    expect(reached(insns).size).toBe(insns.length);
    // Jumps into the C program (the slow path) all come before r1, the context, is first written.
    const toC = insns.flatMap((insn, pc) =>
      isJump(insn) && !isCall(insn) && !isExit(insn) && pc + 1 + insn.off === insns.length ? [pc] : [],
    );
    const writes = (insn: Decoded) => [0x00, 0x01, 0x04, 0x07].includes(insn.code & 0x07) && insn.code !== 0;
    const firstR1Write = insns.findIndex((insn) => writes(insn) && insn.dst === 1);
    expect(toC.length).toBeGreaterThan(0);
    expect(firstR1Write).toBeGreaterThan(Math.max(...toC));
  });
});
