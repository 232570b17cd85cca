import { pinnedInterfaces, readConntrackSummary, type ConntrackSummary } from '../../xdp/index.js';
import { interfaceStats, type Count, type InterfaceStats } from '../../app/counters.js';
import type { CliIo } from '../io.js';
import { json, jsonText, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { dynamicSetSummaries, type SetSummary } from '../../app/dynamic-sets.js';
import { UserError } from '../../app/user-error.js';

export interface StatsOptions {
  iface?: string[];
  json?: boolean;
  watch?: boolean | string;
}

const collect = (targets: string[]): InterfaceStats[] => targets.map(interfaceStats);

/** A `--watch --json` sample: one compact line, counters as exact JSON numbers. */
export function statsLine(
  stats: InterfaceStats[],
  at: Date,
  conntrack: ConntrackSummary | null = null,
  dynamicSets: SetSummary[] = [],
): string {
  return jsonText({ at: at.toISOString(), interfaces: stats, conntrack, dynamicSets });
}

/** One line a dynamic set of the namespace: its live entries against its size. */
export function renderSets(sets: SetSummary[]): string {
  return sets
    .map(
      (s) =>
        `dynamic set ${s.name}: ${figure(BigInt(s.entries))} of ${figure(BigInt(s.size))} entries live (used by ${s.interfaces.join(', ')})`,
    )
    .join('\n');
}

/** The namespace's connection table, when a policy here uses ct state. */
const conntrackNow = (): ConntrackSummary | null => readConntrackSummary(process.hrtime.bigint());

/** One line on the connection table: live entries, creations, evictions, the flood guard. */
export function renderConntrack(c: ConntrackSummary): string {
  const per = (r: Record<string, number | bigint>) =>
    Object.entries(r)
      .map(([t, n]) => `${t} ${figure(BigInt(n))}`)
      .join(', ');
  return (
    `connection table: ${per(c.entries)} live; created ${per(c.created)}; evicted ${figure(c.evicted)}; ` +
    `flood guard refused ${figure(c.floodRefused)} (in ${figure(c.floodSeconds)} CPU-seconds)`
  );
}

/** The namespace's shared tables under the interfaces' counters. */
const tables = (conntrack: ConntrackSummary | null, sets: SetSummary[]): string =>
  (conntrack ? `\n${renderConntrack(conntrack)}` : '') + (sets.length > 0 ? `\n${renderSets(sets)}` : '');

/** Exact figures, grouped by thousands (a bigint's toLocaleString does not round). */
const figure = (n: bigint): string => n.toLocaleString('en-US');

/** The human table; rates against `previous`, taken `seconds` before. */
export function renderStats(stats: InterfaceStats[], previous: InterfaceStats[] | undefined, seconds: number): string {
  const lines: string[] = [];
  const rate = (now: Count, before: Count | undefined) =>
    before
      ? `  ${Math.trunc(Number(now.packets - before.packets) / seconds)
          .toLocaleString('en-US')
          .padStart(10)} pps`
      : '';
  for (const iface of stats) {
    const before = previous?.find((p) => p.name === iface.name);
    const mode = iface.auditMode ? '; mode audit: drops and rejects are counted and passed' : '';
    lines.push(
      `${iface.name}  (policy ${iface.policyHash.slice(0, 12)}${iface.commit ? `, commit ${iface.commit.slice(0, 12)}` : ''}; totals since each rule first appeared${mode})`,
    );
    // An audit rule's packets are those it would have decided: it decided none.
    const width = iface.rules.some((r) => r.audit) ? 12 : 6;
    lines.push(`  ${'#'.padStart(4)}  ${'action'.padEnd(width)}  ${'rule'.padEnd(28)}  ${'packets'.padStart(14)}  ${'bytes'.padStart(16)}`);
    for (const r of iface.rules) {
      const label = r.name ?? r.text;
      const action = r.audit ? `audit ${r.action}` : r.action;
      lines.push(
        `  ${String(r.index).padStart(4)}  ${action.padEnd(width)}  ${label.slice(0, 28).padEnd(28)}  ${figure(r.packets).padStart(14)}  ${figure(r.bytes).padStart(16)}${rate(r, before?.rules[r.index])}`,
      );
      if (r.overLimit !== null)
        lines.push(`  ${''.padStart(4)}  ${''.padEnd(width)}  ${'  over its limit'.padEnd(28)}  ${figure(r.overLimit).padStart(14)}`);
    }
    for (const [label, c, b] of [
      [`default (${iface.default.action})`, iface.default, before?.default],
      [iface.auditMode ? 'malformed (would drop)' : 'malformed (dropped)', iface.malformed, before?.malformed],
      ['non-IP (passed)', iface.nonIp, before?.nonIp],
      ['non-first fragments', iface.fragment, before?.fragment],
      ...(iface.rejectSent.packets + iface.rejectSuppressed.packets > 0n
        ? ([
            ['rejects answered', iface.rejectSent, before?.rejectSent],
            ['rejects not answered', iface.rejectSuppressed, before?.rejectSuppressed],
          ] as const)
        : []),
      ...(iface.auditMode ? ([['would-drops (passed)', iface.wouldDrop, before?.wouldDrop]] as const) : []),
    ] as const) {
      lines.push(
        `  ${''.padStart(4)}  ${''.padEnd(width)}  ${label.padEnd(28)}  ${figure(c.packets).padStart(14)}  ${figure(c.bytes).padStart(16)}${rate(c, b)}`,
      );
    }
    for (const set of iface.sets) {
      lines.push(`  set ${set.name}: bans added ${figure(set.added)}, expired ${figure(set.expired)}, refused (full) ${figure(set.full)}`);
    }
  }
  return lines.join('\n');
}

/**
 * `xdpfw stats`: per-rule and global counters, summed over CPUs, as totals
 * since each rule first appeared (reloads keep them); `--watch` adds rates.
 */
export async function statsCommand(options: StatsOptions, io: CliIo): Promise<number> {
  requireRoot('stats');
  const targets = options.iface?.length ? options.iface : pinnedInterfaces();
  if (targets.length === 0) {
    throw new UserError(
      'not-attached',
      'xdpfw is not attached to any interface in this network namespace',
      ExitCode.policy,
      "attach a policy with 'xdpfw apply FILE'",
    );
  }
  if (options.watch === undefined || options.watch === false) {
    const stats = collect(targets);
    const conntrack = conntrackNow();
    const dynamicSets = dynamicSetSummaries();
    if (options.json) json(io, { interfaces: stats, conntrack, dynamicSets });
    else out(io, renderStats(stats, undefined, 1) + tables(conntrack, dynamicSets));
    return ExitCode.ok;
  }
  const seconds = options.watch === true ? 1 : Number(options.watch);
  if (!(seconds > 0)) throw new UserError('usage', `--watch takes a positive number of seconds, not '${options.watch}'`, ExitCode.usage);
  let previous: InterfaceStats[] | undefined;
  for (;;) {
    const stats = collect(targets);
    const conntrack = conntrackNow();
    const dynamicSets = dynamicSetSummaries();
    // One compact object a line (JSON Lines), so a reader can take each sample as it comes.
    if (options.json) out(io, statsLine(stats, new Date(), conntrack, dynamicSets));
    else {
      const table = tables(conntrack, dynamicSets);
      out(
        io,
        `${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${new Date().toISOString()}\n${renderStats(stats, previous, seconds)}${table}`,
      );
    }
    previous = stats;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}
