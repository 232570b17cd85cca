import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { ifnameOf, readConntrackEntries, type ConntrackEntry } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';

export interface CtListOptions {
  iface?: string[];
  json?: boolean;
}

const PROTOCOL: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

const endpoint = (address: string, family: 4 | 6, port: number, protocol: number): string => {
  const host = family === 6 ? `[${address}]` : address;
  return protocol === 6 || protocol === 17 ? `${host}:${port}` : host;
};

/** One line, as `conntrack -L` orders it: protocol, state, both endpoints (local first), times, interface. */
function line(e: ConntrackEntry & { iface: string | null }): string {
  const proto = PROTOCOL[e.protocol] ?? `proto ${e.protocol}`;
  const echo = e.protocol === 1 || e.protocol === 58 ? ` id ${e.localPort}` : '';
  const fin = e.finOut || e.finIn ? ` fin-${e.finOut && e.finIn ? 'both' : e.finOut ? 'out' : 'in'}` : '';
  return [
    proto.padEnd(7),
    `${e.state}${fin}`.padEnd(16),
    `${endpoint(e.local, e.family, e.localPort, e.protocol)} <-> ${endpoint(e.remote, e.family, e.remotePort, e.protocol)}${echo}`,
    `age ${Math.floor(e.ageSeconds)}s expires in ${Math.ceil(e.expiresInSeconds)}s`,
    e.iface ?? `ifindex ${e.ifindex}`,
  ].join('  ');
}

/**
 * `xdpfw ct list`: the live entries of this namespace's connection table,
 * from the host's side (local endpoint first), like `conntrack -L`.
 * `--iface` keeps the entries an interface's egress created.
 */
export async function ctListCommand(options: CtListOptions, io: CliIo): Promise<number> {
  requireRoot('ct list');
  const now = process.hrtime.bigint();
  const entries = (readConntrackEntries(now) ?? []).map((e) => ({ ...e, iface: ifnameOf(e.ifindex) }));
  const wanted = options.iface ?? [];
  const shown = wanted.length === 0 ? entries : entries.filter((e) => e.iface !== null && wanted.includes(e.iface));
  shown.sort((a, b) => a.protocol - b.protocol || a.local.localeCompare(b.local) || a.localPort - b.localPort);
  if (options.json) {
    json(io, { entries: shown });
    return ExitCode.ok;
  }
  for (const e of shown) out(io, line(e));
  out(io, `${shown.length} entr${shown.length === 1 ? 'y' : 'ies'}`);
  return ExitCode.ok;
}
