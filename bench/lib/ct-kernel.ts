/**
 * The in-kernel cost of connection tracking (bench:kernel's stateful
 * section): a `ct state` policy whose TCP table holds 1,000,000 live
 * entries, timed for a packet of an established flow and for one that has
 * no entry, next to bare XDP_DROP and to the same generated rules without
 * the ct rules, in the same run and the same modes as the rest of
 * bench:kernel (lib/timing.ts).
 *
 * The table is the one the loader creates and pins for the policy, under a
 * pins key of the bench's own (no namespace has it, so `xdpfw gc` leaves it
 * alone), filled directly with batch updates: entries as the egress
 * recorder would leave them for flows a million clients opened, with
 * deadlines far in the future so none expires while the bench runs. The
 * tables are removed at the end.
 */
import fs from 'node:fs';
import { buildFrame } from '../../src/packet/build.js';
import { CT_ENTRY_STATE, FAMILY, MAP, STRUCT } from '../../src/contract/kernel.js';
import { conntrackDir } from '../../src/xdp/conntrack.js';
import {
  ensureBpffs,
  loadPolicyProgram,
  readCounters,
  type LoadedProgram,
  type LoadOptions,
  type PinOptions,
} from '../../src/xdp/index.js';
import { Random } from '../../tests/support/random.js';
import {
  classBenchRules,
  compileBenchPolicy,
  ip4Text,
  rulesPolicy,
  xdpfwRuleText,
  BENCH_IFACE,
  TRAFFIC_DST,
  TRAFFIC_SRC,
  type BenchPolicy,
} from './policy-gen.js';
import { fillBatch, loadBenchObject, Rotator } from './programs.js';
import { fixed, grouped, percent, ratio, table } from './stats.js';
import { MODES, ROTATION_SIZE, runCase, timeCases, type Case, type Mode, type Timing } from './timing.js';

/** Tracked flows in the TCP table, and the table's size (the loader creates it with the policy's `conntrack { size }`). */
export const CT_ENTRIES = 1_000_000;
const CT_TABLE_SIZE = 2_097_152;
/** Generated rules after the ct rules, and alone in the stateless policy. */
const GENERATED = 10;
const CT_RULES = ['allow ct state established,related', 'drop ct state invalid', 'allow tcp dport 22 ct state new'];
/** The flows' ports: clients' source port, the host's service. */
const CLIENT_PORT = 40000;
const SERVICE_PORT = 443;
const TCP_ACK = 0x10;
const XDP_DROP = 1;
const XDP_PASS = 2;
/** Far past any run: the entries never expire (bpf_ktime_get_coarse_ns counts from boot). */
const FAR_DEADLINE = 1n << 62n;

type CtPacket = 'established' | 'no entry';
/** The stateless row the ratios divide by: the generated rules as the product loads them (with the fast path). */
const NO_CT = `xdpfw, no ct (${GENERATED} rules)`;
/** The part any one-lookup design pays (bench/bpf/ctfloor.bpf.c). */
const FLOOR = `one LRU lookup of the ct key, ${grouped(CT_ENTRIES)} entries`;

interface CtRow {
  program: string;
  packet: CtPacket | 'any';
  timing: Timing;
}

/** The ct policy: the three ct rules, then the generated rules; the table sized for the entries. */
function ctPolicy(): BenchPolicy {
  const rules = [...CT_RULES, ...classBenchRules(GENERATED).map(xdpfwRuleText)];
  const text = [
    `conntrack {`,
    `  size ${CT_TABLE_SIZE}`,
    `}`,
    `interface ${BENCH_IFACE} {`,
    '  default drop',
    ...rules.map((r) => `  ${r}`),
    '}',
    '',
  ].join('\n');
  return { path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text]]), rules: rules.length };
}

/** Distinct client → host address pairs in the traffic range, as unsigned numbers. */
function flowPairs(count: number, seed: number, avoid?: Set<number>): { src: number[]; dst: number[]; keys: Set<number> } {
  const r = new Random(seed);
  const src: number[] = [];
  const dst: number[] = [];
  const keys = new Set<number>();
  while (src.length < count) {
    const s = (TRAFFIC_SRC.addr | r.int(0, 0xffff)) >>> 0;
    const d = (TRAFFIC_DST.addr | r.int(0, 0xffff)) >>> 0;
    // the low 16 bits of each address make the pair unique in the traffic range
    const key = (s & 0xffff) * 0x10000 + (d & 0xffff);
    if (keys.has(key) || avoid?.has(key)) continue;
    keys.add(key);
    src.push(s);
    dst.push(d);
  }
  return { src, dst, keys };
}

/** Writes one established entry a pair into the TCP table: the key as the host sees an inbound packet. */
function fillTable(fd: number, flows: { src: number[]; dst: number[] }): void {
  const k = STRUCT.xdpfw_ct_key;
  const v = STRUCT.xdpfw_ct_entry;
  const n = flows.src.length;
  const keys = Buffer.alloc(n * k.size);
  const values = Buffer.alloc(n * v.size);
  for (let i = 0; i < n; i++) {
    const at = i * k.size;
    keys.writeUInt32BE(flows.dst[i], at + k.fields.local);
    keys.writeUInt32BE(flows.src[i], at + k.fields.remote);
    keys.writeUInt16LE(SERVICE_PORT, at + k.fields.lport);
    keys.writeUInt16LE(CLIENT_PORT, at + k.fields.rport);
    keys.writeUInt8(6, at + k.fields.proto);
    keys.writeUInt8(FAMILY.ipv4, at + k.fields.family);
    const vt = i * v.size;
    values.writeBigUInt64LE(FAR_DEADLINE, vt + v.fields.deadline);
    values.writeUInt32LE(CT_ENTRY_STATE.established, vt + v.fields.state);
  }
  fillBatch(fd, keys, values, k.size, v.size, `the TCP connection table (${grouped(n)} entries)`);
}

const be32 = (a: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, a);
  return b;
};

/** A TCP ACK from client to host, and rotations of `pairs` (the cold one's first pair is the hot frame). */
function ackCase(packet: CtPacket, pairs: { src: number[]; dst: number[] }): Case {
  const rotation = (offset: number, size: number) => ({
    family: 4 as const,
    src: pairs.src.slice(offset, offset + size).map(be32),
    dst: pairs.dst.slice(offset, offset + size).map(be32),
  });
  const frame = buildFrame({
    family: 4,
    protocol: 6,
    src: ip4Text(pairs.src[0]),
    dst: ip4Text(pairs.dst[0]),
    sport: CLIENT_PORT,
    dport: SERVICE_PORT,
    tcpFlags: TCP_ACK,
  });
  const cold = new Rotator(rotation(0, ROTATION_SIZE.cold));
  const warm = new Rotator(rotation(ROTATION_SIZE.cold, ROTATION_SIZE.warm));
  // `kind` only names the packet in bench:kernel's other tables
  return { kind: 'none', packet, frame, rotators: { cold, warm } };
}

/** Each rotation once through: every packet must be taken by `counter` with `action`. */
function verify(program: LoadedProgram, nrules: number, c: Case, counter: number | 'default', action: number): void {
  const count = () => {
    const k = readCounters(program, { nrules });
    return counter === 'default' ? k.global.default.packets : k.rules[counter].packets;
  };
  for (const mode of ['warm', 'cold'] as const) {
    const size = c.rotators[mode].size;
    const before = count();
    const r = runCase(program.progFd, c, mode, size);
    const moved = Number(count() - before);
    if (moved !== size || r.action !== action) {
      throw new Error(
        `ct bench, "${c.packet}" (${mode}): ${moved} of ${size} taken by ${counter === 'default' ? 'the default' : `rule ${counter}`}, ` +
          `last action ${r.action} (want ${action}): the table or the generator is wrong`,
      );
    }
  }
}

async function timeProgram(
  program: string,
  policy: BenchPolicy,
  load: LoadOptions,
  cases: { c: Case; counter: number | 'default'; action: number }[],
  fill?: (p: LoadedProgram) => void,
): Promise<CtRow[]> {
  process.stderr.write(`  ${program}: loading… `);
  const loaded = await loadPolicyProgram(compileBenchPolicy(policy), load);
  try {
    if (fill) {
      process.stderr.write(`filling ${grouped(CT_ENTRIES)} entries… `);
      fill(loaded);
    }
    process.stderr.write('timing\n');
    for (const x of cases) verify(loaded, policy.rules, x.c, x.counter, x.action);
    const timings = timeCases(
      loaded.progFd,
      cases.map((x) => x.c),
    );
    return cases.map((x, i) => ({ program, packet: x.c.packet as CtPacket, timing: timings[i] }));
  } finally {
    loaded.close();
  }
}

function bareDrop(c: Case): CtRow {
  const obj = loadBenchObject('drop');
  try {
    return { program: 'bare XDP_DROP', packet: 'any', timing: timeCases(obj.progFd, [c])[0] };
  } finally {
    obj.close();
  }
}

/** The floor: the ct key built and looked up once in an LRU table of the same size and entries, then drop. */
function lookupFloor(cases: Case[], flows: { src: number[]; dst: number[] }): CtRow[] {
  const obj = loadBenchObject('ctfloor', { maxEntries: { bench_ct: CT_TABLE_SIZE } });
  try {
    const map = obj.maps.get('bench_ct');
    if (!map) throw new Error('ctfloor.bpf.o has no bench_ct');
    process.stderr.write(`  ${FLOOR}: filling ${grouped(CT_ENTRIES)} entries… timing\n`);
    fillTable(map.fd, flows);
    const timings = timeCases(obj.progFd, cases);
    return cases.map((c, i) => ({ program: FLOOR, packet: c.packet as CtPacket, timing: timings[i] }));
  } finally {
    obj.close();
  }
}

function report(rows: CtRow[]): string {
  const stateless = (r: CtRow, m: Mode) => rows.find((x) => x.program === NO_CT && x.packet === r.packet)?.timing[m].median;
  const cells = (r: CtRow, m: Mode) => {
    const base = r.program.startsWith('xdpfw, ct') ? stateless(r, m) : undefined;
    return [`${fixed(r.timing[m].median, 0)} ±${percent(r.timing[m].spread / 2)}`, base ? ratio(r.timing[m].median / base) : ''];
  };
  return table(
    ['program', 'packet', 'hot ns', '× no ct', 'warm ns', '× no ct', 'cold ns', '× no ct'],
    rows.map((r) => [r.program, r.packet, ...MODES.flatMap((m) => cells(r, m))]),
  );
}

function targetLine(rows: CtRow[]): string {
  const parts: string[] = [];
  for (const packet of ['established', 'no entry'] as const) {
    const ct = rows.find((r) => r.program.startsWith('xdpfw, ct') && r.packet === packet);
    const base = rows.find((r) => r.program === NO_CT && r.packet === packet);
    if (!ct || !base) continue;
    const modes = MODES.map((m) => {
      const x = ct.timing[m].median / base.timing[m].median;
      return `${m} ${ratio(x)} ${x <= 1.5 ? 'met' : 'MISSED'}`;
    });
    parts.push(`${packet}: ${modes.join(', ')}`);
  }
  const floors: string[] = [];
  const bare = rows.find((r) => r.program === 'bare XDP_DROP');
  for (const packet of ['established', 'no entry'] as const) {
    const floor = rows.find((r) => r.program === FLOOR && r.packet === packet);
    const base = rows.find((r) => r.program === NO_CT && r.packet === packet);
    if (!floor || !base || !bare) continue;
    // the least any one-lookup design reaches: the stateless rules plus what one lookup adds to a bare drop
    const least = MODES.map(
      (m) => `${m} ${ratio((base.timing[m].median + floor.timing[m].median - bare.timing[m].median) / base.timing[m].median)}`,
    );
    floors.push(`${packet}: ${least.join(', ')}`);
  }
  return [
    `target — ct state policy, ${grouped(CT_ENTRIES)} tracked entries ≤ 1.5 × the same rules without ct: ${parts.join('; ')}`,
    `floor — the same rules plus one lookup of the ct key (× no ct): ${floors.join('; ')}`,
  ].join('\n');
}

/** The stateful section: its table and target line, the tables removed whatever happens. */
export async function conntrackSection(): Promise<string> {
  const pins: PinOptions = { netnsId: `bench-ct-${process.pid}` };
  ensureBpffs(pins);
  process.stderr.write(`connection tracking, ${grouped(CT_ENTRIES)} entries…\n`);
  const tracked = flowPairs(CT_ENTRIES, 21);
  const untracked = flowPairs(ROTATION_SIZE.cold + ROTATION_SIZE.warm, 22, tracked.keys);
  const established = ackCase('established', tracked);
  const noEntry = ackCase('no entry', untracked);
  try {
    const rows: CtRow[] = [bareDrop(noEntry), ...lookupFloor([established, noEntry], tracked)];
    const stateless = rulesPolicy(classBenchRules(GENERATED));
    const byDefault = [
      { c: established, counter: 'default' as const, action: XDP_DROP },
      { c: noEntry, counter: 'default' as const, action: XDP_DROP },
    ];
    rows.push(...(await timeProgram(NO_CT, stateless, {}, byDefault)));
    // the ct program has no fast path: this row is the C program's own share
    rows.push(...(await timeProgram(`${NO_CT}, C rules`, stateless, { fastPath: false }, byDefault)));
    const fill = (p: LoadedProgram) => {
      const map = p.maps.get(MAP.ctTcp);
      if (!map) throw new Error(`the ct program has no ${MAP.ctTcp}`);
      fillTable(map.fd, tracked);
    };
    rows.push(
      ...(await timeProgram(
        `xdpfw, ct (${CT_RULES.length} + ${GENERATED} rules, ${grouped(CT_ENTRIES)} entries)`,
        ctPolicy(),
        { pins },
        [
          { c: established, counter: 0, action: XDP_PASS },
          { c: noEntry, counter: 1, action: XDP_DROP },
        ],
        fill,
      )),
    );
    return [
      '### Connection tracking',
      '',
      `policy: \`default drop; ${CT_RULES.join('; ')}\` then the ${GENERATED} generated rules, TCP table of ` +
        `${grouped(CT_TABLE_SIZE)} slots holding ${grouped(CT_ENTRIES)} established flows; packets: TCP ACKs of ` +
        `a tracked flow (passed by rule 0) or of none (invalid, dropped by rule 1); "no ct": the ${GENERATED} ` +
        `generated rules alone (default drop), with the fast path as loaded, and without it ("C rules": the ct ` +
        `program has none).`,
      '',
      report(rows),
      '',
      targetLine(rows),
    ].join('\n');
  } finally {
    for (const c of [established, noEntry]) for (const r of Object.values(c.rotators)) r.close();
    fs.rmSync(conntrackDir(pins), { recursive: true, force: true });
  }
}
