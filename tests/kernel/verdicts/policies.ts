/** Policies shared by the parsing tables, with the index of each rule. */

/**
 * Permissive enough that a well-formed packet is allowed by a rule, so a
 * `drop` with matched `malformed` shows the parser refused it, not the policy.
 */
export const PARSING = `
interface eth0 {
  default drop
  allow tcp dport 80
  allow udp dport 53
  allow icmp type echo-request
  allow icmpv6 type echo-request
  allow tcp
  allow udp
  allow proto 47
  allow icmp
}
`;

/** Rule indexes of PARSING. */
export const RULE = {
  tcpDport80: 0,
  udpDport53: 1,
  icmpEcho: 2,
  icmpv6Echo: 3,
  tcp: 4,
  udp: 5,
  gre: 6,
  icmp: 7,
} as const;

/** Allows every IP packet: what it drops, the parser refused. */
export const ALLOW_ALL = 'interface eth0 {\n  default allow\n  allow ip4\n  allow ip6\n}\n';

/** Drops every IP packet: what it passes was never judged by the rules. */
export const DROP_ALL = 'interface eth0 {\n  default drop\n  drop ip4\n  drop ip6\n}\n';
