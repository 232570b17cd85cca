/**
 * Which rule decides: the first that matches, across bit-vector words; the
 * interface's default when none does. The large policies put the deciding
 * rule in the 2nd, 3rd, 63rd and 64th 64-bit word of the vectors.
 */
import { verdictTable, type VerdictCase } from './table.js';

const FIRST_DROP = `
interface eth0 {
  default drop
  drop  tcp dport 22
  allow tcp
}
`;
const FIRST_ALLOW = `
interface eth0 {
  default drop
  allow tcp
  drop  tcp dport 22
}
`;
const IMPLICIT_DEFAULT = 'interface eth0 {\n  drop udp\n}\n';
const EXPLICIT_ALLOW = 'interface eth0 {\n  default allow\n  drop udp\n}\n';
const ALL_FIELDS = `
interface eth0 {
  default drop
  allow tcp flags syn / syn,ack src 192.0.2.0/24 dst 198.51.100.1 sport 1024-65535 dport 80
}
`;

/** An interface of `default drop` and these rules, one a line. */
const interfaceOf = (rules: string[]) => `interface eth0 {\n  default drop\n${rules.map((r) => `  ${r}\n`).join('')}}\n`;
const times = (n: number, rule: (i: number) => string) => Array.from({ length: n }, (_, i) => rule(i));

/** `allow tcp dport 2000+i` for i < 130, then `allow udp`: rules in three words. */
const RULES_130 = interfaceOf([...times(130, (i) => `allow tcp dport ${2000 + i}`), 'allow udp']);

/** Rules 0–3998 drop one 10.x.y.1 source each; rule 3999 (the 4,000th) allows 192.0.2.7. */
const RULES_4000 = interfaceOf([...times(3999, (i) => `drop src 10.${i >> 8}.${i & 255}.1`), 'allow src 192.0.2.7']);

/** 4,096 rules, the most an interface takes: the last one sits in bit 63 of word 63. */
const RULES_4096 = interfaceOf([...times(4095, (i) => `drop src 10.${i >> 8}.${i & 255}.2`), 'allow tcp src 192.0.2.9 dport 4242']);

const tcp4 = (dport: number, src = '198.51.100.1') => `tcp ${src}:40000 > 192.0.2.1:${dport}`;

const ordering: VerdictCase[] = [
  {
    description: 'an earlier drop rule wins over a later allow rule that also matches',
    policy: FIRST_DROP,
    packet: tcp4(22),
    verdict: 'drop',
    matched: 0,
  },
  {
    description: 'a packet the earlier rule does not match goes on to the next rule',
    policy: FIRST_DROP,
    packet: tcp4(80),
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'an earlier allow rule wins over a later drop rule that also matches',
    policy: FIRST_ALLOW,
    packet: tcp4(22),
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'default drop drops a packet no rule matches and counts it as default',
    policy: FIRST_DROP,
    packet: 'udp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'drop',
    matched: 'default',
    countsBytes: true,
  },
  {
    description: 'an interface without a default statement allows what no rule matches',
    policy: IMPLICIT_DEFAULT,
    packet: tcp4(80),
    verdict: 'allow',
    matched: 'default',
  },
  {
    description: 'default allow allows what no rule matches',
    policy: EXPLICIT_ALLOW,
    packet: tcp4(80),
    verdict: 'allow',
    matched: 'default',
  },
  {
    description: 'a rule still decides under default allow',
    policy: EXPLICIT_ALLOW,
    packet: 'udp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'drop',
    matched: 0,
    countsBytes: true,
  },
  {
    description: 'a rule constraining every field matches when all of them hold',
    policy: ALL_FIELDS,
    packet: 'tcp 192.0.2.200:1024 > 198.51.100.1:80 flags S',
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'a rule constraining every field does not match when one of them (the source) fails',
    policy: ALL_FIELDS,
    packet: 'tcp 192.0.3.1:1024 > 198.51.100.1:80 flags S',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a rule constraining every field does not match when one of them (the flags) fails',
    policy: ALL_FIELDS,
    packet: 'tcp 192.0.2.200:1024 > 198.51.100.1:80 flags SA',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'the first rule of the first word decides in a 130-rule policy',
    policy: RULES_130,
    packet: tcp4(2000),
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'the first rule of the second word decides in a 130-rule policy',
    policy: RULES_130,
    packet: tcp4(2064),
    verdict: 'allow',
    matched: 64,
  },
  {
    description: 'a rule in the third word decides in a 130-rule policy',
    policy: RULES_130,
    packet: tcp4(2129),
    verdict: 'allow',
    matched: 129,
  },
  {
    description: 'the last rule, alone in the third word, decides for a packet only it matches',
    policy: RULES_130,
    packet: 'udp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'allow',
    matched: 130,
  },
  {
    description: 'a 130-rule policy drops by default what none of its rules matches',
    policy: RULES_130,
    packet: tcp4(2130),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'in a 4,000-rule policy a packet matching only rule 4,000 is decided by it',
    policy: RULES_4000,
    packet: tcp4(80, '192.0.2.7'),
    verdict: 'allow',
    matched: 3999,
    countsBytes: true,
  },
  {
    description: 'in a 4,000-rule policy rule 3,999 decides for its own source',
    policy: RULES_4000,
    packet: tcp4(80, '10.15.158.1'),
    verdict: 'drop',
    matched: 3998,
  },
  {
    description: 'in a 4,000-rule policy a source no rule names falls to the default',
    policy: RULES_4000,
    packet: tcp4(80, '10.15.159.1'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'in a 4,096-rule policy the last rule, in the 64th word, decides for a packet only it matches',
    policy: RULES_4096,
    packet: tcp4(4242, '192.0.2.9'),
    verdict: 'allow',
    matched: 4095,
  },
  {
    description: 'in a 4,096-rule policy the last rule does not match a packet failing one of its fields',
    policy: RULES_4096,
    packet: tcp4(4243, '192.0.2.9'),
    verdict: 'drop',
    matched: 'default',
  },
];

verdictTable('rule order and defaults in the kernel', ordering);
