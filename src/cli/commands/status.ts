import { pinnedInterfaces, status } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { processRunning } from '../../app/ownership.js';
import { loadState, type RefusedReload } from '../../app/state.js';
import {
  isRollbackTimer,
  readCompletedRollback,
  readPendingRollback,
  timeLeft,
  type CompletedRollback,
  type PendingRollback,
} from '../../app/rollback-record.js';

export interface StatusOptions {
  json?: boolean;
}

interface InterfaceReport {
  interface: string;
  /** attached: the pinned link holds the program on the interface; stale: the link outlived its interface. */
  state: 'attached' | 'stale';
  mode?: string;
  progId?: number;
  policyFile?: string;
  policyHash?: string;
  source?: string;
  commit?: string;
  /** The last reload the controller refused (the policy above stayed in force). */
  refused?: RefusedReload;
  /** The `xdpfw run` that keeps this interface under its source. */
  controller?: { pid: number; startedAt: string; running: boolean };
  rules?: number;
  defaultAction?: string;
  /** `mode audit`: the policy is counted, not enforced. */
  auditMode?: boolean;
  appliedAt?: string;
  attachedSince?: string;
}

/** Every field present, null where unknown (docs/cli.md, "Machine output"). */
function reportJson(r: InterfaceReport) {
  return {
    interface: r.interface,
    state: r.state,
    mode: r.mode ?? null,
    progId: r.progId ?? null,
    policyFile: r.policyFile ?? null,
    policyHash: r.policyHash ?? null,
    source: r.source ?? null,
    commit: r.commit ?? null,
    rules: r.rules ?? null,
    defaultAction: r.defaultAction ?? null,
    auditMode: r.auditMode ?? null,
    appliedAt: r.appliedAt ?? null,
    attachedSince: r.attachedSince ?? null,
    controller: r.controller ?? null,
    refused: r.refused ?? null,
  };
}

/** `xdpfw status`: what xdpfw enforces in this network namespace, read from the kernel and the state file. */
export function statusCommand(options: StatusOptions, io: CliIo): number {
  requireRoot('status');
  const reports: InterfaceReport[] = pinnedInterfaces().map((ifname) => {
    const s = loadState(ifname);
    let live: ReturnType<typeof status> | undefined;
    try {
      live = status(ifname);
    } catch {
      live = undefined; // the interface is gone
    }
    const attached = !!live?.link && live.link.ifindex !== 0;
    return {
      interface: ifname,
      state: attached ? 'attached' : 'stale',
      mode: s?.mode,
      progId: live?.link?.progId ?? s?.progId,
      policyFile: s?.policyFile,
      policyHash: s?.policyHash,
      source: s?.source,
      commit: s?.commit,
      refused: s?.refused,
      controller: s?.controller && { ...s.controller, running: processRunning(s.controller.pid) },
      rules: s?.rules.length,
      defaultAction: s?.defaultAction,
      auditMode: s?.auditMode === true,
      appliedAt: s?.appliedAt,
      attachedSince: s?.attachedSince,
    };
  });
  const pending = readPendingRollback();
  const completed = readCompletedRollback();
  if (options.json) {
    json(io, { interfaces: reports.map(reportJson), rollback: pending ? pendingJson(pending) : null, rolledBack: completed ?? null });
    return ExitCode.ok;
  }
  if (reports.length === 0) out(io, 'xdpfw is not attached to any interface in this network namespace');
  for (const r of reports) {
    out(io, `${r.interface}: ${r.state}, ${r.mode ?? '?'} mode, prog ${r.progId ?? '?'}`);
    out(
      io,
      `  policy ${r.policyFile ?? '?'} (${r.policyHash?.slice(0, 12) ?? '?'}${r.commit ? `, commit ${r.commit.slice(0, 12)}` : ''}): ${r.rules ?? '?'} rules, default ${r.defaultAction ?? '?'}${r.auditMode ? '; mode audit: nothing is dropped' : ''}`,
    );
    out(io, `  applied ${r.appliedAt ?? '?'}; enforced since ${r.attachedSince ?? '?'}`);
    if (r.source) {
      const by = r.controller ? `, xdpfw run pid ${r.controller.pid}${r.controller.running ? '' : ' (not running)'}` : '';
      out(io, `  source ${r.source}${by}`);
    }
    if (r.refused) {
      out(
        io,
        `  refused ${r.refused.commit ? `commit ${r.refused.commit.slice(0, 12)}` : r.refused.source} at ${r.refused.at} (${r.refused.reason}): ${r.refused.message}`,
      );
      for (const d of r.refused.diagnostics) out(io, `    ${d}`);
    }
  }
  if (pending) printPending(io, pending);
  else if (completed) printCompleted(io, completed);
  return ExitCode.ok;
}

/** The pending rollback (docs/cli.md, "Machine output"): what each interface goes back to, and whether its timer runs. */
function pendingJson(r: PendingRollback) {
  return {
    policyFile: r.policyFile,
    since: r.since,
    deadline: r.deadline,
    timerPid: r.timerPid,
    timerRunning: r.timerPid !== null && isRollbackTimer(r.timerPid, r.token),
    interfaces: r.interfaces.map((e) => ({
      interface: e.interface,
      restore: e.policy ? { policyFile: e.policy.policyFile, policyHash: e.policy.policyHash } : null,
    })),
    failed: r.failed ?? null,
  };
}

function printPending(io: CliIo, r: PendingRollback): void {
  const p = pendingJson(r);
  if (p.failed) {
    out(io, `rollback of ${p.policyFile} FAILED at ${p.failed.at}: ${p.failed.message}`);
    out(io, '  `xdpfw confirm` clears this record; apply the policy wanted to recover');
  } else {
    const timer = p.timerRunning ? `timer pid ${p.timerPid}` : `timer pid ${p.timerPid ?? '?'} NOT RUNNING: nothing will roll back`;
    out(io, `pending rollback of ${p.policyFile} at ${p.deadline} (in ${timeLeft(p.deadline)}) unless \`xdpfw confirm\`; ${timer}`);
  }
  for (const e of p.interfaces) {
    const to = e.restore ? `policy ${e.restore.policyFile} (${e.restore.policyHash.slice(0, 12)})` : 'nothing (detach)';
    out(io, `  ${e.interface}: back to ${to}`);
  }
}

function printCompleted(io: CliIo, c: CompletedRollback): void {
  const what = c.interfaces.map((e) => `${e.interface} back to ${e.restored ?? 'nothing'}`).join(', ');
  out(io, `rolled back ${c.policyFile} at ${c.at} (not confirmed): ${what}`);
}
