import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Server } from 'node:net';

import { afterAll, describe, expect, it } from 'vitest';

import { ControllerMetrics, listen, metricsServer, type MetricsSources } from '../../../src/controller/metrics.js';
import type { InterfaceHealth } from '../../../src/controller/unit.js';
import { SAMPLE_STATS as stats, sampleConntrack } from '../../support/metrics-fixtures.js';
import { memoryLogger } from './fakes.js';

function fakeSources(health: InterfaceHealth[]): MetricsSources & { reads: number } {
  const s = {
    reads: 0,
    interfaces: () => health,
    stats: (name: string) => {
      s.reads++;
      if (name !== 'eth0') throw new Error('not attached');
      return stats;
    },
  };
  return s;
}

const get = (url: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });

describe('controller metrics', () => {
  const health: InterfaceHealth[] = [
    { name: 'eth0', source: 'git /r main:p', enforced: true, failing: false, lastSuccessAt: new Date(1700000000000) },
  ];

  it('exports per-rule, default, malformed, non-IP and fragment counters, policy info and reload totals', async () => {
    const sources = fakeSources(health);
    const m = new ControllerMetrics(sources);
    m.reloaded('eth0', 'applied');
    m.reloaded('eth0', 'refused');
    m.reloaded('eth0', 'refused');
    m.sourceError('eth0');
    const text = await m.registry.metrics();
    for (const line of [
      'xdpfw_rule_packets_total{interface="eth0",rule="ssh",action="allow"} 7',
      'xdpfw_rule_bytes_total{interface="eth0",rule="ssh",action="allow"} 700',
      'xdpfw_rule_packets_total{interface="eth0",rule="rule-0123456789ab",action="drop"} 3',
      'xdpfw_default_packets_total{interface="eth0",action="drop"} 5',
      'xdpfw_malformed_packets_total{interface="eth0"} 1',
      'xdpfw_non_ip_packets_total{interface="eth0"} 2',
      'xdpfw_fragment_packets_total{interface="eth0"} 0',
      'xdpfw_reject_answered_packets_total{interface="eth0"} 9',
      'xdpfw_reject_unanswered_packets_total{interface="eth0"} 2',
      'xdpfw_policy_info{interface="eth0",hash="abc",commit="c0ffee"} 1',
      'xdpfw_reloads_total{interface="eth0",result="applied"} 1',
      'xdpfw_reloads_total{interface="eth0",result="refused"} 2',
      'xdpfw_reloads_total{interface="eth0",result="failed"} 0',
      'xdpfw_source_errors_total{interface="eth0"} 1',
      'xdpfw_last_reload_success_timestamp_seconds{interface="eth0"} 1700000000',
      'xdpfw_reload_failing{interface="eth0"} 0',
      'xdpfw_enforced{interface="eth0"} 1',
      'xdpfw_dropped_packets_total{interface="eth0",reason="rule"} 3',
      'xdpfw_dropped_packets_total{interface="eth0",reason="default"} 5',
      'xdpfw_dropped_packets_total{interface="eth0",reason="malformed"} 1',
      'xdpfw_dropped_packets_total{interface="eth0",reason="reject"} 0',
      'xdpfw_dropped_bytes_total{interface="eth0",reason="default"} 300',
      'xdpfw_would_drop_packets_total{interface="eth0",reason="audit"} 0',
      'xdpfw_attach_mode_info{interface="eth0",mode="native"} 1',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(sources.reads).toBe(1); // the kernel counters are read once per scrape
  });

  it('exports the build: xdpfw version from package.json, Node version, libbpf version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const line = (await new ControllerMetrics(fakeSources(health)).registry.metrics())
      .split('\n')
      .find((l) => l.startsWith('xdpfw_build_info{'));
    expect(line).toMatch(new RegExp(`^xdpfw_build_info\\{version="${version}",node="${process.version}",libbpf="v\\d+\\.\\d+[^"]*"\\} 1$`));
  });

  it('exports the connection tables and the dynamic sets with their sizes', async () => {
    const sources = {
      ...fakeSources(health),
      conntrack: sampleConntrack,
      dynamicSets: () => [{ name: 'banned', size: 1024, timeout: 600, entries: 9, interfaces: ['eth0'] }],
    };
    const lines = (await new ControllerMetrics(sources).registry.metrics()).split('\n');
    for (const line of [
      'xdpfw_conntrack_entries{table="tcp"} 10',
      'xdpfw_conntrack_size{table="tcp"} 1024',
      'xdpfw_conntrack_size{table="udp"} 256',
      'xdpfw_conntrack_created_total{table="tcp"} 11',
      'xdpfw_conntrack_evicted_total 1',
      'xdpfw_set_size{set="banned"} 1024',
    ]) {
      expect(lines).toContain(line);
    }
  });

  it('exports over-limit packets per rule with a limit, and per dynamic set its counters and live entries', async () => {
    let walks = 0;
    const sources = {
      ...fakeSources(health),
      dynamicSets: () => {
        walks++;
        return [{ name: 'banned', size: 1024, timeout: 600, entries: 9, interfaces: ['eth0'] }];
      },
    };
    const m = new ControllerMetrics(sources);
    const lines = (await m.registry.metrics()).split('\n');
    for (const line of [
      'xdpfw_limit_over_total{interface="eth0",rule="rule-0123456789ab"} 12',
      'xdpfw_set_added_total{interface="eth0",set="banned"} 4',
      'xdpfw_set_expired_total{interface="eth0",set="banned"} 1',
      'xdpfw_set_full_total{interface="eth0",set="banned"} 2',
      'xdpfw_set_entries{set="banned"} 9',
    ]) {
      expect(lines).toContain(line);
    }
    // A rule without a limit has no over-limit series (its count would always be 0).
    expect(lines.filter((l) => l.startsWith('xdpfw_limit_over_total{'))).toHaveLength(1);
    await m.registry.metrics();
    expect(walks).toBe(1); // a quick walk is reused by the next scrape within SNAPSHOT_TTL_MS
  });

  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  it('serves /metrics, /healthz and /livez over HTTP; healthz is 503 while an interface is unprotected, livez 200', async () => {
    const h: InterfaceHealth[] = [
      { name: 'eth0', source: 's', enforced: true, failing: false },
      { name: 'eth1', source: 's', enforced: false, failing: true, lastError: 'boom' },
    ];
    const sources = fakeSources(h);
    const m = new ControllerMetrics(sources);
    const server = metricsServer(m, sources, memoryLogger().log);
    servers.push(server);
    const { port } = await listen(server, '127.0.0.1', 0);
    const metrics = await get(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('xdpfw_rule_packets_total{interface="eth0",rule="ssh",action="allow"} 7');
    const unhealthy = await get(`http://127.0.0.1:${port}/healthz`);
    expect(unhealthy.status).toBe(503);
    expect(await get(`http://127.0.0.1:${port}/livez`)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(JSON.parse(unhealthy.body)).toMatchObject({
      status: 'unprotected',
      interfaces: [{ name: 'eth0' }, { name: 'eth1', lastError: 'boom' }],
    });
    h[1].enforced = true;
    expect((await get(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('listen rejects an address that is taken', async () => {
    const a = http.createServer();
    servers.push(a);
    const { port } = await listen(a, '127.0.0.1', 0);
    await expect(listen(http.createServer(), '127.0.0.1', port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
