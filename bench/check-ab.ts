/**
 * bench:check-ab — `xdpfw check` of the bench's two control-plane policies
 * (4,096 rules + 10-entry set; 10 rules + the 1M + 100k sets), as an
 * operator runs it, for several checkouts of xdpfw in alternating rounds:
 * on a machine whose speed drifts by tens of percent within the hour, only
 * runs taken side by side compare. Each checkout must be built
 * (`npm run build`). Prints the median wall time and first-touch page
 * faults of each, and each one's ratio to the first. No root needed.
 *
 *   git worktree add ../before <commit> && (cd ../before && npm ci && npm run build)
 *   npm run bench:check-ab -- [--rounds N] ../before .
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { addressSet, benchPolicy, writePolicyFiles } from './lib/policy-gen.js';
import { fixed, grouped, ratio, sample, table } from './lib/stats.js';

/** Preloaded into each run: its own first-touch page faults, on stderr, as it exits. */
const FAULTS = `data:text/javascript,${encodeURIComponent('process.on("exit", () => process.stderr.write(`\\n#faults ${process.resourceUsage().minorPageFault}\\n`))')}`;

interface Run {
  ms: number;
  faults: number;
}

/** The checkout's command as an operator runs it: its bin/xdpfw wrapper, or Node on bin/xdpfw.js in checkouts older than that. */
function command(checkout: string): [string, string[]] {
  const wrapper = path.join(checkout, 'bin/xdpfw');
  return fs.existsSync(wrapper) ? [wrapper, []] : [process.execPath, [path.join(checkout, 'bin/xdpfw.js')]];
}

function checkOnce(checkout: string, file: string): Run {
  const [cmd, args] = command(checkout);
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${FAULTS}` };
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, [...args, 'check', file], { encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const faults = /#faults (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !faults) throw new Error(`${checkout}: xdpfw check ${file} failed (exit ${r.status}):\n${r.stderr}`);
  return { ms, faults: Number(faults[1]) };
}

function main(): void {
  const { values, positionals: checkouts } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '9' } } });
  if (checkouts.length === 0) throw new Error('name one or more built checkouts of xdpfw (directories holding bin/xdpfw.js)');
  for (const c of checkouts) {
    if (!fs.existsSync(path.join(c, 'dist/cli/main.js'))) throw new Error(`${c}: not built (no dist/cli/main.js): run npm run build there`);
  }
  const rounds = Number(values.rounds);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-check-ab-'));
  try {
    const cases = [
      {
        name: '4,096 rules, 10+10 set',
        file: writePolicyFiles(path.join(dir, 'rules'), benchPolicy(4096, addressSet(10, 10)), 'xdpfw-ab0'),
      },
      {
        name: '10 rules, 1M+100k set',
        file: writePolicyFiles(path.join(dir, 'large'), benchPolicy(10, addressSet(1_000_000, 100_000)), 'xdpfw-ab0'),
      },
    ];
    console.log(
      `xdpfw check, ${rounds} alternating rounds; load average at start: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const rows: string[][] = [];
    for (const c of cases) {
      const runs = checkouts.map(() => [] as Run[]);
      for (let round = 0; round < rounds; round++) checkouts.forEach((checkout, i) => runs[i].push(checkOnce(checkout, c.file)));
      const medians = runs.map((r) => ({ ms: sample(r.map((x) => x.ms)), faults: sample(r.map((x) => x.faults)) }));
      checkouts.forEach((checkout, i) => {
        const { ms, faults } = medians[i];
        rows.push([
          c.name,
          checkout,
          `${fixed(ms.median, 0)} ms (${fixed(ms.min, 0)}–${fixed(ms.max, 0)})`,
          grouped(Math.round(faults.median)),
          ratio(ms.median / medians[0].ms.median),
        ]);
      });
    }
    console.log(table(['policy', 'checkout', 'xdpfw check, median (range)', 'page faults', '× first'], rows));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
