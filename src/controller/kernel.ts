/**
 * What the controller asks of the kernel, behind one interface so that the
 * reload logic can be tested with a fake: look at an interface, load a
 * program, enforce it (src/app/enforce.ts, shared with `xdpfw apply`),
 * record state, detach; all of it under the run directory's lock.
 */

import { enforce, inspectInterface, type EnforceOptions, type Enforced } from '../app/enforce.js';
import { withRunLock } from '../app/lock.js';
import { loadState, updateState, type AppliedState } from '../app/state.js';
import type { CompiledInterface } from '../compiler/output.js';
import { collectGarbage, detach, ifindexOf, loadPolicyProgram, removeState, type FreedPins, type LoadedProgram } from '../xdp/index.js';
import type { PinnedView } from './decisions.js';

/** A loaded, not yet enforced program. */
export interface ProgramHandle {
  progId: number;
  /** What the user should know about the load (xdp/index.ts LoadedProgram.notices). */
  notices?: readonly string[];
  close(): void;
}

export interface KernelPort {
  /** Runs `body` holding the run directory's lock (app/lock.ts); throws UserError `busy` when another writer keeps it. */
  exclusive<T>(holder: string, body: () => Promise<T>): Promise<T>;
  /** What runs on the interface; `ifindex` undefined (and nothing attached) when it does not exist. Never throws for a missing interface. */
  inspect(ifname: string): PinnedView & { state?: AppliedState };
  load(iface: CompiledInterface): Promise<ProgramHandle>;
  enforce(iface: CompiledInterface, program: ProgramHandle, options: EnforceOptions): Promise<Enforced>;
  /** Applies `change` to the interface's state file; false when it has none. */
  updateState(ifname: string, change: (state: AppliedState) => void): boolean;
  detach(ifname: string): boolean;
  /** `xdpfw gc` (call it under `exclusive`): frees the pins of namespaces and interfaces gone, never those of `keep` here. */
  collectGarbage(keep: readonly string[]): FreedPins[];
}

function interfaceExists(ifname: string): boolean {
  try {
    ifindexOf(ifname);
    return true;
  } catch {
    return false;
  }
}

class LoadedHandle implements ProgramHandle {
  constructor(readonly loaded: LoadedProgram) {}
  get progId(): number {
    return this.loaded.progId;
  }
  get notices(): readonly string[] {
    return this.loaded.notices;
  }
  close(): void {
    this.loaded.close();
  }
}

export const realKernel: KernelPort = {
  exclusive(holder, body) {
    return withRunLock(holder, body);
  },
  inspect(ifname) {
    try {
      const ifindex = ifindexOf(ifname);
      const view = inspectInterface(ifname);
      return {
        ifindex,
        attached: view.attached,
        progId: view.progId,
        stateHash: view.state?.policyHash,
        stateProgId: view.state?.progId,
        state: view.state,
      };
    } catch (error) {
      // Also when the interface went away between the two looks.
      if (interfaceExists(ifname)) throw error;
      const state = loadState(ifname);
      return { ifindex: undefined, attached: false, stateHash: state?.policyHash, stateProgId: state?.progId, state };
    }
  },
  async load(iface) {
    return new LoadedHandle(await loadPolicyProgram(iface));
  },
  async enforce(iface, program, options) {
    if (!(program instanceof LoadedHandle)) throw new TypeError('enforce: not a program loaded by this kernel port');
    return enforce(iface, program.loaded, options);
  },
  updateState(ifname, change) {
    return updateState(ifname, change);
  },
  detach(ifname) {
    const was = detach(ifname);
    removeState(ifname);
    return was;
  },
  collectGarbage(keep) {
    return collectGarbage({}, keep);
  },
};
