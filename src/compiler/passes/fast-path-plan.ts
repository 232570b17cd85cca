/**
 * The fast path's plan: which of a linear interface's rules the loader's
 * fast path (src/xdp/fast-path.ts, BPF instructions in front of the C
 * program) tests for the packets it takes — TCP and UDP over one family —
 * and which tests each rule makes. A compile decision, pure: `xdpfw
 * compile` prints it, the loader emits it. Semantics are the linear path's
 * (linear.ts): the first rule whose tests all hold decides.
 */
import type { KernelAction, LinearRule } from '../output.js';

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** One test a rule makes of the packet; the rule holds when all of its tests pass. */
export type FastPathCheck =
  | { kind: 'protocol'; protocol: number }
  | { kind: 'port'; field: 'sport' | 'dport'; low: number; high: number }
  | { kind: 'flags'; mask: number; value: number }
  /** An address in a prefix: each 32-bit word (one for IPv4, four for IPv6), masked, equals value[i]. */
  | { kind: 'address'; field: 'src' | 'dst'; mask: number[]; value: number[]; negated: boolean };

/** A rule as the fast path tests it. */
export interface FastPathRule {
  /** The rule's index: its counter. */
  index: number;
  action: KernelAction;
  /** `log`: the C program decides it (and logs). */
  log?: true;
  /** None: the rule holds for every packet the fast path takes. */
  checks: FastPathCheck[];
}

/**
 * Whether the fast path can stand in front of these rules: it computes no
 * connection state, so rules that test `ct state` are left to the C
 * program whole (a plan could not send their packets on to it).
 */
export function takesFastPath(rules: readonly LinearRule[]): boolean {
  return rules.every((rule) => rule.ctStates === null);
}

/**
 * The rules the fast path tests for TCP and UDP over `family`, in order:
 * those that can hold for such a packet, up to and including the first
 * that holds for every one (the rest could never decide one). Throws for
 * rules the fast path does not take (takesFastPath).
 */
export function fastPathPlan(rules: readonly LinearRule[], family: 4 | 6): FastPathRule[] {
  if (!takesFastPath(rules)) throw new Error('the fast path cannot test ct state: load the program without it (takesFastPath)');
  const plan: FastPathRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const checks = checksOf(rule, family);
    if (checks === null) continue;
    plan.push({ index, action: rule.action, ...(rule.log ? { log: true as const } : {}), checks });
    if (checks.length === 0) break;
  }
  return plan;
}

/**
 * The tests of a rule on a TCP or UDP packet of `family`, or null when it
 * can never hold for one (another family, ICMP, another protocol, outside
 * /0). Tests that every such packet passes (a port range of all ports, a
 * /0 prefix) are left out.
 */
function checksOf(rule: LinearRule, family: 4 | 6): FastPathCheck[] | null {
  if (!(family === 4 ? rule.families.ipv4 : rule.families.ipv6) || rule.icmpType !== null) return null;
  if ((rule.src && rule.src.family !== family) || (rule.dst && rule.dst.family !== family)) return null;
  if (rule.protocol !== null && rule.protocol !== IPPROTO_TCP && rule.protocol !== IPPROTO_UDP) return null;
  if (rule.tcpFlags && rule.protocol === IPPROTO_UDP) return null;
  const checks: FastPathCheck[] = [];
  // Only TCP carries flags: a flags test without a protocol implies TCP.
  const protocol = rule.protocol ?? (rule.tcpFlags ? IPPROTO_TCP : null);
  if (protocol !== null) checks.push({ kind: 'protocol', protocol });
  for (const field of ['sport', 'dport'] as const) {
    const ports = rule[field];
    if (ports && (ports.low > 0 || ports.high < 0xffff)) checks.push({ kind: 'port', field, low: ports.low, high: ports.high });
  }
  if (rule.tcpFlags) checks.push({ kind: 'flags', ...rule.tcpFlags });
  for (const field of ['src', 'dst'] as const) {
    const prefix = rule[field];
    if (!prefix) continue;
    const mask = prefix.mask.map((m) => m >>> 0);
    const value = prefix.value.map((v) => v >>> 0);
    const whole = mask.every((m) => m === 0);
    if (whole && prefix.negated) return null; // outside /0: never
    if (!whole) checks.push({ kind: 'address', field, mask, value, negated: prefix.negated });
  }
  return checks;
}
