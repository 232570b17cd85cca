/**
 * The `--json` shapes of the commands that reach the kernel, exactly as
 * docs/cli.md ("Machine output") gives them: every field present (null
 * where unknown), numbers as numbers, rules as objects.
 */

import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, xdpfwIn } from './netns-cli.js';

const POLICY = 'interface veth0 {\n  default allow\n  drop udp dport 9 name "discard"\n  allow icmp\n}\n';
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const count = { packets: expect.any(Number), bytes: expect.any(Number) };

describe.skipIf(skipWithoutRoot('--json shapes'))('the --json output of commands that reach the kernel', () => {
  const { ns } = cliNamespace('json');
  const file = path.join(scratchDir('xdpfw-json-'), 'p.xdpfw');
  const xdpfw = async (...args: string[]) => {
    const r = await xdpfwIn(ns, ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as unknown;
  };

  beforeAll(() => fs.writeFileSync(file, POLICY));

  it('apply gives each interface it attached or replaced, and the names it left unchanged', async () => {
    expect(await xdpfw('apply', file)).toEqual({
      applied: [
        {
          interface: 'veth0',
          replaced: false,
          policyFile: file,
          policyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          mode: 'native',
          progId: expect.any(Number),
          linkId: expect.any(Number),
          rules: 2,
          defaultAction: 'allow',
          carried: 0,
          nativeError: null,
          appliedAt: iso,
          attachedSince: iso,
        },
      ],
      unchanged: [],
      rollback: null,
    });
    expect(await xdpfw('apply', file)).toEqual({ applied: [], unchanged: ['veth0'], rollback: null });
  });

  it('status gives every field of each interface, null where xdpfw does not know it', async () => {
    expect(await xdpfw('status')).toEqual({
      interfaces: [
        {
          interface: 'veth0',
          state: 'attached',
          mode: 'native',
          progId: expect.any(Number),
          policyFile: file,
          policyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          source: null,
          commit: null,
          rules: 2,
          defaultAction: 'allow',
          auditMode: false,
          appliedAt: iso,
          attachedSince: iso,
          controller: null,
          refused: null,
        },
      ],
      rollback: null,
      rolledBack: null,
    });
  });

  it('stats gives rules as objects with their location, and counters as numbers', async () => {
    expect(ns.pingFromPeer()).toBe(true);
    const stats = (await xdpfw('stats')) as { interfaces: { rules: { packets: number }[] }[] };
    expect(stats).toEqual({
      interfaces: [
        {
          name: 'veth0',
          policyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          commit: null,
          since: iso,
          rules: [
            {
              index: 0,
              id: 'discard',
              name: 'discard',
              file,
              line: 3,
              col: 3,
              action: 'drop',
              audit: false,
              text: 'drop udp dport 9 name "discard"',
              since: iso,
              ...count,
              overLimit: null,
            },
            {
              index: 1,
              id: expect.stringMatching(/^rule-[0-9a-f]{12}$/),
              name: null,
              file,
              line: 4,
              col: 3,
              action: 'allow',
              audit: false,
              text: 'allow icmp',
              since: iso,
              ...count,
              overLimit: null,
            },
          ],
          default: { action: 'allow', ...count },
          malformed: count,
          nonIp: count,
          fragment: count,
          rejectSent: count,
          rejectSuppressed: count,
          auditMode: false,
          wouldDrop: count,
          attachMode: 'native',
          sets: [],
          appliedAt: iso,
        },
      ],
      conntrack: null,
      dynamicSets: [],
    });
    expect(stats.interfaces[0].rules[1].packets).toBeGreaterThanOrEqual(1); // the ping's echo request
  });

  it('detach gives each interface and whether xdpfw was attached there', async () => {
    expect(await xdpfw('detach')).toEqual({ detached: [{ interface: 'veth0', detached: true }] });
  });
});
