/**
 * Every diagnostic the compiler's checks emit: code, severity, exact message,
 * location (line:col) and hint, from real policy text through the real front
 * end. A code without a case here fails the last test.
 */
import { describe, expect, test } from 'vitest';
import { COMPILER_CODES } from '../../../src/compiler/codes.js';
import { CONNTRACK_CASES } from './conntrack-cases.js';
import { LIMIT_CASES } from './limit-cases.js';
import { LOCKOUT_CASES } from './lockout-cases.js';
import { compileText, diagnosticsOf, err, warn, type Found } from './helpers.js';

interface Case {
  name: string;
  text: string;
  files?: Record<string, string>;
  expected: Found[];
}

const ND_HINT = 'add before it: allow icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }';

const CASES: Case[] = [
  {
    name: 'an unknown set is reported with the closest declared name',
    text: 'set blocklist { 10.0.0.0/8 }\ninterface eth0 {\n  drop src @blocklst\n  drop src @nothinglike\n}\n',
    expected: [
      err('unknown-set', '3:12', "unknown set '@blocklst' (did you mean '@blocklist'?)"),
      err('unknown-set', '4:12', "unknown set '@nothinglike'"),
    ],
  },
  {
    name: 'an unknown define is reported with the closest declared name',
    text: 'define web = { 80, 443 }\ninterface eth0 {\n  allow tcp dport $wbe\n}\n',
    expected: [err('unknown-define', '3:19', "unknown define '$wbe' (did you mean '$web'?)")],
  },
  {
    name: 'a reference to an undeclared define with no defines at all suggests how to declare one',
    text: 'interface eth0 {\n  allow tcp dport $web\n}\n',
    expected: [err('unknown-define', '2:19', "unknown define '$web'", 'declare it with: define NAME = …')],
  },
  {
    name: 'duplicate sets, defines and interfaces point at the first declaration',
    text:
      'set a { 10.0.0.0/8 }\nset a { 10.1.0.0/16 }\ndefine d = 80\ndefine d = 81\n' +
      'interface eth0 { allow tcp }\ninterface eth0 { allow udp }\n',
    expected: [
      err(
        'duplicate-set',
        '2:5',
        "set '@a' is already declared at test.xdpfw:1:5",
        'rename one of them, or merge their entries into one set',
      ),
      err('duplicate-define', '4:8', "define '$d' is already declared at test.xdpfw:3:8", 'rename one of them'),
      err(
        'duplicate-interface',
        '6:11',
        "interface 'eth0' is already declared at test.xdpfw:5:11",
        'an interface has one policy: merge the two blocks',
      ),
    ],
  },
  {
    name: 'a rule name used twice in one interface and a second default are errors',
    text: 'interface eth0 {\n  default drop\n  allow tcp name "x"\n  allow udp name "x"\n  default allow\n  allow icmpv6\n}\n',
    expected: [
      err(
        'duplicate-rule-name',
        '4:18',
        `rule name "x" is already used in interface 'eth0' (line 3)`,
        'rule names identify counters and must be unique within an interface',
      ),
      err('duplicate-default', '5:3', "interface 'eth0' already has a default (default drop, line 2)", 'keep one default statement'),
    ],
  },
  {
    name: 'a second mode is an error, whichever its value',
    text: 'interface eth0 {\n  mode audit\n  allow tcp\n  mode audit\n  mode enforce\n}\n',
    expected: [
      err('duplicate-mode', '4:3', "interface 'eth0' already has a mode (mode audit, line 2)", 'keep one mode statement'),
      err('duplicate-mode', '5:3', "interface 'eth0' already has a mode (mode audit, line 2)", 'keep one mode statement'),
    ],
  },
  {
    name: 'under mode audit, the warnings about dropped neighbour discovery and replies say what enforcing would do',
    text: 'interface eth0 {\n  mode audit\n  default drop\n  allow tcp dport 22\n}\n',
    expected: [
      warn(
        'nd-dropped',
        '3:3',
        "IPv6 neighbour discovery (nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert) would be dropped by 'default drop' of interface 'eth0' once enforced (mode audit passes it now): that would silently break IPv6",
        'add before it: allow icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }',
      ),
      warn(
        'no-return-traffic',
        '3:3',
        "interface 'eth0' drops by default and no rule allows 'ct state established': replies to the host's own connections would be dropped once enforced (mode audit passes them now)",
        'add before the rules that drop: allow ct state established,related',
      ),
    ],
  },
  {
    name: 'the same rule name in two interfaces is fine',
    text: 'interface eth0 { allow tcp name "x" }\ninterface eth1 { allow tcp name "x" }\n',
    expected: [],
  },
  {
    name: 'defines and sets that refer to themselves are cycles',
    text: 'define a = $b\ndefine b = $a\nset s { @s }\ninterface eth0 { allow src @s }\n',
    expected: [
      err('define-cycle', '2:12', "define '$a' refers to itself: $a → $b → $a", 'break the cycle'),
      err('define-cycle', '3:9', "set '@s' refers to itself: @s → @s", 'break the cycle'),
    ],
  },
  {
    name: 'a define of ports used as addresses, and of addresses used as ports, is a type error',
    text: 'define web = { 80, 443 }\ndefine admins = { 10.0.0.0/8 }\ninterface eth0 {\n  allow tcp src $web\n  allow tcp dport $admins\n}\n',
    expected: [
      err('define-type', '4:17', "define '$web' holds ports, but 'src' needs addresses", "'$web' is defined at test.xdpfw:1:8"),
      err('define-type', '5:19', "define '$admins' holds addresses, but 'dport' needs ports", "'$admins' is defined at test.xdpfw:2:8"),
    ],
  },
  {
    name: 'a define of ports inside a set is a type error at the reference',
    text: 'set s { $p }\ndefine p = 80\ninterface eth0 { allow src @s }\n',
    expected: [err('define-type', '1:9', "define '$p' holds ports, but set '@s' needs addresses", "'$p' is defined at test.xdpfw:2:8")],
  },
  {
    name: 'host bits, bad prefix lengths and malformed addresses are invalid',
    text:
      'interface eth0 {\n  allow src 10.0.0.1/8\n  allow src 10.0.0.0/33\n  allow src 300.1.1.1\n' +
      '  allow src 2001:db8::1/32\n  allow src fe80::1%eth0\n}\n',
    expected: [
      err(
        'invalid-address',
        '2:13',
        '10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?',
        '10.0.0.0/8 is the network that contains it; for the single address write 10.0.0.1/32',
      ),
      err('invalid-address', '3:13', "invalid prefix length '/33' in '10.0.0.0/33'", 'an IPv4 prefix length is 0 to 32'),
      err(
        'invalid-address',
        '4:13',
        "invalid address '300.1.1.1'",
        'an IPv4 address is four numbers 0–255 separated by dots; e.g. 192.0.2.0/24, 198.51.100.7 or 2001:db8::/32',
      ),
      err(
        'invalid-address',
        '5:13',
        '2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?',
        '2001:db8::/32 is the network that contains it; for the single address write 2001:db8::1/128',
      ),
      err(
        'invalid-address',
        '6:13',
        "invalid address 'fe80::1%eth0'",
        'expected an IPv6 address such as 2001:db8::1 (no zone index); e.g. 192.0.2.0/24, 198.51.100.7 or 2001:db8::/32',
      ),
    ],
  },
  {
    name: 'an invalid entry of a set file is located in that file',
    text: 'set bogons from "bogons.txt"\ninterface eth0 { drop src @bogons }\n',
    files: { 'bogons.txt': '# bogons\n10.0.0.0/8\n  192.168.0.1/16\n' },
    expected: [
      err(
        'invalid-address',
        'bogons.txt:3:3',
        '192.168.0.1/16 has host bits set; did you mean 192.168.0.0/16?',
        '192.168.0.0/16 is the network that contains it; for the single address write 192.168.0.1/32',
      ),
    ],
  },
  {
    name: 'set-file entries on the first line and on a last line without a newline are located too',
    text: 'set bogons from "bogons.txt"\ninterface eth0 { drop src @bogons }\n',
    files: { 'bogons.txt': '10.0.0.1/8\n# c\n\n 10.1.0.0/16\n\t300.1.1.1 # x' },
    expected: [
      err(
        'invalid-address',
        'bogons.txt:1:1',
        '10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?',
        '10.0.0.0/8 is the network that contains it; for the single address write 10.0.0.1/32',
      ),
      err(
        'invalid-address',
        'bogons.txt:5:2',
        "invalid address '300.1.1.1'",
        'an IPv4 address is four numbers 0–255 separated by dots; e.g. 192.0.2.0/24, 198.51.100.7 or 2001:db8::/32',
      ),
    ],
  },
  {
    name: 'ports above 65535, empty ranges and protocol numbers above 255 are invalid',
    text: 'interface eth0 {\n  allow tcp dport 70000\n  allow tcp dport 2000-1000\n  allow proto 300\n}\n',
    expected: [
      err('invalid-port', '2:19', 'port 70000 is out of range (0–65535)'),
      err('invalid-port', '3:19', 'port range 2000-1000 is empty: 2000 is above 1000', 'write 1000-2000'),
      err('invalid-protocol', '4:15', 'protocol number 300 is out of range (0–255)'),
    ],
  },
  {
    name: 'ports need tcp or udp',
    text: 'interface eth0 {\n  allow dport 80\n  allow icmp sport 53\n}\n',
    expected: [
      err(
        'port-without-protocol',
        '2:9',
        "'dport' needs 'tcp' or 'udp' in the same rule",
        "ports exist only in TCP and UDP headers: write 'tcp dport …' or 'udp dport …'",
      ),
      err(
        'port-without-protocol',
        '3:14',
        "'sport' needs 'tcp' or 'udp', but this rule matches 'icmp'",
        'ports exist only in TCP and UDP headers',
      ),
    ],
  },
  {
    name: 'two protocols conflict; the same match twice is a duplicate',
    text: 'interface eth0 {\n  allow tcp udp\n  allow tcp dport 80 dport 443\n  allow src 10.0.0.0/8 src 10.1.0.0/16\n  allow tcp tcp\n}\n',
    expected: [
      err(
        'conflicting-protocols',
        '2:13',
        "conflicting protocols: 'udp' here, but 'tcp' earlier in this rule",
        'a packet has one protocol; write one rule per protocol',
      ),
      err(
        'duplicate-match',
        '3:22',
        "'dport' appears twice in this rule (first at column 13)",
        "all of a rule's matches must hold; to accept several values write one list, e.g. dport { A, B }",
      ),
      err(
        'duplicate-match',
        '4:24',
        "'src' appears twice in this rule (first at column 9)",
        "all of a rule's matches must hold; to accept several values write one list, e.g. src { A, B }",
      ),
      err('duplicate-match', '5:13', "'tcp' appears twice in this rule (first at column 9)", 'remove one of them'),
    ],
  },
  {
    name: 'unknown TCP flags and ICMP types are reported with suggestions',
    text:
      'interface eth0 {\n  allow tcp flags sny\n  allow icmp type echo-requst\n  allow icmp type nd-neighbor-solicit\n' +
      '  allow icmpv6 type 300\n}\n',
    expected: [
      err(
        'tcp-flags-unknown',
        '2:19',
        "unknown TCP flag 'sny' (did you mean 'syn'?)",
        'TCP flags are fin, syn, rst, psh, ack, urg, ece, cwr',
      ),
      err(
        'icmp-type-unknown',
        '3:19',
        "unknown ICMP type 'echo-requst' (did you mean 'echo-request'?)",
        'ICMP types: echo-reply, destination-unreachable, source-quench, redirect, echo-request, router-advertisement, router-solicitation, time-exceeded, parameter-problem, timestamp-request, timestamp-reply, info-request, info-reply, address-mask-request, address-mask-reply, or a number 0–255',
      ),
      err(
        'icmp-type-unknown',
        '4:19',
        "unknown ICMP type 'nd-neighbor-solicit'",
        "'nd-neighbor-solicit' is an ICMPv6 type: write 'icmpv6 type nd-neighbor-solicit'",
      ),
      err('icmp-type-unknown', '5:21', 'ICMPv6 type 300 is out of range (0–255)'),
    ],
  },
  {
    name: 'a flag before the slash that is not in the mask can never hold',
    text: 'interface eth0 {\n  allow tcp flags syn / ack\n}\n',
    expected: [
      err(
        'tcp-flags-mask',
        '2:19',
        "TCP flag 'syn' is not in the mask after '/': this match can never hold",
        "'tcp flags A / M' means: of the flags M, exactly A are set; add it to the mask (/ ack,syn)",
      ),
    ],
  },
  {
    name: 'tcp flags none without a mask is refused, since it would hold for every TCP packet',
    text: 'interface eth0 {\n  drop tcp flags none\n  drop tcp flags none / fin,syn,rst,psh,ack,urg\n}\n',
    expected: [
      err(
        'tcp-flags-mask',
        '2:12',
        "'tcp flags none' needs a mask: it would hold for every TCP packet",
        "'tcp flags none / M' means: none of the flags M is set (/ fin,syn,rst,psh,ack,urg for a null scan)",
      ),
    ],
  },
  {
    name: 'rules no packet can match because of address families are errors',
    text:
      'interface eth0 {\n  allow src 10.0.0.0/8 dst 2001:db8::/32\n  allow icmp ip6\n  allow icmpv6 src 10.0.0.0/8\n' +
      '  allow ip4 ip6\n}\n',
    expected: [
      err(
        'family-mismatch',
        '2:24',
        "no packet can match this rule: 'src' is IPv4 only but 'dst' is IPv6 only",
        'a packet is either IPv4 or IPv6: write one rule per family',
      ),
      err(
        'family-mismatch',
        '3:14',
        "no packet can match this rule: 'icmp' is IPv4 only but 'ip6' is IPv6 only",
        "ICMP for IPv6 is 'icmpv6'",
      ),
      err(
        'family-mismatch',
        '4:16',
        "no packet can match this rule: 'icmpv6' is IPv6 only but 'src' is IPv4 only",
        'a packet is either IPv4 or IPv6: write one rule per family',
      ),
      err(
        'family-mismatch',
        '5:13',
        "no packet can match this rule: 'ip4' is IPv4 only but 'ip6' is IPv6 only",
        'a packet is either IPv4 or IPv6: write one rule per family',
      ),
    ],
  },
  {
    name: 'a mixed set matches either family, so it never causes a mismatch',
    text: 'set mixed { 10.0.0.0/8, 2001:db8::/32 }\ninterface eth0 {\n  allow src @mixed dst 2001:db8::/48\n  allow src @mixed icmp\n}\n',
    expected: [],
  },
  {
    name: 'empty sets, empty set files and empty lists are errors',
    text: 'set empty { }\nset none from "none.txt"\ninterface eth0 {\n  allow src @empty\n  allow src @none\n  allow tcp dport { }\n}\n',
    files: { 'none.txt': '# nothing yet\n' },
    expected: [
      err('empty-set', '1:5', "set '@empty' is empty", 'a rule using an empty set matches nothing; add entries or remove the set'),
      err(
        'empty-set',
        '2:5',
        "set '@none' is empty (none.txt has no entries)",
        'a rule using an empty set matches nothing; add entries or remove the set',
      ),
      err('empty-set', '6:19', "'dport { }' is an empty list: the rule could never match", 'add values to the list or remove the match'),
    ],
  },
  {
    name: 'a define of an empty list is an empty set, as an inline one is',
    text: 'define nobody = {}\ninterface eth0 {\n  drop src $nobody\n}\n',
    expected: [
      err(
        'empty-set',
        '1:17',
        "define '$nobody' is an empty list: a rule using it could never match",
        'add values to the list or remove the define',
      ),
    ],
  },
  {
    name: 'a policy without interface blocks gets a warning at its start',
    text: '# only names\ndefine ssh = 22\n',
    expected: [warn('no-interfaces', '1:1', 'test.xdpfw has no interface block: it applies to no interface', "add 'interface NAME { … }'")],
  },
  {
    name: 'an interface without rules gets a warning',
    text: 'interface eth0 {\n  default allow\n}\n',
    expected: [warn('no-rules', '1:11', "interface 'eth0' has no rules: every packet gets the default action (allow)")],
  },
  {
    name: 'rules an earlier rule covers are shadowed, named by name or line',
    text:
      'interface eth0 {\n  allow tcp dport 80 name "web"\n  allow tcp dport 80 src 10.0.0.0/8 name "web-internal"\n' +
      '  drop src 10.0.0.0/8\n  drop src 10.1.0.0/16 udp\n  allow tcp flags syn / syn,ack\n  drop tcp flags syn / syn,ack,fin\n}\n',
    expected: [
      warn(
        'shadowed-rule',
        '3:3',
        'this rule never matches: rule "web" at line 2 (allow tcp dport 80 name "web") matches every packet it matches',
        'remove it, or make it more specific',
      ),
      warn(
        'shadowed-rule',
        '5:3',
        'this rule never matches: the rule at line 4 (drop src 10.0.0.0/8) matches every packet it matches',
        'remove it, or make it more specific',
      ),
      warn(
        'shadowed-rule',
        '7:3',
        'this rule never matches: the rule at line 6 (allow tcp flags syn / syn,ack) matches every packet it matches',
        'if it is an exception to the earlier rule, move it above line 6',
      ),
    ],
  },
  {
    name: 'negation is taken into account when deciding shadowing',
    text:
      'interface eth0 {\n  allow src ! 10.0.0.0/8\n  allow src 192.168.0.0/16\n  allow src 10.1.0.0/16\n' +
      '  allow src ! 10.1.0.0/16\n  drop src ! { 10.0.0.0/8 }\n}\n',
    expected: [
      warn(
        'shadowed-rule',
        '3:3',
        'this rule never matches: the rule at line 2 (allow src ! 10.0.0.0/8) matches every packet it matches',
        'remove it, or make it more specific',
      ),
      warn(
        'shadowed-rule',
        '6:3',
        'this rule never matches: the rule at line 2 (allow src ! 10.0.0.0/8) matches every packet it matches',
        'if it is an exception to the earlier rule, move it above line 2',
      ),
    ],
  },
  {
    name: 'default drop without an ICMPv6 exception drops neighbour discovery',
    text: 'interface eth0 {\n  default drop\n  allow ct state established\n  allow tcp dport 22\n}\n',
    expected: [
      warn(
        'nd-dropped',
        '2:3',
        "IPv6 neighbour discovery (nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert) is dropped by 'default drop' of interface 'eth0': this silently breaks IPv6",
        ND_HINT,
      ),
    ],
  },
  {
    name: 'an earlier drop rule that catches neighbour discovery is named',
    text: 'interface eth0 {\n  drop icmpv6 type nd-neighbor-solicit\n  allow icmpv6\n}\n',
    expected: [
      warn(
        'nd-dropped',
        '2:3',
        'IPv6 neighbour discovery (nd-neighbor-solicit) is dropped by this rule: this silently breaks IPv6',
        ND_HINT,
      ),
    ],
  },
  {
    name: 'allowing ICMPv6 from link-local sources keeps neighbour discovery working',
    text: 'interface eth0 {\n  default drop\n  allow icmpv6 src { fe80::/10, ::/128 }\n  allow ct state established\n}\n',
    expected: [],
  },
  ...CONNTRACK_CASES,
  ...LIMIT_CASES,
  ...LOCKOUT_CASES,
];

describe('compiler diagnostics', () => {
  for (const c of CASES) {
    test(c.name, () => {
      expect(diagnosticsOf(c.text, c.files)).toEqual(c.expected);
    });
  }

  test('more rules than the data plane holds is an error at the first rule too many', () => {
    const rules = Array.from({ length: 4097 }, (_, i) => `  allow tcp dport ${i}`).join('\n');
    const found = diagnosticsOf(`interface eth0 {\n${rules}\n}\n`).filter((d) => d.code === 'too-many-rules');
    expect(found).toEqual([
      err(
        'too-many-rules',
        '4098:3',
        "interface 'eth0' has 4097 rules; at most 4096 are supported (this is rule 4097)",
        'merge rules that differ only in addresses or ports into one rule with a set or a list',
      ),
    ]);
  });

  test('nested defines, a set and a match value past 4,194,304 elements are errors where the limit is first passed, found fast', () => {
    const defines = ['define d0 = { 10.0.0.1, 10.0.0.2 }'];
    for (let n = 1; n <= 25; n++) defines.push(`define d${n} = { $d${n - 1}, $d${n - 1} }`);
    const text = `${defines.join('\n')}\nset s { $d21, $d21 }\ninterface eth0 {\n  drop src { $d21, $d21 }\n  drop src $d25\n}\n`;
    const started = performance.now();
    const found = diagnosticsOf(text);
    expect(performance.now() - started).toBeLessThan(2_000);
    const hint = 'a define or set is copied wherever it is named; name the large part once, or split it';
    expect(found).toEqual([
      err('expansion-limit', '23:8', "define '$d22' expands to 8,388,608 elements, more than the 4,194,304 allowed", hint),
      err('expansion-limit', '27:5', "set '@s' expands to 8,388,608 elements, more than the 4,194,304 allowed", hint),
      err('expansion-limit', '29:12', "'src' expands to 8,388,608 elements, more than the 4,194,304 allowed", hint),
    ]);
  });

  test('a define of 4,194,304 elements is within the limit and compiles to its two addresses', () => {
    const defines = ['define d0 = { 10.0.0.1, 10.0.0.2 }'];
    for (let n = 1; n <= 21; n++) defines.push(`define d${n} = { $d${n - 1}, $d${n - 1} }`);
    const result = compileText(`${defines.join('\n')}\ninterface eth0 {\n  drop src $d21\n}\n`);
    expect(result.diagnostics).toEqual([]);
    expect(result.ir!.interfaces[0]!.rules[0]!.src!.prefixes.size).toBe(2);
  });

  test('every error of every check is reported at once, and nothing is compiled', () => {
    const result = compileText('interface eth0 {\n  allow src @nope dport 80\n  allow tcp dport 99999\n}\n');
    expect(result.diagnostics.map((d) => d.code)).toEqual(['unknown-set', 'port-without-protocol', 'invalid-port']);
    expect(result.ir).toBeUndefined();
    expect(result.compiled).toBeUndefined();
  });

  test('warnings do not stop compilation', () => {
    const result = compileText('interface eth0 {\n  default drop\n  allow tcp\n  allow tcp dport 22\n}\n');
    expect(result.diagnostics.map((d) => d.code)).toEqual(['nd-dropped', 'no-return-traffic', 'shadowed-rule']);
    expect(result.compiled?.interfaces).toHaveLength(1);
  });

  test('every compiler code has a case in this file', () => {
    const covered = new Set(CASES.flatMap((c) => c.expected.map((d) => d.code)));
    covered.add('too-many-rules');
    covered.add('expansion-limit');
    expect(Object.keys(COMPILER_CODES).filter((code) => !covered.has(code))).toEqual([]);
  });
});
