/**
 * The controller's rule decision log over fake rings and a fake clock: one
 * line per record, its rule named from the policy of the program that wrote
 * it (also after a reload), only interfaces whose policy logs read, a warn
 * line at most once a period about what the kernel kept back, and a stop
 * that logs what is left and closes the rings.
 */

import { describe, expect, it } from 'vitest';

import type { AppliedState } from '../../../src/app/state.js';
import { DecisionLog, type DecisionRings } from '../../../src/controller/decision-log.js';
import { buildFrame } from '../../../src/packet/build.js';
import { parsePacket } from '../../../src/packet/describe.js';
import type { RingRecord, TraceStats } from '../../../src/xdp/index.js';
import { FakeTimers, memoryLogger } from './fakes.js';

class FakeRings implements DecisionRings {
  followed: string[] = [];
  records: RingRecord[] = [];
  counts = new Map<string, TraceStats>();
  closed = false;
  follow(ifnames: readonly string[]): void {
    this.followed = [...ifnames];
  }
  poll(): RingRecord[] {
    return this.records.splice(0);
  }
  stats(): Map<string, TraceStats> {
    return new Map([...this.counts].map(([k, v]) => [k, { ...v }]));
  }
  close(): void {
    this.closed = true;
  }
}

const state = (ifname: string, progId: number, rules: { name: string; log?: true }[]): AppliedState =>
  ({
    interface: ifname,
    progId,
    rules: rules.map((r, index) => ({
      index,
      id: r.name,
      text: `drop … ${r.name}`,
      location: `p.xdpfw:${index + 3}:3`,
      ...r,
    })),
  }) as unknown as AppliedState;

const record = (progId: number, rule: number, packet: string, o: { action?: number; audit?: boolean } = {}): RingRecord => {
  const frame = Buffer.from(buildFrame(parsePacket(packet)));
  return {
    ifname: 'eth0',
    ifindex: 7,
    progId,
    timeNs: 1_000_000_000n,
    rule,
    counter: 0,
    action: o.action ?? 1,
    audit: o.audit ?? false,
    logged: true,
    frameLength: frame.length,
    frame,
  };
};

function setup(states: Map<string, AppliedState>) {
  const rings = new FakeRings();
  const timers = new FakeTimers();
  const { log, events } = memoryLogger();
  const decisions = new DecisionLog({
    interfaces: ['eth0', 'eth1'],
    log,
    timers,
    rings,
    programOf: (ifname) => states.get(ifname)?.progId ?? null,
    stateOf: (ifname) => states.get(ifname),
    wallNs: (ns) => ns,
  });
  const lines = () => events.filter((e) => e.msg === 'rule decision');
  const warns = () => events.filter((e) => e.level === 40);
  return { rings, timers, decisions, lines, warns, events };
}

describe('DecisionLog', () => {
  it('logs one line per record, naming the rule of the program that wrote it, across a reload', () => {
    const states = new Map([
      ['eth0', state('eth0', 10, [{ name: 'probe', log: true }])],
      ['eth1', state('eth1', 20, [{ name: 'quiet' }])],
    ]);
    const { rings, timers, decisions, lines } = setup(states);
    decisions.start();
    expect(rings.followed).toEqual(['eth0']);

    rings.records.push(record(10, 0, 'udp 10.0.0.2:4000 > 10.0.0.1:9999'), record(10, 0, 'tcp 10.0.0.2:4001 > 10.0.0.1:22 flags S'));
    timers.advance(200);
    expect(lines()).toHaveLength(2);
    expect(lines()[0]).toMatchObject({
      interface: 'eth0',
      ifindex: 7,
      rule: { index: 0, name: 'probe', file: 'p.xdpfw', line: 3 },
      verdict: 'drop',
      IP: { source: '10.0.0.2', destination: '10.0.0.1' },
      l4: { UDP: { source_port: 4000, destination_port: 9999 } },
    });
    expect(lines()[1]).toMatchObject({ l4: { TCP: { destination_port: 22, flags: { SYN: true } } } });
    expect(lines()[0].audit).toBeUndefined();

    // The reload moves "probe" to index 1; a record the old program wrote, read at the look that sees the reload, names it at index 0.
    timers.advance(600);
    states.set('eth0', state('eth0', 11, [{ name: 'first' }, { name: 'probe', log: true }, { name: 'watch', log: true }]));
    rings.records.push(record(10, 0, 'udp 10.0.0.2:4000 > 10.0.0.1:9999'));
    timers.advance(200);
    expect(lines()).toHaveLength(3);
    rings.records.push(
      record(11, 1, 'udp 10.0.0.2:4000 > 10.0.0.1:9999'),
      record(11, 2, 'udp 10.0.0.2:4000 > 10.0.0.1:53', { action: 1, audit: true }),
    );
    timers.advance(200);
    expect(
      lines()
        .slice(2)
        .map((l) => [(l.rule as { name: string }).name, (l.rule as { index: number }).index, l.audit]),
    ).toEqual([
      ['probe', 0, undefined],
      ['probe', 1, undefined],
      ['watch', 2, true],
    ]);
  });

  it('stops reading an interface whose new policy does not log, and one detached', () => {
    const states = new Map([
      ['eth0', state('eth0', 10, [{ name: 'probe', log: true }])],
      ['eth1', state('eth1', 20, [{ name: 'probe', log: true }])],
    ]);
    const { rings, timers, decisions } = setup(states);
    decisions.start();
    expect(rings.followed).toEqual(['eth0', 'eth1']);
    states.set('eth0', state('eth0', 12, [{ name: 'probe' }]));
    states.delete('eth1');
    timers.advance(1000);
    expect(rings.followed).toEqual([]);
  });

  it('warns at most once a period with what was kept back since the last warning, and once more at stop', () => {
    const states = new Map([['eth0', state('eth0', 10, [{ name: 'probe', log: true }])]]);
    const { rings, timers, decisions, warns } = setup(states);
    decisions.start();
    timers.advance(1000);
    expect(warns()).toHaveLength(0);
    rings.counts.set('eth0', { sent: 200n, suppressed: 1500n, lost: 0n });
    timers.advance(1000);
    expect(warns()).toEqual([expect.objectContaining({ interface: 'eth0', suppressed: 1500, lost: 0, rate: 100, burst: 200 })]);
    rings.counts.set('eth0', { sent: 300n, suppressed: 1800n, lost: 4n });
    timers.advance(5000);
    expect(warns()).toHaveLength(1);
    timers.advance(5000);
    expect(warns()).toHaveLength(2);
    expect(warns()[1]).toMatchObject({ suppressed: 300, lost: 4 });
    rings.counts.set('eth0', { sent: 300n, suppressed: 1810n, lost: 4n });
    rings.records.push(record(10, 0, 'udp 10.0.0.2:4000 > 10.0.0.1:9999'));
    decisions.stop();
    expect(warns()).toHaveLength(3);
    expect(warns()[2]).toMatchObject({ suppressed: 10, lost: 0 });
    expect(rings.closed).toBe(true);
    expect(timers.scheduled).toBe(0);
  });

  it('says a failing read once and keeps trying', () => {
    const states = new Map([['eth0', state('eth0', 10, [{ name: 'probe', log: true }])]]);
    const { rings, timers, decisions, warns } = setup(states);
    let failing = true;
    rings.follow = (ifnames) => {
      if (failing) throw new Error('program 10 on eth0 has no log ring');
      rings.followed = [...ifnames];
    };
    decisions.start();
    timers.advance(3000);
    expect(warns().map((w) => w.msg)).toEqual(['reading the rule decision log failed; trying again']);
    failing = false;
    timers.advance(1000);
    expect(rings.followed).toEqual(['eth0']);
    decisions.stop();
  });
});
