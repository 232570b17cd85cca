/**
 * The cases of checks.test.ts for rate limits, bans, dynamic sets and the
 * `limits` block: every message of their codes, located, with its hint.
 */
import { err, warn, type Found } from './helpers.js';

const DURATION = 'a duration is a number with a unit: s, m, h or d (30s, 10m, 6h, 2d), or plain seconds';
const BANNED = 'set banned dynamic timeout 10m\n';
const ALONE_HINT = "name it alone in a match, as in 'src @banned'; a rule may add other conditions ('src 10.0.0.0/8 src @banned')";

const manyRules = (n: number, rule: (i: number) => string) => Array.from({ length: n }, (_, i) => `  ${rule(i)}`).join('\n');

export const LIMIT_CASES: { name: string; text: string; files?: Record<string, string>; expected: Found[] }[] = [
  {
    name: 'a limit without a rate, or with a rate of 0 or past a billion, is refused where the rate is (or should be)',
    text: 'interface eth0 {\n  allow limit burst 5\n  allow limit rate 0/second\n  allow limit rate 1000000001/hour\n}\n',
    expected: [
      err('limit-rate', '2:9', "'limit' needs a rate", "write it first, as in 'limit rate 10/second burst 5'"),
      err('limit-rate', '3:20', 'a rate of 0 never has a token', "to match every packet, leave 'limit' out; the rate is at least 1"),
      err(
        'limit-rate',
        '4:20',
        'rate 1000000001 is out of range (1 … 1,000,000,000 a unit)',
        'a packet costs at least one nanosecond of tokens',
      ),
    ],
  },
  {
    name: 'a rate unit other than second, minute or hour is named with the closest unit',
    text: 'interface eth0 {\n  allow limit rate 10/fortnight\n  allow limit rate 10/seconds\n}\n',
    expected: [
      err('limit-unit', '2:23', "unknown rate unit 'fortnight'", 'rate units: second, minute, hour (as in 10/second)'),
      err(
        'limit-unit',
        '3:23',
        "unknown rate unit 'seconds' (did you mean 'second'?)",
        'rate units: second, minute, hour (as in 10/second)',
      ),
    ],
  },
  {
    name: 'a burst of 0 or past a million packets is refused',
    text: 'interface eth0 {\n  allow limit rate 1/second burst 0\n  allow limit rate 1/second burst 1000001 packets\n}\n',
    expected: [
      err(
        'limit-burst',
        '2:35',
        'burst 0 is out of range (1 … 1,000,000 packets)',
        'burst is how many packets pass at once after a quiet spell (default 5)',
      ),
      err(
        'limit-burst',
        '3:35',
        'burst 1000001 is out of range (1 … 1,000,000 packets)',
        'burst is how many packets pass at once after a quiet spell (default 5)',
      ),
    ],
  },
  {
    name: "per's lengths: one on a rule of both families, beyond the family, or three, are refused",
    text:
      'interface eth0 {\n  allow limit rate 1/second per src/24\n  allow ip4 limit rate 1/second per src/33\n' +
      '  allow limit rate 1/second per dst/24/129\n  allow limit rate 1/second per src/24/64/8\n  allow ip6 limit rate 1/second per src/64\n}\n',
    expected: [
      err(
        'limit-per',
        '2:29',
        "'per src/24' gives one prefix length, but the rule matches IPv4 and IPv6",
        "give a length for each, as in 'per src/24/64', or restrict the rule with 'ip4' or 'ip6'",
      ),
      err('limit-per', '3:41', "'per src/33': an IPv4 prefix is at most /32", 'the length is of IPv4 addresses here'),
      err('limit-per', '4:40', "'per dst/24/129': an IPv6 prefix is at most /128", 'the length is of IPv6 addresses here'),
      err('limit-per', '5:43', "'per src/24/64/8' has 3 lengths; at most two (IPv4, then IPv6)", "as in 'per src/24/64'"),
    ],
  },
  {
    name: 'two limits in one rule are a duplicate match, as are two dynamic sets on one field',
    text: `${BANNED}set other dynamic\ninterface eth0 {\n  allow limit rate 1/second limit rate 2/second\n  drop src @banned src @other\n  drop src 10.0.0.0/8 src @banned\n}\n`,
    expected: [
      err('duplicate-match', '4:29', "'limit' appears twice in this rule (first at column 9)", 'remove one of them'),
      err(
        'duplicate-match',
        '5:20',
        "'src @<dynamic set>' appears twice in this rule (first at column 8)",
        'a rule checks one dynamic set per field: write one rule for each set',
      ),
    ],
  },
  {
    name: 'ban into a static set points at its declaration; into an unknown set is unknown-set',
    text: 'set blocklist { 192.0.2.0/24 }\ninterface eth0 {\n  drop limit rate over 1/second ban @blocklist 1h\n  drop limit rate over 1/second ban @nope 1h\n}\n',
    expected: [
      err(
        'ban-set',
        '3:37',
        "'ban' adds to a dynamic set, but '@blocklist' is a static set (test.xdpfw:1:5)",
        'declare one for bans: set blocklist-bans dynamic timeout 10m',
      ),
      err('unknown-set', '4:37', "unknown set '@nope'"),
    ],
  },
  {
    name: "a ban without a duration into a set without a timeout is refused; a ban's bad duration too",
    text: 'set forever dynamic\ninterface eth0 {\n  drop limit rate over 1/second ban @forever\n  drop limit rate over 1/second ban @forever 0s\n}\n',
    expected: [
      err(
        'ban-duration',
        '3:33',
        "'ban @forever' needs a duration: set '@forever' has no timeout",
        "write 'ban @forever 10m', or give the set one: set forever dynamic timeout 10m",
      ),
      err('bad-duration', '4:46', "ban: '0s' is zero: a duration is at least 1s", DURATION),
    ],
  },
  {
    name: "a ban on a rule whose limit has no 'over' warns that it bans the sources within the rate",
    text: `${BANNED}interface eth0 {\n  allow limit rate 10/second ban @banned\n}\n`,
    expected: [
      warn(
        'ban-within-rate',
        '3:30',
        'this rule bans what stays within its rate: its limit holds while tokens last',
        "to ban what exceeds the rate, write 'limit rate over …'",
      ),
    ],
  },
  {
    name: 'a dynamic set given entries, inline or from a file, is refused at the entries',
    text: 'set a dynamic timeout 1m { 192.0.2.1 }\nset b dynamic from "b.txt"\ninterface eth0 {\n  drop src @a\n  drop src @b\n}\n',
    expected: [
      err(
        'dynamic-set-entries',
        '1:26',
        "set '@a' is dynamic: its entries are added at run time, not written in the policy",
        "remove the entries, or declare a static set (without 'dynamic') for addresses that are always there",
      ),
      err(
        'dynamic-set-entries',
        '2:15',
        "set '@b' is dynamic: its entries are added at run time, not written in the policy",
        "remove the entries, or declare a static set (without 'dynamic') for addresses that are always there",
      ),
    ],
  },
  {
    name: 'a dynamic set in a list, a define or another set is refused: it stands alone in a match',
    text: `${BANNED}define bad = { @banned, 10.0.0.0/8 }\nset mixed { @banned }\ninterface eth0 {\n  drop src { @banned, 10.0.0.0/8 }\n  drop dst ! @banned\n}\n`,
    expected: [
      err(
        'dynamic-set-alone',
        '2:16',
        "dynamic set '@banned' cannot be named in define '$bad': its entries exist only at run time",
        ALONE_HINT,
      ),
      err(
        'dynamic-set-alone',
        '3:13',
        "dynamic set '@banned' cannot be part of set '@mixed': its entries exist only at run time",
        ALONE_HINT,
      ),
      err('dynamic-set-alone', '5:14', "dynamic set '@banned' cannot be part of a list: its entries exist only at run time", ALONE_HINT),
    ],
  },
  {
    name: "a dynamic set's unknown, repeated or out-of-range options are refused, and its timeout must be a duration",
    text: 'set a dynamic timout 1m size 0 size 5\nset b dynamic size 10s timeout 31d\ninterface eth0 {\n  drop src @a\n  drop dst @b\n}\n',
    expected: [
      err(
        'dynamic-set-option',
        '1:15',
        "unknown dynamic set option 'timout' (did you mean 'timeout'?)",
        'dynamic set options: timeout, size',
      ),
      err(
        'dynamic-set-option',
        '1:30',
        'size 0 is out of range (1 … 16,777,216)',
        'size is the entries the set holds at most; a full set refuses new ones (default 65,536)',
      ),
      err('dynamic-set-option', '1:32', "'size' is set twice (first at line 1, column 25)", 'keep one of them'),
      err('dynamic-set-option', '2:20', 'size is a number of entries, not a duration', 'write a number 1 … 16,777,216'),
      err('bad-duration', '2:32', "timeout: '31d' is longer than 30d", DURATION),
    ],
  },
  {
    name: 'a second limits block, also from an included file, points at the first; its options are checked',
    text: 'limits { size 1000 }\ninclude "more.xdpfw"\ninterface eth0 { allow limit rate 1/second }\n',
    files: { 'more.xdpfw': 'limits {\n  sise 4096\n}\n' },
    expected: [
      err(
        'limits-option',
        '1:15',
        'size 1000 is out of range (1,024 … 16,777,216)',
        "size is the buckets of the host's meter table, which every interface shares (default 65,536)",
      ),
      err(
        'duplicate-limits',
        'more.xdpfw:1:1',
        'the policy already has a limits block (test.xdpfw:1:1)',
        "the meter table is the host's, set once: merge the blocks into one",
      ),
      err('limits-option', 'more.xdpfw:2:3', "unknown limits option 'sise' (did you mean 'size'?)", 'limits options: size'),
    ],
  },
  {
    name: 'more than 64 rules with a tail on one interface are refused at the 65th',
    text: `interface eth0 {\n  allow tcp dport 1\n${manyRules(65, (i) => `allow tcp dport ${i + 2} limit rate 10/second`)}\n}\n`,
    expected: [
      err(
        'too-many-tails',
        '67:3',
        "interface 'eth0' has 65 rules with a dynamic set, a limit, a ban or audit; at most 64 are supported (this is the 65th)",
        'the data plane checks these one by one: merge rules that share a limit, or put their addresses in one set',
      ),
    ],
  },
  {
    name: 'more than 64 dynamic sets named by one interface are refused at the 65th',
    text: `${Array.from({ length: 65 }, (_, i) => `set s${i} dynamic`).join('\n')}\ninterface eth0 {\n${manyRules(33, (i) => `drop src @s${2 * i}${2 * i + 1 < 65 ? ` dst @s${2 * i + 1}` : ''}`)}\n}\n`,
    expected: [
      err(
        'too-many-dynamic-sets',
        '99:12',
        "interface 'eth0' names more than 64 dynamic sets (this is the 65th)",
        'ban into fewer sets: one set can hold the bans of many rules',
      ),
    ],
  },
];
