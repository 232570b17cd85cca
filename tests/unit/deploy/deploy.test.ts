import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { ControllerMetrics } from '../../../src/controller/metrics.js';
import { SAMPLE_STATS, sampleConntrack } from '../../support/metrics-fixtures.js';
import {
  ALERTS_PATH,
  SCRAPE_SERIES,
  allPanels,
  deployedMetricNames,
  exposedNames,
  loadAlerts,
  loadDashboard,
  metricNames,
} from '../../support/promql-names.js';

describe('the PromQL metric-name extractor', () => {
  it.each([
    ['a bare selector', 'xdpfw_enforced == 0', ['xdpfw_enforced']],
    ['label values and regexes are not names', 'up{job="xdpfw", instance=~"a|b(c)"} == 0', ['up']],
    [
      'the labels of by, without, on, ignoring and group_left are not names',
      'sum by (interface, rule) (rate(a_total[5m])) / on (instance) group_left (version, node) sum without (le) (b_info)',
      ['a_total', 'b_info'],
    ],
    ['a trailing by clause', 'sum(rate(a_total[5m])) by (interface)', ['a_total']],
    ['functions before their parenthesis, with space or not', 'time() - max (last_seconds) + abs (vector(1))', ['last_seconds']],
    [
      'subqueries, offsets and durations',
      'rate(d_total[5m]) > 10 * avg_over_time(rate(d_total[5m])[1h:1m] offset 10m) and rate(d_total[5m]) > 1e2',
      ['d_total'],
    ],
    ['Grafana variables', 'rate(x_total{interface=~"$interface", i="${instance}"}[$__rate_interval]) * $factor', ['x_total']],
    ['strings holding brackets and quotes', 'label_replace(x_info, "dst", "$1 {]}", "src", "(\\"?.*)")', ['x_info']],
    ['comparison keywords and set operators', 'a > bool 1 or b unless c and on() d', ['a', 'b', 'c', 'd']],
    [
      'aggregation words as aggregations, metric names with colons',
      'topk(3, job:rule_packets:rate5m) + count(e_bucket)',
      ['job:rule_packets:rate5m', 'e_bucket'],
    ],
    ['a name that only contains a keyword', 'sum(max_entries_total) + by_interface', ['max_entries_total', 'by_interface']],
  ])('%s', (_, expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });

  it('reads a sample name of each series of an exposition, not the families of # TYPE lines', () => {
    const text = [
      '# HELP h_seconds a histogram',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="1"} 0',
      'h_seconds_sum 0',
      'h_seconds_count 0',
      '# TYPE c_total counter',
      'c_total{a="b"} 1',
    ].join('\n');
    expect([...exposedNames(text)]).toEqual(['h_seconds_bucket', 'h_seconds_sum', 'h_seconds_count', 'c_total']);
  });
});

describe('the Grafana dashboard', () => {
  const d = loadDashboard();

  it('is a current-schema dashboard with a Prometheus data-source variable and an interface variable', () => {
    expect(d.schemaVersion).toBeGreaterThanOrEqual(38);
    expect(d.uid).toMatch(/^[\w-]{1,40}$/);
    const datasource = d.templating.list.find((v) => v.name === 'datasource');
    expect(datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const iface = d.templating.list.find((v) => v.name === 'interface');
    expect(iface).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
  });

  it('every panel but a row queries PromQL through the data-source variable', () => {
    const panels = allPanels(d.panels).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    const ids = new Set<number>();
    for (const p of panels as ((typeof panels)[number] & { id: number; datasource?: { uid?: string } })[]) {
      expect(ids.has(p.id), `panel id ${p.id} repeats`).toBe(false);
      ids.add(p.id);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr?.trim(), p.title).toBeTruthy();
    }
  });
});

describe('the Prometheus alert rules', () => {
  const rules = loadAlerts().groups.flatMap((g) => g.rules);

  it('every rule has an expression, a duration, a severity, a summary and a description', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([
      'XdpfwConntrackTableNearFull',
      'XdpfwDaemonDown',
      'XdpfwDropsSpiking',
      'XdpfwDynamicSetNearFull',
      'XdpfwNotEnforced',
      'XdpfwReloadFailing',
    ]);
    for (const r of rules) {
      expect(r.expr.trim(), r.alert).toBeTruthy();
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  // promtool comes with Prometheus; the checks above stand without it.
  const promtool = spawnSync('promtool', ['--version']).status === 0;
  it.skipIf(!promtool)('promtool accepts the rules file, and they fire (or not) on the synthetic series of alerts.promtool.yml', () => {
    execFileSync('promtool', ['check', 'rules', ALERTS_PATH], { stdio: 'pipe' });
    const tests = fileURLToPath(new URL('alerts.promtool.yml', import.meta.url));
    const run = spawnSync('promtool', ['test', 'rules', tests], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

/** The exposition of a registry whose sources have every kind of series. */
async function exposition(): Promise<string> {
  const metrics = new ControllerMetrics({
    interfaces: () => [{ name: 'eth0', source: 's', enforced: true, failing: false, lastSuccessAt: new Date() }],
    stats: () => SAMPLE_STATS,
    conntrack: sampleConntrack,
    dynamicSets: () => [{ name: 'banned', size: 8, timeout: null, entries: 0, interfaces: ['eth0'] }],
  });
  return metrics.registry.metrics();
}

describe('the deploy files and the metrics', () => {
  it('name only series the metrics registry exports (the kernel test checks a real daemon)', async () => {
    const exposed = exposedNames(await exposition());
    const used = deployedMetricNames();
    expect(used.size).toBeGreaterThan(15);
    const unknown = [...used].filter(([name]) => !exposed.has(name) && !SCRAPE_SERIES.has(name));
    expect(unknown).toEqual([]);
  });

  it.each(['docs/controller.md', 'deploy/README.md'])('%s names only series the registry exports', async (doc) => {
    const exposed = exposedNames(await exposition());
    const text = readFileSync(new URL(`../../../${doc}`, import.meta.url), 'utf8');
    // `xdpfw_conntrack_*` names a family, not a series.
    const named = new Set([...text.matchAll(/\bxdpfw_[a-z_]*[a-z](?![\w*])/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(5);
    expect([...named].filter((n) => !exposed.has(n))).toEqual([]);
  });
});
