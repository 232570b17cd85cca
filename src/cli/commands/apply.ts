import { resolve } from 'node:path';
import type { CompiledInterface } from '../../compiler/output.js';
import { loadPolicyProgram, type AttachMode, type LoadedProgram } from '../../xdp/index.js';
import { enforce, inspectInterface, policyInForce, type Enforced } from '../../app/enforce.js';
import { ExitCode } from '../../app/exit-codes.js';
import { withRunLock } from '../../app/lock.js';
import { managingDaemon, refuseIfForeign, refuseIfManaged } from '../../app/ownership.js';
import { compileOrThrow, selectInterfaces } from '../../app/policy-loader.js';
import { requireInterface, requireRoot } from '../../app/preconditions.js';
import { armRollback, cancelPendingRollback } from '../../app/rollback.js';
import {
  parseConfirmDuration,
  readPendingRollback,
  removeCompletedRollback,
  timeLeft,
  type PendingRollback,
  type RestoreEntry,
} from '../../app/rollback-record.js';
import { keepAppliedSources, restorePolicyFor } from '../../app/rollback-sources.js';
import { FileSourceHost } from '../../app/source-host.js';
import { refuseSessionLockout } from '../../app/ssh-lockout.js';
import { UserError } from '../../app/user-error.js';
import { waitMs } from '../../app/wait-option.js';
import type { CliIo } from '../io.js';
import { err, json, out } from '../io.js';
import { progressReporter } from '../progress.js';

export interface ApplyOptions {
  iface?: string[];
  mode: AttachMode;
  /** Seconds to wait for the run directory's lock. */
  wait?: string;
  /** Apply even where a running `xdpfw run` manages the interface, or where it would cut the SSH session it runs in. */
  force?: boolean;
  /** A duration (30s, 10m): roll back to the policies in force before unless `xdpfw confirm` runs within it. */
  confirm?: string;
  json?: boolean;
}

/**
 * `xdpfw apply FILE`: every selected interface gets a freshly loaded program
 * with its maps filled; only when all of them loaded does any interface
 * change. An interface xdpfw already enforces has its program swapped in one
 * step (bpf_link_update, compare-and-swap), so no packet meets a half-written
 * policy or no policy at all, and rules kept by the new policy keep their
 * counters. Run over SSH, it first refuses a policy that would drop its own
 * session (src/app/ssh-lockout.ts). With --confirm it arms a rollback
 * first (src/app/rollback.ts); without, it confirms one that is pending.
 */
export async function applyCommand(file: string, options: ApplyOptions, io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const lockWaitMs = waitMs(options.wait);
  const confirmSeconds = options.confirm === undefined ? undefined : parseConfirmDuration(options.confirm);
  const host = new FileSourceHost();
  const policy = compileOrThrow(file, (text) => err(io, text), host);
  if (policy.compiled.interfaces.length === 0) {
    // Exit 0 having applied nothing would read as success in a deploy script.
    throw new UserError(
      'no-interface',
      `${file} has no interface block: there is nothing to apply`,
      ExitCode.policy,
      "add 'interface NAME { … }'",
    );
  }
  const interfaces = selectInterfaces(policy.compiled.interfaces, options.iface, file);
  if (!options.force) {
    const applied = policy.ir!.interfaces.filter((i) => interfaces.some((c) => c.name === i.name));
    const note = refuseSessionLockout(applied, env.SSH_CONNECTION);
    if (note) err(io, `note: ${note}`);
  }
  requireRoot('apply');
  interfaces.forEach((iface) => requireInterface(iface.name));
  refuseIfForeign(interfaces.map((iface) => iface.name));

  const policyFile = resolve(file);
  // Kept by absolute path: a rollback compiles them again from wherever its timer runs.
  const texts = Object.fromEntries([...host.texts].map(([path, text]) => [resolve(path), text]));
  const applying = { interfaces, policyFile, texts, confirmSeconds };
  const { unchanged, states, rollback, confirmed } = await withRunLock('xdpfw apply', () => applyLocked(applying, options, io), {
    waitMs: lockWaitMs,
  });
  if (confirmed) err(io, `note: this apply confirms the pending apply of ${confirmed.policyFile}; its rollback is cancelled`);
  if (options.json) {
    json(io, { applied: states.map(summary), unchanged: unchanged.map((i) => i.name), rollback: rollback ? rollbackJson(rollback) : null });
  } else {
    for (const iface of unchanged) out(io, `${iface.name}: policy ${iface.hash.slice(0, 12)} already in force; nothing changed`);
    for (const s of states) {
      out(
        io,
        `${s.interface}: ${s.replaced ? 'replaced' : 'attached'} policy ${s.state.policyHash.slice(0, 12)} (${s.state.rules.length} rules, default ${s.state.defaultAction}, ${s.state.mode} mode, prog ${s.state.progId})`,
      );
      if (s.nativeError) err(io, `  note: native mode refused (${s.nativeError}); attached in generic mode`);
    }
    if (rollback) {
      out(
        io,
        `rollback at ${rollback.deadline} (in ${timeLeft(rollback.deadline)}) unless \`xdpfw confirm\` runs before: timer pid ${rollback.timerPid}`,
      );
    }
  }
  return ExitCode.ok;
}

interface Applying {
  interfaces: CompiledInterface[];
  policyFile: string;
  /** The texts the policy was compiled from, kept for a later rollback to it. */
  texts: Record<string, string>;
  confirmSeconds?: number;
}

/** What runs is looked at, loaded over and swapped under the lock, so no other writer comes between. */
async function applyLocked({ interfaces, policyFile, texts, confirmSeconds }: Applying, options: ApplyOptions, io: CliIo) {
  const views = new Map(interfaces.map((iface) => [iface.name, inspectInterface(iface.name)]));
  const unchanged = interfaces.filter((iface) => policyInForce(iface, views.get(iface.name)));
  for (const iface of interfaces) {
    if (!unchanged.includes(iface)) refuseIfManaged('apply', iface.name, views.get(iface.name)?.state, options.force === true);
  }
  const pending = readPendingRollback();
  // What each interface goes back to is settled before anything is loaded: a policy that cannot be had again refuses the apply.
  const current: RestoreEntry[] = [];
  if (confirmSeconds !== undefined) {
    for (const iface of interfaces) {
      const view = views.get(iface.name)!;
      refuseConfirmManaged(iface.name, view.state);
      if (pending?.interfaces.some((e) => e.interface === iface.name)) continue;
      current.push({ interface: iface.name, policy: restorePolicyFor(iface.name, view.state, view.attached) });
    }
  }
  const programs: { iface: CompiledInterface; program: LoadedProgram }[] = [];
  try {
    for (const iface of interfaces.filter((i) => !unchanged.includes(i))) {
      const program = await loadPolicyProgram(iface, { onProgress: progressReporter(io, iface.name) });
      for (const notice of program.notices) err(io, `${iface.name}: note: ${notice}`);
      programs.push({ iface, program });
    }
    const rollback = confirmSeconds === undefined ? undefined : armRollback(pending, current, policyFile, confirmSeconds);
    const states: Enforced[] = [];
    for (const { iface, program } of programs) {
      states.push(await enforce(iface, program, { mode: options.mode, policyFile }));
    }
    for (const iface of interfaces) keepAppliedSources(iface.name, { policyFile, policyHash: iface.hash, texts });
    // A plain apply confirms, as a plain `commit` does after `commit confirmed`.
    const confirmed = confirmSeconds === undefined ? cancelPendingRollback() : undefined;
    if (confirmSeconds === undefined) removeCompletedRollback(); // a rollback's report lasts until the next policy
    return { unchanged, states, rollback, confirmed };
  } finally {
    for (const { program } of programs) program.close();
  }
}

/** A daemon reloads from its source and keeps the last good policy itself: a timer restoring under it would fight it. */
function refuseConfirmManaged(ifname: string, state: Parameters<typeof managingDaemon>[0]): void {
  const daemon = managingDaemon(state);
  if (!daemon) return;
  throw new UserError(
    'confirm-managed',
    `${ifname} is managed by xdpfw run (pid ${daemon.pid}): --confirm cannot roll back under a daemon, which reloads from its source`,
    ExitCode.system,
    'try the policy at its source (a policy the daemon cannot load leaves the last good one in force), or stop the daemon first',
  );
}

/** The rollback `apply --confirm --json` armed (docs/cli.md, "Machine output"). */
function rollbackJson(r: PendingRollback) {
  return { deadline: r.deadline, since: r.since, timerPid: r.timerPid, interfaces: r.interfaces.map((e) => e.interface) };
}

/** An interface as `apply --json` prints it (docs/cli.md, "Machine output"). */
function summary(e: Enforced) {
  const s = e.state;
  return {
    interface: e.interface,
    replaced: e.replaced,
    policyFile: s.policyFile,
    policyHash: s.policyHash,
    mode: s.mode,
    progId: s.progId,
    linkId: s.linkId,
    rules: s.rules.length,
    defaultAction: s.defaultAction,
    carried: e.carried,
    nativeError: e.nativeError ?? null,
    appliedAt: s.appliedAt,
    attachedSince: s.attachedSince,
  };
}
