/**
 * TCP flag names and letters, shared by the packet text (`flags SA`,
 * `flags syn,ack`) and the policy language (`tcp flags syn / syn,ack`).
 * Bits are those of the TCP header's 13th byte (XDPFW_TCP_* in bpf/xdpfw.h).
 * Dependency-free on purpose: the compiler imports it too.
 */

export interface TcpFlag {
  readonly name: string;
  readonly letter: string;
  readonly bit: number;
}

/** In bit order, which is also the order letters are printed in: F S R P A U E C. */
export const TCP_FLAGS: readonly TcpFlag[] = Object.freeze([
  { name: 'fin', letter: 'F', bit: 0x01 },
  { name: 'syn', letter: 'S', bit: 0x02 },
  { name: 'rst', letter: 'R', bit: 0x04 },
  { name: 'psh', letter: 'P', bit: 0x08 },
  { name: 'ack', letter: 'A', bit: 0x10 },
  { name: 'urg', letter: 'U', bit: 0x20 },
  { name: 'ece', letter: 'E', bit: 0x40 },
  { name: 'cwr', letter: 'C', bit: 0x80 },
]);

/** The bit of a flag name (`syn`, case-insensitive), or undefined. */
export function tcpFlagByName(name: string): number | undefined {
  const key = name.toLowerCase();
  return TCP_FLAGS.find((flag) => flag.name === key)?.bit;
}

/** The bit of a flag letter (`S`, case-insensitive), or undefined. */
export function tcpFlagByLetter(letter: string): number | undefined {
  const key = letter.toUpperCase();
  return TCP_FLAGS.find((flag) => flag.letter === key)?.bit;
}

/** `0x12` → `SA`; `0` → ``. */
export function tcpFlagLetters(flags: number): string {
  return TCP_FLAGS.filter((flag) => (flags & flag.bit) !== 0)
    .map((flag) => flag.letter)
    .join('');
}

/** `0x12` → `['syn', 'ack']`. */
export function tcpFlagNames(flags: number): string[] {
  return TCP_FLAGS.filter((flag) => (flags & flag.bit) !== 0).map((flag) => flag.name);
}
