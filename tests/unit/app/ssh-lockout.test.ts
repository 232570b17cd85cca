import { describe, expect, it } from 'vitest';
import { refuseSessionLockout } from '../../../src/app/ssh-lockout.js';
import { compileText } from '../compiler/helpers.js';

const interfacesOf = (text: string) => compileText(text).ir!.interfaces;
const POLICY = 'interface eth0 {\n  allow icmpv6\n  drop ct state invalid\n  allow tcp dport 22 src 2001:db8::/64\n  default drop\n}\n';

describe('apply over SSH', () => {
  it('an IPv6 session the policy allows passes, a connection state it drops in other states notwithstanding', () => {
    expect(refuseSessionLockout(interfacesOf(POLICY), '2001:db8::7 50022 2001:db8::1 22')).toBeUndefined();
  });

  it('a session the policy drops is a lockout error naming the interface, the default and the packet', () => {
    expect(() => refuseSessionLockout(interfacesOf(POLICY), '2001:db8:1::7 50022 2001:db8::1 22')).toThrow(
      "this policy would cut the SSH session apply runs in (tcp [2001:db8:1::7]:50022 > [2001:db8::1]:22): on interface 'eth0', " +
        "'default drop' at test.xdpfw:5:3 drops: tcp [2001:db8:1::7]:50022 > [2001:db8::1]:22 flags A ct established; nothing was applied",
    );
  });

  it('an SSH_CONNECTION not of the four fields is a note that the session was not checked', () => {
    expect(refuseSessionLockout(interfacesOf(POLICY), '2001:db8::7 50022')).toBe(
      "SSH_CONNECTION '2001:db8::7 50022' is not 'client_ip client_port server_ip server_port': the SSH session was not checked",
    );
    expect(refuseSessionLockout(interfacesOf(POLICY), undefined)).toBeUndefined();
  });
});
