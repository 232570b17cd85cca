import { describe, expect, it } from 'vitest';

import { parseTimeout } from '../../../src/app/dynamic-sets.js';
import { UserError } from '../../../src/app/user-error.js';
import { describeTail } from '../../../src/cli/commands/compile.js';
import { addedBy, renderSet, timeLeft } from '../../../src/cli/commands/set.js';
import { renderSets } from '../../../src/cli/commands/stats.js';

const rule = { interface: 'eth0', text: 'drop udp dport 53 limit rate over 10/second ban @banned', index: 2, id: 'rule-0123456789ab' };
const at = { file: 'edge.xdpfw', line: 7, col: 3 };

describe('set command formatting', () => {
  it('parseTimeout takes durations as the language writes them', () => {
    expect(parseTimeout('30s')).toBe(30);
    expect(parseTimeout('10m')).toBe(600);
    expect(parseTimeout('2d')).toBe(172800);
    expect(parseTimeout('45')).toBe(45);
  });

  it.each([
    ['0s', "--timeout: '0s' is zero: a duration is at least 1s"],
    ['5w', "--timeout: '5w' has an unknown unit 'w'"],
    ['31d', "--timeout: '31d' is longer than 30d"],
    ['-1s', "--timeout: '-1s' is not a duration"],
  ])('parseTimeout refuses %s with bad-timeout', (text, message) => {
    const error = (() => {
      try {
        parseTimeout(text);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect(error).toMatchObject({ code: 'bad-timeout', exitCode: 2, message });
  });

  it('timeLeft rounds up to whole seconds and says never for no deadline', () => {
    expect(timeLeft(null)).toBe('never');
    expect(timeLeft(0.2)).toBe('1s');
    expect(timeLeft(599.4)).toBe('10m 0s');
    expect(timeLeft(7261)).toBe('2h 1m');
    expect(timeLeft(90000)).toBe('1d 1h');
  });

  it('names who added an entry: the user, the rule with its place, or a rule gone', () => {
    expect(addedBy({ prefix: '192.0.2.1/32', secondsLeft: null, origin: 0, addedBy: 'user', rule: null })).toBe('xdpfw set add');
    const byRule = { prefix: '192.0.2.0/24', secondsLeft: 5, origin: 7, addedBy: 'rule' as const, rule: { ...rule, name: null, ...at } };
    expect(addedBy(byRule)).toBe(`eth0: ${rule.text} (edge.xdpfw:7)`);
    expect(addedBy({ ...byRule, rule: { ...byRule.rule, name: 'dns-flood' } })).toBe('eth0: dns-flood (edge.xdpfw:7)');
    expect(addedBy({ ...byRule, origin: 0xab, addedBy: 'unknown-rule', rule: null })).toBe('a rule no longer in force (origin 000000ab)');
  });

  it('renderSet lists one entry a line and a summary', () => {
    const text = renderSet({
      set: 'banned',
      size: 65536,
      timeout: 600,
      interfaces: ['eth0', 'eth1'],
      entries: [{ prefix: '2001:db8::/48', secondsLeft: null, origin: 0, addedBy: 'user', rule: null }],
    });
    expect(text).toBe('2001:db8::/48       never     xdpfw set add\nbanned: 1 of 65,536 entries (timeout 10m; used by eth0, eth1)');
  });

  it('renderSets gives each set its live entries against its size', () => {
    expect(renderSets([{ name: 'banned', size: 1024, timeout: null, entries: 3, interfaces: ['eth0'] }])).toBe(
      'dynamic set banned: 3 of 1,024 entries live (used by eth0)',
    );
  });

  it('describeTail gives the set matches, the limit with its bucket, and the ban, in the order they run', () => {
    const sets = [
      { name: 'allowed', timeout: null, size: 10 },
      { name: 'banned', timeout: 600, size: 10 },
    ];
    const tail = {
      srcSet: { set: 0, negated: true },
      dstSet: null,
      limit: {
        id: 0xdeadbeef,
        over: true,
        rate: 10,
        unit: 'second' as const,
        burst: 20,
        costNs: 100_000_000n,
        capacityNs: 2_000_000_000n,
        per: { field: 'src' as const, length4: 24, length6: 64 },
      },
      ban: { set: 1, seconds: 300, origin: 0xdeadbeef },
    };
    expect(describeTail(tail, sets)).toBe(
      'src not in @allowed; limit over 10/second burst 20 per src/24/64 [bucket deadbeef]; ban into @banned for 5m',
    );
    expect(describeTail({ ...tail, srcSet: null, ban: null, limit: { ...tail.limit, over: false, per: null } }, sets)).toBe(
      'limit 10/second burst 20 (one bucket) [bucket deadbeef]',
    );
  });
});
