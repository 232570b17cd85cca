import { resolve } from 'node:path';
import type { CompiledInterface } from '../../compiler/output.js';
import { attach, loadPolicyProgram, replace, status, writeState, type AttachMode, type LoadedProgram } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { err, json, out } from '../io.js';
import { ExitCode } from '../exit-codes.js';
import { requireInterface, requireRoot } from '../preconditions.js';
import { compileOrThrow, selectInterfaces } from '../policy-loader.js';
import { progressReporter } from '../progress.js';
import { loadState, stateFor, type AppliedState } from '../state.js';

export interface ApplyOptions {
  iface?: string[];
  mode: AttachMode;
  json?: boolean;
}

/**
 * `xdpfw apply FILE`: every selected interface gets a freshly loaded program
 * with its maps filled; only when all of them loaded does any interface
 * change. An interface xdpfw already enforces has its program swapped in one
 * step (bpf_link_update, compare-and-swap), so no packet meets a half-written
 * policy or no policy at all.
 */
export async function applyCommand(file: string, options: ApplyOptions, io: CliIo): Promise<number> {
  const policy = compileOrThrow(file, (text) => err(io, text));
  const interfaces = selectInterfaces(policy.compiled.interfaces, options.iface, file);
  requireRoot('apply');
  interfaces.forEach((iface) => requireInterface(iface.name));

  const policyFile = resolve(file);
  const unchanged = interfaces.filter((iface) => inForce(iface));
  const programs: { iface: CompiledInterface; program: LoadedProgram }[] = [];
  try {
    for (const iface of interfaces.filter((i) => !unchanged.includes(i))) {
      const program = await loadPolicyProgram(iface, { onProgress: progressReporter(io, iface.name) });
      programs.push({ iface, program });
    }
    const states = programs.map(({ iface, program }) => enforce(iface, program, policyFile, options.mode));
    if (options.json) {
      json(io, { applied: states.map(summary), unchanged: unchanged.map((i) => i.name) });
    } else {
      for (const iface of unchanged) out(io, `${iface.name}: policy ${iface.hash.slice(0, 12)} already in force; nothing changed`);
      for (const s of states) {
        out(io, `${s.interface}: ${s.replaced ? 'replaced' : 'attached'} policy ${s.state.policyHash.slice(0, 12)} (${s.state.rules.length} rules, default ${s.state.defaultAction}, ${s.state.mode} mode, prog ${s.state.progId})`);
        if (s.nativeError) err(io, `  note: native mode refused (${s.nativeError}); attached in generic mode`);
      }
    }
    return ExitCode.ok;
  } finally {
    for (const { program } of programs) program.close();
  }
}

/** The same compiled policy is attached already: replacing it would only reset its counters. */
function inForce(iface: CompiledInterface): boolean {
  const state = loadState(iface.name);
  if (state?.policyHash !== iface.hash) return false;
  const live = status(iface.name);
  return !!live.link && live.link.ifindex !== 0 && live.link.progId === state.progId;
}

interface Enforced {
  interface: string;
  replaced: boolean;
  nativeError?: string;
  state: AppliedState;
}

function enforce(iface: CompiledInterface, program: LoadedProgram, file: string, mode: AttachMode): Enforced {
  const now = new Date().toISOString();
  const current = status(iface.name);
  const previous = loadState(iface.name);
  let enforced: Enforced;
  if (current.link && current.link.ifindex !== 0) {
    const swapped = replace(program, iface.name);
    const state = stateFor(iface, {
      ifindex: current.link.ifindex,
      policyFile: file,
      mode: previous?.mode ?? (current.xdp.mode === 'generic' ? 'generic' : 'native'),
      progId: swapped.newProgId,
      linkId: current.link.linkId,
      attachedSince: previous?.attachedSince ?? now,
    });
    enforced = { interface: iface.name, replaced: true, state };
  } else {
    const attached = attach(program, iface.name, mode);
    const state = stateFor(iface, {
      ifindex: attached.ifindex,
      policyFile: file,
      mode: attached.mode,
      progId: attached.progId,
      linkId: attached.linkId,
      attachedSince: now,
    });
    enforced = { interface: iface.name, replaced: false, state, nativeError: attached.nativeError };
  }
  writeState(iface.name, enforced.state);
  return enforced;
}

function summary(e: Enforced) {
  const { rules, ...rest } = e.state;
  return { ...rest, rules: rules.length, replaced: e.replaced, nativeError: e.nativeError };
}
