/**
 * The `conntrack { … }` block: its options, their ranges and the defaults
 * (docs/DESIGN.md, "Connection tracking"; docs/language.md lists them) —
 * the one place they are written. The checks (checks/conntrack-options.ts)
 * validate a block against these; lowering fills in what it leaves out.
 */
import type { ConntrackBlock } from '../policy/ast.js';
import type { ConntrackSettings } from './ir.js';
import { durationSeconds } from './syntax/duration.js';

export const CONNTRACK_DEFAULTS: Readonly<ConntrackSettings> = Object.freeze({
  size: 262_144,
  timeouts: Object.freeze({ tcpSyn: 60, tcpEstablished: 6 * 3600, tcpClose: 10, udp: 30, udpStream: 120, icmp: 30 }),
  floodThreshold: 20_000,
});

/** Entries of the TCP table: at least what the UDP and ICMP tables get (XDPFW_CT_MIN_TABLE), at most 16 Mi. */
export const CONNTRACK_SIZE = { min: 1024, max: 16_777_216 } as const;
/** Half-open entries a second for the host: below 100 a few clients' SYNs would trip the guard. */
export const FLOOD_THRESHOLD = { min: 100, max: 100_000_000 } as const;

export type TimeoutName = keyof ConntrackSettings['timeouts'];

/** Each option by its name in the block. */
export const CONNTRACK_OPTIONS = {
  size: { kind: 'count' },
  'flood-threshold': { kind: 'count' },
  'tcp-syn': { kind: 'timeout', timeout: 'tcpSyn' },
  'tcp-established': { kind: 'timeout', timeout: 'tcpEstablished' },
  'tcp-close': { kind: 'timeout', timeout: 'tcpClose' },
  udp: { kind: 'timeout', timeout: 'udp' },
  'udp-stream': { kind: 'timeout', timeout: 'udpStream' },
  icmp: { kind: 'timeout', timeout: 'icmp' },
} as const satisfies Record<string, { kind: 'count' } | { kind: 'timeout'; timeout: TimeoutName }>;

export type ConntrackOptionName = keyof typeof CONNTRACK_OPTIONS;
export const CONNTRACK_OPTION_NAMES = Object.keys(CONNTRACK_OPTIONS) as ConntrackOptionName[];

export function isConntrackOption(name: string): name is ConntrackOptionName {
  return Object.hasOwn(CONNTRACK_OPTIONS, name);
}

/** The block's settings over the defaults. Call only on a checked block: lowering trusts the checks. */
export function conntrackSettings(block: ConntrackBlock | undefined): ConntrackSettings {
  const settings: ConntrackSettings = { ...CONNTRACK_DEFAULTS, timeouts: { ...CONNTRACK_DEFAULTS.timeouts } };
  for (const option of block?.options ?? []) {
    const name = option.name.name;
    if (!isConntrackOption(name)) continue;
    const spec = CONNTRACK_OPTIONS[name];
    if (spec.kind === 'timeout') {
      const seconds = durationSeconds(option.value);
      if (typeof seconds === 'number') settings.timeouts[spec.timeout] = seconds;
    } else if (option.value.kind === 'number') {
      if (name === 'size') settings.size = option.value.value;
      else settings.floodThreshold = option.value.value;
    }
  }
  return settings;
}
