/**
 * Diagnostic codes of the importers. Codes are stable: docs/language.md lists
 * this table, and tests/unit/docs.test.ts fails when a code has no row there.
 */
export const IMPORT_CODES = {
  'import-syntax':
    'a line of an iptables-save dump does not follow the format iptables-restore reads; the message names the line, the rule and what was expected',
  'import-unsupported':
    'a match, option or protocol xdpfw cannot express (-o, -f, marks, addrtype, mac, length, an unknown module or option, a host name, a port name); the message names it and the rule',
  'import-ipset-syntax':
    'a line of the --ipset file does not follow the format ipset restore reads (create NAME TYPE …, add NAME ENTRY …); the message names the line',
  'import-set':
    "-m set that xdpfw cannot carry: no --ipset file given, a set missing from it, a type other than hash:ip and hash:net, flags other than one src or dst, another family than the dump's, nomatch entries, or no entries",
  'import-set-timeout': 'an ipset with timeouts: its entries are translated into a static set, and their timeouts are not',
  'import-set-name': 'an ipset or recent list whose name is not a valid xdpfw name (or is taken) is renamed in the policy',
  'import-limit':
    '-m limit or -m hashlimit that xdpfw cannot carry: a per-day rate that is not a whole number an hour, a byte rate, a hashlimit mode with ports or both addresses, a limit with matches after it, a limit on a jump, a limit inlined twice, or a hashlimit table shared by two rules',
  'import-limit-rate':
    "-m limit's rate as the kernel keeps it (its interval in 1/10,000 s, its credits per jiffy) differs from the same rate in xdpfw's nanoseconds; the message gives both",
  'import-hashlimit-table':
    "-m hashlimit's table options (--hashlimit-htable-*) are not kept; where its buckets expire before they refill, iptables gives an idle source a full burst sooner",
  'import-recent':
    '-m recent that xdpfw cannot carry: --update, --remove, --hitcount, --rttl, --mask, a --rcheck without --seconds, lists checked with different --seconds, --set with --rdest, matches after --set, or --set on a rule that does not decide',
  'import-recent-timing':
    'a recent list translated as a dynamic set with bans: a ban is refreshed only when that gains more than a second, and the set refuses new entries when full where xt_recent forgets its oldest (200 by default)',
  'import-target': "a rule's target is neither ACCEPT, DROP, REJECT, LOG, NFLOG, RETURN nor a user chain of the table",
  'import-expansion':
    'a dump whose conditional RETURNs and gotos copy the rules after their jumps past 50,000 rules (each such RETURN or goto repeats the rest of its callers)',
  'import-nat':
    "REDIRECT, or DNAT to a loopback address, in table nat's PREROUTING: INPUT judged the packet with its new destination, XDP judges it as it arrives",
  'import-nat-forward':
    "DNAT in table nat's PREROUTING: a packet for another host is forwarded and never met INPUT, but XDP judges it by INPUT's rules (given once a dump)",
  'import-forward-only':
    "INPUT has no rules and policy ACCEPT while FORWARD filters: a router's rule set, whose INPUT would let everything in",
  'import-ct-loose':
    'a dump tells NEW from INVALID: a TCP segment without SYN that no connection knows is NEW to netfilter by default (nf_conntrack_tcp_loose=1) and invalid to xdpfw (given once a dump)',
  'import-limit-interfaces':
    'a limit without an interface (and without per) is one bucket in the source and one per interface block in the policy: with N interfaces, up to N times the rate (given once a dump)',
  'import-loop': 'a chain jumps, directly or through others, to itself',
  'import-conjunction':
    'inlining a chain gives a rule one xdpfw rule cannot say (a negated address holding a hole the positive one needs, two matches of one field)',
  'import-mask': 'an address mask that is not contiguous (255.0.255.0): xdpfw matches prefixes',
  'import-icmp-code': 'an ICMP type with a code (3/4, port-unreachable) or one xdpfw does not name: xdpfw matches the type only',
  'import-ct-state': 'a connection state other than NEW, ESTABLISHED, RELATED and INVALID (UNTRACKED, SNAT, DNAT)',
  'import-negation':
    'a negated match xdpfw cannot negate (! -p, ! --syn, ! --tcp-flags, ! --icmp-type, ! --src-range, a negated address list)',
  'import-tcp-flags':
    "a TCP flag test xdpfw's tcp flags F / M cannot say: any of several flags, a set of flag combinations, flags compared outside the mask",
  'import-interface': 'a negated or wildcard -i (! -i eth0, -i eth+): a rule goes to the block of one named interface',
  'import-chain':
    'the dump has no filter table, or the table has not the chain to translate; an nft ruleset has no filter base chain on input',
  'import-log':
    "LOG, NFLOG or nft's log is translated as log, on an audit allow rule where it decides nothing: xdpfw's log stream keeps at most 100 events a second per interface (a burst of 200), each the packet's headers in xdpfw run's log and xdpfw trace, not a kernel log line with the prefix (kept as a comment); one warning a dump",
  'import-tails':
    'more than 64 rules of an interface would have a tail (LOG or NFLOG, which become audit rules, a limit, a recent list): the compiler takes at most 64 (too-many-tails), and the rules past them are refused',
  'import-reject-with': "REJECT --reject-with: xdpfw's reject answers TCP with a RST and the rest with ICMP administratively prohibited",
  'import-loopback': 'a -i lo rule is dropped: XDP on a network interface never sees loopback traffic',
  'import-interface-name': "no interface was given and no rule names one: the policy's block is for eth0, to be renamed",
  'import-json': "the file is not the JSON of 'nft -j list ruleset', or an object of it lacks a field the schema requires",
  'import-nft-text': "a text ruleset was given and 'nft' is missing or refused it: give the output of 'nft -j list ruleset'",
  'import-nft-limit':
    "nft's limit or meter that xdpfw cannot carry: a byte rate, a per-day or per-week rate that is not a whole number an hour, a meter keyed by several fields, a port or a non-contiguous mask, a meter keeping something else than a limit, matches after the limit, two limits, or a limit with a verdict map or on a rule its sets make several of",
  'import-nft-set':
    "nft's dynamic set that xdpfw cannot carry: a set update that is not 'update @S { ip saddr [timeout T] }' after the matches and the limit of a rule with a verdict, a set without the timeout flag or with a name, type or timeout xdpfw's dynamic sets do not take",
  'import-hooks':
    'several base chains with rules hook input (in several tables or at several priorities): a packet passes each, which one xdpfw block cannot compose',
  'import-hook-ignored':
    'a base chain on the input hook with no rule and policy accept, beside the one translated, is left out: it lets every packet on',
} as const satisfies Record<string, string>;

/** The codes that do not stop a translation; every other code refuses a rule. */
export const IMPORT_WARNINGS: ReadonlySet<ImportCode> = new Set<ImportCode>([
  'import-limit-interfaces',
  'import-ct-loose',
  'import-nat-forward',
  'import-log',
  'import-reject-with',
  'import-loopback',
  'import-interface-name',
  'import-set-timeout',
  'import-set-name',
  'import-limit-rate',
  'import-hashlimit-table',
  'import-recent-timing',
  'import-hook-ignored',
]);

export type ImportCode = keyof typeof IMPORT_CODES;

/** A located problem in an imported file: 1-based line and column, and a message that starts with "line N:". */
export interface ImportDiagnostic {
  line: number;
  column: number;
  code: ImportCode;
  message: string;
  /** The file it is in, when not the dump itself (the --ipset file). */
  file?: string;
}

/**
 * `FILE:LINE:COLUMN: error[CODE]: MESSAGE`, the first line the policy
 * compiler writes for its diagnostics (src/policy/format.ts); the message's
 * own `line N:` is dropped since the location says it.
 */
export function formatImportDiagnostic(file: string, diagnostic: ImportDiagnostic): string {
  const severity = (IMPORT_WARNINGS as ReadonlySet<string>).has(diagnostic.code) ? 'warning' : 'error';
  const message = diagnostic.message.replace(/^line \d+: /, '');
  return `${diagnostic.file ?? file}:${diagnostic.line}:${diagnostic.column}: ${severity}[${diagnostic.code}]: ${message}`;
}

/**
 * A run's diagnostics: `report` files each once (a rule flattened twice
 * reports once), as a refusal or a warning by its code; `diagnostics()`
 * gives each list sorted by line.
 */
export function diagnosticCollector(): {
  report: (code: ImportCode, line: number, column: number, message: string) => void;
  diagnostics: () => { refusals: ImportDiagnostic[]; warnings: ImportDiagnostic[] };
} {
  const refusals: ImportDiagnostic[] = [];
  const warnings: ImportDiagnostic[] = [];
  const reported = new Set<string>();
  const byLine = (a: ImportDiagnostic, b: ImportDiagnostic) => a.line - b.line || a.column - b.column;
  return {
    report: (code, line, column, message) => {
      const key = `${code}:${line}:${column}:${message}`;
      if (reported.has(key)) return;
      reported.add(key);
      (IMPORT_WARNINGS.has(code) ? warnings : refusals).push({ line, column, code, message: `line ${line}: ${message}` });
    },
    diagnostics: () => ({ refusals: refusals.sort(byLine), warnings: warnings.sort(byLine) }),
  };
}
