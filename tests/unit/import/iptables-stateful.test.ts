/**
 * The stateful matches of iptables rules: ipsets (-m set, with the sets read
 * from `ipset save` output), -m limit, -m hashlimit and -m recent, each
 * translated into the policy (goldens that the compiler accepts) or refused
 * with a message saying why.
 */
import { describe, expect, it } from 'vitest';
import { parseIpsetSave } from '../../../src/import/ipset-save.js';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables, type Translation } from '../../../src/import/iptables-translate.js';
import { expectCompiles } from './helpers.js';

const IPSETS = `create blocklist hash:net family inet hashsize 1024 maxelem 65536
add blocklist 203.0.113.0/24
add blocklist 198.51.100.7
create office hash:ip family inet hashsize 1024 maxelem 65536 timeout 300
add office 192.0.2.10 timeout 250
add office 192.0.2.11 timeout 120
create 1st.admins hash:ip family inet netmask 24
add 1st.admins 10.1.2.0
create v6 hash:net family inet6
add v6 2001:db8::/32
create pairs hash:ip,port family inet
add pairs 192.0.2.1,tcp:22
create holes hash:net family inet
add holes 10.0.0.0/8
add holes 10.1.0.0/16 nomatch
create empty hash:ip family inet
`;

function translate(rules: string[], ipsets?: string): Translation {
  const save = parseIptablesSave(['*filter', ':INPUT DROP [0:0]', ':more - [0:0]', ...rules, 'COMMIT', ''].join('\n'));
  expect(save.errors).toEqual([]);
  const sets = ipsets === undefined ? undefined : parseIpsetSave(ipsets, 'sets.save');
  expect(sets?.errors ?? []).toEqual([]);
  return translateIptables(save, { file: 'rules.v4', interfaces: ['eth0'], ...(sets ? { ipsets: sets } : {}) });
}

/** The policy's lines that are not comments, the interface's prologue left out. */
const policyLines = (t: Translation) =>
  t.policy
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .filter((l) => !/^ {2}(default |allow ip6$)/.test(l));

const messages = (t: Translation, kind: 'refusals' | 'warnings') => t[kind].map((d) => `${d.code}: ${d.message}`);

describe('-m set with --ipset', () => {
  const t = translate(
    [
      '-A INPUT -m set --match-set blocklist src -j DROP',
      '-A INPUT -p tcp -m tcp --dport 22 -m set --match-set office src -j ACCEPT',
      '-A INPUT -m set ! --match-set 1st.admins dst -j DROP',
      '-A INPUT -m set --match-set blocklist dst -j REJECT',
    ],
    IPSETS,
  );

  it('declares each used set once, before the interface, and matches it by name (golden)', () => {
    expect(policyLines(t)).toEqual([
      'set blocklist {',
      '  203.0.113.0/24',
      '  198.51.100.7',
      '}',
      'set office {',
      '  192.0.2.10',
      '  192.0.2.11',
      '}',
      'set s_1st_admins {',
      '  10.1.2.0/24',
      '}',
      'interface eth0 {',
      '  drop src @blocklist',
      '  allow tcp dport 22 src @office',
      '  drop dst ! @s_1st_admins',
      '  reject dst @blocklist',
      '}',
    ]);
    expectCompiles(t.policy);
  });

  it('warns of the timeouts it drops and of a renamed set', () => {
    expect(messages(t, 'warnings')).toEqual([
      "import-set-name: line 2: ipset '1st.admins' is named 's_1st_admins' in the policy: '1st.admins' is not a valid xdpfw set name, or is taken",
      "import-set-timeout: line 5: set 'office' (sets.save:4) has timeouts (timeout 300): its 2 entries are translated as a static set, and never expire: '-A INPUT -p tcp -m tcp --dport 22 -m set --match-set office src -j ACCEPT'",
      "import-reject-with: line 7: REJECT's default '--reject-with port-unreachable' is not kept (nor any other answer of this dump that differs): xdpfw's reject answers TCP with a RST and anything else with ICMP administratively prohibited",
    ]);
    expect(t.refusals).toEqual([]);
  });

  it('conjoins a set with an address of a jump as the prefixes in both', () => {
    const j = translate(['-A INPUT -s 203.0.113.0/25 -j more', '-A more -m set --match-set blocklist src -j DROP'], IPSETS);
    expect(policyLines(j).at(-2)).toBe('  drop src 203.0.113.0/25');
  });

  it('refuses what a static set cannot say, naming the set and what to do', () => {
    const refused = translate(
      [
        '-A INPUT -m set --match-set pairs src,dst -j DROP',
        '-A INPUT -m set --match-set pairs src -j DROP',
        '-A INPUT -m set --match-set nosuch src -j DROP',
        '-A INPUT -m set --match-set v6 src -j DROP',
        '-A INPUT -m set --match-set holes src -j DROP',
        '-A INPUT -m set --match-set empty src -j DROP',
      ],
      IPSETS,
    );
    expect(messages(refused, 'refusals')).toEqual([
      "import-set: line 4: '--match-set pairs src,dst': set 'pairs' is matched by 'src,dst'; xdpfw matches one address against a set (src or dst): '-A INPUT -m set --match-set pairs src,dst -j DROP'",
      "import-set: line 5: '--match-set pairs src': set 'pairs' (sets.save:11) is of type hash:ip,port; xdpfw translates hash:ip and hash:net sets (write the others' addresses as a set by hand): '-A INPUT -m set --match-set pairs src -j DROP'",
      "import-set: line 6: '--match-set nosuch src': sets.save has no set 'nosuch' (was it saved with the dump?): '-A INPUT -m set --match-set nosuch src -j DROP'",
      "import-set: line 7: '--match-set v6 src': set 'v6' (sets.save:9) holds IPv6 addresses and the dump's rules judge IPv4 packets: the match never holds: '-A INPUT -m set --match-set v6 src -j DROP'",
      "import-set: line 8: '--match-set holes src': set 'holes' (sets.save:13): entry '10.1.0.0/16' of line 15 is nomatch (an exception inside a larger entry), which a static set cannot hold: '-A INPUT -m set --match-set holes src -j DROP'",
      "import-set: line 9: '--match-set empty src': set 'empty' (sets.save:16) has no entries: the match never holds, and xdpfw refuses an empty set; remove the rule: '-A INPUT -m set --match-set empty src -j DROP'",
    ]);
    expect(messages(translate(['-A INPUT -m set --match-set blocklist src -j DROP']), 'refusals')).toEqual([
      "import-set: line 4: '--match-set blocklist src': no ipset file: give the sets with --ipset FILE (the output of 'ipset save'): '-A INPUT -m set --match-set blocklist src -j DROP'",
    ]);
  });
});

describe('reading ipset save output', () => {
  it('reads sets, entries and their options, a quoted comment whole', () => {
    const save = parseIpsetSave('create s hash:ip family inet comment\nadd s 192.0.2.1 comment "a b" timeout 5\n', 'f');
    expect(save.errors).toEqual([]);
    expect(save.sets.get('s')).toMatchObject({ type: 'hash:ip', line: 1, entries: [{ text: '192.0.2.1', line: 2, column: 7 }] });
    expect([...save.sets.get('s')!.entries[0].options]).toEqual([
      ['comment', 'a b'],
      ['timeout', '5'],
    ]);
  });

  it('locates every malformed line', () => {
    const save = parseIpsetSave(
      'flush s\ncreate\ncreate s\nadd t 1.2.3.4\ncreate s hash:ip timeout\ncreate s hash:ip\ncreate s hash:net\nadd s "1.2.3.4\n',
      'sets.save',
    );
    expect(save.errors.map((e) => `${e.line}:${e.column} ${e.code} ${e.message}`)).toEqual([
      "1:1 import-ipset-syntax line 1: 'flush': expected 'create NAME TYPE \u2026' or 'add NAME ENTRY \u2026'",
      "2:7 import-ipset-syntax line 2: 'create' needs a set name",
      "3:9 import-ipset-syntax line 3: 'create s' needs a type (hash:ip, hash:net, \u2026)",
      "4:5 import-ipset-syntax line 4: 'add t': no 'create t' before it",
      "5:18 import-ipset-syntax line 5: option 'timeout' needs a value",
      "7:8 import-ipset-syntax line 7: set 's' is created twice (first on line 6)",
      '8:7 import-ipset-syntax line 8: a quote is not closed',
    ]);
  });
});

describe('-m limit and -m hashlimit', () => {
  it('become limit rate … burst B, per src/LEN for a hashlimit by address (golden)', () => {
    const t = translate([
      '-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m limit --limit 3/min --limit-burst 10 -j ACCEPT',
      '-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 48/day -j ACCEPT',
      '-A INPUT -p tcp -m hashlimit --hashlimit-above 200/sec --hashlimit-burst 400 --hashlimit-mode srcip --hashlimit-srcmask 24 --hashlimit-name syn -j DROP',
      '-A INPUT -s 10.0.0.0/8 -m hashlimit --hashlimit-upto 10/s --hashlimit-mode dstip --hashlimit-name d -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 5/hour --hashlimit-name all -j ACCEPT',
    ]);
    expect(policyLines(t)).toEqual([
      'interface eth0 {',
      '  allow tcp dport 22 ct state new limit rate 3/minute burst 10',
      '  allow icmp type echo-request limit rate 2/hour burst 5',
      '  drop tcp ip4 limit rate over 200/second burst 400 per src/24',
      '  allow src 10.0.0.0/8 limit rate 10/second burst 5 per dst',
      '  allow limit rate 5/hour burst 5',
      '}',
    ]);
    expect(t.refusals).toEqual([]);
    expectCompiles(t.policy);
  });

  it('warns of a rate the kernel rounds, and of hashlimit tables that forget sooner or options not kept', () => {
    const t = translate([
      '-A INPUT -m limit --limit 7/sec -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 3/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name a -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 100/sec --hashlimit-mode srcip --hashlimit-name b --hashlimit-htable-size 4096 -j ACCEPT',
    ]);
    expect(messages(t, 'warnings')).toEqual([
      "import-limit-rate: line 4: '-m limit' 7/sec: the kernel keeps it as 7.003721/second (an interval of 1428 \u00d7 1/10,000 s, credits per jiffy, with HZ 250 or 1000), xdpfw as 7/second: '-A INPUT -m limit --limit 7/sec -j ACCEPT'",
      "import-hashlimit-table: line 5: '-m hashlimit': its table forgets a source idle 60 s, which then gets a full burst, where xdpfw's bucket takes 100 s to refill: '-A INPUT -m hashlimit --hashlimit-upto 3/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name a -j ACCEPT'",
      "import-hashlimit-table: line 6: '-m hashlimit': '--hashlimit-htable-size 4096' not kept (xdpfw's buckets live in one table, limits { size N }): '-A INPUT -m hashlimit --hashlimit-upto 100/sec --hashlimit-mode srcip --hashlimit-name b --hashlimit-htable-size 4096 -j ACCEPT'",
    ]);
  });

  it('refuses a per-day rate, port modes, a limit before other matches, a limit on a jump, and a shared table', () => {
    const t = translate([
      '-A INPUT -m limit --limit 5/day -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip,dstport --hashlimit-name p -j ACCEPT',
      '-A INPUT -m limit --limit 5/sec -p tcp -m tcp --dport 22 -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 1kb/s --hashlimit-name b -j ACCEPT',
      '-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-name shared -j ACCEPT',
      '-A INPUT -p udp -m hashlimit --hashlimit-upto 9/sec --hashlimit-name shared -j ACCEPT',
      '-A INPUT -p tcp -m limit --limit 5/sec -j more',
      '-A more -p tcp -m tcp --dport 80 -j ACCEPT',
    ]);
    expect(messages(t, 'refusals')).toEqual([
      "import-limit: line 4: '-m limit': 5/day is not a whole number an hour, and xdpfw's units are second, minute and hour: '-A INPUT -m limit --limit 5/day -j ACCEPT'",
      "import-limit: line 5: '-m hashlimit': --hashlimit-mode srcip,dstport keeps a bucket per srcip and dstport; xdpfw keeps one per source or destination prefix (srcip or dstip): '-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-mode srcip,dstport --hashlimit-name p -j ACCEPT'",
      "import-limit: line 6: '-m limit' has matches after it: iptables takes a token before testing them, xdpfw only once they hold; move it last: '-A INPUT -m limit --limit 5/sec -p tcp -m tcp --dport 22 -j ACCEPT'",
      "import-limit: line 7: '-m hashlimit' has the rate '1kb/s', which xdpfw cannot read (a byte rate?): '-A INPUT -m hashlimit --hashlimit-upto 1kb/s --hashlimit-name b -j ACCEPT'",
      "import-limit: line 8: hashlimit table 'shared' is shared by the rules of lines 8 and 9, and xdpfw's rules keep their own buckets: '-A INPUT -m hashlimit --hashlimit-upto 5/sec --hashlimit-name shared -j ACCEPT'",
      "import-limit: line 9: hashlimit table 'shared' is shared by the rules of lines 8 and 9, and xdpfw's rules keep their own buckets: '-A INPUT -p udp -m hashlimit --hashlimit-upto 9/sec --hashlimit-name shared -j ACCEPT'",
      "import-conjunction: line 11: the jump's limit takes a token before the chain's rules are tried; inlined, each rule would keep its own bucket and take from it after its own matches, reached from line 10: '-A more -p tcp -m tcp --dport 80 -j ACCEPT'",
    ]);
  });

  it('warns, once, that a limit without an interface becomes a bucket per interface block', () => {
    const rules = ['-A INPUT -p icmp -m limit --limit 5/sec -j ACCEPT', '-A INPUT -p udp -m limit --limit 9/sec -j ACCEPT'];
    const dump = parseIptablesSave(['*filter', ':INPUT DROP [0:0]', ...rules, 'COMMIT', ''].join('\n'));
    const two = translateIptables(dump, { file: 'rules.v4', interfaces: ['eth0', 'eth1'] });
    expect(messages(two, 'warnings').filter((m) => m.startsWith('import-limit-interfaces'))).toEqual([
      "import-limit-interfaces: line 3: a limit without an interface is one bucket for all of them in the source, and one per interface block in the policy ('eth0', 'eth1'): together they let up to 2 times the rate through: '-A INPUT -p icmp -m limit --limit 5/sec -j ACCEPT'",
    ]);
    const one = translateIptables(dump, { file: 'rules.v4', interfaces: ['eth0'] });
    expect(one.warnings.map((d) => d.code)).not.toContain('import-limit-interfaces');
  });

  it('refuses a limit rule inlined from two jumps, which would keep two buckets', () => {
    const t = translate(['-A INPUT -p tcp -j more', '-A INPUT -p udp -j more', '-A more -m limit --limit 1/sec -j ACCEPT']);
    expect(messages(t, 'refusals')).toEqual([
      "import-limit: line 6: the rule's chain is reached from 2 jumps, and each inlined copy would keep its own bucket: '-A more -m limit --limit 1/sec -j ACCEPT'",
    ]);
  });
});

describe('-m recent', () => {
  it('turns a list checked with --seconds and filled by deciding --set rules into a dynamic set with bans (golden)', () => {
    const t = translate([
      '-A INPUT -m recent --rcheck --seconds 60 --name BL --rsource -j DROP',
      '-A INPUT -p tcp -m tcp --dport 23 -m recent --set --name BL --rsource -j DROP',
      '-A INPUT -p tcp -m tcp --dport 22 -m recent ! --rcheck --seconds 60 --name BL -j ACCEPT',
      '-A INPUT -p udp -m recent --set --name unread -j DROP',
    ]);
    expect(policyLines(t)).toEqual([
      'set BL dynamic timeout 60s',
      'interface eth0 {',
      '  drop src @BL',
      '  drop tcp dport 23 ban @BL',
      '  allow tcp dport 22 src ! @BL',
      '  drop udp',
      '}',
    ]);
    expect(t.refusals).toEqual([]);
    expect(messages(t, 'warnings')).toEqual([
      "import-recent-timing: line 5: recent list 'BL' becomes a dynamic set with timeout 60s, and --set a ban: iptables stamps the source at every --set, " +
        'xdpfw refreshes a ban only when it gains more than a second (so an entry may end up to 1 s sooner); xt_recent forgets its oldest address ' +
        "when the list is full (ip_list_tot, 200 by default), the set refuses new ones (size 65,536): '-A INPUT -p tcp -m tcp --dport 23 -m recent --set --name BL --rsource -j DROP'",
    ]);
    expectCompiles(t.policy);
  });

  it('refuses hit counts, --update, --remove, a check without --seconds, disagreeing --seconds and --set that decides nothing', () => {
    const t = translate([
      '-A INPUT -p tcp -m tcp --dport 22 -m recent --set --name SSH',
      '-A INPUT -p tcp -m recent --update --seconds 60 --hitcount 4 --name SSH -j DROP',
      '-A INPUT -m recent --remove --name SSH -j ACCEPT',
      '-A INPUT -m recent --rcheck --name A -j DROP',
      '-A INPUT -m recent --rcheck --seconds 30 --name B -j DROP',
      '-A INPUT -m recent --rcheck --seconds 90 --name B -j DROP',
      '-A INPUT -m recent --set --name B -j more',
      '-A INPUT -m recent --set --name B -p tcp -m tcp --dport 1 -j DROP',
      '-A INPUT -m recent --set --rdest --name B -j DROP',
      '-A more -j ACCEPT',
    ]);
    expect(messages(t, 'refusals')).toEqual([
      "import-recent: line 4: -m recent on a rule without a target: xdpfw bans only when a rule decides: '-A INPUT -p tcp -m tcp --dport 22 -m recent --set --name SSH'",
      "import-recent: line 5: '--update': it refreshes the entry on every packet it matches; translate it as a dynamic-set match with a ban by hand: '-A INPUT -p tcp -m recent --update --seconds 60 --hitcount 4 --name SSH -j DROP'",
      "import-recent: line 5: '--hitcount 4': it counts the packets within --seconds (a sliding window of the last 20); xdpfw's nearest is 'limit rate over N/UNIT per src ban @SET', a token bucket, not a window: '-A INPUT -p tcp -m recent --update --seconds 60 --hitcount 4 --name SSH -j DROP'",
      "import-recent: line 6: '--remove': xdpfw rules cannot delete a dynamic set entry: '-A INPUT -m recent --remove --name SSH -j ACCEPT'",
      "import-recent: line 7: '--rcheck': without --seconds its entries never expire, and xdpfw's bans last a duration: '-A INPUT -m recent --rcheck --name A -j DROP'",
      "import-recent: line 9: list 'B' is checked with --seconds 90 here and 30 on line 8; a dynamic set has one timeout: '-A INPUT -m recent --rcheck --seconds 90 --name B -j DROP'",
      "import-recent: line 10: --set on a rule that does not decide: an xdpfw ban goes with a rule's verdict: '-A INPUT -m recent --set --name B -j more'",
      "import-recent: line 11: '-m recent' has matches after it: iptables adds the source before testing them, xdpfw only once they hold; move it last: '-A INPUT -m recent --set --name B -p tcp -m tcp --dport 1 -j DROP'",
      "import-recent: line 12: '--set': a ban adds the source address, not the destination: '-A INPUT -m recent --set --rdest --name B -j DROP'",
    ]);
  });
});
