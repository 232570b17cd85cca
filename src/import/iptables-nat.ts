/**
 * What the rest of a dump does to the packets INPUT judges, checked beside
 * the translation: table nat's PREROUTING rewrites destinations before
 * INPUT sees them, while XDP judges a packet as it arrives; and a dump
 * whose filtering is all in FORWARD (a router's) says nothing about what
 * an interface should let in.
 */
import type { Report } from './flatten.js';
import { quote } from './flatten.js';
import type { Chain, IptablesSave, Table } from './iptables-save.js';

/** Refuses REDIRECT and DNAT to this host in PREROUTING, and warns once of the other DNATs. */
export function checkPrerouting(save: IptablesSave, report: Report): void {
  const nat = save.tables.find((t) => t.name === 'nat');
  if (!nat) return;
  let dnatNoted = false;
  for (const rule of reachedRules(nat, 'PREROUTING')) {
    const target = rule.rule.target;
    if (!target) continue;
    const to = target.options.find((o) => o.option === '--to-destination' || o.option === '--to-ports')?.values[0] ?? '';
    const local = target.name === 'REDIRECT' || /^(127\.|\[?::1\]?|:)/.test(to);
    if ((target.name === 'DNAT' || target.name === 'REDIRECT') && local) {
      report(
        'import-nat',
        rule.line,
        target.column,
        `${target.name} in table nat's PREROUTING sends the packet to this host with a new destination before INPUT judges it, while XDP judges it as it arrives: INPUT's rules about the new address or port would not see it: ${quote(rule)}`,
      );
    } else if (target.name === 'DNAT' && !dnatNoted) {
      dnatNoted = true;
      report(
        'import-nat-forward',
        rule.line,
        target.column,
        `DNAT in table nat's PREROUTING (here, and any other): a packet sent to another host is forwarded and never reaches INPUT, but XDP judges it by INPUT's rules as it arrives; if '${to}' is this host's, INPUT saw the new destination: ${quote(rule)}`,
      );
    }
  }
}

/** Refuses a dump whose INPUT lets everything in while FORWARD filters: a router's, not a host's. */
export function checkForwardOnly(filter: Table, entry: Chain, report: Report): void {
  if (entry.name !== 'INPUT' || entry.policy !== 'ACCEPT' || filter.rules.some((r) => r.chain === 'INPUT')) return;
  const forward = filter.chains.find((c) => c.name === 'FORWARD');
  const rules = filter.rules.filter((r) => r.chain === 'FORWARD').length;
  if (!forward || (rules === 0 && forward.policy !== 'DROP')) return;
  report(
    'import-forward-only',
    forward.line,
    1,
    `INPUT accepts every packet and FORWARD filters (policy ${forward.policy}, ${rules} rules): this dump filters what the host forwards, which XDP on an interface cannot tell from what it is sent; translating INPUT would let everything in`,
  );
}

/** The rules of `chain` and of the chains it reaches, in no particular order. */
function reachedRules(table: Table, chain: string) {
  const seen = new Set([chain]);
  const queue = [chain];
  const out = [];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    for (const rule of table.rules.filter((r) => r.chain === name)) {
      out.push(rule);
      const next = rule.rule.target?.name;
      if (next && !seen.has(next) && table.chains.some((c) => c.name === next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return out;
}
