/**
 * bench:control — the control plane: how long a policy takes to check and
 * compile, to load and fill (with progress, as `apply` shows it), to attach,
 * the whole of `xdpfw apply` as a new process, and to replace atomically; and how many packets are misjudged when a
 * running policy is replaced again and again under traffic (0 expected).
 *
 * Replacement under traffic: a sender process (lib/livegen-main.ts) injects
 * frames into the veth pair on CPU 0 while this process, on CPU 1, applies
 * ~20 policies in turn to the receiver (load, fill, compare-and-swap of the
 * link's program). Both policies drop the traffic by a rule named "traffic";
 * every packet the receiver took off its ring must be counted by that rule
 * of one of the programs. Misjudged = received − counted.
 *
 *   npm run bench:control [-- --quick] [-- --json FILE]
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { CompiledInterface } from '../src/compiler/output.js';
import { loadPolicy } from '../src/policy/index.js';
import { loadPolicyProgram, readCounters, type FillProgress, type LoadedProgram } from '../src/xdp/index.js';
import { rodataValues } from '../src/xdp/layout.js';
import { closeFd } from '../src/xdp/libbpf.js';
import { attachXdp, replaceLinkProgram } from '../src/xdp/link.js';
import { encodeCompiled, mapSizes, writeEntries } from '../src/xdp/maps.js';
import { defaultObjectPath, loadObject } from '../src/xdp/object.js';
import { MemoryHost } from '../tests/support/memory-host.js';
import { frame4 } from './lib/frames.js';
import { loadAverage, machineLine, waitForQuiet, pinTo, requireRoot, statsOff } from './lib/machine.js';
import { withNetns } from './lib/native.js';
import { BenchWire, benchCleanup, IF_RX, IF_TX, IP_RX, IP_TX, MAC_RX, MAC_TX, NS_RX, NS_TX, removeBenchNamespaces } from './lib/netns.js';
import {
  addressSet,
  benchPolicy,
  BENCH_IFACE,
  classBenchRules,
  compileBenchPolicy,
  ip4,
  NO_RULE_DPORT,
  writePolicyFiles,
  xdpfwRuleText,
  type BenchPolicy,
} from './lib/policy-gen.js';
import { fixed, grouped, percent, sample, table, type Sample } from './lib/stats.js';

const CPU = 1;
const SENDER_CPU = 0;
const REPLACEMENTS = 20;

const ms = (s: Sample) => `${fixed(s.median, 0)} ms ±${percent(s.spread / 2)}`;

function progressPrinter(label: string): (p: FillProgress) => void {
  let last = -1;
  const tty = process.stderr.isTTY;
  return (p) => {
    const pct = Math.floor((100 * p.doneAll) / p.totalAll);
    const step = tty ? pct : pct - (pct % 25);
    if (step === last) return;
    last = step;
    const text = `  ${label}: ${pct}% (${p.map} ${grouped(p.done)}/${grouped(p.total)})`;
    process.stderr.write(tty ? `\r${text}\x1b[K${p.doneAll === p.totalAll ? '\n' : ''}` : `${text}\n`);
  };
}

interface ApplyTiming {
  /** loadPolicy alone, and compileSource: parse, check and compile, the whole. */
  compile: { parse: Sample; whole: Sample };
  /** loadPolicyProgram (open, verify, create and fill maps) + attach: what an apply costs after compiling. */
  apply: Sample;
  /** Its parts: bpf_object__load (verifier, map creation), encoding the entries, writing them, attaching. */
  load: Sample;
  encode: Sample;
  write: Sample;
  attach: Sample;
  entries: number;
}

/** Parse+compile, then load+fill+attach on the receiver of a fresh wire, `runs` times. */
async function applyTiming(label: string, policy: BenchPolicy, runs: number): Promise<ApplyTiming> {
  const parse: number[] = [];
  const whole: number[] = [];
  let compiled: CompiledInterface | null = null;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    loadPolicy(policy.path, new MemoryHost(policy.files));
    parse.push(performance.now() - t0);
    const t1 = performance.now();
    compiled = compileBenchPolicy(policy);
    whole.push(performance.now() - t1);
  }
  const apply: number[] = [];
  const load: number[] = [];
  const encode: number[] = [];
  const write: number[] = [];
  const attach: number[] = [];
  let entries = 0;
  const wire = BenchWire.create();
  try {
    for (let i = 0; i < runs; i++) {
      // the parts, measured apart
      const t0 = performance.now();
      const obj = loadObject(defaultObjectPath(), { rodata: rodataValues(compiled!.constants), maxEntries: mapSizes(compiled!) });
      load.push(performance.now() - t0);
      try {
        const t1 = performance.now();
        const encoded = encodeCompiled(compiled!);
        encode.push(performance.now() - t1);
        const writeStart = performance.now();
        for (const [name, mapEntries] of encoded) await writeEntries(obj.maps.get(name)!, mapEntries);
        write.push(performance.now() - writeStart);
      } finally {
        obj.close();
      }
      // the whole, as apply does it
      const t2 = performance.now();
      const program = await loadPolicyProgram(compiled!, { onProgress: progressPrinter(`${label}: filling maps`) });
      entries = program.fill.entries;
      try {
        const t3 = performance.now();
        const link = withNetns(NS_RX, () => attachXdp(program.progFd, IF_RX, 'native'));
        const t4 = performance.now();
        attach.push(t4 - t3);
        apply.push(t4 - t2);
        closeFd(link.linkFd);
      } finally {
        program.close();
      }
    }
  } finally {
    wire.destroy();
  }
  return {
    compile: { parse: sample(parse), whole: sample(whole) },
    apply: sample(apply),
    load: sample(load),
    encode: sample(encode),
    write: sample(write),
    attach: sample(attach),
    entries,
  };
}

/** The command an operator runs (the shell wrapper that starts Node, see bin/xdpfw). */
const XDPFW = fileURLToPath(new URL('../bin/xdpfw', import.meta.url));

/** Every CPU: the commands below run as an operator runs them, not pinned like this process. */
const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** The policy's files in a fresh directory (its interface renamed to the bench receiver's), removed after `body`. */
function withPolicyFiles<T>(policy: BenchPolicy, body: (file: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-bench-'));
  try {
    return body(writePolicyFiles(dir, policy, IF_RX));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `xdpfw check FILE` as a new process (it parses, checks and compiles): wall time, `runs` times. */
function cliCheckTiming(policy: BenchPolicy, runs: number): Sample {
  return withPolicyFiles(policy, (file) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      execFileSync('taskset', ['-c', ALL_CPUS, XDPFW, 'check', file], { stdio: 'ignore' });
      times.push(performance.now() - t0);
    }
    return sample(times);
  });
}

/**
 * `xdpfw apply FILE` as an operator runs it — a new process that reads,
 * parses, checks, compiles, loads, fills and attaches — on the receiver of a
 * fresh wire: wall time, `runs` times. It runs in a private mount namespace
 * with its own /run/xdpfw (pins and state vanish with it), then detaches.
 */
function cliApplyTiming(policy: BenchPolicy, runs: number): Sample {
  return withPolicyFiles(policy, (file) => {
    const script = [
      'set -e',
      'mount -t tmpfs xdpfw-bench /run/xdpfw && mkdir /run/xdpfw/bpffs && mount -t bpf bpffs /run/xdpfw/bpffs',
      `t0=$(date +%s%N); ip netns exec ${NS_RX} "${XDPFW}" apply "${file}" >/dev/null; t1=$(date +%s%N)`,
      `ip netns exec ${NS_RX} "${XDPFW}" detach >/dev/null`,
      'echo $(( (t1 - t0) / 1000 ))',
    ].join('\n');
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const wire = BenchWire.create();
      try {
        fs.mkdirSync('/run/xdpfw', { recursive: true });
        const unshare = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script];
        const out = execFileSync('taskset', ['-c', ALL_CPUS, ...unshare], { encoding: 'utf8' });
        times.push(Number(out.trim()) / 1000);
      } finally {
        wire.destroy();
      }
    }
    return sample(times);
  });
}

/** A policy of 100 ClassBench-like rules and, last, the rule named "traffic" that drops the bench traffic. */
function replacementPolicy(seed: number): BenchPolicy {
  const rules = classBenchRules(99, seed).map((r) => `  ${xdpfwRuleText(r)}`);
  const text = [
    `interface ${BENCH_IFACE} {`,
    '  default allow',
    ...rules,
    `  drop udp src ${IP_TX} dst ${IP_RX} dport ${NO_RULE_DPORT} name "traffic"`,
    '}',
    '',
  ].join('\n');
  return { path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text]]), rules: 100 };
}

function startSender(frame: Uint8Array): { ready: Promise<void>; stop: () => Promise<{ sent: number; ns: number }> } {
  const script = fileURLToPath(new URL('./lib/livegen-main.ts', import.meta.url));
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      NS_TX,
      'taskset',
      '-c',
      String(SENDER_CPU),
      process.execPath,
      ...process.execArgv,
      script,
      IF_TX,
      Buffer.from(frame).toString('hex'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  let result: { sent: number; ns: number } | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') resolve();
      else if (line.startsWith('{')) result = JSON.parse(line) as { sent: number; ns: number };
    });
    child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`the sender exited with ${code}`))));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    ready,
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0 || !result) throw new Error(`the sender exited with ${code} and no count`);
      return result;
    },
  };
}

interface ReplacementResult {
  swaps: Sample;
  applies: Sample;
  sent: number;
  received: number;
  counted: number;
  misjudged: number;
  replacements: number;
}

/** Attach policy A, then replace it REPLACEMENTS times (B, A, B, …, fresh programs) while traffic flows. */
async function replacementUnderTraffic(): Promise<ReplacementResult> {
  const compiled = [compileBenchPolicy(replacementPolicy(8)), compileBenchPolicy(replacementPolicy(9))];
  const traffic = compiled.map((c) => c.rules.findIndex((r) => r.name === 'traffic'));
  const wire = BenchWire.create();
  const programs: { program: LoadedProgram; nrules: number; rule: number }[] = [];
  let linkFd = -1;
  try {
    wire.setMode('one-cpu', SENDER_CPU);
    const first = await loadPolicyProgram(compiled[0]);
    programs.push({ program: first, nrules: compiled[0].rules.length, rule: traffic[0] });
    linkFd = withNetns(NS_RX, () => attachXdp(first.progFd, IF_RX, 'native')).linkFd;
    const received0 = wire.rxPackets();
    const sender = startSender(frame4(ip4(IP_TX), ip4(IP_RX), NO_RULE_DPORT, { srcMac: MAC_TX, dstMac: MAC_RX }));
    await sender.ready;
    await new Promise((r) => setTimeout(r, 200));
    const swaps: number[] = [];
    const applies: number[] = [];
    for (let i = 1; i <= REPLACEMENTS; i++) {
      const which = i % 2;
      const t0 = performance.now();
      const program = await loadPolicyProgram(compiled[which]);
      programs.push({ program, nrules: compiled[which].rules.length, rule: traffic[which] });
      const t1 = performance.now();
      replaceLinkProgram(linkFd, program.progFd, programs[programs.length - 2].program.progFd);
      const t2 = performance.now();
      swaps.push(t2 - t1);
      applies.push(t2 - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    const { sent } = await sender.stop();
    await new Promise((r) => setTimeout(r, 100));
    const received = wire.rxPackets() - received0;
    let counted = 0;
    for (const p of programs) {
      const c = readCounters(p.program, { nrules: p.nrules });
      counted += Number(c.rules[p.rule].packets);
    }
    return {
      swaps: sample(swaps),
      applies: sample(applies),
      sent,
      received,
      counted,
      misjudged: received - counted,
      replacements: REPLACEMENTS,
    };
  } finally {
    if (linkFd >= 0) closeFd(linkFd);
    for (const p of programs) p.program.close();
    wire.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'string' } } });
  requireRoot();
  pinTo(CPU);
  const { guard, cleanup } = benchCleanup();
  try {
    statsOff(guard);
    const quiet = await waitForQuiet();
    const runs = values.quick ? 1 : 3;
    console.log('## Control plane');
    console.log(machineLine());
    console.log(
      `method: ${runs} run(s) each, median ± half the range; one process pinned to CPU ${CPU}. Load average at start: ${loadAverage()}; ${quiet}`,
    );
    process.stderr.write('generating policies…\n');
    const rulesPolicy = benchPolicy(4096, addressSet(10, 10));
    const rules = await applyTiming('4,096 rules', rulesPolicy, runs);
    const largePolicy = benchPolicy(10, addressSet(1_000_000, 100_000));
    const large = await applyTiming('1M+100k set', largePolicy, runs);
    process.stderr.write('xdpfw apply, end to end…\n');
    const cli = {
      check: cliCheckTiming(rulesPolicy, runs),
      rules: cliApplyTiming(rulesPolicy, runs),
      large: cliApplyTiming(largePolicy, runs),
    };
    process.stderr.write('replacements under traffic…\n');
    const repl = await replacementUnderTraffic();
    const row = (name: string, t: ApplyTiming, wall: Sample) => [
      name,
      ms(wall),
      grouped(t.entries),
      ms(t.compile.parse),
      ms(t.compile.whole),
      ms(t.apply),
      ms(t.load),
      ms(t.encode),
      ms(t.write),
      ms(t.attach),
    ];
    console.log();
    console.log(
      table(
        [
          'policy',
          'xdpfw apply (new process)',
          'map entries',
          'parse',
          'parse+check+compile',
          'apply',
          '= load+verify',
          '+ encode',
          '+ write maps',
          '+ attach',
        ],
        [row('4,096 rules, 10+10 set', rules, cli.rules), row('10 rules, 1M+100k set', large, cli.large)],
      ),
    );
    console.log();
    console.log(
      table(
        ['replacement under traffic', 'value'],
        [
          ['replacements (fresh program each: load, fill, compare-and-swap)', String(repl.replacements)],
          [
            'bpf_link_update (the atomic swap)',
            `${fixed(repl.swaps.median, 2)} ms (${fixed(repl.swaps.min, 2)}–${fixed(repl.swaps.max, 2)})`,
          ],
          [
            'whole replacement of a 100-rule policy',
            `${fixed(repl.applies.median, 0)} ms (${fixed(repl.applies.min, 0)}–${fixed(repl.applies.max, 0)})`,
          ],
          ['frames sent / received by the receiver', `${grouped(repl.sent)} / ${grouped(repl.received)}`],
          ['counted by the "traffic" rule of the old or new program', grouped(repl.counted)],
          ['misjudged (received − counted)', grouped(repl.misjudged)],
        ],
      ),
    );
    const check4096 = cli.check.median;
    const apply1M = cli.large.median;
    console.log();
    console.log(
      `target: 4,096-rule policy checked and compiled < 1 s: xdpfw check ${fixed(check4096, 0)} ms end to end ${check4096 < 1000 ? 'met' : 'MISSED'}` +
        ` (in this process, pinned to one CPU: ${fixed(rules.compile.whole.median, 0)} ms)`,
    );
    console.log(
      `target: 1M-entry set applied < 2 s with progress: xdpfw apply ${fixed(apply1M, 0)} ms end to end ${apply1M < 2000 ? 'met' : 'MISSED'}`,
    );
    console.log(
      `target: replacement under traffic misjudges 0 packets: ${grouped(repl.misjudged)} ${repl.misjudged === 0 ? 'met' : 'MISSED'}`,
    );
    console.log(`\nload average at end: ${loadAverage()}`);
    if (values.json) fs.writeFileSync(values.json, JSON.stringify({ rules, large, cli, replacement: repl }, null, 2));
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:control failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  removeBenchNamespaces();
  process.exit(1);
});
