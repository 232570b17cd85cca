import fs from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KernelError, VerifierError, loadPolicyProgram, readCounters, testRun, type LoadedProgram } from '../../../src/xdp/index.js';
import { defaultObjectPath, loadObject } from '../../../src/xdp/object.js';
import { fixtureObject, skipWithoutRoot } from './helpers/env.js';
import { arpFrame, compileMini, ipv4Frame } from './helpers/policy.js';

const DROP = 1;
const PASS = 2;

describe.skipIf(skipWithoutRoot('xdp load tests'))('loading a policy program', () => {
  const open: LoadedProgram[] = [];
  let mini: string;
  beforeAll(() => {
    mini = fixtureObject('mini');
  });
  afterAll(() => open.forEach((p) => p.close()));

  const load = async (...args: Parameters<typeof compileMini>): Promise<LoadedProgram> => {
    const p = await loadPolicyProgram(compileMini(...args), { objectPath: mini });
    open.push(p);
    return p;
  };

  it('applies cfg_default_action from .rodata: an empty policy drops or passes everything', async () => {
    const dropAll = await load([], 'drop');
    const passAll = await load([], 'allow');
    const frame = ipv4Frame({ src: [10, 0, 0, 1], proto: 6, dport: 80 });
    expect(testRun(dropAll.progFd, frame)).toBe(DROP);
    expect(testRun(passAll.progFd, frame)).toBe(PASS);
    expect(testRun(dropAll.progFd, arpFrame())).toBe(PASS);
  });

  it('judges packets by the filled maps: first matching rule wins, else the default', async () => {
    const p = await load(
      [
        { action: 'drop', src: [[10, 0, 0, 0, 8]] },
        { action: 'allow', proto: 6, dport: [80, 80] },
        { action: 'allow', proto: 17, dport: [53, 53] },
        { action: 'allow', src: [[192, 0, 2, 0, 24]] },
      ],
      'drop',
    );
    const cases: [string, Buffer, number][] = [
      ['blocked source, allowed port', ipv4Frame({ src: [10, 1, 2, 3], proto: 6, dport: 80 }), DROP],
      ['tcp 80', ipv4Frame({ src: [198, 51, 100, 1], proto: 6, dport: 80 }), PASS],
      ['tcp 81', ipv4Frame({ src: [198, 51, 100, 1], proto: 6, dport: 81 }), DROP],
      ['udp 53', ipv4Frame({ src: [198, 51, 100, 1], proto: 17, dport: 53 }), PASS],
      ['tcp 53', ipv4Frame({ src: [198, 51, 100, 1], proto: 6, dport: 53 }), DROP],
      ['allowed source, any port', ipv4Frame({ src: [192, 0, 2, 9], proto: 6, dport: 9999 }), PASS],
      ['icmp (no port) from allowed source', ipv4Frame({ src: [192, 0, 2, 9], proto: 1 }), PASS],
      ['icmp from elsewhere', ipv4Frame({ src: [203, 0, 113, 1], proto: 1 }), DROP],
    ];
    for (const [what, frame, verdict] of cases) expect(testRun(p.progFd, frame), what).toBe(verdict);
  });

  it('reads per-rule and global counters back, summed over CPUs', async () => {
    const p = await load([{ action: 'allow', proto: 6, dport: [22, 22] }], 'drop');
    const ssh = ipv4Frame({ src: [192, 0, 2, 1], proto: 6, dport: 22 });
    const web = ipv4Frame({ src: [192, 0, 2, 1], proto: 6, dport: 443 });
    for (let i = 0; i < 5; i++) testRun(p.progFd, ssh);
    for (let i = 0; i < 3; i++) testRun(p.progFd, web);
    testRun(p.progFd, arpFrame());
    const c = readCounters(p);
    expect(c.rules).toEqual([{ packets: 5n, bytes: BigInt(5 * ssh.length) }]);
    expect(c.global.default).toEqual({ packets: 3n, bytes: BigInt(3 * web.length) });
    expect(c.global.nonIp.packets).toBe(1n);
    expect(c.global.malformed.packets).toBe(0n);
  });

  it('handles rules past the first 64-bit word of the bit vectors', async () => {
    const rules = Array.from({ length: 130 }, (_, i) => ({
      action: (i === 129 ? 'allow' : 'drop') as 'allow' | 'drop',
      src: [[10, 0, i, 0, 24] as [number, number, number, number, number]],
    }));
    const p = await load(rules, 'drop');
    expect(testRun(p.progFd, ipv4Frame({ src: [10, 0, 129, 7], proto: 6 }))).toBe(PASS);
    expect(testRun(p.progFd, ipv4Frame({ src: [10, 0, 128, 7], proto: 6 }))).toBe(DROP);
    expect(readCounters(p).rules[129].packets).toBe(1n);
  });

  it('names the .rodata variables an object has when asked for one it lacks, and checks sizes', () => {
    expect(() => loadObject(mini, { rodata: { cfg_nope: 1 } })).toThrow(
      /has no \.rodata variable cfg_nope \(it has: cfg_nrules, cfg_nwords, cfg_fields, cfg_default_action, cfg_absent_class, cfg_addr_mode, cfg_addr_shift, cfg_addr_base, cfg_addr_host, cfg_linear, cfg_ct, cfg_ct_given, cfg_tails, cfg_now_given, cfg_reject, cfg_audit_rules, cfg_audit_mode, cfg_log, cfg_lin_checks, .*, cfg_lin_ctstate\)/,
    );
    expect(() => loadObject(mini, { rodata: { cfg_absent_class: [1, 2] } })).toThrow(/cfg_absent_class is 32 bytes .*xdpfw gives 8/);
  });

  it('turns a verifier rejection into a VerifierError that shows the log', () => {
    const bad = fixtureObject('rejected');
    let error: unknown;
    try {
      loadObject(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VerifierError);
    const v = error as VerifierError;
    expect(v.programName).toBe('xdpfw_rejected');
    expect(v.errnoName).toBe('EACCES');
    expect(v.tail.some((l) => l.includes('invalid access to packet'))).toBe(true);
    expect(v.message).toMatch(/loading BPF program 'xdpfw_rejected'.*verifier rejected/);
    expect(v.message).toMatch(/\| .*R1 offset is outside of the packet/);
    console.log(`VerifierError as the user sees it:\n${v.message}`);
  });

  it('says which file is missing and how to build it', async () => {
    const err = await loadPolicyProgram(compileMini([], 'drop'), { objectPath: '/nonexistent/xdpfw.bpf.o' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errnoName).toBe('ENOENT');
    expect((err as Error).message).toMatch(/opening BPF object \/nonexistent\/xdpfw\.bpf\.o: ENOENT: .*make -C bpf/);
  });
});

describe.skipIf(skipWithoutRoot('xdp load tests (bpf/xdpfw.bpf.o)'))('loading bpf/xdpfw.bpf.o', () => {
  const real = defaultObjectPath();
  const missing = !fs.existsSync(real) && process.env.CI !== 'true';
  if (missing) console.warn(`\n*** SKIPPED the tests of ${real}: not built yet (make -C bpf) ***\n`);
  const open: LoadedProgram[] = [];
  afterAll(() => open.forEach((p) => p.close()));

  it.skipIf(missing)('loads the data plane with rodata and maps from a CompiledInterface', async () => {
    const p = await loadPolicyProgram(
      compileMini(
        [
          { action: 'drop', src: [[10, 0, 0, 0, 8]] },
          { action: 'allow', proto: 6, dport: [80, 80] },
        ],
        'drop',
      ),
    );
    open.push(p);
    expect(p.programName).toBe('xdpfw_main');
    expect(p.maps.get('xdpfw_sport_cls')!.maxEntries).toBe(1); // unused field: table shrunk
    expect(p.maps.get('xdpfw_dport_cls')!.maxEntries).toBe(65536);
    expect(testRun(p.progFd, ipv4Frame({ src: [10, 1, 1, 1], proto: 6, dport: 80 }))).toBe(DROP);
    expect(testRun(p.progFd, ipv4Frame({ src: [192, 0, 2, 1], proto: 6, dport: 80 }))).toBe(PASS);
    expect(testRun(p.progFd, ipv4Frame({ src: [192, 0, 2, 1], proto: 17, dport: 80 }))).toBe(DROP);
    expect(testRun(p.progFd, arpFrame())).toBe(PASS);
    const c = readCounters(p);
    expect(c.rules.map((r) => r.packets)).toEqual([1n, 1n]);
    expect(c.global.default.packets).toBe(1n);
    expect(c.global.nonIp.packets).toBe(1n);
  });

  it.skipIf(missing)('passes everything under an empty allow policy and drops everything IP under an empty drop policy', async () => {
    const allow = await loadPolicyProgram(compileMini([], 'allow'));
    const drop = await loadPolicyProgram(compileMini([], 'drop'));
    open.push(allow, drop);
    const frame = ipv4Frame({ src: [198, 51, 100, 1], proto: 17, dport: 53 });
    expect(testRun(allow.progFd, frame)).toBe(PASS);
    expect(testRun(drop.progFd, frame)).toBe(DROP);
  });
});
