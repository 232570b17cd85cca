/**
 * The fast path's plan (src/compiler/passes/fast-path-plan.ts): which of a
 * linear interface's rules the loader's fast path tests for TCP and UDP of
 * each family, and with which tests. tests/unit/xdp/fast-path.test.ts looks
 * at the instructions emitted for it, tests/kernel/fast-path.test.ts runs
 * them against the C program.
 */
import { describe, expect, it } from 'vitest';
import { fastPathPlan } from '../../../src/compiler/passes/fast-path-plan.js';
import type { LinearRule } from '../../../src/compiler/output.js';
import { ACTION } from '../../../src/contract/kernel.js';
import { compileText } from './helpers.js';

function planOf(rules: string, family: 4 | 6) {
  const linear = compileText(`interface eth0 {\n${rules}}\n`).compiled!.interfaces[0].constants.linear;
  expect(linear, 'the policy takes the linear path').toBeTruthy();
  return fastPathPlan(linear!, family);
}

describe('the fast path plan', () => {
  it('gives each rule its tests, in the order protocol, ports, flags, addresses', () => {
    expect(planOf('  drop tcp flags syn / syn,ack dport 22-23 sport 1024-65535 src 10.1.0.0/16\n', 4)).toEqual([
      {
        index: 0,
        action: ACTION.drop,
        checks: [
          { kind: 'protocol', protocol: 6 },
          { kind: 'port', field: 'sport', low: 1024, high: 65535 },
          { kind: 'port', field: 'dport', low: 22, high: 23 },
          { kind: 'flags', mask: 0x12, value: 0x02 },
          { kind: 'address', field: 'src', mask: [0xffff0000], value: [0x0a010000], negated: false },
        ],
      },
    ]);
  });

  it('leaves out rules no TCP or UDP packet of the family can match', () => {
    const rules = '  drop icmp\n  drop proto 47\n  drop src 2001:db8::/32\n  drop udp src ! 0.0.0.0/0\n  allow tcp\n';
    expect(planOf(rules, 4).map((r) => r.index)).toEqual([4]);
    expect(planOf(rules, 6).map((r) => r.index)).toEqual([2, 4]);
  });

  it('stops after the first rule that holds for every packet, with no tests for a /0 or all ports', () => {
    const plan = planOf('  drop udp dport 53\n  allow tcp sport 0-65535\n  allow dst 0.0.0.0/0\n  drop tcp\n', 4);
    expect(plan).toEqual([
      {
        index: 0,
        action: ACTION.drop,
        checks: [
          { kind: 'protocol', protocol: 17 },
          { kind: 'port', field: 'dport', low: 53, high: 53 },
        ],
      },
      { index: 1, action: ACTION.pass, checks: [{ kind: 'protocol', protocol: 6 }] },
      { index: 2, action: ACTION.pass, checks: [] },
    ]);
  });

  it('takes TCP flags without a protocol to mean TCP, and with UDP never to hold', () => {
    // The policy language writes flags after `tcp` only; the IR does not require it.
    const rule: LinearRule = {
      action: ACTION.drop,
      families: { ipv4: true, ipv6: true },
      protocol: null,
      src: null,
      dst: null,
      sport: null,
      dport: null,
      tcpFlags: { mask: 0x02, value: 0x02 },
      icmpType: null,
      ctStates: null,
    };
    expect(fastPathPlan([rule], 6)[0].checks).toEqual([
      { kind: 'protocol', protocol: 6 },
      { kind: 'flags', mask: 0x02, value: 0x02 },
    ]);
    expect(fastPathPlan([{ ...rule, protocol: 17 }], 4)).toEqual([]);
  });

  it('compares an IPv6 prefix as four masked words, a negated one marked so', () => {
    expect(planOf('  drop tcp dst ! 2001:db8:1::/48\n', 6)[0].checks.at(-1)).toEqual({
      kind: 'address',
      field: 'dst',
      mask: [0xffffffff, 0xffff0000, 0, 0],
      value: [0x20010db8, 0x00010000, 0, 0],
      negated: true,
    });
  });
});
