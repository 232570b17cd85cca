/**
 * The controller's decisions, as pure functions of what it knows: whether a
 * git head needs loading, and what to do with an interface given what is
 * pinned there and what the source says, and what a change of the
 * interface itself (removed, re-created) calls for.
 */

/** What the controller remembers about a git source between polls. */
export interface CommitMemory {
  /** The commit whose policy is in force (applied, or adopted at start). */
  applied?: string;
  /** The last commit refused, and whether retrying it could help (it cannot when its policy is invalid). */
  refused?: { commit: string; permanent: boolean };
}

export type CommitDecision = 'load' | 'skip' | 'no-branch';

/**
 * Only the branch's head matters: commits that came and went between two
 * polls are never applied. A head already in force is skipped; a head refused
 * for its content is not retried until a newer commit (or a SIGHUP) comes; a
 * head that failed for another reason (the kernel, the disk) is retried.
 */
export function decideCommit(head: string | undefined, memory: CommitMemory, force: boolean): CommitDecision {
  if (head === undefined) return 'no-branch';
  if (force) return 'load';
  if (head === memory.applied) return 'skip';
  if (memory.refused?.commit === head && memory.refused.permanent) return 'skip';
  return 'load';
}

export interface PinnedView {
  /** The interface's index; undefined when no interface has the name. */
  ifindex?: number;
  attached: boolean;
  /** The program the pinned link runs. */
  progId?: number;
  /** The state file's policy hash and program. */
  stateHash?: string;
  stateProgId?: number;
}

/**
 * - adopt: the policy the source gives runs already: leave the program (and
 *   its counters) alone;
 * - replace: another policy runs: swap atomically;
 * - attach: nothing of xdpfw runs there.
 */
export type EnforceDecision = 'adopt' | 'replace' | 'attach';

export function decideEnforce(view: PinnedView, wantedHash: string): EnforceDecision {
  if (!view.attached) return 'attach';
  if (view.stateHash === wantedHash && view.stateProgId === view.progId) return 'adopt';
  return 'replace';
}

/** When the source cannot give a valid policy at start: keep what is pinned, or stay bare and say so. */
export function decideWithoutPolicy(view: PinnedView): 'keep-pinned' | 'unprotected' {
  return view.attached ? 'keep-pinned' : 'unprotected';
}

/** An interface as the link watch sees it: its index (undefined while it does not exist), whether xdpfw's link runs on it, and which program. */
export interface LinkView {
  ifindex?: number;
  attached: boolean;
  progId?: number;
}

/**
 * - removed: the interface is gone (its link went with it);
 * - appeared: an interface that did not exist does now;
 * - recreated: the name has another ifindex: a new interface, bare;
 * - detached: same interface, but xdpfw's link stopped running there;
 * - replaced: the link runs a program this daemon did not put there
 *   (`apply --force` by hand), seen once per such program;
 * - none: nothing the controller must act on.
 */
export type LinkChange = 'none' | 'removed' | 'appeared' | 'recreated' | 'detached' | 'replaced';

/** `ours`: the program this daemon last put on the interface, if any. */
export function decideLink(before: LinkView, now: LinkView, ours?: number): LinkChange {
  if (now.ifindex === undefined) return before.ifindex === undefined ? 'none' : 'removed';
  if (before.ifindex === undefined) return 'appeared';
  if (before.ifindex !== now.ifindex) return 'recreated';
  if (before.attached && !now.attached) return 'detached';
  if (now.attached && ours !== undefined && now.progId !== ours && now.progId !== before.progId) return 'replaced';
  return 'none';
}

/** Whether a link change calls for the policy to be attached again. */
export const needsAttach = (change: LinkChange): boolean =>
  change === 'appeared' || change === 'recreated' || change === 'detached' || change === 'replaced';
