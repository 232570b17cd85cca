import { describe, expect, it } from 'vitest';
import { ruleRef, splitLocation } from '../../../src/compiler/rule-ref.js';

describe('a rule as JSON outputs name it', () => {
  it('is an object with the location split into file, line and column', () => {
    expect(ruleRef({ index: 3, id: 'ssh-admins', name: 'ssh-admins', location: 'policies/edge.xdpfw:17:3' })).toEqual({
      index: 3,
      id: 'ssh-admins',
      name: 'ssh-admins',
      file: 'policies/edge.xdpfw',
      line: 17,
      col: 3,
    });
  });

  it('has a null name when the rule has none, and keeps colons inside the file name', () => {
    expect(ruleRef({ index: 0, id: 'rule-0123456789ab', location: 'c:/odd:name.xdpfw:2:10' })).toMatchObject({
      name: null,
      file: 'c:/odd:name.xdpfw',
      line: 2,
      col: 10,
    });
  });

  it('refuses a location that is not file:line:col', () => {
    expect(() => splitLocation('policy.xdpfw:12')).toThrow('not a file:line:col location: "policy.xdpfw:12"');
  });
});
