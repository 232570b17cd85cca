import { icmpTypeByName } from '../../src/packet/icmp-names.js';
import { tcpFlagByName } from '../../src/packet/tcp-flags.js';

export function icmpTypeNumber(protocol: 'icmp' | 'icmpv6', name: string): number {
  const type = icmpTypeByName(protocol === 'icmp' ? 4 : 6, name);
  if (type === undefined) throw new Error(`unknown ${protocol} type ${name}`);
  return type;
}

export function tcpFlagBit(name: string): number {
  const bit = tcpFlagByName(name);
  if (bit === undefined) throw new Error(`unknown tcp flag ${name}`);
  return bit;
}
