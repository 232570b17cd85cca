/**
 * Frames read back as the data plane's parser reads them: the headers
 * `xdpfw trace` shows, and for a frame the parser refuses the check that
 * failed, each as its message.
 */
import { describe, expect, it } from 'vitest';

import { buildFrame } from '../../../src/packet/build.js';
import { decodeFrame } from '../../../src/packet/decode.js';
import { parsePacket } from '../../../src/packet/describe.js';

const frame = (text: string) => buildFrame(parsePacket(text));

describe('decodeFrame', () => {
  it('reads TCP behind two VLAN tags, UDP after IPv6 extension headers, ICMP, and a non-first fragment', () => {
    expect(decodeFrame(frame('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags SA svlan 7 vlan 100'))).toMatchObject({
      vlans: [
        { tpid: 0x88a8, id: 7 },
        { tpid: 0x8100, id: 100 },
      ],
      family: 4,
      src: '198.51.100.1',
      dst: '192.0.2.1',
      protocol: 6,
      sport: 4242,
      dport: 22,
      tcpFlags: 0x12,
    });
    expect(decodeFrame(frame('udp [2001:db8::1]:53 > [2001:db8::2]:5353 ext hopopts,routing,dstopts'))).toMatchObject({
      family: 6,
      protocol: 17,
      sport: 53,
      dport: 5353,
    });
    expect(decodeFrame(frame('icmpv6 2001:db8::1 > 2001:db8::2 type echo-request'))).toMatchObject({
      protocol: 58,
      icmpType: 128,
      icmpCode: 0,
    });
    const fragment = decodeFrame(frame('udp 10.0.0.1:1 > 10.0.0.2:2 frag 3'));
    expect(fragment).toMatchObject({ fragment: true, protocol: 17 });
    expect(fragment.sport).toBeUndefined();
    expect(decodeFrame(frame('udp [2001:db8::1]:1 > [2001:db8::2]:2 frag 3'))).toMatchObject({ fragment: true, protocol: 17 });
    expect(decodeFrame(frame('tcp 10.0.0.1:1 > 10.0.0.2:2')).malformed).toBeUndefined();
  });

  it.each([
    ['tcp 10.0.0.1:1 > 10.0.0.2:2 trunc 40', 'the datagram is cut short (26 of 40 bytes)'],
    ['udp [2001:db8::1]:1 > [2001:db8::2]:2 trunc 60', 'the datagram is cut short (6 of 8 payload bytes)'],
    ['tcp 10.0.0.1:1 > 10.0.0.2:2 trunc 20', 'an IPv4 header cut short'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 vlan 5 trunc 20', 'an IPv4 header cut short'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 vlan 1 vlan 2 vlan 3', 'a third VLAN tag'],
    [
      'udp [2001:db8::1]:1 > [2001:db8::2]:2 ext hopopts,hopopts,hopopts,hopopts,hopopts,hopopts,hopopts,hopopts,hopopts',
      'more than 8 IPv6 extension headers',
    ],
  ])('says why the parser refuses %s: %s', (text, why) => {
    expect(decodeFrame(frame(text)).malformed).toBe(why);
  });

  it('stops at the captured bytes of a longer frame without calling it malformed', () => {
    const whole = frame('tcp 10.0.0.1:1 > 10.0.0.2:2 len 400');
    const cut = decodeFrame(whole.subarray(0, 30), whole.length);
    expect(cut).toMatchObject({ cut: true, vlans: [] });
    expect(cut.malformed).toBeUndefined();
    expect(decodeFrame(whole.subarray(0, 256), whole.length)).toMatchObject({ sport: 1, dport: 2 });
  });

  it('names a non-IP frame by its ethertype', () => {
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    expect(decodeFrame(arp)).toEqual({ vlans: [], ethertype: 0x0806 });
  });
});
