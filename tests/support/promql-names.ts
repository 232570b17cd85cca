/**
 * The metric names a PromQL expression reads, and the deploy files' queries
 * (the Grafana dashboard, the Prometheus alert rules), so a test can check
 * every name against what the daemon exports. PromQL has no parser in our
 * dependencies; this reads just enough of it: label matchers, string
 * literals, ranges and the label lists of by/without/on/ignoring/group_* are
 * not names, and neither are functions (an identifier before `(`), keywords,
 * numbers, durations or Grafana's variables.
 */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml } from 'yaml';

/** Words of the language that stand where a name could, without a `(` after them. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'atan2',
  'inf',
  'nan',
  // aggregations written `sum by (…) (…)` have their clause between the word and its `(`
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);

/** Clauses followed by a parenthesised list of label names. */
const LABEL_LISTS = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/gi;

/** The metric names `expr` reads, each once, in order of appearance. */
export function metricNames(expr: string): string[] {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings: label values, regexes, label_replace arguments
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ') // Grafana variables ($__rate_interval, ${interface})
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' '); // ranges and subqueries
  rest = rest.replace(LABEL_LISTS, (_, clause: string) => ` ${clause} `);
  const names: string[] = [];
  // A token starting with a digit is a number or a duration (5m, 1e3, 0x1f): skip it whole.
  for (const m of rest.matchAll(/\d[\w.]*|[a-zA-Z_:][\w:]*/g)) {
    const word = m[0];
    if (/^\d/.test(word) || KEYWORDS.has(word.toLowerCase())) continue;
    if (/^\s*\(/.test(rest.slice(m.index + word.length))) continue; // a function call
    if (!names.includes(word)) names.push(word);
  }
  return names;
}

/**
 * The sample names of a Prometheus text exposition: what a query can name
 * (a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count`, not
 * the bare family names of its `# TYPE` line).
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

/** Series Prometheus makes itself for each scrape target, not the daemon. */
export const SCRAPE_SERIES = new Set(['up']);

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DASHBOARD_PATH = path.join(REPO, 'deploy/grafana/xdpfw.json');
export const ALERTS_PATH = path.join(REPO, 'deploy/prometheus/alerts.yml');

export interface Panel {
  title: string;
  type: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}
export interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown; datasource?: unknown }[] };
}
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export const loadDashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
export const loadAlerts = (): { groups: { name: string; rules: AlertRule[] }[] } =>
  parseYaml(readFileSync(ALERTS_PATH, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };

/** Every panel, rows' nested panels included. */
export const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** The `label_values(metric, label)` queries of the dashboard's variables: the metric each reads. */
export function variableMetrics(d: Dashboard): string[] {
  return d.templating.list.flatMap((v) => {
    const query = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const m = query === undefined ? null : /^label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(query);
    return m ? [m[1]] : [];
  });
}

/** Every metric name the dashboard's queries, its variables' and the alert rules' expressions read. */
export function deployedMetricNames(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const note = (name: string, where: string) => used.set(name, [...(used.get(name) ?? []), where]);
  const d = loadDashboard();
  for (const p of allPanels(d.panels))
    for (const t of p.targets ?? []) for (const n of metricNames(t.expr ?? '')) note(n, `panel "${p.title}"`);
  for (const n of variableMetrics(d)) note(n, 'dashboard variable');
  for (const g of loadAlerts().groups) for (const r of g.rules) for (const n of metricNames(r.expr)) note(n, `alert ${r.alert}`);
  return used;
}
