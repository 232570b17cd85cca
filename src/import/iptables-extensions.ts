/**
 * What the reader knows of iptables' match and target extensions: how many
 * arguments each option takes, as their getopt tables and parsers in
 * iptables' extensions/ folder consume them (`--tcp-flags` and `--match-set`
 * read a second argument themselves). An option not listed here, or a
 * module not listed, is kept verbatim with the arguments that follow it up
 * to the next option; the translator decides what it means.
 */

/** Option name (without the leading `--`) → number of arguments. */
export type OptionArity = Readonly<Record<string, number>>;

const PORTS = { sport: 1, 'source-port': 1, dport: 1, 'destination-port': 1 };

export const MATCH_OPTIONS: Readonly<Record<string, OptionArity>> = {
  tcp: { ...PORTS, 'tcp-flags': 2, syn: 0, 'tcp-option': 1 },
  udp: PORTS,
  udplite: PORTS,
  sctp: { ...PORTS, 'chunk-types': 2 },
  dccp: { ...PORTS, 'dccp-types': 1, 'dccp-option': 1 },
  icmp: { 'icmp-type': 1 },
  icmp6: { 'icmpv6-type': 1 },
  multiport: { ports: 1, sports: 1, dports: 1, 'source-ports': 1, 'destination-ports': 1 },
  conntrack: Object.fromEntries(
    ['ctstate', 'ctproto', 'ctorigsrc', 'ctorigdst', 'ctreplsrc', 'ctrepldst', 'ctorigsrcport', 'ctorigdstport']
      .concat(['ctreplsrcport', 'ctrepldstport', 'ctstatus', 'ctexpire', 'ctdir'])
      .map((name) => [name, 1]),
  ),
  state: { state: 1 },
  comment: { comment: 1 },
  limit: { limit: 1, 'limit-burst': 1 },
  hashlimit: Object.fromEntries(
    ['upto', 'above', 'burst', 'mode', 'srcmask', 'dstmask', 'name', 'htable-size', 'htable-max', 'htable-expire', 'htable-gcinterval'].map(
      (name) => [`hashlimit-${name}`, 1],
    ),
  ),
  connlimit: { 'connlimit-upto': 1, 'connlimit-above': 1, 'connlimit-mask': 1, 'connlimit-saddr': 0, 'connlimit-daddr': 0 },
  set: { 'match-set': 2, 'return-nomatch': 0, 'update-counters': 0, 'update-subcounters': 0 },
  addrtype: { 'src-type': 1, 'dst-type': 1, 'limit-iface-in': 0, 'limit-iface-out': 0 },
  mark: { mark: 1 },
  connmark: { mark: 1 },
  recent: { name: 1, set: 0, rcheck: 0, update: 0, remove: 0, seconds: 1, reap: 0, hitcount: 1, rttl: 0, rsource: 0, rdest: 0, mask: 1 },
  iprange: { 'src-range': 1, 'dst-range': 1 },
  mac: { 'mac-source': 1 },
  owner: { 'uid-owner': 1, 'gid-owner': 1, 'socket-exists': 0, 'suppl-groups': 0 },
  physdev: { 'physdev-in': 1, 'physdev-out': 1, 'physdev-is-in': 0, 'physdev-is-out': 0, 'physdev-is-bridged': 0 },
  pkttype: { 'pkt-type': 1 },
  length: { length: 1 },
  ttl: { 'ttl-eq': 1, 'ttl-gt': 1, 'ttl-lt': 1 },
  hl: { 'hl-eq': 1, 'hl-gt': 1, 'hl-lt': 1 },
  string: { algo: 1, string: 1, 'hex-string': 1, from: 1, to: 1, icase: 0 },
  u32: { u32: 1 },
};

export const TARGET_OPTIONS: Readonly<Record<string, OptionArity>> = {
  ACCEPT: {},
  DROP: {},
  RETURN: {},
  QUEUE: {},
  NOTRACK: {},
  REJECT: { 'reject-with': 1 },
  LOG: {
    'log-level': 1,
    'log-prefix': 1,
    'log-tcp-sequence': 0,
    'log-tcp-options': 0,
    'log-ip-options': 0,
    'log-uid': 0,
    'log-macdecode': 0,
  },
  NFLOG: { 'nflog-group': 1, 'nflog-prefix': 1, 'nflog-range': 1, 'nflog-size': 1, 'nflog-threshold': 1 },
  DNAT: { 'to-destination': 1, random: 0, persistent: 0 },
  SNAT: { 'to-source': 1, random: 0, 'random-fully': 0, persistent: 0 },
  MASQUERADE: { 'to-ports': 1, random: 0, 'random-fully': 0 },
  REDIRECT: { 'to-ports': 1, random: 0 },
  MARK: { 'set-mark': 1, 'set-xmark': 1, 'and-mark': 1, 'or-mark': 1, 'xor-mark': 1 },
  CONNMARK: { 'set-mark': 1, 'set-xmark': 1, 'save-mark': 0, 'restore-mark': 0, nfmask: 1, ctmask: 1, mask: 1 },
  CT: { notrack: 0, zone: 1, helper: 1, ctevents: 1, expevents: 1, timeout: 1 },
  TCPMSS: { 'set-mss': 1, 'clamp-mss-to-pmtu': 0 },
  NFQUEUE: { 'queue-num': 1, 'queue-balance': 1, 'queue-bypass': 0, 'queue-cpu-fanout': 0 },
  SET: { 'add-set': 2, 'del-set': 2, timeout: 1, exist: 0 },
};

/**
 * The match iptables loads by itself for an option it does not know when the
 * rule names a protocol (`-p tcp --dport 22` loads `tcp`): by name or number,
 * and ip6tables' names for ICMPv6.
 */
const IMPLICIT_BY_PROTOCOL: Readonly<Record<string, string>> = {
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  udplite: 'udplite',
  '136': 'udplite',
  sctp: 'sctp',
  '132': 'sctp',
  dccp: 'dccp',
  '33': 'dccp',
  icmp: 'icmp',
  '1': 'icmp',
  icmpv6: 'icmp6',
  'ipv6-icmp': 'icmp6',
  '58': 'icmp6',
};

export function implicitProtocolModule(protocol: string): string | undefined {
  return IMPLICIT_BY_PROTOCOL[protocol.toLowerCase()];
}
