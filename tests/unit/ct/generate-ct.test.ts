import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { generateCtSequence, timeGrid } from '../../support/generate-ct.js';
import { Random } from '../../support/random.js';
import { ConnectionTracker, DEFAULT_CT_TIMEOUTS, type CtEntry, type Transition } from '../../support/reference-ct.js';

const SECOND = 1_000_000_000n;
const TRANSITIONS: Transition[] = [
  'untracked',
  'tcp-create-syn-sent',
  'tcp-create-syn-recv',
  'tcp-create-established',
  'tcp-rst-nothing',
  'tcp-flood-refused',
  'tcp-rst-closing',
  'tcp-port-reuse',
  'tcp-fin',
  'tcp-fin-closing',
  'tcp-handshake-established',
  'tcp-refresh',
  'tcp-closing-held',
  'udp-create',
  'udp-refresh',
  'udp-replied',
  'icmp-create',
  'icmp-refresh',
  'icmp-replied',
  'fragment-remembered',
  'nothing',
];

function longestTimeout(entry: CtEntry): bigint {
  const t = DEFAULT_CT_TIMEOUTS;
  const seconds = entry.table === 'icmp' ? t.icmp : entry.table === 'udp' ? Math.max(t.udp, t.udpStream) : t.tcpEstablished;
  return BigInt(seconds) * SECOND;
}

/** What is wrong with the tables at `now`, if anything (plain checks: expect() per entry is slow). */
function brokenInvariant(ct: ConnectionTracker, now: bigint): string | undefined {
  for (const entry of ct.storedEntries()) {
    const distance = entry.deadline > now ? entry.deadline - now : now - entry.deadline;
    if (distance < 2n * SECOND) return `a packet within 2 s of the deadline of ${entry.key.id}`;
  }
  for (const entry of ct.entries(now)) {
    if (entry.deadline - now > longestTimeout(entry)) return `${entry.key.id} lives longer than its timeout`;
    const states = entry.table === 'tcp' ? ['syn-sent', 'syn-recv', 'established', 'closing'] : ['unreplied', 'replied'];
    if (!states.includes(entry.state)) return `${entry.key.id} is ${entry.state} in the ${entry.table} table`;
    if (entry.table !== 'tcp' && (entry.finIn || entry.finOut)) return `${entry.key.id} has FIN flags`;
    if (entry.table === 'icmp' && entry.key.rport !== 0) return `${entry.key.id} has a remote port`;
  }
  return undefined;
}

describe('the time grid of generated sequences', () => {
  it('keeps every default timeout and the fragment memory at least 2 s from its multiples', () => {
    const grid = timeGrid();
    expect(grid).toBe(13);
    for (const t of [...Object.values(DEFAULT_CT_TIMEOUTS), 30]) {
      expect(Math.min(t % grid, grid - (t % grid))).toBeGreaterThanOrEqual(2);
    }
  });

  it('adapts to configured timeouts and refuses a set no grid fits', () => {
    const grid = timeGrid({ ...DEFAULT_CT_TIMEOUTS, udp: 13 });
    expect(13 % grid).toBeGreaterThanOrEqual(2);
    expect(grid).not.toBe(13);
    expect(() => timeGrid({ ...DEFAULT_CT_TIMEOUTS, udp: 1 })).toThrow(/no time grid/);
  });
});

describe('generated connection-tracking sequences run through the model', () => {
  it('keep its invariants, build into frames, and reach every state and transition', () => {
    const states = new Map<string, number>();
    const transitions = new Map<string, number>();
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    let refreshHeld = 0;
    let fragmentsRemembered = 0;
    let floodRefused = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const r = new Random(seed);
      const policy = new Random(seed * 7919);
      // Every fifth sequence under a tiny flood threshold, so the guard is exercised too.
      const ct = new ConnectionTracker({ floodThreshold: seed % 5 === 0 ? 1 : 20_000 });
      let now = 1000n * SECOND;
      for (const step of generateCtSequence(r, { steps: 250 })) {
        if ('advance' in step) {
          if (step.advance % (13n * SECOND) !== 0n) expect.fail(`seed ${seed}: an advance off the grid`);
          now += step.advance;
        } else {
          buildFrame(step.packet); // throws for a spec the kernel side could not be given
          if (step.direction === 'egress') {
            count(transitions, ct.egress(step.packet, now));
          } else {
            const result = ct.ingress(step.packet, now);
            if (result.state === null) expect.fail(`seed ${seed}: no state for ${JSON.stringify(step.packet)}`);
            count(states, result.state ?? 'null');
            if (policy.chance(0.9)) count(transitions, result.commit());
          }
        }
        const broken = brokenInvariant(ct, now);
        if (broken) expect.fail(`seed ${seed}: ${broken}`);
      }
      refreshHeld += ct.stats.refreshHeld;
      fragmentsRemembered += ct.stats.fragmentsRemembered;
      floodRefused += ct.stats.floodRefused;
    }
    expect([...states.keys()].sort()).toEqual(['established', 'invalid', 'new', 'related']);
    for (const state of states.keys()) expect(states.get(state), state).toBeGreaterThan(20);
    expect(TRANSITIONS.filter((t) => !transitions.has(t))).toEqual([]);
    expect(refreshHeld).toBeGreaterThan(0);
    expect(fragmentsRemembered).toBeGreaterThan(0);
    expect(floodRefused).toBeGreaterThan(0);
  });

  it('are the same for the same seed', () => {
    expect(generateCtSequence(new Random(42), { steps: 200 })).toEqual(generateCtSequence(new Random(42), { steps: 200 }));
  });
});
