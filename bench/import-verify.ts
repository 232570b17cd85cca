/**
 * bench:verify — how long `import iptables --verify` takes on 1,000-rule
 * dumps of three shapes, next to what the import costs without it
 * (reading, translating, compiling), in one run:
 *
 *   bans       fail2ban's shape: INPUT jumps to a chain of 1,000 banned
 *              sources (REJECT), then a few services;
 *   services   1,000 rules of a source prefix and a port spread over
 *              three chains, ACCEPT, DROP and REJECT mixed (the proof's
 *              hard case: each rule cuts the regions of the others);
 *   stateful   the services shape behind `ct state` rules, with ICMP types
 *              and TCP flags.
 *
 *   npm run bench:verify [-- --rounds N]
 */
import { parseArgs } from 'node:util';
import { compileSource } from '../src/compiler/index.js';
import { parseIptablesSave } from '../src/import/iptables-save.js';
import { translateIptables } from '../src/import/iptables-translate.js';
import { verifyTranslation } from '../src/import/verify.js';
import { MemoryHost } from '../tests/support/memory-host.js';
import { Random } from '../tests/support/random.js';
import { machineLine } from './lib/machine.js';
import { fixed, table } from './lib/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

const address = (r: Random, lengths: number[]) => `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.0/${r.pick(lengths)}`;

function bans(r: Random): string[] {
  const lines = [':f2b-sshd - [0:0]', '-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd'];
  for (let i = 0; i < 1_000; i++) lines.push(`-A f2b-sshd -s ${address(r, [32, 32, 24])} -j REJECT --reject-with icmp-port-unreachable`);
  lines.push('-A f2b-sshd -j RETURN', '-A INPUT -p tcp --dport 22 -j ACCEPT', '-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT');
  return lines;
}

function services(r: Random, prologue: string[] = []): string[] {
  const lines = [':svc - [0:0]', ':blk - [0:0]', ...prologue, '-A INPUT -s 10.0.0.0/8 -j blk', '-A INPUT -p tcp -j svc'];
  for (let i = 0; i < 1_000; i++) {
    const chain = r.pick(['INPUT', 'svc', 'blk']);
    const parts = [`-A ${chain}`];
    if (r.chance(0.6)) parts.push(`-s ${address(r, [16, 24, 28, 32])}`);
    if (chain !== 'INPUT' || r.chance(0.5)) parts.push(`-p tcp --dport ${r.int(1, 65535)}`);
    else parts.push(`-p udp --dport ${r.int(1, 65535)}:65535`);
    parts.push(`-j ${r.pick(['ACCEPT', 'DROP', 'REJECT'])}`);
    lines.push(parts.join(' '));
  }
  return lines;
}

const stateful = (r: Random) =>
  services(r, [
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A INPUT -m conntrack --ctstate INVALID -j DROP',
    '-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT',
    '-A INPUT -p tcp --tcp-flags SYN,RST SYN,RST -j DROP',
  ]);

const SHAPES = { bans, services, stateful } as const;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: string[][] = [];
for (const [name, shape] of Object.entries(SHAPES)) {
  const dump = ['*filter', ':INPUT DROP [0:0]', ...shape(new Random(11)), 'COMMIT', ''].join('\n');
  const importMs: number[] = [];
  const verifyMs: number[] = [];
  let regions = 0;
  let rules = 0;
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const t = translateIptables(parseIptablesSave(dump), { file: `${name}.rules`, interfaces: ['eth0'] });
    const compiled = compileSource('import.xdpfw', new MemoryHost({ 'import.xdpfw': t.policy }));
    if (t.refusals.length > 0 || !compiled.ir)
      throw new Error(`${name}: the dump does not import:\n${t.refusals.map((d) => d.message).join('\n')}`);
    const translated = performance.now();
    const outcome = verifyTranslation(t.program!, compiled.ir);
    if (outcome.kind !== 'equivalent') throw new Error(`${name}: ${JSON.stringify(outcome.kind)}`);
    importMs.push(translated - started);
    verifyMs.push(performance.now() - translated);
    regions = outcome.regions;
    rules = compiled.ir.interfaces[0].rules.length;
  }
  const [imp, ver] = [median(importMs), median(verifyMs)];
  rows.push([name, String(rules), regions.toLocaleString('en-US'), fixed(imp, 0), fixed(ver, 0), `${fixed(ver / imp, 2)}×`]);
}
console.log(machineLine());
console.log(`median of ${rounds} rounds, milliseconds`);
console.log(table(['dump', 'policy rules', 'regions', 'import', 'verify', 'verify / import'], rows));
