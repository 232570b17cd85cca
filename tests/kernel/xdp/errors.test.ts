/** Errno mapping and error texts; no privileges needed (a non-root run is simulated by its errno). */

import { describe, expect, it } from 'vitest';

import { ENOTSUPP, KernelError, UnsupportedFeatureError, VerifierError, check, errnoName, errnoSentence } from '../../../src/xdp/errors.js';

describe('kernel errors', () => {
  it('tells a non-root user what is missing (EPERM)', () => {
    const e = new KernelError('loading BPF object bpf/xdpfw.bpf.o', 1);
    expect(e.errnoName).toBe('EPERM');
    expect(e.message).toBe(
      'loading BPF object bpf/xdpfw.bpf.o: EPERM: operation not permitted: run as root (CAP_BPF and CAP_NET_ADMIN needed)',
    );
    expect(e.code).toBe('kernel-error');
  });

  it('maps the errnos of XDP attach to sentences a user can act on', () => {
    expect(errnoSentence(16)).toBe('another XDP program is attached (not by xdpfw?)');
    expect(errnoSentence(95)).toBe('the driver does not support native XDP: use --mode generic or auto');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoSentence(2)).toMatch(/^no such file/);
    expect(errnoSentence(22)).toMatch(/^invalid argument/);
    expect(errnoSentence(7)).toMatch(/^argument too large/);
    expect(errnoSentence(12)).toMatch(/^out of memory/);
  });

  it("names the kernel's internal ENOTSUPP (524) and unknown errnos", () => {
    expect(errnoName(ENOTSUPP)).toBe('ENOTSUPP');
    expect(errnoName(-4242)).toBe('errno 4242');
    expect(errnoSentence(4242)).toBe('system error errno 4242');
  });

  it('takes a hint that fits the operation better, and appends what libbpf said', () => {
    const e = new KernelError('replacing the program of the XDP link', 1, {
      hint: 'the link runs another program than expected',
      libbpfMessages: ['libbpf: one', 'libbpf: two', "map 'x': failed to create: Invalid argument(-22)", 'last'],
    });
    expect(e.message.split('\n')).toEqual([
      'replacing the program of the XDP link: EPERM: the link runs another program than expected',
      '  libbpf: libbpf: two',
      "  libbpf: map 'x': failed to create: Invalid argument(-22)",
      '  libbpf: last',
    ]);
  });

  it('check() passes results through and throws on -errno', () => {
    expect(check(7, 'x')).toBe(7);
    expect(() => check(-16, () => 'attaching to eth0')).toThrow(/^attaching to eth0: EBUSY: /);
  });

  it("shows the verifier's last 20 lines and keeps the whole log", () => {
    const log = Array.from({ length: 50 }, (_, i) => `${i}: insn ${i}`).join('\n') + '\nR1 invalid mem access\n';
    const e = new VerifierError('xdpfw_main', 13, log);
    expect(e).toBeInstanceOf(KernelError);
    expect(e.code).toBe('verifier-error');
    expect(e.tail).toHaveLength(20);
    expect(e.tail.at(-1)).toBe('R1 invalid mem access');
    expect(e.log).toBe(log);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe("loading BPF program 'xdpfw_main': EACCES: the verifier rejected the program");
    expect(lines[1]).toBe('verifier log, last 20 lines:');
    expect(lines[2]).toBe('  | 31: insn 31');
    expect(lines).toHaveLength(22);
  });

  it('says when the kernel truncated the verifier log', () => {
    const e = new VerifierError('xdpfw_main', 28, 'tail line\n', { truncated: true });
    expect(e.message).toMatch(/last 1 lines \(log truncated by the kernel\)/);
  });

  it('names the missing feature and the kernel that has it', () => {
    const e = new UnsupportedFeatureError('bpf_link for XDP', '5.9', 'use a newer kernel');
    expect(e.message).toBe('this kernel does not support bpf_link for XDP (needs Linux 5.9 or later): use a newer kernel');
    expect(e.code).toBe('unsupported-feature');
  });
});
