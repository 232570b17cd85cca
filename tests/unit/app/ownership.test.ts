import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { managingDaemon, refuseIfManaged } from '../../../src/app/ownership.js';
import type { AppliedState } from '../../../src/app/state.js';

const managedBy = (pid: number) =>
  ({ controller: { pid, startedAt: '2026-12-06T00:00:00.000Z' }, source: 'file /etc/xdpfw/edge.xdpfw' }) as AppliedState;

/** A pid that existed a moment ago and does not any more. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('one owner per interface', () => {
  it('refuses a manual apply on an interface a running daemon manages, naming the daemon and its source', () => {
    expect(() => refuseIfManaged('apply', 'eth0', managedBy(process.ppid), false)).toThrow(
      expect.objectContaining({
        code: 'managed',
        exitCode: 3,
        message: `eth0 is managed by xdpfw run (pid ${process.ppid} from file /etc/xdpfw/edge.xdpfw): a manual apply would last only until its next reload`,
        hint: 'change the policy at its source, or stop that daemon first; --force applies anyway',
      }),
    );
  });

  it('lets --force through, and leaves unmanaged interfaces and dead daemons alone', () => {
    expect(() => refuseIfManaged('detach', 'eth0', managedBy(process.ppid), true)).not.toThrow();
    expect(() => refuseIfManaged('detach', 'eth0', undefined, false)).not.toThrow();
    const dead = deadPid();
    expect(managingDaemon(managedBy(dead))).toBeUndefined();
    expect(() => refuseIfManaged('detach', 'eth0', managedBy(dead), false)).not.toThrow();
  });

  it('does not count the daemon itself as another owner', () => {
    expect(managingDaemon(managedBy(process.pid))).toBeUndefined();
  });
});
