/**
 * The in-kernel cost of rate limits and bans (bench:kernel's limits
 * section): ten generated rules without a limit, then the same rules and a
 * rule `allow udp dport 10 limit rate … per src` that the packets hit, for
 * a packet whose bucket exists and for one whose bucket does not, with the
 * meter table holding 1,000,000 buckets; and a packet dropped by
 * `drop src @banned` with 10,000 bans in the set. Next to bare XDP_DROP, in
 * the same run and modes as the rest of bench:kernel (lib/timing.ts); then
 * `addToSet` of 10,000 addresses into the live set (lib/set-add.ts).
 *
 * The tables are the ones the loader creates and pins, under a pins key of
 * the bench's own (no namespace has it, so `xdpfw gc` leaves it alone),
 * filled with batch updates; they are removed at the end.
 */
import { FAMILY, MAP, STRUCT } from '../../src/contract/kernel.js';
import fs from 'node:fs';
import path from 'node:path';
import { removeSetsIfUnused } from '../../src/xdp/dynsets.js';
import { addToSet, ensureBpffs, loadPolicyProgram, readCounters, type LoadedProgram, type PinOptions } from '../../src/xdp/index.js';
import { removeMeterTableIfUnused } from '../../src/xdp/limits.js';
import { stateRoot } from '../../src/xdp/pins.js';
import { TestRunner } from '../../src/xdp/test-run.js';
import { Random } from '../../tests/support/random.js';
import { frame4 } from './frames.js';
import {
  classBenchRules,
  compileBenchPolicy,
  ip4Text,
  xdpfwRuleText,
  BENCH_IFACE,
  NO_RULE_DPORT,
  TRAFFIC_DST,
  TRAFFIC_SRC,
} from './policy-gen.js';
import { fillBatch, loadBenchObject, Rotator } from './programs.js';
import { setAddLines } from './set-add.js';
import { fixed, grouped, percent, ratio, sample, table } from './stats.js';
import { MODES, REPEAT, ROTATION_SIZE, RUNS, runCase, timeCases, type Case, type Mode, type Timing } from './timing.js';

const GENERATED = 10;
/** Buckets in the meter table before any packet is timed. */
export const BUCKETS = 1_000_000;
/** The hit case's table: room for the held buckets and the rotations' own, so nothing is evicted. */
const ROOMY_TABLE = 2_097_152;
/** The miss case's table: exactly full, so every new bucket evicts one. */
const FULL_TABLE = BUCKETS;
/** The miss case's sources: twice the table, so a source comes round again only after the LRU evicted its bucket. */
const MISS_ROTATION = 2 * 1_048_576;
export const BANS = 10_000;
/**
 * Cost 25 ns and a bucket of 25 ms: no timed run drains it (a run's packets
 * come at least ~30 ns apart), and at ≥ 20 ms the bucket reads the coarse
 * clock, as `limit rate 100/second` does (XDPFW_FINE_CLOCK_NS).
 */
const LIMIT = 'limit rate 40000000/second burst 1000000 per src';
const LIMITED_RULE = `allow udp dport ${NO_RULE_DPORT} ${LIMIT} name "bench-limit"`;
const XDP_DROP = 1;
const XDP_PASS = 2;

type Packet = 'any' | 'default' | 'bucket hit' | 'bucket miss' | 'banned';
interface LimitRow {
  program: string;
  packet: Packet;
  /** Modes not timed (the miss case has no hot or warm: a repeated source finds its bucket). */
  timing: Partial<Timing>;
}

const NO_LIMIT = `xdpfw, no limit (${GENERATED} rules)`;

function policyText(head: string[], rules: string[]): string {
  return [...head, `interface ${BENCH_IFACE} {`, '  default drop', ...rules.map((r) => `  ${r}`), '}', ''].join('\n');
}

function compile(text: string, rules: number, classify?: 'lbvs') {
  return compileBenchPolicy({ path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text]]), rules }, classify ? { classify } : {});
}

/** Distinct IPv4 sources that no generated rule covers (outside the traffic range and reserved blocks). */
class Sources {
  private readonly r = new Random(31);
  private readonly used = new Set<number>();

  take(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      const a = this.r.u32();
      const top = a >>> 24;
      if (top === 0 || top === 127 || top >= 224 || a >>> 16 === TRAFFIC_SRC.addr >>> 16 || this.used.has(a)) continue;
      this.used.add(a);
      out.push(a);
    }
    return out;
  }
}

const be32 = (a: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, a);
  return b;
};

/** A UDP packet to NO_RULE_DPORT rotated through `src` (the hot frame: src[0]). */
function rotator(src: number[], r: Random): Rotator {
  const dst = src.map(() => be32((TRAFFIC_DST.addr | r.int(0, 0xffff)) >>> 0));
  return new Rotator({ family: 4, src: src.map(be32), dst });
}

function udpCase(packet: Packet, cold: number[], warm: number[]): Case {
  const r = new Random(32);
  const frame = frame4(cold[0], (TRAFFIC_DST.addr | 1) >>> 0, NO_RULE_DPORT);
  // `kind` only names the packet in bench:kernel's other tables
  return { kind: 'none', packet, frame, rotators: { cold: rotator(cold, r), warm: rotator(warm, r) } };
}

/** `total` counted by `counter`, read before and after `body`. */
function takes(program: LoadedProgram, nrules: number, counter: number | 'default', body: () => number, what: string): void {
  const count = () => {
    const k = readCounters(program, { nrules });
    return counter === 'default' ? k.global.default.packets : k.rules[counter].packets;
  };
  const before = count();
  const total = body();
  const moved = Number(count() - before);
  if (moved !== total) {
    throw new Error(`limits bench, ${what}: ${moved} of ${total} taken by ${counter === 'default' ? 'the default' : `rule ${counter}`}`);
  }
}

interface Expect {
  c: Case;
  counter: number | 'default';
  action: number;
}

/** Each rotation once through with the expected rule and action; then the timing, still all taken by it. */
function verifiedTiming(program: LoadedProgram, nrules: number, cases: Expect[]): Timing[] {
  for (const x of cases) {
    for (const mode of ['warm', 'cold'] as const) {
      const size = x.c.rotators[mode].size;
      takes(
        program,
        nrules,
        x.counter,
        () => {
          const r = runCase(program.progFd, x.c, mode, size);
          if (r.action !== x.action) throw new Error(`limits bench, "${x.c.packet}" (${mode}): action ${r.action}, want ${x.action}`);
          return size;
        },
        `"${x.c.packet}" (${mode})`,
      );
    }
  }
  // a timed run whose bucket ran dry would time another path: every timed packet is the rule's too
  let timings: Timing[] = [];
  const only = cases.length === 1 ? cases[0] : null;
  const time = () => {
    timings = timeCases(
      program.progFd,
      cases.map((x) => x.c),
    );
    return RUNS * MODES.length * REPEAT;
  };
  if (only) takes(program, nrules, only.counter, time, `"${only.c.packet}", timed`);
  else time();
  return timings;
}

async function load(text: string, nrules: number, pins: PinOptions, classify?: 'lbvs'): Promise<LoadedProgram> {
  const program = await loadPolicyProgram(compile(text, nrules, classify), { pins });
  if (program.notices.length > 0) throw new Error(`limits bench: tables left from an earlier load: ${program.notices.join('; ')}`);
  return program;
}

/** Writes a full bucket of the limit for each source into the meter table. */
function fillBuckets(program: LoadedProgram, sources: number[]): void {
  const map = program.maps.get(MAP.meters);
  const limitId = limitIdOf(program);
  if (!map) throw new Error(`the limited program has no ${MAP.meters}`);
  const k = STRUCT.xdpfw_meter_key;
  const keys = Buffer.alloc(sources.length * k.size);
  sources.forEach((s, i) => {
    const at = i * k.size;
    keys.writeUInt32LE(limitId, at + k.fields.limit_id);
    keys.writeUInt8(FAMILY.ipv4, at + k.fields.family);
    keys.writeUInt8(32, at + k.fields.prefix_len);
    keys.writeUInt32BE(s, at + k.fields.addr);
  });
  // empty_at 0: full (now - 0 is beyond any capacity)
  fillBatch(map.fd, keys, Buffer.alloc(sources.length * STRUCT.xdpfw_meter.size), k.size, STRUCT.xdpfw_meter.size, 'the meter table');
}

const limitIds = new WeakMap<LoadedProgram, number>();
const limitIdOf = (p: LoadedProgram): number => {
  const id = limitIds.get(p);
  if (id === undefined) throw new Error('limits bench: no limit id recorded for the program');
  return id;
};

/** The limited policy with its table of `size` buckets, loaded, its limit id recorded. */
async function loadLimited(size: number, pins: PinOptions): Promise<LoadedProgram> {
  const rules = [...classBenchRules(GENERATED).map(xdpfwRuleText), LIMITED_RULE];
  const text = policyText(['limits {', `  size ${size}`, '}'], rules);
  const compiled = compile(text, rules.length);
  const limit = compiled.tails.find((t) => t?.limit)?.limit;
  if (!limit) throw new Error('limits bench: the limited rule compiled without a limit');
  const program = await load(text, rules.length, pins);
  limitIds.set(program, limit.id >>> 0);
  return program;
}

/** The miss case: each of RUNS runs of REPEAT packets from sources whose buckets the LRU has evicted. */
function missTiming(program: LoadedProgram, nrules: number, sources: number[]): Partial<Timing> {
  const rot = rotator(sources, new Random(33));
  try {
    rot.retarget(program.progFd);
    const runner = new TestRunner(rot.progFd);
    const frame = frame4(sources[0], (TRAFFIC_DST.addr | 1) >>> 0, NO_RULE_DPORT);
    const runs: number[] = [];
    takes(
      program,
      nrules,
      nrules - 1,
      () => {
        for (let i = 0; i <= RUNS; i++) {
          const r = runner.timed(frame, REPEAT);
          if (r.action !== XDP_PASS) throw new Error(`limits bench, bucket miss: action ${r.action}, want ${XDP_PASS}`);
          if (i > 0) runs.push(r.durationNs); // the first run fills the table with the rotation's own buckets
        }
        return (RUNS + 1) * REPEAT;
      },
      '"bucket miss"',
    );
    return { cold: sample(runs) };
  } finally {
    rot.close();
  }
}

function bareDrop(c: Case): LimitRow {
  const obj = loadBenchObject('drop');
  try {
    return { program: 'bare XDP_DROP', packet: 'any', timing: timeCases(obj.progFd, [c])[0] };
  } finally {
    obj.close();
  }
}

function cell(r: LimitRow, base: LimitRow | undefined, m: Mode): string[] {
  const t = r.timing[m];
  if (!t) return ['—', ''];
  const b = base?.timing[m];
  const x = r.program.startsWith('xdpfw') && r.program !== NO_LIMIT && b ? ratio(t.median / b.median) : '';
  return [`${fixed(t.median, 0)} ±${percent(t.spread / 2)}`, x];
}

function report(rows: LimitRow[]): string {
  const base = rows.find((r) => r.program === NO_LIMIT);
  return table(
    ['program', 'packet', 'hot ns', '× no limit', 'warm ns', '× no limit', 'cold ns', '× no limit'],
    rows.map((r) => [r.program, r.packet, ...MODES.flatMap((m) => cell(r, base, m))]),
  );
}

function targetLine(rows: LimitRow[]): string {
  const base = rows.find((r) => r.program === NO_LIMIT);
  const parts: string[] = [];
  for (const packet of ['bucket hit', 'bucket miss'] as const) {
    const row = rows.find((r) => r.packet === packet);
    if (!row || !base) continue;
    const modes = MODES.flatMap((m) => {
      const t = row.timing[m];
      if (!t) return [];
      const x = t.median / base.timing[m]!.median;
      return [`${m} ${ratio(x)} ${x <= 1.5 ? 'met' : 'MISSED'}`];
    });
    parts.push(`${packet}: ${modes.join(', ')}`);
  }
  return `target — a limited rule the packet hits ≤ 1.5 × the same rules without a limit: ${parts.join('; ')}`;
}

/** The limits section: its table, target line and set-add figures; the tables removed whatever happens. */
export async function limitsSection(): Promise<string> {
  const pins = { netnsId: `bench-limits-${process.pid}` } satisfies PinOptions;
  ensureBpffs(pins);
  const removeTables = () => {
    removeMeterTableIfUnused(pins, new Set());
    removeSetsIfUnused(new Set(), pins);
    fs.rmSync(path.join(stateRoot(pins), pins.netnsId), { recursive: true, force: true }); // the sets' declarations' parent
  };
  removeTables();
  process.stderr.write(`rate limits: ${grouped(BUCKETS)} buckets, ${grouped(BANS)} bans…\n`);
  const sources = new Sources();
  const hitCold = sources.take(ROTATION_SIZE.cold);
  const hitWarm = sources.take(ROTATION_SIZE.warm);
  const traffic = udpCase('default', hitCold, hitWarm);
  const hit = { ...traffic, packet: 'bucket hit' as const };
  const bans = sources.take(BANS);
  // the cold rotation cycles through all the bans, the warm one through the first 4,096
  const cycle = (n: number) => Array.from({ length: n }, (_, i) => bans[(i * 7919) % BANS]);
  const banned = udpCase('banned', cycle(ROTATION_SIZE.cold), bans.slice(0, ROTATION_SIZE.warm));
  const rows: LimitRow[] = [];
  const programs: LoadedProgram[] = [];
  const run = async <T>(name: string, p: Promise<LoadedProgram>, body: (p: LoadedProgram) => T): Promise<T> => {
    process.stderr.write(`  ${name}: loading… `);
    const program = await p;
    programs.push(program);
    try {
      return body(program);
    } finally {
      program.close();
      programs.pop();
    }
  };
  try {
    rows.push(bareDrop(traffic));
    const plain = policyText([], classBenchRules(GENERATED).map(xdpfwRuleText));
    const byDefault = [{ c: traffic, counter: 'default' as const, action: XDP_DROP }];
    for (const [program, classify] of [
      [NO_LIMIT, undefined],
      [`${NO_LIMIT}, bit vectors`, 'lbvs'],
    ] as const) {
      const [t] = await run(program, load(plain, GENERATED, pins, classify), (p) => {
        process.stderr.write('timing\n');
        return verifiedTiming(p, GENERATED, byDefault);
      });
      rows.push({ program, packet: 'default', timing: t });
    }
    const limited = `xdpfw, ${GENERATED} rules + limited rule`;
    const hitTiming = await run(`${limited}, ${grouped(ROOMY_TABLE)}-bucket table`, loadLimited(ROOMY_TABLE, pins), (p) => {
      process.stderr.write(`filling ${grouped(BUCKETS)} buckets… timing\n`);
      fillBuckets(p, sources.take(BUCKETS));
      return verifiedTiming(p, GENERATED + 1, [{ c: hit, counter: GENERATED, action: XDP_PASS }])[0];
    });
    rows.push({
      program: `${limited} (${grouped(BUCKETS)} buckets, table ${grouped(ROOMY_TABLE)})`,
      packet: 'bucket hit',
      timing: hitTiming,
    });
    removeTables();
    const missTimingRow = await run(`${limited}, ${grouped(FULL_TABLE)}-bucket table`, loadLimited(FULL_TABLE, pins), (p) => {
      process.stderr.write(`filling ${grouped(BUCKETS)} buckets… timing\n`);
      fillBuckets(p, sources.take(BUCKETS));
      return missTiming(p, GENERATED + 1, sources.take(MISS_ROTATION));
    });
    rows.push({ program: `${limited} (table of ${grouped(FULL_TABLE)}, full)`, packet: 'bucket miss', timing: missTimingRow });
    removeTables();
    const banRules = ['drop src @banned', ...classBenchRules(GENERATED).map(xdpfwRuleText)];
    const banText = policyText(['set banned dynamic timeout 1h size 65536'], banRules);
    let setAdd: string[] = [];
    const banTiming = await run(`xdpfw, drop src @banned + ${GENERATED} rules`, load(banText, banRules.length, pins), (p) => {
      process.stderr.write(`adding ${grouped(BANS)} bans… timing\n`);
      addToSet('banned', bans.map(ip4Text), { ...pins, seconds: 3600 });
      const t = verifiedTiming(p, banRules.length, [{ c: banned, counter: 0, action: XDP_DROP }])[0];
      setAdd = setAddLines('banned', pins, () => sources.take(BANS).map(ip4Text));
      return t;
    });
    rows.push({ program: `xdpfw, drop src @banned + ${GENERATED} rules (${grouped(BANS)} bans)`, packet: 'banned', timing: banTiming });
    return [
      '### Rate limits and bans',
      '',
      `policies: the ${GENERATED} generated rules, \`default drop\` ("no limit": as the product loads them, on the ` +
        `linear path with its fast path, and forced onto the bit vectors, which any policy with a limit takes); the same ` +
        `rules then \`${LIMITED_RULE}\`; \`drop src @banned\` then the same rules. Packets: UDP to port ` +
        `${NO_RULE_DPORT} from sources no generated rule covers. Bucket hit: the meter table (${grouped(ROOMY_TABLE)} ` +
        `slots) holds ${grouped(BUCKETS)} other buckets and the rotations' own. Bucket miss: the table of ` +
        `${grouped(FULL_TABLE)} is full, the packets come from ${grouped(MISS_ROTATION)} sources in turn, so each ` +
        `packet creates its bucket and the LRU evicts the least recently used one for it (a table with room skips ` +
        `the eviction); only a cold figure (a repeated source finds its bucket). Banned: the set holds ` +
        `${grouped(BANS)} bans; the warm rotation cycles through 4,096 of them, the cold one through all.`,
      '',
      report(rows),
      '',
      targetLine(rows),
      '',
      ...setAdd,
    ].join('\n');
  } finally {
    for (const p of programs) p.close();
    for (const c of [traffic, banned]) for (const r of Object.values(c.rotators)) r.close();
    removeTables();
  }
}
