/**
 * The deploy files against the real daemon: every metric name the Grafana
 * dashboard and the Prometheus alert rules read is in the daemon's /metrics,
 * with a policy that uses ct state, a limit, a reject and a dynamic set so
 * those series are there; and the drop series count real datagrams by why
 * they were dropped.
 */

import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { SCRAPE_SERIES, deployedMetricNames, exposedNames } from '../../support/promql-names.js';
import { scratchDir } from '../../support/scratch.js';
import { cliNamespace, sendUdpFromPeer } from '../cli/netns-cli.js';
import { REPO, skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, httpGet, metric, sleep } from './daemon.js';

const METRICS = 'http://127.0.0.1:9474/metrics';
const POLICY =
  'set banned dynamic timeout 10m size 64\n' +
  'interface veth0 {\n' +
  '  default drop\n' +
  '  allow ct state established,related\n' +
  '  drop src @banned name "banned"\n' +
  '  drop udp dport 7 limit rate over 1/minute burst 2 name "echo-limit"\n' +
  '  reject udp dport 8 name "refused"\n' +
  '  drop udp dport 9 name "discard"\n' +
  '}\n';

describe.skipIf(skipWithoutRoot('the daemon serving the deployed metric names'))('the deploy files read what xdpfw run exports', () => {
  const { ns } = cliNamespace('deploymetrics');
  const file = path.join(scratchDir('xdpfw-deploymetrics-'), 'p.xdpfw');
  let daemon: Daemon | undefined;
  afterAll(() => daemon?.stop());

  it('serves every name the dashboard and the alerts use, and counts drops by reason', async () => {
    fs.writeFileSync(file, POLICY);
    daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', file, '--metrics', '127.0.0.1:9474']);
    await daemon.waitFor((e) => e.msg === 'running');
    sendUdpFromPeer(ns, 5000, 4); // no rule: the default drops them
    sendUdpFromPeer(ns, 7, 5); // burst 2: three over the limit, the rule drops them; the rest go to the default
    sendUdpFromPeer(ns, 9, 3); // the drop rule
    sendUdpFromPeer(ns, 8, 2); // the reject rule
    // The connection table is walked in the background every 5 s: its series come with the first walk after the attach.
    let body = httpGet(ns, METRICS).body;
    for (const until = Date.now() + 15_000; metric(body, 'xdpfw_conntrack_size{table="tcp"}') === undefined;) {
      if (Date.now() > until) throw new Error(`no connection-table series within 15 s:\n${body}`);
      await sleep(500);
      body = httpGet(ns, METRICS).body;
    }

    const exposed = exposedNames(body);
    const used = deployedMetricNames();
    const missing = [...used].filter(([name]) => !exposed.has(name) && !SCRAPE_SERIES.has(name));
    expect(missing, body).toEqual([]);

    const dropped = (reason: string) => metric(body, `xdpfw_dropped_packets_total{interface="veth0",reason="${reason}"}`);
    expect(dropped('rule')).toBe(6);
    expect(dropped('reject')).toBe(2);
    expect(dropped('default')).toBeGreaterThanOrEqual(4 + 2); // and whatever else the peer sends (IPv6 neighbour discovery)
    expect(dropped('malformed')).toBe(0);
    for (const reason of ['rule', 'reject', 'default', 'malformed', 'audit']) {
      expect(metric(body, `xdpfw_would_drop_packets_total{interface="veth0",reason="${reason}"}`), reason).toBe(0);
    }

    const attach = body.split('\n').filter((l) => l.startsWith('xdpfw_attach_mode_info{interface="veth0"'));
    expect(attach).toHaveLength(1);
    expect(attach[0]).toMatch(/mode="(native|generic)"\} 1$/);
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(body).toMatch(
      new RegExp(`^xdpfw_build_info\\{version="${version.replace(/\./g, '\\.')}",node="${process.version}",libbpf="v[\\d.]+"\\} 1$`, 'm'),
    );
    expect(metric(body, 'xdpfw_set_size{set="banned"}')).toBeGreaterThanOrEqual(64);
    expect(metric(body, 'xdpfw_conntrack_size{table="tcp"}')).toBeGreaterThan(0);
  }, 60_000);
});
