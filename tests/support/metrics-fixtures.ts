/**
 * Counters as the controller's metrics read them, with a sample of every
 * kind of series: an allow and a limited drop rule, each global counter,
 * a dynamic set, and a connection table.
 */
import type { InterfaceStats } from '../../src/app/counters.js';
import type { ConntrackSummary } from '../../src/xdp/index.js';

export const SAMPLE_STATS: InterfaceStats = {
  name: 'eth0',
  policyHash: 'abc',
  commit: 'c0ffee',
  since: '2024-01-01T00:00:00.000Z',
  rules: [
    {
      index: 0,
      id: 'ssh',
      name: 'ssh',
      file: 'p.xdpfw',
      line: 3,
      col: 3,
      action: 'allow',
      audit: false,
      text: 'allow tcp dport 22',
      since: null,
      overLimit: null,
      packets: 7n,
      bytes: 700n,
    },
    {
      index: 1,
      id: 'rule-0123456789ab',
      name: null,
      file: 'p.xdpfw',
      line: 4,
      col: 3,
      action: 'drop',
      audit: false,
      text: 'drop udp',
      since: null,
      overLimit: 12n,
      packets: 3n,
      bytes: 180n,
    },
  ],
  default: { action: 'drop', packets: 5n, bytes: 300n },
  malformed: { packets: 1n, bytes: 20n },
  nonIp: { packets: 2n, bytes: 84n },
  fragment: { packets: 0n, bytes: 0n },
  rejectSent: { packets: 9n, bytes: 540n },
  rejectSuppressed: { packets: 2n, bytes: 120n },
  auditMode: false,
  wouldDrop: { packets: 0n, bytes: 0n },
  attachMode: 'native',
  sets: [{ name: 'banned', added: 4n, expired: 1n, full: 2n }],
  appliedAt: '2024-01-02T00:00:00.000Z',
};

export const sampleConntrack = (): ConntrackSummary => ({
  entries: { tcp: 10, udp: 2, icmp: 0 },
  size: { tcp: 1024, udp: 256, icmp: 256 },
  created: { tcp: 11n, udp: 2n, icmp: 0n },
  evicted: 1n,
  floodRefused: 0n,
  floodSeconds: 0n,
});
