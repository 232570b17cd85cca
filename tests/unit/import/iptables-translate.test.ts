import { describe, expect, it } from 'vitest';
import { formatImportDiagnostic } from '../../../src/import/codes.js';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables, type Translation } from '../../../src/import/iptables-translate.js';
import { expectCompiles } from './helpers.js';

/*
 * Dumps written for this repository: a server with a user chain reached by
 * -j and one reached by -g, a ufw-shaped host, and one rule of each
 * construct the importer refuses.
 */
const SERVER_DUMP = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:services - [0:0]
:ssh-in - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -i eth0 -s 192.0.2.0/24 -j services
-A INPUT -p tcp -m tcp --dport 22 -g ssh-in
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -p tcp -j REJECT --reject-with tcp-reset
-A services -p tcp -m multiport --dports 80,443,8000:8099 -m comment --comment "web" -j ACCEPT
-A services -s 192.0.2.128/25 -p udp --dport 161:162 -j ACCEPT
-A services -s 10.0.0.0/8 -j DROP
-A services -j RETURN
-A ssh-in -s 198.51.100.0/24 -p tcp --tcp-flags SYN,ACK SYN -j ACCEPT
-A ssh-in -m iprange --src-range 203.0.113.1-203.0.113.6 -j ACCEPT
-A ssh-in -j LOG --log-prefix "ssh denied "
COMMIT
`;

const UFW_DUMP = `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-before-input - [0:0]
:ufw-user-input - [0:0]
:ufw-after-input - [0:0]
:ufw-reject-input - [0:0]
-A INPUT -j ufw-before-input
-A INPUT -j ufw-after-input
-A INPUT -j ufw-reject-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-before-input -p icmp -m icmp --icmp-type 3 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type time-exceeded -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-before-input -j ufw-user-input
-A ufw-after-input -p udp -m udp --dport 137:138 -j DROP
-A ufw-after-input -p tcp -m tcp --dport 139 -j DROP
-A ufw-after-input -p tcp -m tcp --dport 445 -j DROP
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-user-input -p tcp -m multiport --dports 80,443 -m comment --comment "'dapp_Nginx%20Full'" -j ACCEPT
-A ufw-user-input -s 203.0.113.0/24 -p udp -m udp ! --dport 0:1023 -j ACCEPT
COMMIT
`;

const UNSUPPORTED_DUMP = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:inner - [0:0]
:outer - [0:0]
:looping - [0:0]
-A INPUT -o eth0 -j DROP
-A INPUT -m mark --mark 0x1 -j DROP
-A INPUT -m addrtype --dst-type BROADCAST -j DROP
-A INPUT -m mac --mac-source 00:11:22:33:44:55 -j DROP
-A INPUT -m length --length 0:64 -j DROP
-A INPUT -m set --match-set blocklist src -j DROP
-A INPUT -p tcp -m tcp --dport 22 -m limit --limit 5/day -j ACCEPT
-A INPUT -p tcp -m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip,dstport --hashlimit-name ssh -j DROP
-A INPUT -m recent --name scanners --rcheck -j DROP
-A INPUT -m frobnicate --frob 1 -j DROP
-A INPUT -f -j DROP
-A INPUT -s 10.0.255.0/255.0.255.0 -j DROP
-A INPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT
-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT
-A INPUT -j MARK --set-mark 0x2
-A INPUT -m set --match-set pairs src,dst -j DROP
-A INPUT ! -s 10.0.0.0/8 -j outer
-A INPUT -p tcp -j inner
-A INPUT -j DROP
-A outer -s 10.1.0.0/16 -j DROP
-A outer -s 0.0.0.0/1 -j ACCEPT
-A outer -j ACCEPT
-A inner -p udp -j RETURN
-A inner -p tcp -g looping
-A inner -p icmp -j DROP
-A looping -p udp -g looping
COMMIT
`;

function translate(dump: string, interfaces?: string[]): Translation {
  const save = parseIptablesSave(dump);
  expect(save.errors).toEqual([]);
  return translateIptables(save, { file: 'rules.v4', ...(interfaces ? { interfaces } : {}) });
}

const codes = (translation: Translation, kind: 'refusals' | 'warnings') => translation[kind].map((d) => `${d.line}:${d.code}`);

/** The rules of the policy, without comment lines. */
const ruleLines = (policy: string) =>
  policy
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

/** How every translation of a dump named rules.v4 with INPUT policy DROP and no -i starts. */
const PROLOGUE = `# Translated from rules.v4: table filter, chain INPUT (policy DROP of line 2).
# Each rule follows the iptables rules it comes from (a jump first, then the rule of its chain).

interface eth0 {
  default drop
  # rules.v4 holds iptables rules: IPv6 packets were never judged by them, and pass
  allow ip6
`;

describe('translating a server with a user chain and a goto', () => {
  const translation = translate(SERVER_DUMP);

  it('flattens the chains into first-match rules, each citing its lines (golden)', () => {
    expect(translation.policy).toBe(`${PROLOGUE}  # rules.v4:8: -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  allow ct state established,related
  # rules.v4:9: -A INPUT -m conntrack --ctstate INVALID -j DROP
  drop ct state invalid
  # rules.v4:10: -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
  allow icmp type echo-request
  # rules.v4:11: -A INPUT -i eth0 -s 192.0.2.0/24 -j services
  # rules.v4:15: -A services -p tcp -m multiport --dports 80,443,8000:8099 -m comment --comment "web" -j ACCEPT
  # web
  allow tcp dport { 80, 443, 8000-8099 } src 192.0.2.0/24
  # rules.v4:11: -A INPUT -i eth0 -s 192.0.2.0/24 -j services
  # rules.v4:16: -A services -s 192.0.2.128/25 -p udp --dport 161:162 -j ACCEPT
  allow udp dport 161-162 src 192.0.2.128/25
  # rules.v4:12: -A INPUT -p tcp -m tcp --dport 22 -g ssh-in
  # rules.v4:19: -A ssh-in -s 198.51.100.0/24 -p tcp --tcp-flags SYN,ACK SYN -j ACCEPT
  allow tcp flags syn / syn,ack dport 22 src 198.51.100.0/24
  # rules.v4:12: -A INPUT -p tcp -m tcp --dport 22 -g ssh-in
  # rules.v4:20: -A ssh-in -m iprange --src-range 203.0.113.1-203.0.113.6 -j ACCEPT
  allow tcp dport 22 src { 203.0.113.1, 203.0.113.2/31, 203.0.113.4/31, 203.0.113.6 }
  # rules.v4:12: -A INPUT -p tcp -m tcp --dport 22 -g ssh-in
  # rules.v4:21: -A ssh-in -j LOG --log-prefix "ssh denied "
  # log prefix "ssh denied "
  audit allow tcp dport 22 log
  # rules.v4:12: -A INPUT -p tcp -m tcp --dport 22 -g ssh-in
  # what falls off chain 'ssh-in' (reached by goto) and no caller decides gets: the policy of 'INPUT'
  drop tcp dport 22
  # rules.v4:13: -A INPUT -p udp -m udp --dport 53 -j ACCEPT
  allow udp dport 53
  # rules.v4:14: -A INPUT -p tcp -j REJECT --reject-with tcp-reset
  reject tcp
}
`);
  });

  it('refuses nothing and warns of the loopback rule and of what the LOG loses, not of the TCP reset xdpfw sends too', () => {
    expect(translation.refusals).toEqual([]);
    expect(codes(translation, 'warnings')).toEqual(['7:import-loopback', '9:import-ct-loose', '21:import-log']);
    expect(formatImportDiagnostic('rules.v4', translation.warnings[2])).toBe(
      "rules.v4:21:11: warning[import-log]: LOG becomes 'log' (on an 'audit allow' rule, which decides nothing, where the source's rule does not decide), as does every log of this dump: " +
        "xdpfw's log stream keeps at most 100 events a second per interface (a burst of 200), each the packet's headers on a 'rule decision' line of 'xdpfw run's log and in 'xdpfw trace', " +
        `not a kernel log line with its prefix (kept as a comment): '-A ssh-in -j LOG --log-prefix "ssh denied "'`,
    );
    expect(translation.warnings[0].message).toBe("line 7: -i lo: left out, XDP never sees loopback traffic: '-A INPUT -i lo -j ACCEPT'");
  });

  it('gives a policy the compiler accepts', () => {
    expectCompiles(translation.policy);
  });

  it('writes a block for each interface given, and a rule with -i only into its own', () => {
    const both = translate(SERVER_DUMP, ['eth1', 'eth0']);
    const [eth1, eth0] = both.policy.split('interface ').slice(1).map(ruleLines);
    expect(eth0).toContain('allow udp dport 161-162 src 192.0.2.128/25');
    expect(eth1.some((line) => line.includes('192.0.2'))).toBe(false);
    expect(eth1.length).toBe(eth0.length - 2);
    expectCompiles(both.policy);
  });
});

describe('translating a ufw-shaped host', () => {
  const translation = translate(UFW_DUMP);

  it('inlines the before, user and after chains in order (golden)', () => {
    expect(translation.policy).toBe(`${PROLOGUE}  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:13: -A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  allow ct state established,related
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:14: -A ufw-before-input -m conntrack --ctstate INVALID -j DROP
  drop ct state invalid
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:15: -A ufw-before-input -p icmp -m icmp --icmp-type 3 -j ACCEPT
  allow icmp type destination-unreachable
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:16: -A ufw-before-input -p icmp -m icmp --icmp-type time-exceeded -j ACCEPT
  allow icmp type time-exceeded
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:17: -A ufw-before-input -p icmp -m icmp --icmp-type 8 -j ACCEPT
  allow icmp type echo-request
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:18: -A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
  allow udp sport 67 dport 68
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:19: -A ufw-before-input -j ufw-user-input
  # rules.v4:23: -A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
  allow tcp dport 22
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:19: -A ufw-before-input -j ufw-user-input
  # rules.v4:24: -A ufw-user-input -p tcp -m multiport --dports 80,443 -m comment --comment "'dapp_Nginx%20Full'" -j ACCEPT
  # 'dapp_Nginx%20Full'
  allow tcp dport { 80, 443 }
  # rules.v4:9: -A INPUT -j ufw-before-input
  # rules.v4:19: -A ufw-before-input -j ufw-user-input
  # rules.v4:25: -A ufw-user-input -s 203.0.113.0/24 -p udp -m udp ! --dport 0:1023 -j ACCEPT
  allow udp dport 1024-65535 src 203.0.113.0/24
  # rules.v4:10: -A INPUT -j ufw-after-input
  # rules.v4:20: -A ufw-after-input -p udp -m udp --dport 137:138 -j DROP
  drop udp dport 137-138
  # rules.v4:10: -A INPUT -j ufw-after-input
  # rules.v4:21: -A ufw-after-input -p tcp -m tcp --dport 139 -j DROP
  drop tcp dport 139
  # rules.v4:10: -A INPUT -j ufw-after-input
  # rules.v4:22: -A ufw-after-input -p tcp -m tcp --dport 445 -j DROP
  drop tcp dport 445
}
`);
  });

  it('refuses nothing, and says the block is for eth0 since nothing names an interface', () => {
    expect(translation.refusals).toEqual([]);
    expect(codes(translation, 'warnings')).toEqual(['2:import-interface-name', '12:import-loopback', '14:import-ct-loose']);
  });

  it('gives a policy the compiler accepts', () => {
    expectCompiles(translation.policy);
  });
});

describe('translating a dump full of what xdpfw cannot say', () => {
  const translation = translate(UNSUPPORTED_DUMP);

  it('refuses every construct in one run, each at its rule', () => {
    expect(codes(translation, 'refusals')).toEqual([
      '8:import-unsupported',
      '9:import-unsupported',
      '10:import-unsupported',
      '11:import-unsupported',
      '12:import-unsupported',
      '13:import-set',
      '14:import-limit',
      '15:import-limit',
      '16:import-recent',
      '17:import-unsupported',
      '18:import-unsupported',
      '19:import-mask',
      '20:import-icmp-code',
      '21:import-ct-state',
      '22:import-target',
      '23:import-set',
      '28:import-conjunction',
      '33:import-loop',
    ]);
  });

  it('names the construct and quotes the rule', () => {
    const message = (line: number) => translation.refusals.find((d) => d.line === line)?.message;
    expect(message(8)).toBe("line 8: '-o eth0' (XDP sees only inbound packets) is not translated: '-A INPUT -o eth0 -j DROP'");
    expect(message(17)).toBe("line 17: '-m frobnicate --frob 1' is not translated: '-A INPUT -m frobnicate --frob 1 -j DROP'");
    expect(message(19)).toContain("the mask '255.0.255.0' of '10.0.255.0/255.0.255.0' is not contiguous");
    expect(message(28)).toBe(
      "line 28: src: 0.0.0.0/1 except 10.0.0.0/8 needs a set difference, which one rule cannot hold, reached from line 24: '-A outer -s 0.0.0.0/1 -j ACCEPT'",
    );
    expect(translation.refusals[0]).toMatchObject({ line: 8, column: 10, code: 'import-unsupported' });
    expect(formatImportDiagnostic('rules.v4', translation.refusals[0])).toBe(
      "rules.v4:8:10: error[import-unsupported]: '-o eth0' (XDP sees only inbound packets) is not translated: '-A INPUT -o eth0 -j DROP'",
    );
  });

  it('leaves the refused rules out of a policy that still compiles (golden)', () => {
    expect(translation.policy).toBe(`# Translated from rules.v4: table filter, chain INPUT (policy ACCEPT of line 2).
# Each rule follows the iptables rules it comes from (a jump first, then the rule of its chain).

interface eth0 {
  default allow
  # rules.v4 holds iptables rules: IPv6 packets were never judged by them, and pass
  allow ip6
  # rules.v4:24: -A INPUT ! -s 10.0.0.0/8 -j outer
  # rules.v4:29: -A outer -j ACCEPT
  allow src ! 10.0.0.0/8
  # rules.v4:26: -A INPUT -j DROP
  drop tcp
  # rules.v4:26: -A INPUT -j DROP
  drop
}
`);
    expectCompiles(translation.policy);
  });
});

describe('translated matches', () => {
  const rulesOf = (lines: string, policy = 'DROP') =>
    ruleLines(translate(`*filter\n:INPUT ${policy} [0:0]\n:more - [0:0]\n${lines}\nCOMMIT\n`, ['eth0']).policy).slice(3, -1);

  it('reads addresses: lists, dotted masks, negation, ranges', () => {
    expect(
      rulesOf(
        [
          '-A INPUT -s 192.0.2.1,198.51.100.0/24 -j ACCEPT',
          '-A INPUT -d 10.0.0.0/255.255.0.0 -j ACCEPT',
          '-A INPUT ! -s 2001:db8::/32 -j DROP',
          '-A INPUT -m iprange --dst-range 10.0.0.0-10.0.1.255 -j ACCEPT',
        ].join('\n'),
      ),
    ).toEqual(['allow src { 192.0.2.1, 198.51.100.0/24 }', 'allow dst 10.0.0.0/16', 'drop src ! 2001:db8::/32', 'allow dst 10.0.0.0/23']);
  });

  it('reads protocols, negated ports as their complement, flags, ICMP types and states', () => {
    expect(
      rulesOf(
        [
          '-A INPUT -p 47 -j ACCEPT',
          '-A INPUT -p udp -m udp ! --sport 53 -j DROP',
          '-A INPUT -p tcp -m multiport ! --dports 22,80:90 -j DROP',
          '-A INPUT -p tcp -m tcp --syn -j ACCEPT',
          '-A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j DROP',
          '-A INPUT -p tcp -m tcp --tcp-flags NONE NONE -j DROP',
          '-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j ACCEPT',
          '-A INPUT -m state ! --state INVALID -j ACCEPT',
          '-A INPUT -m state --state NEW,RELATED -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        ].join('\n'),
      ),
    ).toEqual([
      'allow proto 47',
      'drop udp sport { 0-52, 54-65535 }',
      'drop tcp dport { 0-21, 23-79, 91-65535 }',
      'allow tcp flags syn / fin,syn,rst,ack',
      'drop tcp flags none / fin,syn,rst,psh,ack,urg',
      'drop tcp',
      'allow icmpv6 type nd-neighbor-solicit',
      'allow ct state new,established,related',
      'allow ct state related',
    ]);
  });

  it('conjoins a jump with each rule of its chain, dropping the rules no packet meets', () => {
    const lines = [
      '-A INPUT -p tcp ! -s 10.0.0.0/8 -m tcp --dport 1000:2000 --tcp-flags SYN,ACK SYN -j more',
      '-A more -p tcp -m multiport --dports 80,1500,1990:2100 -j ACCEPT',
      '-A more -p udp -j ACCEPT',
      '-A more -s 10.1.0.0/16 -j ACCEPT',
      '-A more -s 192.0.2.0/24 -j REJECT',
      '-A more ! -s 172.16.0.0/12 -m conntrack --ctstate NEW -j DROP',
      '-A more -p tcp --tcp-flags ACK,FIN ACK -j DROP',
      '-A more -p tcp --tcp-flags ACK ACK -j DROP',
    ].join('\n');
    expect(rulesOf(lines)).toEqual([
      'allow tcp flags syn / syn,ack dport { 1500, 1990-2000 } src ! 10.0.0.0/8',
      'reject tcp flags syn / syn,ack dport 1000-2000 src 192.0.2.0/24',
      'drop tcp flags syn / syn,ack dport 1000-2000 src ! { 10.0.0.0/8, 172.16.0.0/12 } ct state new',
    ]);
    expectCompiles(translate(`*filter\n:INPUT DROP [0:0]\n:more - [0:0]\n${lines}\nCOMMIT\n`).policy);
  });

  it('lets a goto chain that ends in a decision fall to nothing, and refuses a missing chain', () => {
    expect(rulesOf('-A INPUT -p tcp -g more\n-A INPUT -j ACCEPT\n-A more -j DROP')).toEqual(['drop tcp', 'allow']);
    const missing = translateIptables(parseIptablesSave('*filter\n:INPUT DROP [0:0]\nCOMMIT\n'), { file: 'f', chain: 'PREROUTING' });
    expect(missing.refusals.map((d) => d.message)).toEqual(["line 1: table 'filter' of line 1 has no chain 'PREROUTING'"]);
    expect(missing.policy).toBe('');
  });
});

describe('comments and citations', () => {
  it("puts the comments of a jump and of the chain's rule above each inlined rule", () => {
    const dump = [
      '*filter',
      ':INPUT DROP [0:0]',
      ':web - [0:0]',
      '-A INPUT -p tcp -m comment --comment "public services" -j web',
      '-A web -p tcp -m tcp --dport 443 -m comment --comment "https" -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n');
    const policy = translate(dump, ['eth0']).policy;
    expect(policy.split('interface eth0 {\n')[1]).toBe(
      [
        '  default drop',
        '  # rules.v4 holds iptables rules: IPv6 packets were never judged by them, and pass',
        '  allow ip6',
        '  # rules.v4:4: -A INPUT -p tcp -m comment --comment "public services" -j web',
        '  # rules.v4:5: -A web -p tcp -m tcp --dport 443 -m comment --comment "https" -j ACCEPT',
        '  # public services',
        '  # https',
        '  allow tcp dport 443',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('the reject-with warning', () => {
  const rejects = (...rules: string[]) => translate(['*filter', ':INPUT ACCEPT [0:0]', ...rules, 'COMMIT', ''].join('\n'), ['eth0']);

  it('is not given where xdpfw answers as iptables would: a TCP reset, admin-prohibited to a protocol not TCP', () => {
    const kept = rejects(
      '-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset',
      '-A INPUT -p udp -m udp --dport 111 -j REJECT --reject-with icmp-admin-prohibited',
    );
    expect(kept.warnings).toEqual([]);
  });

  it('is given at the first REJECT whose answer xdpfw does not send, the default port unreachable too', () => {
    const tcpReset = '-A INPUT -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset';
    const anyProtocol = rejects(tcpReset, '-A INPUT -s 192.0.2.0/24 -j REJECT --reject-with icmp-admin-prohibited');
    expect(codes(anyProtocol, 'warnings')).toEqual(['4:import-reject-with']);
    expect(anyProtocol.warnings[0].message).toContain("'--reject-with icmp-admin-prohibited' is not kept");
    expect(codes(rejects(tcpReset, '-A INPUT -p udp -j REJECT'), 'warnings')).toEqual(['4:import-reject-with']);
  });
});

describe('what the rest of the dump does to INPUT', () => {
  const withNat = (nat: string[], input = ['-A INPUT -p tcp --dport 22 -j ACCEPT']) =>
    translate(
      [
        '*filter',
        ':INPUT DROP [0:0]',
        ':FORWARD DROP [0:0]',
        ...input,
        'COMMIT',
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':web - [0:0]',
        ...nat,
        'COMMIT',
        '',
      ].join('\n'),
    );

  it('refuses REDIRECT and DNAT to this host in PREROUTING, and the chains it reaches', () => {
    const t = withNat([
      '-A PREROUTING -p tcp --dport 80 -j web',
      '-A web -p tcp -j REDIRECT --to-ports 8080',
      '-A PREROUTING -p tcp --dport 81 -j DNAT --to-destination 127.0.0.1:8081',
    ]);
    expect(t.refusals.map((d) => `${d.line}:${d.code}`)).toEqual(['10:import-nat', '11:import-nat']);
    expect(t.refusals[0].message).toBe(
      "line 10: REDIRECT in table nat's PREROUTING sends the packet to this host with a new destination before INPUT judges it, while XDP judges it as it arrives: INPUT's rules about the new address or port would not see it: '-A web -p tcp -j REDIRECT --to-ports 8080'",
    );
  });

  it('warns once of DNAT to another address: forwarded packets never met INPUT', () => {
    const t = withNat([
      '-A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      '-A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination 172.17.0.3:443',
    ]);
    expect(t.refusals).toEqual([]);
    expect(t.warnings.filter((d) => d.code === 'import-nat-forward').map((d) => d.line)).toEqual([9]);
  });

  it("refuses a router's dump, whose INPUT accepts all while FORWARD filters", () => {
    const router = translate(
      ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', '-A FORWARD -i eth1 -o eth0 -j ACCEPT', 'COMMIT', ''].join('\n'),
    );
    expect(router.refusals).toMatchObject([
      {
        line: 3,
        code: 'import-forward-only',
        message:
          'line 3: INPUT accepts every packet and FORWARD filters (policy DROP, 1 rules): this dump filters what the host forwards, which XDP on an interface cannot tell from what it is sent; translating INPUT would let everything in',
      },
    ]);
    const host = translate(['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', 'COMMIT', ''].join('\n'));
    expect(host.refusals).toEqual([]);
  });
});
