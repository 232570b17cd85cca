/**
 * npm run bench — the three benches in turn, each in its own process (each
 * pins itself to its CPUs): in-kernel cost per packet, packets per second end
 * to end against iptables and nftables, and the control plane. Options
 * (--quick, …) go to each of them; figures and ratios go to stdout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineLine, requireRoot } from './lib/machine.js';

const BENCHES = ['kernel', 'e2e', 'control'];

requireRoot();
const args = process.argv.slice(2).filter((a) => a === '--quick');
console.log(`# xdpfw benchmarks${args.includes('--quick') ? ' (quick)' : ''}`);
console.log(machineLine());
let failed = 0;
for (const name of BENCHES) {
  console.log();
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, script, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench:${name} failed (exit ${r.status ?? r.signal})\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
