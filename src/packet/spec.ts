/**
 * A packet described by its fields: what `xdpfw test --packet` parses, what
 * tests generate, what src/packet/build.ts turns into an Ethernet frame, and
 * what the reference evaluator judges.
 */

export interface PacketSpec {
  family: 4 | 6;
  /** IP protocol / IPv6 upper-layer next header: 6 tcp, 17 udp, 1 icmp, 58 icmpv6, … */
  protocol: number;
  /** Textual addresses of the spec's family. */
  src: string;
  dst: string;
  /** TCP/UDP only. Default 0. */
  sport?: number;
  dport?: number;
  /** TCP only: the flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80). */
  tcpFlags?: number;
  /** ICMP / ICMPv6 only. */
  icmpType?: number;
  icmpCode?: number;
  /** VLAN tags, outermost first (0–2 are valid; more makes a malformed frame). */
  vlans?: { tpid: 0x8100 | 0x88a8; id: number }[];
  /** IPv4 options bytes (padded to a multiple of 4 by the builder). */
  ipv4Options?: number[];
  /**
   * IPv6 extension headers placed before the L4 header, in order:
   * 0 hop-by-hop, 43 routing, 60 destination options, 44 fragment (use `fragment`), 51 AH.
   */
  ipv6ExtensionHeaders?: number[];
  /**
   * Make the packet an IP fragment. offset is in 8-byte units; offset > 0
   * is a non-first fragment, which carries no L4 header.
   * IPv4: flags/offset in the header; IPv6: a fragment extension header.
   * `id` is the datagram's identification (IPv4 16 bits, IPv6 32); default 0x1234.
   */
  fragment?: { offset: number; moreFragments: boolean; id?: number };
  /** Payload bytes after the L4 header. Default 0. */
  payloadLength?: number;
  /** Cut the frame to this many bytes (to test truncation). */
  truncateTo?: number;
  /** ICMP / ICMPv6 only: bytes 4–5 of the ICMP header, the echo identifier. Default 0. */
  icmpId?: number;
  /**
   * ICMP / ICMPv6 error messages: the datagram that caused the error, of the
   * same family. Its IP header (options, extension headers) and the first 8
   * bytes of its L4 header follow the 8-byte ICMP header, as a router quotes
   * them (then `payloadLength` bytes). Its `truncateTo` counts from its IP
   * header, to quote less; its VLAN tags are ignored.
   */
  icmpInner?: PacketSpec;
  /** The connection state the data plane would find (docs/DESIGN.md, "Connection tracking"); none given is `new`. */
  ctState?: 'new' | 'established' | 'related' | 'invalid';
}

/** The verdict of a packet under a policy, as the kernel or the reference evaluator gives it. */
export interface Verdict {
  /** `reject` drops too, and answers (unless the packet must not be answered, or answers are over their rate). */
  action: 'allow' | 'drop' | 'reject';
  /** Index of the matching rule, or 'default', or 'malformed' / 'non-ip' for packets not judged by rules. */
  matched: number | 'default' | 'malformed' | 'non-ip';
  /** The `audit` rules that would have decided the packet before `matched` did, in order. */
  audited?: number[];
  /** `mode audit`: the drop or reject in `action` was not done; the packet passed. */
  wouldDrop?: true;
}
