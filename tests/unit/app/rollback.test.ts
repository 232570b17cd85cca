import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { cancelPendingRollback, confirmPending } from '../../../src/app/rollback.js';
import {
  isRollbackTimer,
  parseConfirmDuration,
  planConfirmedApply,
  readPendingRollback,
  timeLeft,
  writeCompletedRollback,
  writePendingRollback,
  type PendingRollback,
  type RestoreEntry,
} from '../../../src/app/rollback-record.js';
import { KeptSourceHost, keepAppliedSources, restorePolicyFor } from '../../../src/app/rollback-sources.js';
import { FileSourceHost } from '../../../src/app/source-host.js';
import type { AppliedState } from '../../../src/app/state.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-rollback-');
let runs = 0;
/** A run directory of its own for each test, and a made-up namespace key (no kernel involved). */
const pins = () => ({ runDir: path.join(dir, `run-${runs++}`), netnsId: 'net-1-2' });

const NOW = new Date('2026-12-08T10:00:00.000Z');
const eth0: RestoreEntry = {
  interface: 'eth0',
  policy: { policyFile: '/etc/xdpfw/edge.xdpfw', policyHash: 'a'.repeat(64), mode: 'native', texts: { '/etc/xdpfw/edge.xdpfw': 'x' } },
};
const eth1: RestoreEntry = { interface: 'eth1', policy: null };

describe('the --confirm duration', () => {
  it('reads seconds, minutes and hours as the language writes durations', () => {
    expect(parseConfirmDuration('3s')).toBe(3);
    expect(parseConfirmDuration('10m')).toBe(600);
    expect(parseConfirmDuration('90')).toBe(90);
    expect(parseConfirmDuration('24h')).toBe(86400);
  });

  it.each([
    ['0s', "--confirm: '0s' is zero: a duration is at least 1s"],
    ['25h', "--confirm: '25h' is longer than 1d"],
    ['soon', "--confirm: 'soon' is not a duration of 1 s or more"],
    ['5x', "--confirm: '5x' has an unknown unit 'x'"],
  ])('refuses %s with bad-confirm, exit 2', (text, message) => {
    expect(() => parseConfirmDuration(text)).toThrow(
      expect.objectContaining({
        code: 'bad-confirm',
        exitCode: 2,
        message,
        hint: 'give the time to confirm in: 30s, 10m, 1h (at most 24h), or a number of seconds',
      }),
    );
  });
});

describe('the decisions of a confirmed apply', () => {
  it('a first apply --confirm restores what is in force now, at now plus the duration', () => {
    const record = planConfirmedApply(undefined, [eth0], { policyFile: '/tmp/new.xdpfw', seconds: 180, now: NOW, token: 't1' });
    expect(record).toEqual({
      version: 1,
      token: 't1',
      policyFile: '/tmp/new.xdpfw',
      since: NOW.toISOString(),
      deadline: '2026-12-08T10:03:00.000Z',
      timerPid: null,
      interfaces: [eth0],
    });
  });

  it('a second one chains: the last confirmed policies stay the target, the deadline and the timer are new', () => {
    const first = { ...planConfirmedApply(undefined, [eth0], { policyFile: 'a', seconds: 60, now: NOW, token: 't1' }), timerPid: 42 };
    const later = new Date(NOW.getTime() + 30_000);
    const replaced: RestoreEntry = { interface: 'eth0', policy: null }; // what eth0 runs now is the unconfirmed policy
    const second = planConfirmedApply(first, [replaced, eth1], { policyFile: 'b', seconds: 120, now: later, token: 't2' });
    expect(second.interfaces).toEqual([eth0, eth1]);
    expect(second).toMatchObject({ token: 't2', policyFile: 'b', since: NOW.toISOString(), timerPid: null });
    expect(second.deadline).toBe('2026-12-08T10:02:30.000Z');
  });

  it('a chained apply after a failed restore arms a fresh timer and forgets the failure', () => {
    const failed: PendingRollback = {
      ...planConfirmedApply(undefined, [eth0], { policyFile: 'a', seconds: 60, now: NOW }),
      failed: { at: NOW.toISOString(), message: 'eth0: boom' },
    };
    expect(planConfirmedApply(failed, [], { policyFile: 'b', seconds: 60, now: NOW }).failed).toBeUndefined();
  });

  it('gives a new token to every record', () => {
    const token = () => planConfirmedApply(undefined, [], { policyFile: 'a', seconds: 1, now: NOW }).token;
    expect(token()).toMatch(/^[0-9a-f]{24}$/);
    expect(token()).not.toBe(token());
  });

  it('says the time left in hours, minutes and seconds', () => {
    expect(timeLeft('2026-12-08T11:00:05.000Z', NOW)).toBe('1h 0m 5s');
    expect(timeLeft('2026-12-08T10:02:58.400Z', NOW)).toBe('2m 58s');
    expect(timeLeft('2026-12-08T09:00:00.000Z', NOW)).toBe('0s');
  });
});

describe('the pending record', () => {
  it('is read back as written, and confirm removes it', () => {
    const o = pins();
    const record = { ...planConfirmedApply(undefined, [eth0, eth1], { policyFile: 'p', seconds: 5, now: NOW }), timerPid: null };
    writePendingRollback(record, o);
    expect(readPendingRollback(o)).toEqual(record);
    expect(fs.readdirSync(path.join(o.runDir, 'state', o.netnsId))).toEqual(['rollback']); // never read as an interface's state
    expect(confirmPending(o)).toEqual(record);
    expect(readPendingRollback(o)).toBeUndefined();
  });

  it('confirm with nothing pending is nothing-to-confirm, exit 1, and says when a rollback ran', () => {
    const o = pins();
    expect(() => confirmPending(o)).toThrow(
      expect.objectContaining({
        code: 'nothing-to-confirm',
        exitCode: 1,
        message: 'no apply is waiting for confirmation in this network namespace',
      }),
    );
    writeCompletedRollback({ at: '2026-12-08T10:03:00.000Z', policyFile: '/tmp/new.xdpfw', interfaces: [] }, o);
    expect(() => confirmPending(o)).toThrow(
      expect.objectContaining({
        message: 'no apply is waiting for confirmation: the apply of /tmp/new.xdpfw was rolled back at 2026-12-08T10:03:00.000Z',
        hint: 'apply it again (with --confirm to try it once more)',
      }),
    );
  });

  it('a timer is known by its token in its command line; another process with its pid is left alone', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', 'rollback-timer', 'tok123'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      await new Promise((resolve) => setTimeout(resolve, 100)); // until exec has replaced the command line
      expect(isRollbackTimer(child.pid!, 'tok123')).toBe(true);
      expect(isRollbackTimer(child.pid!, 'other')).toBe(false);
      expect(isRollbackTimer(process.pid, 'tok123')).toBe(false);

      const o = pins();
      const base = planConfirmedApply(undefined, [eth0], { policyFile: 'p', seconds: 5, now: NOW });
      writePendingRollback({ ...base, token: 'not-this-one', timerPid: child.pid! }, o);
      cancelPendingRollback(o);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();

      writePendingRollback({ ...base, token: 'tok123', timerPid: child.pid! }, o);
      const exited = new Promise((resolve) => child.once('exit', (_, signal) => resolve(signal)));
      cancelPendingRollback(o);
      expect(await exited).toBe('SIGTERM');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('what a rollback restores', () => {
  const policy = (file: string, text: string) => {
    fs.writeFileSync(file, text);
    const hash = loadAndCompile(file).compiled!.interfaces[0].hash;
    const state = { interface: 'eth0', policyFile: file, policyHash: hash, mode: 'generic' } as AppliedState;
    return { hash, state };
  };

  it('an interface without a policy is detached', () => {
    expect(restorePolicyFor('eth0', undefined, false, pins())).toBeNull();
  });

  it('takes the texts apply kept, even when the file was edited since', () => {
    const o = pins();
    const file = path.join(dir, 'kept.xdpfw');
    const before = 'interface eth0 {\n  allow tcp dport 22\n  default drop\n}\n';
    const { hash, state } = policy(file, before);
    keepAppliedSources('eth0', { policyFile: file, policyHash: hash, texts: { [file]: before } }, o);
    fs.writeFileSync(file, 'interface eth0 {\n  default drop\n}\n');
    expect(restorePolicyFor('eth0', state, true, o)).toEqual({
      policyFile: file,
      policyHash: hash,
      mode: 'generic',
      texts: { [file]: before },
    });
  });

  it('falls back to the file, with its includes, while it still compiles to the hash in force', () => {
    const file = path.join(dir, 'main.xdpfw');
    const common = path.join(dir, 'common.xdpfw');
    fs.writeFileSync(common, 'define admins = { 192.0.2.0/28 }\n');
    const { hash, state } = policy(file, 'include "common.xdpfw"\ninterface eth0 {\n  allow tcp dport 22 src $admins\n  default drop\n}\n');
    const restored = restorePolicyFor('eth0', state, true, pins());
    expect(Object.keys(restored!.texts).sort()).toEqual([common, file]);
    // The kept texts compile, with no file system, to the same policy.
    const again = loadAndCompile(file, new KeptSourceHost(restored!.texts)).compiled!.interfaces[0];
    expect(again.hash).toBe(hash);
    expect(new FileSourceHost().resolve(file, 'common.xdpfw')).toBe(new KeptSourceHost({}).resolve(file, 'common.xdpfw'));
  });

  it('refuses with rollback-unavailable when the policy in force cannot be had again', () => {
    const file = path.join(dir, 'edited.xdpfw');
    const { state } = policy(file, 'interface eth0 {\n  allow udp dport 53\n  default drop\n}\n');
    fs.writeFileSync(file, 'interface eth0 {\n  default drop\n}\n');
    const unavailable = (message: string) =>
      expect.objectContaining({
        code: 'rollback-unavailable',
        exitCode: 1,
        message,
        hint: 'apply the policy in force again (without --confirm) so that xdpfw keeps its text, then apply --confirm',
      });
    expect(() => restorePolicyFor('eth0', state, true, pins())).toThrow(
      unavailable(
        `cannot roll eth0 back to the policy in force there: ${file} has changed since it was applied, and its text then was not kept; nothing was applied`,
      ),
    );
    expect(() => restorePolicyFor('eth0', { ...state, source: 'git https://example.net/p.git main:p.xdpfw' }, true, pins())).toThrow(
      unavailable(
        'cannot roll eth0 back to the policy in force there: its policy came from git https://example.net/p.git main:p.xdpfw, whose text xdpfw did not keep; nothing was applied',
      ),
    );
    expect(() => restorePolicyFor('eth0', undefined, true, pins())).toThrow(
      unavailable(
        'cannot roll eth0 back to the policy in force there: xdpfw has no record of the policy in force there; nothing was applied',
      ),
    );
  });
});
