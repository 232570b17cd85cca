/**
 * `ct state` and the conntrack settings from the policy text to what the
 * loader gets: the evaluators' verdicts, the class table, the linear
 * path's constants, the settings and the hash, the JSON view.
 */
import { describe, expect, it } from 'vitest';
import { compiledToJson, compileInterfaceWith, evaluate, type FieldPacket } from '../../../src/compiler/index.js';
import { CONNTRACK_DEFAULTS } from '../../../src/compiler/conntrack.js';
import { durationSeconds, formatDuration } from '../../../src/compiler/syntax/duration.js';
import { fastPathPlan, takesFastPath } from '../../../src/compiler/passes/fast-path-plan.js';
import { CT_STATE, FIELD } from '../../../src/contract/kernel.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { formatPacket, parsePacket } from '../../../src/packet/describe.js';
import { rodataValues } from '../../../src/xdp/layout.js';
import { encodeCompiled, mapSizes } from '../../../src/xdp/maps.js';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import { ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { compileText, documentOf } from './helpers.js';

const STATEFUL = `interface eth0 {
  default drop
  allow ct state established,related
  drop ct state invalid
  allow tcp dport 22 ct state new
  allow icmpv6
}
`;

function compiled(text: string) {
  const result = compileText(text);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return { ir: result.ir!, policy: result.compiled! };
}

const tcp = (dport: number, ctState?: PacketSpec['ctState']): PacketSpec => ({
  family: 4,
  protocol: 6,
  src: '198.51.100.1',
  dst: '192.0.2.1',
  sport: 40000,
  dport,
  tcpFlags: 0x10,
  ...(ctState ? { ctState } : {}),
});
const fields = (p: PacketSpec): FieldPacket => ({
  family: 4,
  protocol: p.protocol,
  src: p.src.split('.').map(Number),
  dst: p.dst.split('.').map(Number),
  sport: p.sport,
  dport: p.dport,
  tcpFlags: p.tcpFlags,
  ...(p.ctState ? { ctState: p.ctState } : {}),
});

describe('the evaluators on ct rules', () => {
  const cases: [string, PacketSpec, 'allow' | 'drop', number | 'default'][] = [
    ['a reply of an established connection is allowed by the first rule', tcp(80, 'established'), 'allow', 0],
    ['an ICMP error about a connection (related) is allowed by the first rule', tcp(80, 'related'), 'allow', 0],
    ['an invalid packet is dropped by the second rule, whatever its port', tcp(22, 'invalid'), 'drop', 1],
    ['a new connection to port 22 is allowed by the third rule', tcp(22, 'new'), 'allow', 2],
    ['a packet given no state is new', tcp(22), 'allow', 2],
    ['a new connection elsewhere gets the default', tcp(80, 'new'), 'drop', 'default'],
  ];
  const { ir } = compiled(STATEFUL);
  const reference = new ReferenceEvaluator(documentOf(STATEFUL), 'eth0');
  for (const [behaviour, packet, action, matched] of cases) {
    it(behaviour, () => {
      expect(reference.evaluate(packet)).toEqual({ action, matched });
      const verdict = evaluate(ir.interfaces[0]!, fields(packet));
      expect({ action: verdict.action, matched: verdict.rule?.index ?? 'default' }).toEqual({ action, matched });
    });
  }
});

describe('compiling ct state', () => {
  it('gives each rule the mask of its states and builds the 4-entry class table, by enum xdpfw_ct_state', () => {
    const { ir } = compiled(STATEFUL);
    expect(ir.interfaces[0]!.rules.map((r) => r.ctStates)).toEqual([0b0110, 0b1000, 0b0001, null]);
    const c = compileInterfaceWith(ir.interfaces[0]!, { classify: 'lbvs' });
    expect(c.constants.ct).toBe(true);
    expect(c.constants.fields & (1 << FIELD.ctstate)).not.toBe(0);
    expect(c.ctStateClass).toHaveLength(4);
    const rulesIn = (state: number) => rulesOf(c.vectors[c.ctStateClass![state]!]!);
    expect(rulesIn(CT_STATE.new)).toEqual([2, 3]);
    expect(rulesIn(CT_STATE.established)).toEqual([0, 3]);
    expect(rulesIn(CT_STATE.related)).toEqual([0, 3]);
    expect(rulesIn(CT_STATE.invalid)).toEqual([1, 3]);
    expect(encodeCompiled(c).get('xdpfw_ctstate_cls')?.count).toBe(4);
    expect(mapSizes(c).xdpfw_ctstate_cls).toBeUndefined(); // the object's 4 entries
  });

  it('leaves the field, the table and cfg_ct off for an interface without ct', () => {
    const c = compiled('interface eth0 { allow tcp }\n').policy.interfaces[0]!;
    expect(c.constants.ct).toBe(false);
    expect(c.ctStateClass).toBeNull();
    expect(rodataValues(c.constants).cfg_ct).toBe(0);
    expect(mapSizes(c).xdpfw_ctstate_cls).toBe(1);
  });

  it('puts the mask in cfg_lin_ctstate with the field bit in cfg_lin_checks on the linear path, and sets cfg_ct', () => {
    const c = compiled(STATEFUL).policy.interfaces[0]!;
    expect(c.constants.linear?.map((r) => r.ctStates)).toEqual([0b0110, 0b1000, 0b0001, null]);
    const rodata = rodataValues(c.constants);
    expect(rodata.cfg_ct).toBe(1);
    expect((rodata.cfg_lin_ctstate as number[]).slice(0, 5)).toEqual([0b0110, 0b1000, 0b0001, 0, 0]);
    const checks = rodata.cfg_lin_checks as number[];
    expect([0, 1, 2, 3].map((i) => (checks[i]! >> FIELD.ctstate) & 1)).toEqual([1, 1, 1, 0]);
  });

  it('keeps the fast path off rules that test the connection state', () => {
    const linear = compiled(STATEFUL).policy.interfaces[0]!.constants.linear!;
    expect(takesFastPath(linear)).toBe(false);
    expect(() => fastPathPlan(linear, 4)).toThrow(/cannot test ct state/);
    expect(takesFastPath(compiled('interface eth0 { allow tcp }\n').policy.interfaces[0]!.constants.linear!)).toBe(true);
  });
});

describe('the conntrack settings', () => {
  it('are the defaults without a block, and null in the compiled policy when no interface uses ct', () => {
    expect(compiled(STATEFUL).policy.conntrack).toEqual(CONNTRACK_DEFAULTS);
    const unused = compiled('conntrack { udp 1m }\ninterface eth0 { allow tcp }\n');
    expect(unused.ir.conntrack.timeouts.udp).toBe(60);
    expect(unused.policy.conntrack).toBeNull();
  });

  it('take the block’s values in seconds over the defaults', () => {
    const text = `conntrack {\n  size 1048576; tcp-established 2d\n  udp 45; icmp 10m\n  flood-threshold 5000\n}\n${STATEFUL}`;
    expect(compiled(text).policy.conntrack).toEqual({
      size: 1048576,
      timeouts: { ...CONNTRACK_DEFAULTS.timeouts, tcpEstablished: 172800, udp: 45, icmp: 600 },
      floodThreshold: 5000,
    });
  });

  it('enter the hash of the interfaces that use ct, and of no other', () => {
    const two = (udp: string) =>
      compiled(`conntrack { udp ${udp} }\n${STATEFUL}interface eth1 { allow tcp }\n`).policy.interfaces.map((i) => i.hash);
    const [ct30, plain30] = two('30s');
    const [ct60, plain60] = two('60s');
    expect(ct60).not.toBe(ct30);
    expect(plain60).toBe(plain30);
    // The defaults written out are the defaults.
    expect(compiled(STATEFUL).policy.interfaces[0]!.hash).toBe(ct30);
  });

  it('are in the JSON view with the class table by state and the linear rules’ states by name', () => {
    const json = compiledToJson(compiled(STATEFUL).policy) as {
      conntrack: unknown;
      interfaces: { constants: { ct: boolean }; ctState: Record<string, number>; linear: { ctStates: string[] | null }[] }[];
    };
    expect(json.conntrack).toEqual(CONNTRACK_DEFAULTS);
    expect(json.interfaces[0]!.constants.ct).toBe(true);
    expect(Object.keys(json.interfaces[0]!.ctState)).toEqual(['new', 'established', 'related', 'invalid']);
    expect(json.interfaces[0]!.linear.map((r) => r.ctStates)).toEqual([['established', 'related'], ['invalid'], ['new'], null]);
  });
});

describe('durations', () => {
  it('read s, m, h and d, and plain seconds', () => {
    const at = { file: 't', start: { offset: 0, line: 1, column: 1 }, end: { offset: 0, line: 1, column: 1 } };
    const d = (value: number, unit: string) => durationSeconds({ kind: 'duration', value, unit, span: at });
    expect([d(30, 's'), d(10, 'm'), d(6, 'h'), d(2, 'd'), d(30, 'd')]).toEqual([30, 600, 21600, 172800, 2592000]);
    expect(durationSeconds({ kind: 'number', value: 45, span: at })).toBe(45);
    expect(d(1, 'w')).toEqual({ error: "'1w' has an unknown unit 'w'" });
  });

  it('print in the largest unit that divides them', () => {
    expect([21600, 90, 600, 2592000, 1].map(formatDuration)).toEqual(['6h', '90s', '10m', '30d', '1s']);
  });
});

describe('the packet text', () => {
  it('takes `ct STATE` and prints it back', () => {
    const spec = parsePacket('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags A ct established');
    expect(spec.ctState).toBe('established');
    expect(formatPacket(spec)).toBe('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags A ct established');
    expect(parsePacket(formatPacket({ ...spec, ctState: 'related' })).ctState).toBe('related');
    expect(parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2').ctState).toBeUndefined();
  });

  it('names the states when given another', () => {
    expect(() => parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2 ct open')).toThrow(
      "column 32: unknown connection state 'open' (expected new, established, related, invalid)",
    );
  });
});
