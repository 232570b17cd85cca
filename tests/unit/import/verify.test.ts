/*
 * `import --verify`: the proof that a policy decides every packet as the
 * imported chains do. It must say "equivalent" of the importer's own
 * translations, and find a packet decided otherwise in every broken one:
 * each counterexample is replayed through the AST reference evaluator on
 * the correct and the broken policy, which must give the two verdicts the
 * proof reported.
 */
import { describe, expect, it } from 'vitest';
import type { IrPolicy } from '../../../src/compiler/index.js';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables } from '../../../src/import/iptables-translate.js';
import { sourceKeysFromText, verifyTranslation, type VerifyOutcome } from '../../../src/import/verify.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generateDump, generatePacket } from '../../support/iptables-dumps.js';
import { Random } from '../../support/random.js';
import { compileText, FILE } from '../compiler/helpers.js';

/** Jumps, a goto whose fall-off gets the policy, RETURN, negations, states, ICMP, flags, ranges. */
const DUMP = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:services - [0:0]
:ssh-in - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -i eth0 ! -s 10.0.0.0/8 -j services
-A INPUT -p tcp -m tcp --dport 22 -g ssh-in
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A services -p tcp -m multiport --dports 80,443,8000:8099 -j ACCEPT
-A services -s 192.0.2.128/25 -p udp --dport 161:162 -j ACCEPT
-A services -p udp ! --sport 1024:65535 -j DROP
-A services -j RETURN
-A ssh-in -s 198.51.100.0/24 -p tcp --tcp-flags SYN,ACK SYN -j ACCEPT
-A ssh-in -m iprange --src-range 203.0.113.1-203.0.113.6 -j ACCEPT
COMMIT
`;

function translate(dump: string) {
  const t = translateIptables(parseIptablesSave(dump), { file: 'rules.v4', interfaces: ['eth0'] });
  expect(t.refusals, dump).toEqual([]);
  return { policy: t.policy, program: t.program! };
}

function irOf(policy: string): IrPolicy {
  const compiled = compileText(policy);
  expect(
    compiled.diagnostics.filter((d) => d.severity === 'error'),
    policy,
  ).toEqual([]);
  return compiled.ir!;
}

/** The counterexample replayed: the correct policy gives the source's verdict, the broken one the other. */
function expectReplayed(outcome: VerifyOutcome, correct: string, broken: string) {
  if (outcome.kind !== 'counterexample') throw new Error(`expected a counterexample, got ${JSON.stringify(outcome)}`);
  const verdict = (text: string) => compileGenerated({ text, interfaceName: outcome.iface }).reference.evaluate(outcome.packet).action;
  expect(outcome.source.verdict).not.toBe(outcome.policy.verdict);
  expect(verdict(correct), JSON.stringify(outcome.packet)).toBe(outcome.source.verdict);
  expect(verdict(broken), JSON.stringify(outcome.packet)).toBe(outcome.policy.verdict);
}

describe('import --verify', () => {
  const { policy, program } = translate(DUMP);

  it('proves the translation of chains, a goto, RETURN, negations and states equivalent', () => {
    const outcome = verifyTranslation(program, irOf(policy));
    expect(outcome).toMatchObject({ kind: 'equivalent', interfaces: ['eth0'] });
  });

  const BROKEN: [string, string, string][] = [
    ['a port changed', 'allow udp dport 53', 'allow udp dport 54'],
    ['a negation lost', 'src ! 10.0.0.0/8', 'src 10.0.0.0/8'],
    ['a state left out', 'allow ct state established,related', 'allow ct state established'],
    ['the default flipped', 'default drop', 'default allow'],
    ['IPv6 no longer passed', '  allow ip6\n', '\n'],
    ['a flag mask narrowed', 'flags syn / syn,ack', 'flags syn / syn'],
    ["the goto's fall-off left to the rules after it", '  drop tcp dport 22\n', '\n'],
    ['a verdict changed', 'allow icmp type echo-request', 'drop icmp type echo-request'],
  ];
  it.each(BROKEN)('finds the packet a broken translation decides otherwise: %s', (_, from, to) => {
    expect(policy).toContain(from);
    const broken = policy.replace(from, to);
    expectReplayed(verifyTranslation(program, irOf(broken)), policy, broken);
  });

  it('finds that two rules of different verdicts were swapped', () => {
    const lines = policy.split('\n');
    const allow = lines.findIndex((l) => l.trim().startsWith('allow udp dport 53'));
    const reject = lines.findIndex((l) => l.trim() === 'reject tcp');
    [lines[allow], lines[reject]] = [lines[reject], lines[allow]];
    const broken = lines.join('\n');
    // These two do not overlap (udp, tcp): swapping them changes nothing.
    expect(verifyTranslation(program, irOf(broken)).kind).toBe('equivalent');
    const ssh = lines.findIndex((l) => l.trim().startsWith('allow tcp dport 22 src 198.51.100.0/24'));
    [lines[ssh], lines[reject]] = [lines[reject], lines[ssh]];
    const reordered = lines.join('\n');
    expectReplayed(verifyTranslation(program, irOf(reordered)), policy, reordered);
  });

  it('says which rule it cannot pair with a source rule rather than prove a policy with a limit', () => {
    const limited = policy.replace('allow icmp type echo-request', 'allow icmp type echo-request limit rate 10/second');
    expect(verifyTranslation(program, irOf(limited))).toMatchObject({
      kind: 'unsupported',
      iface: 'eth0',
      reason:
        "rule 'allow icmp type echo-request limit rate 10/second' has a limit or a dynamic set, and no '# FILE:LINE:' comment above it names the source rule it comes from",
    });
  });

  it('finds the packet a limit the source rule has not lets through, when the limit does not hold', () => {
    const limited = policy.replace('allow icmp type echo-request', 'allow icmp type echo-request limit rate 10/second');
    const outcome = verifyTranslation(program, irOf(limited), sourceKeysFromText(limited, FILE));
    expect(outcome).toMatchObject({
      kind: 'counterexample',
      source: { verdict: 'allow' },
      policy: { verdict: 'drop' },
      packet: { protocol: 1, icmpType: 8 },
      assumed: [{ line: 10, text: '-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT', holds: false }],
    });
  });

  it('proves limits, hashlimits and recent lists paired with their source rules, both ways each may go', () => {
    const stateful = `*filter
:INPUT DROP [0:0]
:ssh - [0:0]
-A INPUT -m recent --rcheck --seconds 600 --name banned -j DROP
-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 10/sec --limit-burst 20 -j ACCEPT
-A INPUT -p tcp --dport 22 -j ssh
-A ssh -m hashlimit --hashlimit-above 3/min --hashlimit-mode srcip --hashlimit-name ssh -j DROP
-A ssh -s 203.0.113.0/24 -m recent --set --name banned -j DROP
-A ssh -j ACCEPT
COMMIT
`;
    const t = translate(stateful);
    const outcome = verifyTranslation(t.program, irOf(t.policy), sourceKeysFromText(t.policy, FILE));
    expect(outcome, t.policy).toMatchObject({ kind: 'equivalent' });
    // The limited rule's verdict flipped: the packets its limit lets through are decided otherwise.
    const swapped = t.policy.replace(
      'allow icmp type echo-request limit rate 10/second burst 20',
      'drop icmp type echo-request limit rate 10/second burst 20',
    );
    expect(verifyTranslation(t.program, irOf(swapped), sourceKeysFromText(swapped, FILE))).toMatchObject({
      kind: 'counterexample',
      source: { verdict: 'allow' },
      policy: { verdict: 'drop' },
      // The source not banned (its recent list did not hold), and the limit took the packet.
      assumed: [
        { line: 4, holds: false },
        { line: 5, holds: true },
      ],
    });
  });

  it('proves a translation whose LOG rules became audit rules, a LOG with a limit among them, and still sees their neighbours', () => {
    const logging = DUMP.replace(
      '-A ssh-in -s 198.51.100.0/24',
      '-A ssh-in -p tcp -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "ssh "\n-A ssh-in -s 198.51.100.0/24',
    ).replace('-A services -j RETURN', '-A services -p udp -j NFLOG --nflog-group 2\n-A services -j RETURN');
    const logged = translate(logging);
    expect(logged.policy).toContain('  audit allow tcp dport 22 limit rate 3/minute burst 10 log\n');
    expect(logged.policy).toContain('  audit allow udp src ! 10.0.0.0/8 log\n');
    expect(verifyTranslation(logged.program, irOf(logged.policy))).toMatchObject({ kind: 'equivalent', interfaces: ['eth0'] });
    // An audit rule turned into one that decides is caught.
    const deciding = logged.policy.replace('audit allow udp src ! 10.0.0.0/8 log', 'allow udp src ! 10.0.0.0/8 log');
    expectReplayed(verifyTranslation(logged.program, irOf(deciding)), logged.policy, deciding);
  });

  it('proves 60 generated dumps with chains, and catches every mutation of their translations that sampling can see', () => {
    let proved = 0;
    let caught = 0;
    let neutral = 0;
    for (let seed = 1; proved < 60; seed++) {
      const r = new Random(91_000 + seed);
      const dump = generateDump(r);
      const t = translateIptables(parseIptablesSave(dump), { file: 'generated.v4', interfaces: ['eth0', 'eth1'] });
      if (t.refusals.length > 0) continue; // inlining refuses a few generated dumps (the generator says which)
      expect(verifyTranslation(t.program!, irOf(t.policy)), `${dump}\n${t.policy}`).toMatchObject({ kind: 'equivalent' });
      proved++;

      const lines = t.policy.split('\n');
      const rules = lines.flatMap((l, i) => (/^ {2}(allow|drop|reject) /.test(l) ? [i] : []));
      const at = r.pick(rules);
      lines[at] = r.chance(0.5)
        ? lines[at].replace(/^ {2}(allow|drop|reject)/, (_, v: string) => `  ${v === 'allow' ? 'drop' : 'allow'}`)
        : '';
      const broken = lines.join('\n');
      const outcome = verifyTranslation(t.program!, irOf(broken));
      if (outcome.kind === 'counterexample') {
        expectReplayed(outcome, t.policy, broken);
        caught++;
        continue;
      }
      // An "equivalent" mutant must be one no packet tells apart: a rule that was shadowed, or decided as what follows.
      expect(outcome.kind).toBe('equivalent');
      neutral++;
      for (const iface of ['eth0', 'eth1']) {
        const before = compileGenerated({ text: t.policy, interfaceName: iface }).reference;
        const after = compileGenerated({ text: broken, interfaceName: iface }).reference;
        for (let k = 0; k < 200; k++) {
          const packet = generatePacket(r);
          expect(after.evaluate(packet).action, `${JSON.stringify(packet)}\n${t.policy}\n${broken}`).toBe(before.evaluate(packet).action);
        }
      }
    }
    expect(caught).toBeGreaterThan(proved / 2);
    console.log(`verify: ${proved} dumps proved; of their mutants ${caught} caught, ${neutral} neutral`);
  });
});
