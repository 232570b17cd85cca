import { pinnedInterfaces, status } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';
import { ExitCode } from '../exit-codes.js';
import { requireRoot } from '../preconditions.js';
import { loadState } from '../state.js';

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
  commit?: string;
  rules?: number;
  defaultAction?: string;
  appliedAt?: string;
  attachedSince?: string;
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
      commit: s?.commit,
      rules: s?.rules.length,
      defaultAction: s?.defaultAction,
      appliedAt: s?.appliedAt,
      attachedSince: s?.attachedSince,
    };
  });
  if (options.json) {
    json(io, { interfaces: reports });
    return ExitCode.ok;
  }
  if (reports.length === 0) out(io, 'xdpfw is not attached to any interface in this network namespace');
  for (const r of reports) {
    out(io, `${r.interface}: ${r.state}, ${r.mode ?? '?'} mode, prog ${r.progId ?? '?'}`);
    out(io, `  policy ${r.policyFile ?? '?'} (${r.policyHash?.slice(0, 12) ?? '?'}${r.commit ? `, commit ${r.commit.slice(0, 12)}` : ''}): ${r.rules ?? '?'} rules, default ${r.defaultAction ?? '?'}`);
    out(io, `  applied ${r.appliedAt ?? '?'}; enforced since ${r.attachedSince ?? '?'}`);
  }
  return ExitCode.ok;
}
