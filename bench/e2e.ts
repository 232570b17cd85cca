/**
 * bench:e2e — packets per second end to end, xdpfw against iptables-legacy,
 * nft, nft sets and ipset, on the same veth pair in the same run.
 *
 * Two namespaces joined by veth (lib/netns.ts); the sender injects 64-byte
 * UDP frames with XDP live frames (lib/livegen.ts); the receiver drops them
 * after N rules that do not match (N = 1, 100, 1,000, 4,096), or after one
 * lookup in a list of N addresses that does not hold the source. Every
 * receiver is measured on two fresh pairs of namespaces in turn, so no
 * table, hook or GRO state of one measurement is left for the next, and a
 * wire that holds one receiver's figure off for all its runs (seen for
 * ns/packet) weighs half. Two figures each, 3 runs a wire, the median over
 * both wires':
 *   one-CPU pps       sender and receiver on one CPU (NAPI in softirq):
 *                     received packets / time; includes the sender's cost;
 *   receiver ns/pkt   NAPI in its own thread on the other CPU: the thread's
 *                     CPU time (schedstat) / packets it took off the ring.
 * Every receiver's final drop counter is checked against the packets
 * received: each one went past all N rules.
 *
 * The 1-rule target (≥ 0.9 × bare XDP_DROP) is a ratio of two figures that
 * differ by a few percent, less than one-CPU pps moves between two fresh
 * wires measured a minute apart. So it is also measured paired: one wire,
 * the two programs swapped on the same XDP link (bpf_link_update) run by
 * run in the order ABBA…, and the ratio is the median of the pairs' ratios,
 * so drift and the wire's own speed cancel.
 *
 * Then the stateful floods (lib/ct-e2e.ts): spoofed TCP SYNs and ACKs of no
 * connection, of one flow and from random sources, against bare XDP_DROP,
 * xdpfw with `ct state`, and iptables-legacy and nft with their conntrack,
 * each letting in only established and related traffic. And a banned
 * source (lib/limits-e2e.ts): one source flooding past a limit that bans
 * it, dropped by `drop src @banned`, against bare XDP_DROP.
 *
 *   npm run bench:e2e [-- --quick] [-- --json FILE] [-- --only 'nft,nft set,…'] [-- --ct-only] [-- --limits-only]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { closeFd } from '../src/xdp/libbpf.js';
import { CT_RECEIVERS, FLOODS, floodReport, floodSender, type Flood } from './lib/ct-e2e.js';
import { BAN_RECEIVERS, banReport, xdpfwBan } from './lib/limits-e2e.js';
import { replaceLinkProgram } from '../src/xdp/link.js';
import { frame4 } from './lib/frames.js';
import { LiveGenerator } from './lib/livegen.js';
import { loadAverage, machineLine, waitForQuiet, pinTo, requireRoot, statsOff } from './lib/machine.js';
import {
  BenchWire,
  benchCleanup,
  IP_RX,
  IP_TX,
  MAC_RX,
  MAC_TX,
  NS_TX,
  removeBenchNamespaces,
  runtimeNs,
  type NapiMode,
} from './lib/netns.js';
import { addressSet, classBenchRules, ip4, NO_RULE_DPORT } from './lib/policy-gen.js';
import * as receivers from './lib/receivers.js';
import type { Receiver, ReceiverKind } from './lib/receivers.js';
import { ensurePackages } from './lib/sh.js';
import { fixed, grouped, percent, ratio, sample, table, type Sample } from './lib/stats.js';

const GEN_CPU = 0;
const NAPI_CPU = 1;
const RUNS = 3;
/** Fresh wires per receiver: a wire can hold one receiver's ns/packet far from its others for all its runs. */
const WIRES = 2;
/** Pairs of runs in the paired 1-rule measurement (ABBA…). */
const PAIRS = 10;
const COUNTS = [1, 100, 1000, 4096];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Measurement {
  kind: ReceiverKind;
  n: number | null;
  /** The stateful floods' traffic; none for the UDP frames of the rest. */
  flood?: Flood;
  kpps: Sample;
  /** Fraction of sent frames the receiver never took off its ring, one-CPU mode (median run). */
  loss: number;
  nsPerPacket: Sample;
}

interface Options {
  seconds: number;
  /** Fresh wires each receiver is measured on. */
  wires: number;
}

/** Waits until the receiver has taken every queued frame off its ring. */
async function settle(wire: BenchWire): Promise<number> {
  let last = wire.rxPackets();
  for (;;) {
    await sleep(30);
    const now = wire.rxPackets();
    if (now === last) return now;
    last = now;
  }
}

/** The sender of `wire`: 64-byte UDP frames from IP_TX to IP_RX that no bench rule matches. */
function senderOn(wire: BenchWire): LiveGenerator {
  const frame = frame4(ip4(IP_TX), ip4(IP_RX), NO_RULE_DPORT, { srcMac: MAC_TX, dstMac: MAC_RX });
  return new LiveGenerator(frame, NS_TX, wire.txIfindex);
}

/** A frame count that takes the receiver about `seconds` in one-CPU mode, from a short warm-up send. */
async function calibrate(wire: BenchWire, gen: LiveGenerator, seconds: number): Promise<number> {
  const warm = 20_000;
  const warmNs = gen.send(warm);
  await settle(wire);
  return Math.max(20_000, Math.min(20_000_000, Math.round((warm / (warmNs / 1e9)) * seconds)));
}

/** One timed one-CPU run: kpps received, and the fraction of `count` never taken off the ring. */
async function oneCpuRun(wire: BenchWire, gen: LiveGenerator, count: number): Promise<{ kpps: number; loss: number }> {
  const before = await settle(wire);
  const ns = gen.send(count);
  const received = (await settle(wire)) - before;
  return { kpps: received / (ns / 1e6), loss: 1 - received / count };
}

async function measure(wire: BenchWire, gen: LiveGenerator, receiver: Receiver, n: number | null, o: Options): Promise<Measurement> {
  const received0 = wire.rxPackets();
  // one-CPU: calibrate the count to the receiver's speed, then 3 timed runs
  wire.setMode('one-cpu' satisfies NapiMode, NAPI_CPU);
  await settle(wire);
  const count = await calibrate(wire, gen, o.seconds);
  const kpps: number[] = [];
  const losses: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const r = await oneCpuRun(wire, gen, count);
    kpps.push(r.kpps);
    losses.push(r.loss);
  }
  // two-CPU: the receiver's own CPU time per packet
  const pid = wire.setMode('two-cpu', NAPI_CPU)!;
  let p = await settle(wire);
  const nsPerPacket: number[] = [];
  const sendCount = Math.round(3_000_000 * o.seconds);
  for (let run = 0; run < RUNS; run++) {
    const cpu0 = runtimeNs(pid);
    gen.send(sendCount);
    const after = await settle(wire);
    nsPerPacket.push((runtimeNs(pid) - cpu0) / (after - p));
    p = after;
  }
  wire.setMode('one-cpu', NAPI_CPU);
  const received = (await settle(wire)) - received0;
  const counted = receiver.counted();
  if (counted !== null && counted < received) {
    throw new Error(`${receiver.kind} (N=${n}): ${received} packets received, only ${counted} reached the final drop`);
  }
  const medianLoss = [...losses].sort((a, b) => a - b)[1] ?? losses[0];
  return { kind: receiver.kind, n, kpps: sample(kpps), loss: medianLoss, nsPerPacket: sample(nsPerPacket) };
}

/** A fresh wire, the receiver on it, the measurement, and everything removed whatever happens. */
async function onFreshWire(n: number | null, setup: () => Receiver | Promise<Receiver>, o: Options, flood?: Flood): Promise<Measurement> {
  const wire = BenchWire.create();
  let gen: LiveGenerator | null = null;
  let receiver: Receiver | null = null;
  try {
    gen = flood ? floodSender(wire, flood) : senderOn(wire);
    receiver = await setup();
    process.stderr.write(`  ${receiver.kind}${n === null ? '' : `, N=${n}`}${flood ? `, ${flood} flood` : ''}\n`);
    return { ...(await measure(wire, gen, receiver, n, o)), flood };
  } finally {
    receiver?.close();
    gen?.close();
    wire.destroy();
  }
}

/** The 1-rule program against bare XDP_DROP on one wire, swapped run by run (see the top comment). */
interface Paired {
  drop: Sample;
  xdpfw: Sample;
  /** xdpfw / XDP_DROP one-CPU pps, one per pair. */
  ratio: Sample;
}

async function pairedOneRule(o: Options, pairs: number): Promise<Paired> {
  const wire = BenchWire.create();
  let gen: LiveGenerator | null = null;
  const programs: receivers.XdpProgram[] = [];
  let linkFd = -1;
  try {
    gen = senderOn(wire);
    const drop = receivers.dropProgram();
    programs.push(drop);
    const xdpfw = await receivers.xdpfwRulesProgram(classBenchRules(1, 5));
    programs.push(xdpfw);
    process.stderr.write(`  xdpfw N=1 and bare XDP_DROP, paired on one wire\n`);
    linkFd = receivers.attachToReceiver('bare XDP_DROP', drop.progFd).linkFd;
    wire.setMode('one-cpu', NAPI_CPU);
    await settle(wire);
    const count = await calibrate(wire, gen, o.seconds);
    const kpps = { drop: [] as number[], xdpfw: [] as number[] };
    let byXdpfw = 0; // packets received while xdpfw ran, warm-ups included
    for (let pair = 0; pair < pairs; pair++) {
      for (const which of pair % 2 === 0 ? (['drop', 'xdpfw'] as const) : (['xdpfw', 'drop'] as const)) {
        const program = which === 'drop' ? drop : xdpfw;
        const before = await settle(wire);
        replaceLinkProgram(linkFd, program.progFd);
        gen.send(20_000);
        kpps[which].push((await oneCpuRun(wire, gen, count)).kpps);
        if (which === 'xdpfw') byXdpfw += (await settle(wire)) - before;
      }
    }
    const counted = xdpfw.counted()!;
    if (counted < byXdpfw) throw new Error(`xdpfw (N=1, paired): ${byXdpfw} packets received, only ${counted} reached the final drop`);
    const ratios = kpps.xdpfw.map((x, i) => x / kpps.drop[i]);
    return { drop: sample(kpps.drop), xdpfw: sample(kpps.xdpfw), ratio: sample(ratios) };
  } finally {
    if (linkFd >= 0) closeFd(linkFd);
    for (const p of programs) p.close();
    gen?.close();
    wire.destroy();
  }
}

/** One receiver's measurements on several wires as one: every run's figure in the samples. */
function mergeWires(wires: Measurement[]): Measurement {
  const losses = wires.map((m) => m.loss).sort((a, b) => a - b);
  return {
    ...wires[0],
    kpps: sample(wires.flatMap((m) => m.kpps.runs)),
    loss: losses[Math.floor((losses.length - 1) / 2)],
    nsPerPacket: sample(wires.flatMap((m) => m.nsPerPacket.runs)),
  };
}

function resultTable(ms: Measurement[]): string {
  return table(
    ['receiver', 'N', 'one-CPU kpps', 'spread', 'lost', 'receiver ns/packet', 'spread'],
    ms.map((m) => [
      m.kind,
      m.n === null ? '' : grouped(m.n),
      grouped(m.kpps.median),
      `±${percent(m.kpps.spread / 2)}`,
      percent(Math.max(0, m.loss)),
      fixed(m.nsPerPacket.median, 0),
      `±${percent(m.nsPerPacket.spread / 2)}`,
    ]),
  );
}

function ratioTable(ms: Measurement[], counts: number[], paired: Paired | null): { text: string; targets: string[] } {
  const get = (kind: ReceiverKind, n: number | null) => ms.find((m) => m.kind === kind && m.n === n);
  const rows: string[][] = [];
  const targets: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  for (const n of counts) {
    const pairs: [ReceiverKind, ReceiverKind][] = [
      ['xdpfw', 'iptables-legacy'],
      ['xdpfw', 'nft'],
      ['xdpfw set', 'nft set'],
      ['xdpfw set', 'ipset'],
    ];
    for (const [ours, theirs] of pairs) {
      const a = get(ours, n);
      const b = get(theirs, n);
      if (!a || !b) continue;
      const pps = a.kpps.median / b.kpps.median;
      const lower = b.nsPerPacket.median / a.nsPerPacket.median;
      rows.push([`${ours} / ${theirs}`, grouped(n), ratio(pps, 1), ratio(lower, 1)]);
      if (ours === 'xdpfw' && (n === 1000 || n === 4096)) {
        const want = n === 1000 ? 10 : 40;
        targets.push(`N=${grouped(n)}: xdpfw ≥ ${want}× ${theirs} pps: ${ratio(pps, 1)} ${verdict(pps >= want)}`);
      }
      if (ours === 'xdpfw set') {
        targets.push(
          `N=${grouped(n)}: xdpfw set vs ${theirs}: ≥ 1.5× pps ${ratio(pps, 1)} ${verdict(pps >= 1.5)}, ` +
            `≥ 4× lower ns/packet ${ratio(lower, 1)} ${verdict(lower >= 4)}`,
        );
      }
    }
  }
  const drop = get('bare XDP_DROP', null);
  const one = get('xdpfw', 1);
  if (paired) {
    const x = paired.ratio.median;
    const range = `${ratio(paired.ratio.min)}–${ratio(paired.ratio.max)}`;
    targets.unshift(
      `N=1: xdpfw ≥ 0.9 × bare XDP_DROP one-CPU pps, paired on one wire: ${ratio(x)} (pairs ${range}; ` +
        `${grouped(paired.xdpfw.median)} / ${grouped(paired.drop.median)} kpps) ${verdict(x >= 0.9)}`,
    );
  } else if (drop && one) {
    const x = one.kpps.median / drop.kpps.median;
    targets.unshift(`N=1: xdpfw ≥ 0.9 × bare XDP_DROP one-CPU pps: ${ratio(x)} ${verdict(x >= 0.9)}`);
  }
  return { text: table(['ratio', 'N', 'one-CPU pps', 'receiver ns/packet lower by'], rows), targets };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      json: { type: 'string' },
      only: { type: 'string' },
      'ct-only': { type: 'boolean' },
      'limits-only': { type: 'boolean' },
    },
  });
  const limitsOnly = values['limits-only'] === true;
  const ctOnly = values['ct-only'] === true || limitsOnly; // no stateless receivers
  const only = values.only ? new Set(values.only.split(',')) : null;
  const wanted = (kind: ReceiverKind) => !only || only.has(kind);
  requireRoot();
  pinTo(GEN_CPU);
  ensurePackages({ ethtool: 'ethtool', 'iptables-legacy': 'iptables', nft: 'nftables', ipset: 'ipset' });
  const { guard, cleanup } = benchCleanup();
  const o: Options = { seconds: values.quick ? 0.3 : 1, wires: values.quick ? 1 : WIRES };
  const counts = values.quick ? [1, 1000] : COUNTS;
  const started = performance.now();
  try {
    statsOff(guard);
    const quiet = await waitForQuiet();
    console.log('## Packets per second end to end (veth, XDP live-frames traffic)');
    console.log(machineLine());
    console.log(
      `method: 64-byte UDP frames injected by XDP live frames into a veth pair between two fresh namespaces, ` +
        `${o.wires} such wire(s) per receiver in turn, ${RUNS} runs on each, median over all; ` +
        `one-CPU: sender and receiver on CPU ${GEN_CPU}, runs of ~${o.seconds} s; ` +
        `receiver ns/packet: NAPI thread pinned to CPU ${NAPI_CPU}, schedstat CPU time / packets; ` +
        `± = half the min–max range. Load average at start: ${loadAverage()}; ${quiet}`,
    );
    const ms: Measurement[] = [];
    const hashKeys = addressSet(10_000, 0, 31).v4.map((p) => p.addr);
    const banned: Measurement[] = [];
    const bench = async (kind: ReceiverKind, n: number | null, setup: () => Receiver | Promise<Receiver>, flood?: Flood, into = ms) => {
      if (!wanted(kind)) return;
      const wires: Measurement[] = [];
      for (let w = 0; w < o.wires; w++) wires.push(await onFreshWire(n, setup, o, flood));
      into.push(mergeWires(wires));
    };
    const paired = !ctOnly && wanted('xdpfw') && wanted('bare XDP_DROP') ? await pairedOneRule(o, values.quick ? 2 : PAIRS) : null;
    if (!ctOnly) await bench('bare XDP_DROP', null, () => receivers.xdpBaseline('bare XDP_DROP'));
    if (!ctOnly) await bench('XDP one hash lookup', null, () => receivers.xdpBaseline('XDP one hash lookup', hashKeys));
    for (const n of ctOnly ? [] : counts) {
      const rules = classBenchRules(n, 5);
      const list = addressSet(n, 0, 41).v4;
      await bench('xdpfw', n, () => receivers.xdpfwRules(rules));
      await bench('iptables-legacy', n, () => receivers.iptablesLegacy(rules));
      await bench('nft', n, () => receivers.nft(rules));
      await bench('xdpfw set', n, () => receivers.xdpfwSet(list));
      await bench('nft set', n, () => receivers.nftSet(list));
      await bench('ipset', n, () => receivers.ipset(list));
    }
    const stateful: Record<(typeof CT_RECEIVERS)[number], () => Receiver | Promise<Receiver>> = {
      'bare XDP_DROP': () => receivers.xdpBaseline('bare XDP_DROP'),
      xdpfw: () => receivers.xdpfwRules(classBenchRules(1, 5)),
      'xdpfw ct': receivers.xdpfwCt,
      'iptables-legacy ct': receivers.iptablesLegacyCt,
      'nft ct': receivers.nftCt,
    };
    for (const flood of limitsOnly ? [] : FLOODS) for (const kind of CT_RECEIVERS) await bench(kind, null, stateful[kind], flood);
    const banning = { 'bare XDP_DROP': () => receivers.xdpBaseline('bare XDP_DROP'), 'xdpfw ban': xdpfwBan };
    if (values['ct-only'] !== true) for (const kind of BAN_RECEIVERS) await bench(kind, null, banning[kind], undefined, banned);
    const stateless = ms.filter((m) => !m.flood);
    if (stateless.length > 0) {
      console.log();
      console.log(resultTable(stateless));
      const { text, targets } = ratioTable(stateless, counts, paired);
      console.log();
      console.log(text);
      console.log();
      for (const t of targets) console.log(`target: ${t}`);
    }
    if (!limitsOnly) {
      const floods = floodReport(ms);
      console.log();
      console.log('### Stateful: a flood of spoofed TCP SYNs and ACKs of no connection');
      console.log();
      console.log(floods.text);
      console.log();
      for (const t of floods.targets) console.log(`target: ${t}`);
    }
    if (banned.length > 0) {
      const ban = banReport(banned);
      console.log();
      console.log('### Rate limits: one source flooding past its limit, dropped by its ban');
      console.log();
      console.log(ban.text);
      console.log();
      for (const t of ban.targets) console.log(`target: ${t}`);
    }
    console.log(`\ne2e bench took ${fixed((performance.now() - started) / 1000, 0)} s; load average at end: ${loadAverage()}`);
    if (values.json) fs.writeFileSync(values.json, JSON.stringify({ measurements: ms, banned, paired }, null, 2));
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:e2e failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  removeBenchNamespaces();
  process.exit(1);
});
