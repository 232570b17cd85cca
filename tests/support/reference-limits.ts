/**
 * The reference model of rule tails, written from docs/DESIGN.md ("Rate
 * limits and dynamic sets") alone: dynamic sets whose entries have
 * deadlines (an expired entry is absent, and stays in the set, counting
 * towards its size, until a lookup finds and deletes it; the size bounds
 * the whole addresses and the shorter prefixes each), token buckets
 * kept as `empty_at`, meters per rule or per prefix, and bans. Nothing here
 * comes from the compiler or the data plane; the clock is always given.
 */
import ipaddr from 'ipaddr.js';
import type { DurationLiteral, NumberLiteral, PolicyDocument, Rule } from '../../src/policy/ast.js';

type Family = 4 | 6;

/** A deadline that never comes (DESIGN.md: `~0 = never`). */
export const NEVER = (1n << 64n) - 1n;
const SECOND = 1_000_000_000n;
const UNIT_NS: Record<string, bigint> = { second: SECOND, minute: 60n * SECOND, hour: 3600n * SECOND };
const DURATION_NS: Record<string, bigint> = { s: SECOND, m: 60n * SECOND, h: 3600n * SECOND, d: 86400n * SECOND };
/** A ban leaves alone a live entry that already lasts to within this of the new deadline. */
const BAN_SLACK_NS = SECOND;

export function durationNs(d: DurationLiteral | NumberLiteral): bigint {
  return d.kind === 'number' ? BigInt(d.value) * SECOND : BigInt(d.value) * DURATION_NS[d.unit];
}

export interface DynamicSetModel {
  name: string;
  timeoutNs: bigint | null;
  size: number;
}

export interface LimitModel {
  over: boolean;
  costNs: bigint;
  capacityNs: bigint;
  /** Null: one bucket for the rule. */
  per: { field: 'src' | 'dst'; length4: number; length6: number } | null;
}

export interface TailModel {
  srcSet: { set: string; negated: boolean } | null;
  dstSet: { set: string; negated: boolean } | null;
  limit: LimitModel | null;
  ban: { set: string; durationNs: bigint } | null;
}

/** The dynamic sets a document declares, by name. */
export function dynamicSetsOf(document: PolicyDocument): Map<string, DynamicSetModel> {
  const sets = new Map<string, DynamicSetModel>();
  for (const item of document.items) {
    if (item.kind !== 'set' || item.source.kind !== 'dynamic') continue;
    const option = (name: string) => item.source.kind === 'dynamic' && item.source.options.find((o) => o.name.name === name);
    const timeout = option('timeout');
    const size = option('size');
    sets.set(item.name.name, {
      name: item.name.name,
      timeoutNs: timeout ? durationNs(timeout.value) : null,
      size: size ? size.value.value : 65536,
    });
  }
  return sets;
}

/** The rule's tail (null when it has none); `families`: those its stateless matches allow. */
export function tailOf(rule: Rule, sets: Map<string, DynamicSetModel>, families: ReadonlySet<Family>): TailModel | null {
  const tail: TailModel = { srcSet: null, dstSet: null, limit: null, ban: null };
  for (const match of rule.matches) {
    if (match.kind === 'address-match' && match.value.kind === 'set-ref' && sets.has(match.value.name)) {
      tail[match.direction === 'src' ? 'srcSet' : 'dstSet'] = { set: match.value.name, negated: match.negated };
    }
    if (match.kind === 'limit-match') {
      const rate = BigInt(match.rate!.value.value);
      const costNs = UNIT_NS[match.rate!.unit.name] / rate;
      const burst = BigInt(match.burst?.value ?? 5);
      let per: LimitModel['per'] = null;
      if (match.per) {
        const lengths = match.per.lengths.map((l) => l.value);
        // One length is the rule's one family's; two are IPv4's then IPv6's; none is the whole address.
        const length4 = lengths.length === 2 ? lengths[0] : lengths.length === 1 && families.has(4) ? lengths[0] : 32;
        const length6 = lengths.length === 2 ? lengths[1] : lengths.length === 1 && families.has(6) ? lengths[0] : 128;
        per = { field: match.per.field, length4, length6 };
      }
      tail.limit = { over: match.over, costNs, capacityNs: burst * costNs, per };
    }
  }
  if (rule.ban) {
    const set = sets.get(rule.ban.set.name)!;
    const durationNsOf = rule.ban.duration ? durationNs(rule.ban.duration) : set.timeoutNs!;
    tail.ban = { set: set.name, durationNs: durationNsOf };
  }
  return tail.srcSet || tail.dstSet || tail.limit || tail.ban ? tail : null;
}

export interface SetEntryModel {
  family: Family;
  length: number;
  /** The network address as a bigint of the family's width. */
  network: bigint;
  deadline: bigint;
  origin: number;
}

export interface SetCounts {
  added: number;
  full: number;
  expired: number;
}

export interface PacketAddresses {
  family: Family;
  src: string;
  dst: string;
}

const widthOf = (family: Family) => (family === 4 ? 32 : 128);

function addressValue(text: string): { family: Family; value: bigint } {
  const parsed = ipaddr.parse(text);
  const family: Family = parsed.kind() === 'ipv4' ? 4 : 6;
  return { family, value: parsed.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n) };
}

function masked(value: bigint, family: Family, length: number): bigint {
  const width = widthOf(family);
  const keep = length === 0 ? 0n : ((1n << BigInt(length)) - 1n) << BigInt(width - length);
  return value & keep;
}

/** `network/length` as ipaddr.js writes it (the form `xdpfw set list` shows). */
export function prefixText(family: Family, network: bigint, length: number): string {
  const bytes: number[] = [];
  for (let i = widthOf(family) / 8 - 1, v = network; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  return `${ipaddr.fromByteArray(bytes).toString()}/${length}`;
}

/** The state of every tail of one interface: its dynamic sets, its buckets, its counters. */
export class ReferenceTails {
  private readonly entries = new Map<string, SetEntryModel[]>();
  /** Bucket key → empty_at. */
  private readonly buckets = new Map<string, bigint>();
  readonly setCounts = new Map<string, SetCounts>();
  /** Rule index → packets its limit found no token for. */
  readonly over = new Map<number, number>();

  constructor(readonly sets: Map<string, DynamicSetModel>) {
    for (const name of sets.keys()) {
      this.entries.set(name, []);
      this.setCounts.set(name, { added: 0, full: 0, expired: 0 });
    }
  }

  /** A live entry of the set contains the address; expired entries the lookup meets are deleted. */
  has(set: string, address: string, now: bigint): boolean {
    const { family, value } = addressValue(address);
    const list = this.entries.get(set)!;
    for (;;) {
      let best: SetEntryModel | undefined;
      for (const e of list) {
        if (e.family !== family || masked(value, family, e.length) !== e.network) continue;
        if (!best || e.length > best.length) best = e;
      }
      if (!best) return false;
      if (now < best.deadline) return true;
      list.splice(list.indexOf(best), 1);
      this.setCounts.get(set)!.expired++;
    }
  }

  /** Adds or renews an entry as the user does (no counters): `xdpfw set add`. */
  add(set: string, prefix: string, deadline: bigint): void {
    const [address, length] = prefix.includes('/') ? prefix.split('/') : [prefix, prefix.includes(':') ? '128' : '32'];
    const { family, value } = addressValue(address);
    const network = masked(value, family, Number(length));
    const list = this.entries.get(set)!;
    const existing = list.find((e) => e.family === family && e.length === Number(length) && e.network === network);
    if (existing) Object.assign(existing, { deadline, origin: 0 });
    else list.push({ family, length: Number(length), network, deadline, origin: 0 });
  }

  /** Empties a set (`xdpfw set flush`); its counters stay. */
  flush(set: string): void {
    this.entries.get(set)!.length = 0;
  }

  /** Forgets every bucket: each comes back full, as after an idle longer than any capacity. */
  refillAll(): void {
    this.buckets.clear();
  }

  /** The set's live entries at `now`, sorted by prefix text. */
  live(set: string, now: bigint): { prefix: string; deadline: bigint; origin: number }[] {
    return this.entries
      .get(set)!
      .filter((e) => now < e.deadline)
      .map((e) => ({ prefix: prefixText(e.family, e.network, e.length), deadline: e.deadline, origin: e.origin }))
      .sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  }

  /**
   * The limit's match for the packet: a token found is taken (without
   * `over`, the match holds); none found changes nothing and is counted
   * (with `over`, the match holds).
   */
  limitHolds(rule: number, limit: LimitModel, packet: PacketAddresses, now: bigint): boolean {
    const key = this.bucketKey(rule, limit, packet);
    // A new bucket starts full: empty since now − capacity.
    const emptyAt = this.buckets.get(key) ?? now - limit.capacityNs;
    const elapsed = now - emptyAt;
    const tokens = elapsed < limit.capacityNs ? elapsed : limit.capacityNs;
    const found = tokens >= limit.costNs;
    if (found) {
      const base = emptyAt > now - limit.capacityNs ? emptyAt : now - limit.capacityNs;
      this.buckets.set(key, base + limit.costNs);
    } else {
      this.over.set(rule, (this.over.get(rule) ?? 0) + 1);
    }
    return found !== limit.over;
  }

  private bucketKey(rule: number, limit: LimitModel, packet: PacketAddresses): string {
    if (!limit.per) return `${rule}`;
    const { family, value } = addressValue(limit.per.field === 'src' ? packet.src : packet.dst);
    const length = family === 4 ? limit.per.length4 : limit.per.length6;
    return `${rule} ${prefixText(family, masked(value, family, length), length)}`;
  }

  /**
   * The deciding rule's ban: its `per` prefix of the packet (else the
   * source address) enters the set until now + D, unless a live entry for
   * that prefix already lasts to within a second of it; a set whose
   * addresses (or shorter prefixes) are full refuses a new one. `origin`
   * names the rule.
   */
  ban(tail: TailModel, packet: PacketAddresses, now: bigint, origin: number): void {
    const { set, durationNs: duration } = tail.ban!;
    const per = tail.limit?.per;
    const { family, value } = addressValue(per?.field === 'dst' ? packet.dst : packet.src);
    const length = per ? (family === 4 ? per.length4 : per.length6) : widthOf(family);
    const network = masked(value, family, length);
    const deadline = now + duration;
    const list = this.entries.get(set)!;
    const counts = this.setCounts.get(set)!;
    const existing = list.find((e) => e.family === family && e.length === length && e.network === network);
    if (existing && now < existing.deadline && existing.deadline >= deadline - BAN_SLACK_NS) return;
    const whole = length === widthOf(family);
    const sameKind = list.filter((e) => (e.length === widthOf(e.family)) === whole).length;
    if (!existing && sameKind >= this.sets.get(set)!.size) {
      counts.full++;
      return;
    }
    if (existing) Object.assign(existing, { deadline, origin });
    else list.push({ family, length, network, deadline, origin });
    counts.added++;
  }
}
