import fs from 'node:fs';

import { ExitCode } from '../../app/exit-codes.js';
import { processRunning } from '../../app/ownership.js';
import { requireRoot } from '../../app/preconditions.js';
import { loadState, type AppliedState } from '../../app/state.js';
import {
  checkRuleNames,
  pcapComment,
  renderTraceLine,
  traceLine,
  traceRequest,
  type TraceFilters,
  type TraceLine,
  wallClock,
} from '../../app/trace.js';
import { UserError } from '../../app/user-error.js';
import { pcapngHeader, pcapngInterface, pcapngPacket } from '../../packet/pcapng.js';
import { TRACE_SNAPLEN, TraceBusyError, Tracer, ifindexOf, pinnedInterfaces, type TraceRecord, type TraceStats } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { err, jsonText, out } from '../io.js';

export interface TraceOptions {
  iface?: string[];
  rule?: string[];
  verdict?: string;
  src?: string;
  dst?: string;
  count?: string;
  rate?: string;
  json?: boolean;
  pcap?: string;
}

const POLL_MS = 200;
/** How often the tracer looks for a reloaded program to trace instead. */
const REFRESH_MS = 1000;

function positive(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError('bad-option', `${option}: '${text}' is not a positive whole number`, ExitCode.usage, `e.g. ${option} 100`);
  }
  return n;
}

function verdictOf(text: string | undefined): TraceFilters['verdict'] {
  if (text === undefined || text === 'allow' || text === 'drop' || text === 'audit') return text;
  throw new UserError(
    'bad-option',
    `--verdict: '${text}' is not allow, drop or audit`,
    ExitCode.usage,
    'write --verdict drop (rejects too), --verdict allow, or --verdict audit (what audit rules and mode audit did not enforce)',
  );
}

/** The traced interfaces with the state of their policy; a usage error when there are none. */
function tracedStates(ifaces: readonly string[] | undefined): AppliedState[] {
  const names = ifaces && ifaces.length > 0 ? ifaces : pinnedInterfaces();
  const states = names.map((name) => ({ name, state: loadState(name) }));
  const missing = states.filter((s) => !s.state).map((s) => s.name);
  if (missing.length > 0 || names.length === 0) {
    throw new UserError(
      'not-attached',
      names.length === 0
        ? 'no interface of this network namespace has an xdpfw policy to trace'
        : `no xdpfw policy on ${missing.join(', ')}`,
      ExitCode.policy,
      'apply a policy first: xdpfw apply FILE',
    );
  }
  return states.map((s) => s.state!);
}

const stopSignals = ['SIGINT', 'SIGTERM'] as const;

/**
 * `xdpfw trace`: live decisions of the kernel programs, until --count
 * lines or a signal; then tracing is switched off where it was switched on.
 */
export async function traceCommand(options: TraceOptions, io: CliIo): Promise<number> {
  requireRoot('trace');
  const count = positive('--count', options.count, Infinity);
  const filters: TraceFilters = {
    rules: options.rule ?? [],
    verdict: verdictOf(options.verdict),
    src: options.src,
    dst: options.dst,
    rate: positive('--rate', options.rate, 1000),
  };
  const states = tracedStates(options.iface);
  checkRuleNames(filters.rules, states);
  // Asked again for a reloaded program: its policy's rule indexes may have moved.
  const tracer = new Tracer(
    states.map((s) => s.interface),
    (ifname) => traceRequest(filters, loadState(ifname) ?? states.find((s) => s.interface === ifname)!, process.pid),
    { ownerRunning: processRunning },
  );
  const pcap = options.pcap === undefined ? null : openPcap(options.pcap, states);
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  for (const signal of stopSignals) process.on(signal, stop);
  let shown = 0;
  let lastSuppressed = 0n;
  try {
    openTracer(tracer);
    const wall = wallClock();
    const ifindexes = new Map(states.map((s) => [s.interface, ifindexOf(s.interface)]));
    let refreshedAt = Date.now();
    err(io, `tracing ${states.map((s) => s.interface).join(', ')}; Ctrl-C stops`);
    while (!stopped && shown < count) {
      for (const record of tracer.poll(POLL_MS)) {
        if (shown >= count) break;
        const line = traceLine(record, ifindexes.get(record.ifname) ?? 0, stateOf(record, states), wall);
        if (options.json) out(io, jsonText(line));
        else out(io, renderTraceLine(line));
        pcap?.write(record, line, wall(record.timeNs));
        shown++;
      }
      if (Date.now() - refreshedAt >= REFRESH_MS) {
        refreshedAt = Date.now();
        if (tracer.refresh()) for (const s of states) Object.assign(s, loadState(s.interface) ?? s);
        const { suppressed } = tracer.stats();
        if (suppressed > lastSuppressed && !options.json)
          err(io, `… ${suppressed - lastSuppressed} events over --rate ${filters.rate}/s not shown`);
        lastSuppressed = suppressed;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return ExitCode.ok;
  } finally {
    const stats = tracer.stats();
    tracer.close(process.pid);
    pcap?.close();
    for (const signal of stopSignals) process.off(signal, stop);
    err(io, traceSummary(shown, stats, filters.rate));
  }
}

function openTracer(tracer: Tracer): void {
  try {
    tracer.open();
  } catch (error) {
    if (error instanceof TraceBusyError) {
      throw new UserError(
        'trace-busy',
        error.message,
        ExitCode.system,
        `one trace at a time per interface: stop pid ${error.owner}'s first`,
      );
    }
    throw error;
  }
}

const stateOf = (r: TraceRecord, states: readonly AppliedState[]) => states.find((s) => s.interface === r.ifname);

export function traceSummary(shown: number, s: TraceStats, rate: number): string {
  return `${shown} decisions shown; the kernel sent ${s.sent}, kept back ${s.suppressed} over --rate ${rate}/s and lost ${s.lost} to a full ring`;
}

/** The --pcap file: a section, an interface a traced interface, then each traced frame with its verdict as comment. */
function openPcap(file: string, states: readonly AppliedState[]) {
  let fd: number;
  try {
    fd = fs.openSync(file, 'w');
  } catch (error) {
    throw new UserError('pcap-file', `--pcap ${file}: ${(error as Error).message}`, ExitCode.system, 'give a file in a writable directory');
  }
  const order = states.map((s) => s.interface);
  fs.writeSync(fd, Buffer.concat([pcapngHeader(), ...order.map((name) => pcapngInterface(name, TRACE_SNAPLEN))]));
  return {
    write(record: TraceRecord, line: TraceLine, timeNs: bigint) {
      fs.writeSync(
        fd,
        pcapngPacket(Math.max(0, order.indexOf(record.ifname)), timeNs, record.frame, record.frameLength, pcapComment(line)),
      );
    },
    close() {
      fs.closeSync(fd);
    },
  };
}
