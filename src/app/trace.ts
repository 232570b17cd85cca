/**
 * `xdpfw trace`: the tracer's request from the command's options, and each
 * decision the kernel recorded as a line a person or a script reads. Rules
 * are named from the state of the policy in force on the interface (index,
 * name, file:line); headers are read back from the frame's first bytes
 * (src/packet/decode.ts), which also says why a malformed frame is one.
 */

import ipaddr from 'ipaddr.js';

import { ruleRef, type RuleRef } from '../compiler/rule-ref.js';
import { decodeFrame, type DecodedFrame } from '../packet/decode.js';
import { formatPacket } from '../packet/describe.js';
import { TRACE_VERDICT_AUDIT } from '../contract/kernel.js';
import { COUNTER_INDEX, type TracePrefix, type TraceRecord, type TraceRequest } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import type { AppliedState } from './state.js';
import { UserError } from './user-error.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

/** The actions (and the program's bit of not-enforced events) each --verdict lets through. */
const VERDICT_ACTIONS: Record<NonNullable<TraceFilters['verdict']>, number[]> = {
  allow: [XDP_PASS],
  drop: [XDP_DROP, XDP_TX],
  audit: [TRACE_VERDICT_AUDIT],
};

export interface TraceFilters {
  /** Rule names (or ids), and `default` for decisions no rule made. */
  rules: readonly string[];
  /** drop: rejects too; audit: what was not enforced (audit rules, `mode audit`). */
  verdict?: 'allow' | 'drop' | 'audit';
  src?: string;
  dst?: string;
  /** Events a second the kernel sends at most, and its burst. */
  rate: number;
}

/** A --src/--dst prefix, or a usage error that quotes it. */
export function tracePrefix(option: string, text: string): TracePrefix {
  try {
    const [addr, length] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), -1];
    const family = addr.kind() === 'ipv4' ? 4 : 6;
    return { family, bytes: addr.toByteArray(), length: length < 0 ? (family === 4 ? 32 : 128) : length };
  } catch {
    throw new UserError(
      'bad-prefix',
      `${option}: '${text}' is not an address or prefix`,
      ExitCode.usage,
      'write 192.0.2.0/24 or 2001:db8::/64',
    );
  }
}

/** Each traced interface's request: its rule indexes come from its own policy. */
export function traceRequest(filters: TraceFilters, state: AppliedState, owner: number): TraceRequest {
  const wanted = filters.rules.filter((r) => r !== 'default');
  const indexes = state.rules.filter((r) => wanted.includes(r.name ?? '') || wanted.includes(r.id)).map((r) => r.index);
  return {
    actions: filters.verdict ? VERDICT_ACTIONS[filters.verdict] : null,
    rules: filters.rules.length > 0 ? { indexes, withDefault: filters.rules.includes('default') } : null,
    src: filters.src ? tracePrefix('--src', filters.src) : null,
    dst: filters.dst ? tracePrefix('--dst', filters.dst) : null,
    rate: filters.rate,
    burst: Math.max(1, Math.ceil(filters.rate / 10)),
    owner,
  };
}

/** A --rule that names no rule of any traced interface is a typo, not an empty trace. */
export function checkRuleNames(rules: readonly string[], states: readonly AppliedState[]): void {
  for (const name of rules) {
    if (name === 'default') continue;
    if (states.some((s) => s.rules.some((r) => r.name === name || r.id === name))) continue;
    const known = [...new Set(states.flatMap((s) => s.rules.map((r) => r.name).filter((n): n is string => !!n)))];
    throw new UserError(
      'unknown-rule',
      `--rule ${name}: no rule of the traced interfaces (${states.map((s) => s.interface).join(', ')}) has that name`,
      ExitCode.usage,
      known.length > 0 ? `named rules: ${known.slice(0, 10).join(', ')}; or 'default'` : 'name rules with name "…", or trace \'default\'',
    );
  }
}

/** One decision, in fields named as Hubble's flows name them where they fit. */
export interface TraceLine {
  time: string;
  /** AUDIT: not enforced (an audit rule, or `mode audit`), the packet went on; `audit` says what would have been done. */
  verdict: 'FORWARDED' | 'DROPPED' | 'AUDIT';
  audit?: { would: 'allow' | 'drop' | 'reject' };
  /** The deciding rule has `log`. */
  logged?: true;
  interface: { index: number; name: string };
  /** What decided: a rule, the interface's default, or the parser (malformed, non-IP). */
  decided_by: 'rule' | 'default' | 'malformed' | 'non-ip';
  rule: (RuleRef & { text: string }) | null;
  drop_reason_desc?: string;
  ethernet?: { vlans: number[] };
  IP?: { source: string; destination: string; ipVersion: 'IPv4' | 'IPv6' };
  l4?: Record<string, Record<string, unknown>>;
  fragment?: boolean;
  frame_length: number;
  Summary: string;
}

const DECIDED_BY: Record<number, TraceLine['decided_by']> = {
  [COUNTER_INDEX.default]: 'default',
  [COUNTER_INDEX.malformed]: 'malformed',
  [COUNTER_INDEX.nonIp]: 'non-ip',
};

const TCP_FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];

function l4Of(d: DecodedFrame): TraceLine['l4'] {
  if (d.sport !== undefined && d.protocol === 6) {
    const flags = Object.fromEntries(TCP_FLAG_NAMES.filter((_, i) => ((d.tcpFlags ?? 0) >> i) & 1).map((f) => [f, true]));
    return { TCP: { source_port: d.sport, destination_port: d.dport, flags } };
  }
  if (d.sport !== undefined) return { UDP: { source_port: d.sport, destination_port: d.dport } };
  if (d.icmpType !== undefined) return { [d.family === 4 ? 'ICMPv4' : 'ICMPv6']: { type: d.icmpType, code: d.icmpCode } };
  return undefined;
}

/** The headers as `xdpfw test --packet` writes a packet; what the parser could not read, said so. */
function summary(d: DecodedFrame): string {
  if (d.family === undefined || d.src === undefined || d.dst === undefined) {
    return d.ethertype !== undefined ? `ethertype 0x${d.ethertype.toString(16).padStart(4, '0')}` : 'frame';
  }
  return formatPacket({
    family: d.family,
    protocol: d.protocol ?? 0,
    src: d.src,
    dst: d.dst,
    sport: d.sport,
    dport: d.dport,
    tcpFlags: d.tcpFlags,
    icmpType: d.icmpType,
    icmpCode: d.icmpCode,
    vlans: d.vlans.length > 0 ? d.vlans : undefined,
    fragment: d.fragment ? { offset: 1, moreFragments: false } : undefined,
  }).replace(/ frag 1$/, ' fragment');
}

/**
 * A record as a line; `clock` turns the kernel's monotonic ns into wall
 * time, `state` is the interface's policy in force (null: none known).
 */
export function traceLine(
  r: TraceRecord,
  ifindex: number,
  state: AppliedState | undefined,
  wallNs: (monotonicNs: bigint) => bigint,
): TraceLine {
  const d = decodeFrame(r.frame, r.frameLength);
  const rule = r.rule === null ? undefined : state?.rules.find((x) => x.index === r.rule);
  const decided = r.rule !== null ? 'rule' : (DECIDED_BY[r.counter] ?? 'default');
  const line: TraceLine = {
    time: new Date(Number(wallNs(r.timeNs) / 1_000_000n)).toISOString(),
    verdict: r.audit ? 'AUDIT' : r.action === XDP_PASS ? 'FORWARDED' : 'DROPPED',
    interface: { index: ifindex, name: r.ifname },
    decided_by: decided,
    rule: rule ? { ...ruleRef(rule), text: rule.text } : null,
    frame_length: r.frameLength,
    Summary: summary(d),
  };
  if (r.audit) line.audit = { would: r.action === XDP_PASS ? 'allow' : r.action === XDP_TX ? 'reject' : 'drop' };
  if (r.logged) line.logged = true;
  if (decided === 'malformed') line.drop_reason_desc = d.malformed ?? 'malformed headers';
  else if (r.action !== XDP_PASS) line.drop_reason_desc = decided === 'rule' ? 'POLICY_DENIED' : 'POLICY_DEFAULT_DROP';
  if (d.vlans.length > 0) line.ethernet = { vlans: d.vlans.map((v) => v.id) };
  if (d.src !== undefined && d.dst !== undefined)
    line.IP = { source: d.src, destination: d.dst, ipVersion: d.family === 4 ? 'IPv4' : 'IPv6' };
  const l4 = l4Of(d);
  if (l4) line.l4 = l4;
  if (d.fragment) line.fragment = true;
  if (r.rule !== null && !rule) line.Summary += ` (rule ${r.rule} of a policy no longer in force)`;
  return line;
}

/** The human form: time, interface, verdict, headers, and who decided. */
export function renderTraceLine(l: TraceLine): string {
  const time = l.time.slice(11, 23);
  const verdict = l.audit ? `audit (would ${l.audit.would})` : l.verdict === 'FORWARDED' ? 'allow' : 'drop ';
  const by =
    l.decided_by === 'rule' && l.rule
      ? `rule ${l.rule.index} ${l.rule.name !== null ? JSON.stringify(l.rule.name) : l.rule.text} (${l.rule.file}:${l.rule.line})`
      : l.decided_by === 'malformed'
        ? `malformed: ${l.drop_reason_desc}`
        : l.decided_by;
  return `${time} ${l.interface.name} ${verdict} ${l.Summary}  ${by}`;
}

/** The pcapng comment of a packet: the same verdict and decider. */
export const pcapComment = (l: TraceLine): string => renderTraceLine(l).split(' ').slice(2).join(' ');

/** Monotonic (the kernel's clock) to wall ns, from one reading of each. */
export function wallClock(): (monotonicNs: bigint) => bigint {
  const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  return (ns) => ns + offset;
}
