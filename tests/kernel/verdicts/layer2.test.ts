/**
 * Ethernet and VLAN parsing (DESIGN "Packet semantics" 1, 2, 6): up to two
 * tags of either TPID in any order, a third is malformed, a frame cut inside
 * the L2 headers is malformed, and anything that is not IPv4/IPv6 passes
 * uncounted by the rules.
 */
import { ALLOW_ALL, DROP_ALL, PARSING, RULE } from './policies.js';
import { edited, verdictTable, type VerdictCase } from './table.js';

const TCP_80 = 'tcp 198.51.100.1:40000 > 192.0.2.1:80';
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_LLDP = 0x88cc;

const vlans: VerdictCase[] = [
  {
    description: 'an untagged frame is parsed and judged by its rule',
    policy: PARSING,
    packet: TCP_80,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'one 802.1Q tag is skipped',
    policy: PARSING,
    packet: `${TCP_80} vlan 10`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'one 802.1ad tag is skipped',
    policy: PARSING,
    packet: `${TCP_80} svlan 10`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'an 802.1ad tag outside an 802.1Q tag (QinQ) is skipped',
    policy: PARSING,
    packet: `${TCP_80} svlan 100 vlan 10`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
    countsBytes: true,
  },
  {
    description: 'two 802.1Q tags are skipped',
    policy: PARSING,
    packet: `${TCP_80} vlan 1 vlan 2`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'an 802.1Q tag outside an 802.1ad tag is skipped too: the order is free',
    policy: PARSING,
    packet: `${TCP_80} vlan 1 svlan 2`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'an IPv6 packet behind two tags is parsed down to its UDP ports',
    policy: PARSING,
    packet: 'udp [2001:db8::1]:5000 > [2001:db8::2]:53 svlan 7 vlan 8',
    verdict: 'allow',
    matched: RULE.udpDport53,
  },
  {
    description: 'a third VLAN tag is malformed and dropped although a rule allows the packet',
    policy: PARSING,
    packet: `${TCP_80} svlan 1 vlan 2 vlan 3`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a third VLAN tag is malformed even under a policy allowing all IP',
    policy: ALLOW_ALL,
    packet: `${TCP_80} vlan 1 vlan 2 vlan 3`,
    verdict: 'drop',
    matched: 'malformed',
    countsBytes: true,
  },
  {
    description: 'a frame cut inside its VLAN tag is malformed',
    policy: PARSING,
    packet: `${TCP_80} vlan 10 trunc 16`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, as a NIC would.
    description: 'a frame ending right after an IPv4 ethertype is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} trunc 14`,
    verdict: 'drop',
    matched: 'malformed',
  },
];

const nonIp: VerdictCase[] = [
  {
    description: 'an ARP frame is not IP: it passes and is counted as non-ip with its length',
    policy: DROP_ALL,
    packet: edited(TCP_80, (f) => f.set16(f.l3 - 2, ETHERTYPE_ARP).cut(42)),
    verdict: 'allow',
    matched: 'non-ip',
    countsBytes: true,
  },
  {
    description: 'an ARP frame behind a VLAN tag is non-ip too',
    policy: DROP_ALL,
    packet: edited(`${TCP_80} vlan 10`, (f) => f.set16(f.l3 - 2, ETHERTYPE_ARP)),
    verdict: 'allow',
    matched: 'non-ip',
  },
  {
    description: 'an LLDP frame passes as non-ip under a policy dropping everything',
    policy: DROP_ALL,
    packet: edited(TCP_80, (f) => f.set16(f.l3 - 2, ETHERTYPE_LLDP)),
    verdict: 'allow',
    matched: 'non-ip',
  },
];

verdictTable('Ethernet and VLAN parsing in the kernel', [...vlans, ...nonIp]);
