/**
 * The controller with real traffic (run by scripts/netns-controller-test.sh,
 * which creates the namespaces and removes them afterwards). One daemon
 * history, checked step by step:
 *   start → a commit picked up by polling → N swaps under two UDP streams
 *   (allowed and blocked) → counters and Prometheus metrics equal to what was
 *   sent → a bad commit refused, the old policy verified by traffic → an
 *   unreachable remote and a deleted policy file survived → a restart that
 *   adopts the pinned program without a gap → a restart onto a changed
 *   source → --detach-on-exit.
 */

import fs from 'node:fs';
import path from 'node:path';

import {
  Daemon,
  ENV,
  Repo,
  Tap,
  finish,
  receiver,
  scrape,
  sender,
  series,
  sleep,
  stopAll,
  xdpfw,
  xdpfwJson,
  type Proc,
} from './harness.js';

const ALLOWED = 5000;
const BLOCKED = 6000;
const RATE = 1000; // datagrams per second per stream
const FRAME = 14 + 20 + 8 + 32; // Ethernet + IPv4 + UDP + the sender's payload
const METRICS = '127.0.0.1:9464';

/** Policy number k: the same verdicts for both streams, a rule that changes every time, and the rule order flipped every other k. */
function policy(k: number): string {
  const rules = [
    `allow udp dport $allowed_ports name "allowed"`,
    `drop udp dport ${BLOCKED} name "blocked"`,
    `drop udp dport ${10000 + k} name "churn"`,
  ];
  if (k % 2 === 1) rules.reverse();
  return `include "defs.xdpfw"\ninterface ${ENV.iface} {\n  default allow\n  ${rules.join('\n  ')}\n}\n`;
}

interface SendResult {
  sent: Record<string, number>;
  payload: number;
}
type RecvResult = Record<string, { received: number; distinct: number }>;
interface StatusJson {
  interfaces: {
    interface: string;
    state: string;
    progId: number;
    commit: string | null;
    source: string | null;
    refused: { commit: string | null; reason: string; message: string; diagnostics: string[] } | null;
  }[];
}
interface StatsJson {
  interfaces: { name: string; commit: string | null; rules: { name: string | null; packets: number; bytes: number }[] }[];
}

const tap = new Tap();
const totals = { allowed: 0, blocked: 0 };

function status() {
  return xdpfwJson<StatusJson>('status').interfaces.find((i) => i.interface === ENV.iface);
}
function ruleCount(rule: string): { packets: number; bytes: number } | undefined {
  const s = xdpfwJson<StatsJson>('stats', '--iface', ENV.iface).interfaces[0];
  return s.rules.find((r) => r.name === rule);
}
const metric = (text: string, rule: string, action: string, what = 'packets') =>
  series(text, `xdpfw_rule_${what}_total{interface="${ENV.iface}",rule="${rule}",action="${action}"}`);

/** Runs both streams for `ms` (or while `during` runs); checks 0 allowed lost and 0 blocked through. */
async function streams(label: string, during: () => Promise<void>): Promise<{ sent: SendResult; got: RecvResult }> {
  const rx = await receiver([ALLOWED, BLOCKED]);
  const tx: Proc = await sender([ALLOWED, BLOCKED], RATE);
  await sleep(400); // the streams run before anything happens
  await during();
  await sleep(300);
  const sent = await finish<SendResult>(tx);
  await sleep(200);
  const got = await finish<RecvResult>(rx);
  const a = sent.sent[ALLOWED];
  const b = sent.sent[BLOCKED];
  totals.allowed += a;
  totals.blocked += b;
  tap.ok(a > 0 && got[ALLOWED].received === a && got[ALLOWED].distinct === a, `${label}: 0 of ${a} allowed datagrams lost`, {
    sent: a,
    received: got[ALLOWED],
  });
  tap.ok(b > 0 && got[BLOCKED].received === 0, `${label}: 0 of ${b} blocked datagrams got through`, { sent: b, received: got[BLOCKED] });
  return { sent, got };
}

/** The kernel counters (via `xdpfw stats`) equal everything sent since the rules first appeared. */
function countersMatch(label: string): void {
  const allowed = ruleCount('allowed');
  const blocked = ruleCount('blocked');
  tap.ok(
    allowed?.packets === totals.allowed && blocked?.packets === totals.blocked && allowed?.bytes === totals.allowed * FRAME,
    `${label}: xdpfw stats counts every datagram sent since the rules first appeared (allowed ${totals.allowed}, blocked ${totals.blocked})`,
    { allowed, blocked, expected: totals },
  );
}

async function main(): Promise<void> {
  const repo = new Repo(path.join(ENV.tmp, 'repo'));
  const defs = { 'defs.xdpfw': `define allowed_ports = { ${ALLOWED} }\n` };
  const c0 = repo.commit({ 'policy.xdpfw': policy(0), ...defs }, 'policy 0');
  const args = [
    '--iface',
    ENV.iface,
    '--git',
    repo.dir,
    '--path',
    'policy.xdpfw',
    '--poll',
    '1',
    '--mode',
    ENV.mode,
    '--cache-dir',
    path.join(ENV.tmp, 'cache'),
  ];
  tap.note(`firewall ${ENV.fw} (${ENV.iface}, ${ENV.mode} mode), client ${ENV.cl}, policy repository ${repo.dir}`);

  let d = new Daemon([...args, '--metrics', METRICS]);
  const attached = await d.waitEvent((e) => e.msg === 'policy attached' && e.commit === c0, 30_000);
  if (!tap.ok(!!attached.event, 'xdpfw run attaches the policy of the branch head at start', d.tail())) return;
  const s0 = status();
  tap.ok(
    s0?.commit === c0 && s0.source === `git ${repo.dir} main:policy.xdpfw`,
    'xdpfw status shows the applied commit and its git source',
    s0,
  );

  const c1 = repo.commit({ 'policy.xdpfw': policy(1) }, 'policy 1');
  const polled = await d.waitEvent((e) => e.msg === 'policy replaced atomically' && e.commit === c1, 15_000);
  tap.ok(!!polled.event, 'a new commit is picked up by polling (--poll 1) and applied', d.tail());

  // (a) N swaps under traffic.
  const reloadMs: number[] = [];
  const swapMs: number[] = [];
  let head = c1;
  await streams(`${ENV.reloads} swaps under traffic`, async () => {
    let from = d.lines.length;
    for (let k = 2; k < 2 + ENV.reloads; k++) {
      const c = repo.commit({ 'policy.xdpfw': policy(k) }, `policy ${k}`);
      d.signal('SIGHUP');
      const r = await d.waitEvent((e) => (e.msg === 'policy replaced atomically' && e.commit === c) || e.level >= 50, 15_000, from);
      if (r.event?.msg !== 'policy replaced atomically') break;
      head = c;
      reloadMs.push(Number(r.event.reloadMs));
      swapMs.push(Number(r.event.swapMs));
      from = r.index + 1;
    }
    tap.ok(
      reloadMs.length === ENV.reloads,
      `${ENV.reloads} atomic replacements (a git commit and SIGHUP each) succeed under traffic`,
      d.tail(),
    );
  });
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? `median ${s[s.length >> 1].toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms` : 'none';
  };
  tap.note(`reload (fetch, compile, load, fill, swap): ${stat(reloadMs)}; swap alone (bpf_link_update + pins): ${stat(swapMs)}`);
  countersMatch(`after ${reloadMs.length} swaps`);

  // (d) metrics over HTTP.
  const m = scrape(`http://${METRICS}/metrics`);
  tap.ok(m.status === 200, 'GET /metrics answers 200', m);
  tap.ok(
    metric(m.body, 'allowed', 'allow') === totals.allowed &&
      metric(m.body, 'blocked', 'drop') === totals.blocked &&
      metric(m.body, 'allowed', 'allow', 'bytes') === totals.allowed * FRAME &&
      metric(m.body, 'blocked', 'drop', 'bytes') === totals.blocked * FRAME,
    `per-rule metrics equal the datagrams sent (allowed ${totals.allowed}, blocked ${totals.blocked}) and their bytes`,
    m.body.split('\n').filter((l) => l.startsWith('xdpfw_rule')),
  );
  const info = m.body.split('\n').find((l) => l.startsWith('xdpfw_policy_info{'));
  tap.ok(!!info?.includes(`commit="${head}"`) && info.endsWith(' 1'), 'xdpfw_policy_info carries the applied commit', info);
  const applied = series(m.body, `xdpfw_reloads_total{interface="${ENV.iface}",result="applied"}`) ?? 0;
  tap.ok(applied >= ENV.reloads + 2, `xdpfw_reloads_total{result="applied"} counts every swap (${applied})`);
  const last = series(m.body, `xdpfw_last_reload_success_timestamp_seconds{interface="${ENV.iface}"}`) ?? 0;
  tap.ok(Math.abs(Date.now() / 1000 - last) < 60, 'xdpfw_last_reload_success_timestamp_seconds is recent', last);
  tap.ok(
    series(m.body, `xdpfw_default_packets_total{interface="${ENV.iface}",action="allow"}`) !== undefined &&
      series(m.body, `xdpfw_malformed_packets_total{interface="${ENV.iface}"}`) === 0,
    'default and malformed counters are exported',
  );
  const health = scrape(`http://${METRICS}/healthz`);
  tap.ok(health.status === 200 && JSON.parse(health.body).status === 'ok', 'GET /healthz answers 200 ok', health);

  // (b) a bad commit is refused; the last good policy stays, verified by traffic.
  const progBefore = status()?.progId;
  const bad = repo.commit({ 'policy.xdpfw': policy(900).replace(`dport ${BLOCKED}`, `dport ${BLOCKED} src @blocklst`) }, 'a typo');
  let from = d.lines.length;
  d.signal('SIGHUP');
  const refused = await d.waitEvent((e) => e.level === 50 && e.commit === bad, 15_000, from);
  const diagnostics = (refused.event?.diagnostics as string[] | undefined) ?? [];
  tap.ok(
    /^policy\.xdpfw:\d+:\d+: error\[unknown-set\]/.test(diagnostics[0] ?? ''),
    'the bad commit is refused and its diagnostics are logged with file:line:col',
    refused.event ?? d.tail(),
  );
  const s1 = status();
  tap.ok(
    s1?.refused?.commit === bad &&
      s1.refused.reason === 'invalid' &&
      /policy\.xdpfw:\d+:\d+/.test(s1.refused.diagnostics[0] ?? '') &&
      s1.commit === head,
    'xdpfw status shows the refused commit and why, and the last good commit in force',
    s1,
  );
  tap.ok(s1?.progId === progBefore, 'the program in force is untouched by the refusal', { before: progBefore, after: s1?.progId });
  const m2 = scrape(`http://${METRICS}/metrics`).body;
  // With --poll 1 the poll may see the bad head before the SIGHUP does, and SIGHUP rereads even a refused
  // commit: both may refuse it, so the count is 1 or 2 (a CI run failed the old "=== 1").
  const refusedCount = series(m2, `xdpfw_reloads_total{interface="${ENV.iface}",result="refused"}`) ?? 0;
  tap.ok(
    refusedCount >= 1 && refusedCount <= 2 && series(m2, `xdpfw_reload_failing{interface="${ENV.iface}"}`) === 1,
    `the reload-failure metrics rise (refused ${refusedCount}, failing 1)`,
    m2.split('\n').filter((l) => l.startsWith('xdpfw_reload')),
  );
  await streams('after the refused commit the last good policy decides', async () => {
    await sleep(1000);
  });

  // An unreachable remote and a deleted policy file are logged and survived.
  const moved = `${repo.dir}-away`;
  fs.renameSync(repo.dir, moved);
  from = d.lines.length;
  d.signal('SIGHUP');
  const unreachable = await d.waitEvent((e) => e.level === 40 && e.msg.includes('source unavailable'), 15_000, from);
  fs.renameSync(moved, repo.dir);
  tap.ok(!!unreachable.event && d.running, 'an unreachable remote is logged and the daemon keeps running', unreachable.event ?? d.tail());
  repo.git('rm', '-q', 'policy.xdpfw');
  const deleted = repo.commit({}, 'policy deleted');
  from = d.lines.length;
  d.signal('SIGHUP');
  const gone = await d.waitEvent((e) => e.level === 50 && e.commit === deleted, 15_000, from);
  tap.ok(
    gone.event?.reason === 'source' && d.running && status()?.progId === progBefore,
    'a commit without the policy file is refused as a source failure; the policy stays',
    gone.event ?? d.tail(),
  );
  const good = repo.commit({ 'policy.xdpfw': policy(1000) }, 'policy back');
  from = d.lines.length;
  d.signal('SIGHUP');
  const back = await d.waitEvent((e) => e.msg === 'policy replaced atomically' && e.commit === good, 15_000, from);
  head = good;
  tap.ok(!!back.event && status()?.refused === null, 'the next good commit is applied and clears the refusal', back.event ?? d.tail());
  countersMatch('after the refusals');

  // (c) restart: the pinned program stays while the daemon is down and is adopted, not replaced.
  const progPinned = status()?.progId;
  await streams('across a daemon restart', async () => {
    const code = await d.stop();
    tap.ok(code === 0, 'SIGTERM stops the daemon with exit code 0', d.tail());
    const down = status();
    tap.ok(down?.state === 'attached' && down.progId === progPinned, 'with the daemon stopped, the policy stays attached (pinned)', down);
    await sleep(500);
    d = new Daemon(args);
    const adopted = await d.waitEvent((e) => e.msg.startsWith('adopted the pinned program'), 30_000);
    tap.ok(
      !!adopted.event && adopted.event.commit === head,
      'a new xdpfw run adopts the pinned program when the source has not changed',
      adopted.event ?? d.tail(),
    );
  });
  tap.ok(status()?.progId === progPinned, `the adopted program is the same (prog id ${progPinned}): no swap, no gap`, status());
  countersMatch('after the restart');

  // A restart onto a changed source replaces atomically and keeps the counters.
  await d.stop();
  const changed = repo.commit({ 'policy.xdpfw': policy(2001) }, 'changed while the daemon was down');
  d = new Daemon(args);
  const replaced = await d.waitEvent(
    (e) => e.msg === 'policy replaced atomically' && e.commit === changed && e.trigger === 'start',
    30_000,
  );
  tap.ok(
    !!replaced.event && Number(replaced.event.countersKept) === 3,
    'a restart onto a changed source replaces the program atomically, keeping its rules’ counters',
    replaced.event ?? d.tail(),
  );
  countersMatch('after a restart onto a changed source');
  await d.stop();

  // --detach-on-exit removes the policy when the daemon stops.
  d = new Daemon([...args, '--detach-on-exit']);
  await d.waitEvent((e) => e.msg.startsWith('adopted the pinned program'), 30_000);
  const code = await d.stop();
  let left: string;
  try {
    left = xdpfw('status');
  } catch (error) {
    left = String((error as { stdout?: string }).stdout ?? error);
  }
  tap.ok(
    code === 0 && left.includes('not attached'),
    '--detach-on-exit detaches the policy when the daemon stops',
    left,
    `exit code ${code}`,
    d.tail(),
  );
}

let exitCode = 1;
try {
  await main();
} catch (error) {
  tap.ok(false, 'the controller scenarios ran to the end', error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  await stopAll();
  exitCode = tap.finish();
}
process.exit(exitCode);
