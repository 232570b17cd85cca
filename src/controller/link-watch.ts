/**
 * Interfaces come and go under the daemon (a veth re-created by a container
 * runtime, a VLAN or bond rebuilt, a NIC's driver reloaded). Every few
 * seconds (2 s by default) the watch asks the kernel port about each managed
 * interface, its ifindex and whether xdpfw's link runs there, and compares
 * with the last look (decideLink). A poll rather than netlink events: it
 * needs no socket and no privileges beyond what `inspect` uses, and a change
 * is seen within one period.
 */

import { decideLink, needsAttach, type LinkChange, type LinkView } from './decisions.js';
import type { KernelPort } from './kernel.js';
import type { Logger } from './logger.js';
import type { Timers } from './timers.js';

export const LINK_POLL_MS = 2000;

export interface LinkWatchOptions {
  interfaces: string[];
  kernel: KernelPort;
  log: Logger;
  timers: Timers;
  periodMs: number;
  /** Called once per look in which some interface needs its policy attached again. */
  reattach: (changes: Map<string, LinkChange>) => void;
  /** The program this daemon last put on the interface (undefined before it put one). */
  ours: (name: string) => number | undefined;
  /** Another writer replaced the daemon's program (it is restored through `reattach`). */
  drifted?: (name: string) => void;
}

const MESSAGES: Record<Exclude<LinkChange, 'none'>, string> = {
  removed: 'interface removed: nothing is filtered there; the policy is attached again when it comes back',
  appeared: 'interface appeared: attaching the policy',
  recreated: 'interface re-created (another ifindex): attaching the policy again',
  detached: "xdpfw's link stopped running on the interface: attaching the policy again",
  replaced: "another writer replaced this daemon's program on the interface: restoring the source's policy",
};

export class LinkWatch {
  private readonly seen = new Map<string, LinkView>();
  private timer: unknown;
  private stopped = false;

  constructor(private readonly o: LinkWatchOptions) {}

  /** Takes the first look now (what it sees is the baseline), then looks every period. */
  start(): void {
    for (const name of this.o.interfaces) this.seen.set(name, this.view(name));
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One look at every interface: logs what changed, and asks for a re-attach when one is needed. */
  look(): void {
    const wanted = new Map<string, LinkChange>();
    for (const name of this.o.interfaces) {
      const before = this.seen.get(name) ?? { attached: false };
      const now = this.view(name);
      this.seen.set(name, now);
      const ours = this.o.ours(name);
      const change = decideLink(before, now, ours);
      if (change === 'none') continue;
      const fields = { interface: name, change, ifindex: now.ifindex, previousIfindex: before.ifindex, progId: now.progId, ours };
      if (change === 'replaced') this.o.drifted?.(name);
      if (change === 'appeared') this.o.log.info(fields, MESSAGES[change]);
      else this.o.log.warn(fields, MESSAGES[change]);
      if (needsAttach(change)) wanted.set(name, change);
    }
    if (wanted.size > 0) this.o.reattach(wanted);
  }

  private view(name: string): LinkView {
    try {
      const v = this.o.kernel.inspect(name);
      return { ifindex: v.ifindex, attached: v.attached, progId: v.progId };
    } catch (error) {
      // The kernel could not be asked (not a missing interface: inspect says that itself); look again next period.
      this.o.log.warn({ interface: name, err: error }, 'could not look at the interface');
      return this.seen.get(name) ?? { attached: false };
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      this.look();
      this.schedule();
    }, this.o.periodMs);
  }
}
