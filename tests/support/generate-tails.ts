/**
 * Seeded generators for the differential test of rule tails: dynamic sets
 * (small, so that a ban sometimes finds one full), tails for generated
 * rules (set matches, negated or not, limits of every unit, burst, `over`
 * and `per`, bans), and timed packet sequences whose pauses are around the
 * policy's costs, capacities and timeouts, so that refills, bursts, expiry
 * and bans all happen. generatePolicy (generate.ts) calls the first two
 * with its `tails` option.
 */
import ipaddr from 'ipaddr.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import type { Random } from './random.js';

const SECOND = 1_000_000_000n;
const UNIT_NS = { second: SECOND, minute: 60n * SECOND, hour: 3600n * SECOND } as const;
const RATES = { second: [1, 2, 3, 7, 10, 100, 1000], minute: [1, 7, 30, 60, 600], hour: [60, 360, 3600, 7200] } as const;
/**
 * Prefix lengths of bans and set entries: at most three a family, so a
 * lookup never meets more expired entries above a live one than the data
 * plane deletes in one lookup (XDPFW_DYNSET_EXPIRED_RETRIES, 4).
 */
export const SET_LENGTHS = { 4: [32, 24, 16], 6: [128, 64, 48] } as const;

export interface TailPlan {
  sets: { name: string; size: number; timeoutSeconds: number | null }[];
  /** Costs, capacities, timeouts and ban durations (ns): the pauses of a sequence are around them. */
  durationsNs: bigint[];
}

/** 1–3 dynamic sets, most of them small. */
export function declareDynamicSets(r: Random): { lines: string[]; plan: TailPlan } {
  const plan: TailPlan = { sets: [], durationsNs: [SECOND] };
  const lines: string[] = [];
  for (let i = r.int(1, 3); i > 0; i--) {
    const name = `dyn${plan.sets.length}`;
    const timeoutSeconds = r.pick([null, 2, 5, 30]);
    const size = r.pick([1, 2, 3, 4, 65536]);
    if (timeoutSeconds !== null) plan.durationsNs.push(BigInt(timeoutSeconds) * SECOND);
    plan.sets.push({ name, size, timeoutSeconds });
    const options = `${timeoutSeconds === null ? '' : ` timeout ${timeoutSeconds}s`}${size === 65536 ? '' : ` size ${size}`}`;
    lines.push(`set ${name} dynamic${options}`);
  }
  return { lines, plan };
}

/**
 * A rule's tail, as matches to add and a `ban` clause: set matches, a
 * limit (one bucket per rule or per prefix of a field), a ban. `family`:
 * the rule's one family, 0 for both; a one-family rule with a `per`
 * length says `ip4`/`ip6`, so the compiler knows the length's family.
 */
export function tailClause(r: Random, family: 0 | 4 | 6, plan: TailPlan): { matches: string[]; ban: string } {
  const matches: string[] = [];
  const set = () => r.pick(plan.sets);
  if (r.chance(0.35)) matches.push(`src ${r.chance(0.3) ? '! ' : ''}@${set().name}`);
  if (r.chance(0.2)) matches.push(`dst ${r.chance(0.3) ? '! ' : ''}@${set().name}`);
  let over = false;
  let perField: 'src' | 'dst' | null = null;
  if (matches.length === 0 || r.chance(0.75)) {
    over = r.chance(0.5);
    const unit = r.pick(['second', 'minute', 'hour'] as const);
    const rate = r.pick(RATES[unit]);
    const burst = r.pick([1, 2, 3, 5, 10]);
    const cost = UNIT_NS[unit] / BigInt(rate);
    plan.durationsNs.push(cost, BigInt(burst) * cost);
    let per = '';
    if (r.chance(0.6)) {
      perField = r.chance(0.75) ? 'src' : 'dst';
      per = ` per ${perField}`;
      if (r.chance(0.7)) {
        const v4 = r.pick(SET_LENGTHS[4]);
        const v6 = r.pick(SET_LENGTHS[6]);
        per += family === 0 ? `/${v4}/${v6}` : `/${family === 4 ? v4 : v6}`;
        if (family !== 0) matches.push(family === 4 ? 'ip4' : 'ip6');
      }
    }
    matches.push(`limit rate ${over ? 'over ' : ''}${rate}/${unit}${burst === 5 && r.chance(0.5) ? '' : ` burst ${burst}`}${per}`);
  }
  let ban = '';
  // Mostly with `over`, as the language means it; sometimes without (the compiler warns, the data plane bans).
  if (r.chance(over ? 0.6 : 0.15)) {
    const target = set();
    const seconds = target.timeoutSeconds === null || r.chance(0.5) ? r.pick([1, 3, 10]) : null;
    if (seconds !== null) plan.durationsNs.push(BigInt(seconds) * SECOND);
    ban = ` ban @${target.name}${seconds === null ? '' : ` ${seconds}s`}`;
  }
  return { matches, ban };
}

export interface TimedPacket {
  at: bigint;
  packet: PacketSpec;
}

export interface InitialEntry {
  set: string;
  prefix: string;
  /** Null: until deleted. */
  seconds: number | null;
}

export interface TailSequence {
  /** Written with the set library at the sequence's start, before the first packet. */
  initial: InitialEntry[];
  packets: TimedPacket[];
}

/** An address sharing the first `length` bits of `address`. */
function sibling(r: Random, address: string, length: number): string {
  const bytes = ipaddr.parse(address).toByteArray();
  for (let bit = length; bit < bytes.length * 8; bit++) {
    if (r.chance(0.5)) bytes[bit >> 3] ^= 0x80 >> (bit & 7);
  }
  return ipaddr.fromByteArray(bytes).toString();
}

function prefixOf(address: string, length: number): string {
  const cidr = `${address}/${length}`;
  const network = address.includes(':') ? ipaddr.IPv6.networkAddressFromCIDR(cidr) : ipaddr.IPv4.networkAddressFromCIDR(cidr);
  return `${network.toString()}/${length}`;
}

/**
 * `steps` packets from a small pool (`pool` aimed at the policy, and
 * neighbours of them in the same /16–/24 or /48–/64, so prefix meters and
 * bans are shared), starting at `start`, with pauses of zero (bursts) or
 * around one of the plan's durations (±1 ns, halves, doubles).
 */
export function generateTailSequence(r: Random, plan: TailPlan, pool: PacketSpec[], start: bigint, steps: number): TailSequence {
  const packets = [...pool];
  for (const p of pool) {
    const lengths = SET_LENGTHS[p.family];
    packets.push({ ...p, src: sibling(r, p.src, r.pick(lengths.slice(1))) });
    packets.push({ ...p, dst: sibling(r, p.dst, r.pick(lengths.slice(1))) });
  }
  const initial: InitialEntry[] = [];
  for (const set of plan.sets) {
    if (!r.chance(0.4)) continue;
    for (let i = Math.min(set.size, r.int(1, 2)); i > 0; i--) {
      const p = r.pick(packets);
      const address = r.chance(0.7) ? p.src : p.dst;
      initial.push({ set: set.name, prefix: prefixOf(address, r.pick(SET_LENGTHS[p.family])), seconds: r.pick([null, 1, 3, 30]) });
    }
  }
  let at = start;
  const sequence: TimedPacket[] = [];
  for (let i = 0; i < steps; i++) {
    if (i > 0 && r.chance(0.55)) {
      const d = r.pick(plan.durationsNs);
      const pause = r.pick([d, d, d / 2n, 2n * d, d / 5n]) + r.pick([-1n, 0n, 0n, 1n]);
      at += pause > 0n ? pause : 0n;
    }
    sequence.push({ at, packet: r.pick(packets) });
  }
  return { initial, packets: sequence };
}
