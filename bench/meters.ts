/**
 * bench:meters — which token bucket the data plane's `limit` should keep:
 * one u64 `empty_at` taken by compare-and-exchange (docs/DESIGN.md), the
 * same without the atomic (racy; the floor of the cost), nft_limit's
 * {tokens, last} under a spin lock, or a bucket per CPU at R/ncpus
 * (bench/bpf/meter-schemes.bpf.c), in one run:
 *
 *   cost      ns a packet with BPF_PROG_TEST_RUN (median of 3 × 1,000,000
 *             repeats, one pinned CPU), for one source (hot) and for 4,096
 *             sources in turn (the rotator), when the packet takes a token
 *             and when it is over the rate; next to a bare XDP_DROP, the
 *             LRU lookup alone, and the lookup with the clock read;
 *   accuracy  one source's packets from a thread on each CPU at once for
 *             --seconds (default 3) on the real clock; what the bucket let
 *             through over R × T + B, for R = 100, 10,000 and 1,000,000/s,
 *             B = 5; and the per-CPU buckets with every packet on one CPU.
 *
 *   npm run bench:meters [-- --seconds S]
 */
import { parseArgs } from 'node:util';
import { VerifierError } from '../src/xdp/errors.js';
import * as bpf from '../src/xdp/libbpf.js';
import type { LoadedObject } from '../src/xdp/object.js';
import { TestRunner } from '../src/xdp/test-run.js';
import { frame4 } from './lib/frames.js';
import { loadAverage, machineLine, requireRoot, statsOff, SysctlGuard, waitForQuiet } from './lib/machine.js';
import { PinnedWorkers, readMeterCounts } from './lib/meter-accuracy.js';
import { pinThread } from './lib/meter-worker.js';
import { loadBenchObject, Rotator, type MeterObject } from './lib/programs.js';
import { fixed, grouped, percent, ratio, sample, table, type Sample } from './lib/stats.js';
import { Random } from '../tests/support/random.js';

const SCHEMES = ['racy', 'cas', 'lock', 'percpu'] as const;
type Scheme = (typeof SCHEMES)[number];
const SCHEME_LABEL: Record<Scheme, string> = {
  cas: '(a) CAS on empty_at, LRU hash',
  lock: '(b) spin lock {tokens, last}, hash',
  percpu: '(c) per-CPU empty_at at R/ncpus',
  racy: '(d) racy empty_at, LRU hash',
};
const BURST = 5;
const RATES = [100, 10_000, 1_000_000];
const REPEAT = 1_000_000;
const ROUNDS = 3;
const ROTATED_SOURCES = 4096;
const COST_CPU = 1;
const SOURCE = 0xc6336407; // 198.51.100.7
const DST = 0xc0000201; // 192.0.2.1
const XDP_DROP = 1;
const XDP_PASS = 2;
const NCPUS = bpf.numPossibleCpus();

/** The bucket's load-time constants for `rate`/s and burst `burst`; per CPU, R/ncpus and B/ncpus. */
function bucketConstants(scheme: Scheme, rate: number, burst: number): Record<string, number> {
  const share = scheme === 'percpu' ? NCPUS : 1;
  const cost = Math.floor((1e9 * share) / rate);
  return {
    cfg_cost_ns: cost,
    cfg_burst_ns: Math.floor((burst * cost) / share),
    cfg_record_span: 1,
    cfg_silence_ns: silenceNs(rate, burst),
  };
}

/** How long a silence of every CPU must be to overflow the whole bucket (B × cost). */
const silenceNs = (rate: number, burst: number): number => burst * Math.floor(1e9 / rate);

interface CostProgram {
  label: string;
  obj: LoadedObject;
  expect: number;
}

/** Every packet finds a token (1 ns a packet) or none past the first (1/s, burst 1). */
const COST_CASES = [
  { when: 'takes a token', consts: { cfg_cost_ns: 1, cfg_burst_ns: 5 }, expect: XDP_PASS },
  { when: 'over the rate', consts: { cfg_cost_ns: 1e9, cfg_burst_ns: 1e9 }, expect: XDP_DROP },
];

function costPrograms(): CostProgram[] {
  const programs: CostProgram[] = [
    { label: 'bare XDP_DROP', obj: loadBenchObject('drop'), expect: XDP_DROP },
    { label: 'LRU lookup (baseline)', obj: loadBenchObject('meter-lookup'), expect: XDP_PASS },
    { label: 'LRU lookup + bpf_ktime_get_ns', obj: loadBenchObject('meter-clock'), expect: XDP_PASS },
  ];
  for (const scheme of SCHEMES) {
    for (const c of COST_CASES) {
      const obj = loadBenchObject(`meter-${scheme}`, { rodata: { ...c.consts, cfg_record_span: 0 } });
      programs.push({ label: `${SCHEME_LABEL[scheme]}, ${c.when}`, obj, expect: c.expect });
    }
  }
  return programs;
}

function randomSources(n: number): Rotator {
  const r = new Random(21);
  const be32 = (a: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, a >>> 0);
    return b;
  };
  const src = Array.from({ length: n }, () => be32((0x0a000000 | r.int(0, 0xffffff)) >>> 0));
  return new Rotator({ family: 4, src, dst: src.map(() => be32(DST)) });
}

interface CostRow {
  label: string;
  hot: Sample;
  rotated: Sample;
}

/** ROUNDS rounds over every program, so drift on the shared machine spreads over all alike. */
function timeCosts(programs: CostProgram[], rotator: Rotator, frame: Uint8Array): CostRow[] {
  const runs = programs.map(() => ({ hot: [] as number[], rotated: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    programs.forEach((p, i) => {
      const hot = new TestRunner(p.obj.progFd).timed(frame, REPEAT);
      if (hot.action !== p.expect) throw new Error(`${p.label}: verdict ${hot.action}, expected ${p.expect}`);
      rotator.retarget(p.obj.progFd);
      const rotated = new TestRunner(rotator.progFd).timed(frame, REPEAT);
      if (rotated.action !== p.expect) throw new Error(`${p.label} (rotated): verdict ${rotated.action}, expected ${p.expect}`);
      runs[i].hot.push(hot.durationNs);
      runs[i].rotated.push(rotated.durationNs);
    });
  }
  return programs.map((p, i) => ({ label: p.label, hot: sample(runs[i].hot), rotated: sample(runs[i].rotated) }));
}

function costTable(rows: CostRow[]): string {
  const [drop, lookup] = rows;
  return table(
    ['program', 'one source ns', '× drop', '× lookup', `${grouped(ROTATED_SOURCES)} sources ns`, '× drop', '× lookup', 'spread'],
    rows.map((r) => [
      r.label,
      fixed(r.hot.median),
      ratio(r.hot.median / drop.hot.median),
      ratio(r.hot.median / lookup.hot.median),
      fixed(r.rotated.median),
      ratio(r.rotated.median / drop.rotated.median),
      ratio(r.rotated.median / lookup.rotated.median),
      percent(Math.max(r.hot.spread, r.rotated.spread)),
    ]),
  );
}

/**
 * Whether this kernel takes a bpf_spin_lock in an LRU hash value (the
 * product's table is an LRU hash). When the kernel refuses the map, libbpf
 * creates it again without BTF, so the refusal shows as the verifier's.
 */
function lockInLruHash(): string {
  try {
    loadBenchObject('meter-lock-lru').close();
    return 'accepted';
  } catch (err) {
    const why =
      err instanceof VerifierError ? err.tail.find((l) => /has to have BTF|spin_lock.*not (allowed|supported)/.test(l)) : undefined;
    return `refused (${why?.trim() ?? (err instanceof Error ? err.message.split('\n')[0] : String(err))})`;
  }
}

interface AccuracyCase {
  scheme: Scheme;
  rate: number;
  cpus: number[];
}

function accuracyCases(): AccuracyCase[] {
  const both = Array.from({ length: NCPUS }, (_, i) => i);
  const cases: AccuracyCase[] = [];
  for (const rate of RATES) {
    for (const scheme of SCHEMES) cases.push({ scheme, rate, cpus: both });
    cases.push({ scheme: 'percpu', rate, cpus: [0] });
  }
  return cases;
}

async function accuracyRows(workers: PinnedWorkers, frame: Uint8Array, seconds: number): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const c of accuracyCases()) {
    const obj = loadBenchObject(`meter-${c.scheme}` satisfies MeterObject, { rodata: bucketConstants(c.scheme, c.rate, BURST) });
    try {
      const done = await workers.run(c.cpus, obj.progFd, frame, seconds);
      const n = readMeterCounts(obj, NCPUS, silenceNs(c.rate, BURST));
      const offered = done.reduce((s, d) => s + d.packets, 0);
      if (n.passed + n.dropped !== offered) throw new Error(`${c.scheme}: counted ${n.passed + n.dropped} packets, ran ${offered}`);
      const expected = (c.rate * n.spanNs) / 1e9 + BURST;
      const ideal = n.overflowNs === null ? NaN : (c.rate * (n.spanNs - n.overflowNs)) / 1e9 + BURST;
      rows.push([
        SCHEME_LABEL[c.scheme],
        grouped(c.rate),
        c.cpus.join('+'),
        grouped(n.passed),
        grouped(expected),
        fixed(n.passed / expected, 3),
        n.overflowNs === null ? '—' : fixed(n.overflowNs / 1e6, 1),
        fixed(n.passed / ideal, 3),
        fixed(offered / (n.spanNs / 1e3), 1),
        done.map((d) => fixed(d.ns / d.packets, 0)).join(' / '),
        c.scheme === 'cas' ? `${grouped(n.casRetries)} / ${grouped(n.casGaveUp)}` : '—',
      ]);
      process.stderr.write('.');
    } finally {
      obj.close();
    }
  }
  process.stderr.write('\n');
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
  const seconds = Number(values.seconds ?? 3);
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, not ${values.seconds}`);
  requireRoot();
  const guard = new SysctlGuard();
  statsOff(guard);
  const started = performance.now();
  try {
    const quiet = await waitForQuiet(10);
    const frame = frame4(SOURCE, DST, 53);
    pinThread(COST_CPU);
    const programs = costPrograms();
    const rotator = randomSources(ROTATED_SOURCES);
    let costs: CostRow[];
    try {
      costs = timeCosts(programs, rotator, frame);
    } finally {
      rotator.close();
      for (const p of programs) p.obj.close();
    }
    const workers = await PinnedWorkers.start(Array.from({ length: NCPUS }, (_, i) => i));
    let accuracy: (string | number)[][];
    try {
      accuracy = await accuracyRows(workers, frame, seconds);
    } finally {
      await workers.close();
    }
    const out = [
      machineLine(),
      `load average ${loadAverage()}; ${quiet}`,
      `bpf_spin_lock in an LRU hash value on this kernel: ${lockInLruHash()}`,
      '',
      `## Cost (median of ${ROUNDS} × ${grouped(REPEAT)} repeats on CPU ${COST_CPU}, bpf_stats off)`,
      '',
      costTable(costs),
      '',
      `## Accuracy (one source, B = ${BURST}, ${seconds} s a case on the real clock; per-CPU buckets at R/${NCPUS}, B/${NCPUS})`,
      '',
      table(
        [
          'scheme',
          'R /s',
          'CPUs',
          'admitted',
          'R×T+B',
          'admitted/(R×T+B)',
          'silence ms',
          'admitted/ideal',
          'offered Mpps',
          'ns/packet per CPU',
          'CAS retries / gave up',
        ],
        accuracy,
      ),
      '',
      `(${fixed((performance.now() - started) / 1000, 0)} s)`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    guard.restore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:meters: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
