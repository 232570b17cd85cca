/**
 * The real daemon's over-limit and dynamic-set series after real datagrams
 * went over a limit and a ban was added, and after the daemon reloaded a
 * changed policy file (a rule added before the others, so every index
 * moves): the series keep their totals instead of starting again at zero.
 */

import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { cliNamespace, sendUdpFromPeer } from '../cli/netns-cli.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, httpGet, metric } from './daemon.js';

const METRICS = 'http://127.0.0.1:9473/metrics';
const policy = (head: string) =>
  'set banned dynamic timeout 10m size 64\ninterface veth0 {\n  default allow\n' +
  head +
  '  drop src @banned name "banned"\n' +
  '  drop udp dport 7 limit rate over 1/minute burst 2 name "echo-limit"\n' +
  '  drop udp dport 9 limit rate over 1/minute burst 1 ban @banned 30s name "discard-flood"\n}\n';

describe.skipIf(skipWithoutRoot('the daemon carrying tail counters'))('xdpfw run keeps over-limit and set series across a reload', () => {
  // The namespace, its pins and tables come and go as for the command-line tests; the daemon stops first.
  const { ns } = cliNamespace('tailmetrics');
  const file = path.join(scratchDir('xdpfw-tailmetrics-'), 'p.xdpfw');
  let daemon: Daemon | undefined;
  afterAll(() => daemon?.stop());

  it('serves the totals before and after a reload of a changed file', async () => {
    fs.writeFileSync(file, policy(''));
    daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', file, '--metrics', '127.0.0.1:9473']);
    await daemon.waitFor((e) => e.msg === 'running');
    sendUdpFromPeer(ns, 7, 5); // burst 2: three over
    sendUdpFromPeer(ns, 9, 2); // burst 1: the second is over and bans 10.99.0.2
    const figures = () => {
      const body = httpGet(ns, METRICS).body;
      return {
        echo: metric(body, 'xdpfw_limit_over_total{interface="veth0",rule="echo-limit"}'),
        discard: metric(body, 'xdpfw_limit_over_total{interface="veth0",rule="discard-flood"}'),
        added: metric(body, 'xdpfw_set_added_total{interface="veth0",set="banned"}'),
        expired: metric(body, 'xdpfw_set_expired_total{interface="veth0",set="banned"}'),
        full: metric(body, 'xdpfw_set_full_total{interface="veth0",set="banned"}'),
      };
    };
    const counted = { echo: 3, discard: 1, added: 1, expired: 0, full: 0 };
    expect(figures()).toEqual(counted);

    const from = daemon.events().length;
    fs.writeFileSync(file, policy('  drop tcp dport 1 name "first"\n'));
    await daemon.waitFor((e) => e.msg === 'policy replaced atomically', 15_000, from);
    // Past the metrics' snapshot of counters (250 ms) taken before the reload.
    await new Promise((r) => setTimeout(r, 300));
    expect(figures()).toEqual(counted);
  }, 60_000);
});
