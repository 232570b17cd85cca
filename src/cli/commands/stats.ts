import { pinnedInterfaces, readCounters, type Counters } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';
import { ExitCode } from '../exit-codes.js';
import { requireRoot } from '../preconditions.js';
import { loadState } from '../state.js';
import { UserError } from '../user-error.js';

export interface StatsOptions {
  iface?: string[];
  json?: boolean;
  watch?: boolean | string;
}

interface Count {
  packets: number;
  bytes: number;
}

export interface InterfaceStats {
  name: string;
  policyHash: string;
  rules: (Count & { index: number; id: string; name: string | null; action: string; text: string })[];
  default: Count & { action: string };
  malformed: Count;
  nonIp: Count;
  fragment: Count;
}

const count = (c: { packets: bigint; bytes: bigint }): Count => ({ packets: Number(c.packets), bytes: Number(c.bytes) });

function collect(targets: string[]): InterfaceStats[] {
  return targets.map((ifname) => {
    const state = loadState(ifname);
    if (!state) throw new UserError('not-attached', `xdpfw is not attached to ${ifname}`, ExitCode.policy);
    const counters: Counters = readCounters({ ifname }, { nrules: state.rules.length });
    return {
      name: ifname,
      policyHash: state.policyHash,
      rules: state.rules.map((rule, i) => ({
        index: rule.index,
        id: rule.id,
        name: rule.name ?? null,
        action: rule.action,
        text: rule.text,
        ...count(counters.rules[i]),
      })),
      default: { action: state.defaultAction, ...count(counters.global.default) },
      malformed: count(counters.global.malformed),
      nonIp: count(counters.global.nonIp),
      fragment: count(counters.global.fragment),
    };
  });
}

function render(stats: InterfaceStats[], previous: InterfaceStats[] | undefined, seconds: number): string {
  const lines: string[] = [];
  const rate = (now: Count, before: Count | undefined) =>
    before ? `  ${(((now.packets - before.packets) / seconds) | 0).toLocaleString('en-US').padStart(10)} pps` : '';
  for (const iface of stats) {
    const before = previous?.find((p) => p.name === iface.name);
    lines.push(`${iface.name}  (policy ${iface.policyHash.slice(0, 12)})`);
    lines.push(`  ${'#'.padStart(4)}  ${'action'.padEnd(6)}  ${'rule'.padEnd(28)}  ${'packets'.padStart(14)}  ${'bytes'.padStart(16)}`);
    for (const r of iface.rules) {
      const label = r.name ?? r.text;
      lines.push(
        `  ${String(r.index).padStart(4)}  ${r.action.padEnd(6)}  ${label.slice(0, 28).padEnd(28)}  ${r.packets.toLocaleString('en-US').padStart(14)}  ${r.bytes.toLocaleString('en-US').padStart(16)}${rate(r, before?.rules[r.index])}`,
      );
    }
    for (const [label, c, b] of [
      [`default (${iface.default.action})`, iface.default, before?.default],
      ['malformed (dropped)', iface.malformed, before?.malformed],
      ['non-IP (passed)', iface.nonIp, before?.nonIp],
      ['non-first fragments', iface.fragment, before?.fragment],
    ] as const) {
      lines.push(`  ${''.padStart(4)}  ${''.padEnd(6)}  ${label.padEnd(28)}  ${c.packets.toLocaleString('en-US').padStart(14)}  ${c.bytes.toLocaleString('en-US').padStart(16)}${rate(c, b)}`);
    }
  }
  return lines.join('\n');
}

/** `xdpfw stats`: per-rule and global counters, summed over CPUs; `--watch` adds rates. */
export async function statsCommand(options: StatsOptions, io: CliIo): Promise<number> {
  requireRoot('stats');
  const targets = options.iface?.length ? options.iface : pinnedInterfaces();
  if (targets.length === 0) {
    throw new UserError('not-attached', 'xdpfw is not attached to any interface in this network namespace', ExitCode.policy, "attach a policy with 'xdpfw apply FILE'");
  }
  if (options.watch === undefined || options.watch === false) {
    const stats = collect(targets);
    if (options.json) json(io, { interfaces: stats });
    else out(io, render(stats, undefined, 1));
    return ExitCode.ok;
  }
  const seconds = options.watch === true ? 1 : Number(options.watch);
  if (!(seconds > 0)) throw new UserError('usage', `--watch takes a positive number of seconds, not '${options.watch}'`, ExitCode.usage);
  let previous: InterfaceStats[] | undefined;
  for (;;) {
    const stats = collect(targets);
    if (options.json) json(io, { at: new Date().toISOString(), interfaces: stats });
    else out(io, `${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${new Date().toISOString()}\n${render(stats, previous, seconds)}`);
    previous = stats;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}
