/**
 * What drops the traffic on the receiving side of the e2e bench, each set up
 * on a fresh wire: the XDP baselines, xdpfw (rules or one set), and the same
 * rules or list in iptables-legacy (raw PREROUTING), native nft (one rule
 * each, priority raw), an nft set and an ipset. Each ends with a counted
 * drop-all, and `counted()` reads that count back, so the bench can check
 * that every packet went past all N rules and was dropped at the end.
 *
 * The stateful receivers let established and related traffic in and drop
 * the rest: xdpfw with `ct state`, iptables-legacy's conntrack match and
 * nft's `ct state`, the latter two in PREROUTING right after conntrack has
 * looked the packet up (mangle), the earliest point where its state is known.
 */
import type { LoadedProgram } from '../../src/xdp/index.js';
import fs from 'node:fs';
import { conntrackDir } from '../../src/xdp/conntrack.js';
import { ensureBpffs, loadPolicyProgram, readCounters } from '../../src/xdp/index.js';
import { closeFd } from '../../src/xdp/libbpf.js';
import { attachXdp, type Attachment } from '../../src/xdp/link.js';
import type { LoadedObject } from '../../src/xdp/object.js';
import { withNetns } from './native.js';
import { IF_RX, NS_RX } from './netns.js';
import {
  BENCH_IFACE,
  iptablesRuleText,
  nftRuleText,
  compileBenchPolicy,
  prefix4Text,
  rulesPolicy,
  type BenchRule,
  type Prefix4,
} from './policy-gen.js';
import { loadBenchObject, loadHashBaseline } from './programs.js';
import { inNetns } from './sh.js';

export type ReceiverKind =
  | 'bare XDP_DROP'
  | 'XDP one hash lookup'
  | 'xdpfw'
  | 'iptables-legacy'
  | 'nft'
  | 'xdpfw set'
  | 'nft set'
  | 'ipset'
  | 'xdpfw ct'
  | 'iptables-legacy ct'
  | 'nft ct'
  | 'xdpfw ban';

export interface Receiver {
  kind: ReceiverKind;
  /** Packets that reached the final drop (or the XDP program's drop) since setup; null if not counted. */
  counted(): number | null;
  close(): void;
}

const IPSET_NAME = 'xdpfw-bench-list';
const NFT_TABLE = 'xdpfw_bench';

/** A loaded XDP program of the bench, with the count of packets it dropped at the end (null: not counted). */
export interface XdpProgram {
  progFd: number;
  counted(): number | null;
  close(): void;
}

/** Attaches `progFd` to the receiving veth in native mode; closing the link's fd detaches it. */
export function attachToReceiver(kind: ReceiverKind, progFd: number): Attachment {
  const link = withNetns(NS_RX, () => attachXdp(progFd, IF_RX, 'native'));
  if (link.mode !== 'native') {
    closeFd(link.linkFd);
    throw new Error(`${kind}: attached in ${link.mode} mode, not native`);
  }
  return link;
}

function xdpReceiver(kind: ReceiverKind, progFd: number, release: () => void, counted: () => number | null): Receiver {
  const link = attachToReceiver(kind, progFd);
  return {
    kind,
    counted,
    close() {
      closeFd(link.linkFd); // the last reference: the link detaches
      release();
    },
  };
}

/** The bare XDP_DROP program (bench/bpf/drop.bpf.c). */
export function dropProgram(): XdpProgram {
  const obj: LoadedObject = loadBenchObject('drop');
  return { progFd: obj.progFd, counted: () => null, close: () => obj.close() };
}

export function xdpBaseline(kind: 'bare XDP_DROP' | 'XDP one hash lookup', hashEntries: number[] = []): Receiver {
  const obj = kind === 'bare XDP_DROP' ? dropProgram() : loadHashBaseline(hashEntries);
  return xdpReceiver(
    kind,
    obj.progFd,
    () => obj.close(),
    () => null,
  );
}

/** xdpfw's program for a bench policy; `counted` also checks that no rule matched. */
async function xdpfwProgram(kind: 'xdpfw' | 'xdpfw set', files: Map<string, string>, nrules: number): Promise<XdpProgram> {
  const compiled = compileBenchPolicy({ path: 'bench.xdpfw', files, rules: nrules });
  const program: LoadedProgram = await loadPolicyProgram(compiled);
  return {
    progFd: program.progFd,
    close: () => program.close(),
    counted: () => {
      const c = readCounters(program, { nrules: compiled.rules.length });
      const byRules = c.rules.reduce((s, r) => s + r.packets, 0n);
      if (byRules !== 0n) throw new Error(`${kind}: ${byRules} packets matched a rule meant not to match`);
      return Number(c.global.default.packets);
    },
  };
}

async function xdpfwReceiver(kind: 'xdpfw' | 'xdpfw set', files: Map<string, string>, nrules: number): Promise<Receiver> {
  const program = await xdpfwProgram(kind, files, nrules);
  try {
    return xdpReceiver(
      kind,
      program.progFd,
      () => program.close(),
      () => program.counted(),
    );
  } catch (err) {
    program.close();
    throw err;
  }
}

/** xdpfw's program for `rules`, none of which matches the traffic; default drop. */
export function xdpfwRulesProgram(rules: BenchRule[]): Promise<XdpProgram> {
  return xdpfwProgram('xdpfw', rulesPolicy(rules).files, rules.length);
}

/** xdpfw with `rules`, none of which matches the traffic; default drop. */
export function xdpfwRules(rules: BenchRule[]): Promise<Receiver> {
  return xdpfwReceiver('xdpfw', rulesPolicy(rules).files, rules.length);
}

/** xdpfw with one rule, `drop src @list`, that the traffic's source is not in; default drop. */
export function xdpfwSet(list: Prefix4[]): Promise<Receiver> {
  const text = [`set list from "list.txt"`, `interface ${BENCH_IFACE} {`, '  default drop', '  drop src @list', '}', ''].join('\n');
  return xdpfwReceiver(
    'xdpfw set',
    new Map([
      ['bench.xdpfw', text],
      ['list.txt', list.map(prefix4Text).join('\n') + '\n'],
    ]),
    1,
  );
}

/** The packet count of the raw table's last PREROUTING rule (the final DROP). */
function iptablesFinalCount(): number {
  const save = inNetns(NS_RX, 'iptables-legacy-save', ['-c', '-t', 'raw']);
  const lines = save.split('\n').filter((l) => l.includes('-A PREROUTING'));
  const m = /^\[(\d+):\d+\]/.exec(lines[lines.length - 1] ?? '');
  return m ? Number(m[1]) : 0;
}

function iptablesRestore(rules: string[]): void {
  const text = [
    '*raw',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...rules.map((r) => `-A PREROUTING ${r}`),
    '-A PREROUTING -j DROP',
    'COMMIT',
    '',
  ];
  inNetns(NS_RX, 'iptables-legacy-restore', [], { input: text.join('\n') });
}

export function iptablesLegacy(rules: BenchRule[]): Receiver {
  iptablesRestore(rules.map(iptablesRuleText));
  return { kind: 'iptables-legacy', counted: iptablesFinalCount, close() {} };
}

export function ipset(list: Prefix4[]): Receiver {
  const lines = [`create ${IPSET_NAME} hash:net family inet hashsize ${Math.max(1024, list.length)} maxelem ${list.length + 65536}`];
  for (const p of list) lines.push(`add ${IPSET_NAME} ${prefix4Text(p)}`);
  inNetns(NS_RX, 'ipset', ['restore'], { input: lines.join('\n') + '\n' });
  iptablesRestore([`-m set --match-set ${IPSET_NAME} src -j DROP`]);
  return { kind: 'ipset', counted: iptablesFinalCount, close() {} };
}

function nftFinalCount(): number {
  const out = inNetns(NS_RX, 'nft', ['list', 'chain', 'ip', NFT_TABLE, 'pre']);
  const m = /counter packets (\d+) bytes \d+ drop/.exec(out);
  return m ? Number(m[1]) : 0;
}

function nftLoad(body: string[]): void {
  inNetns(NS_RX, 'nft', ['-f', '-'], { input: [`table ip ${NFT_TABLE} {`, ...body, '}', ''].join('\n') });
}

const NFT_CHAIN_HEAD = ['  chain pre {', '    type filter hook prerouting priority raw; policy accept;'];

export function nft(rules: BenchRule[]): Receiver {
  nftLoad([...NFT_CHAIN_HEAD, ...rules.map((r) => `    ${nftRuleText(r)}`), '    counter drop', '  }']);
  return { kind: 'nft', counted: nftFinalCount, close() {} };
}

export function nftSet(list: Prefix4[]): Receiver {
  const elements = list.map(prefix4Text);
  const chunks: string[] = [];
  for (let i = 0; i < elements.length; i += 8) chunks.push(`      ${elements.slice(i, i + 8).join(', ')},`);
  nftLoad([
    '  set bench_list {',
    '    type ipv4_addr; flags interval; auto-merge;',
    '    elements = {',
    ...chunks,
    '    }',
    '  }',
    ...NFT_CHAIN_HEAD,
    '    ip saddr @bench_list drop',
    '    counter drop',
    '  }',
  ]);
  return { kind: 'nft set', counted: nftFinalCount, close() {} };
}

/* ---- stateful ------------------------------------------------------------- */

/** xdpfw letting in only what belongs to a tracked connection; its tables under a pins key of the bench's own. */
export async function xdpfwCt(): Promise<Receiver> {
  const pins = { netnsId: `bench-ct-e2e-${process.pid}` };
  ensureBpffs(pins);
  const text = [
    `interface ${BENCH_IFACE} {`,
    '  default drop',
    '  allow ct state established,related',
    '  drop ct state invalid',
    '}',
    '',
  ].join('\n');
  const compiled = compileBenchPolicy({ path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text]]), rules: 2 });
  const removeTables = () => fs.rmSync(conntrackDir(pins), { recursive: true, force: true });
  let program: LoadedProgram | null = null;
  try {
    program = await loadPolicyProgram(compiled, { pins });
    const loaded = program;
    return xdpReceiver(
      'xdpfw ct',
      loaded.progFd,
      () => {
        loaded.close();
        removeTables();
      },
      () => {
        const c = readCounters(loaded, { nrules: 2 });
        if (c.rules[0].packets !== 0n) throw new Error(`xdpfw ct: ${c.rules[0].packets} flood packets taken as established`);
        return Number(c.rules[1].packets + c.global.default.packets); // ACKs: invalid; SYNs: new, the default
      },
    );
  } catch (err) {
    program?.close();
    removeTables();
    throw err;
  }
}

/**
 * The count of `final`, checked against the packets netfilter's conntrack
 * found invalid (per-CPU rows of /proc/net/stat/nf_conntrack, in hex): a
 * flood with a wrong checksum would skip the entry it is meant to make.
 */
function countedValid(kind: ReceiverKind, final: () => number): () => number {
  return () => {
    const n = final();
    const [head, ...rows] = inNetns(NS_RX, 'cat', ['/proc/net/stat/nf_conntrack']).trim().split('\n');
    const column = head.trim().split(/\s+/).indexOf('invalid');
    const invalid = rows.reduce((sum, row) => sum + parseInt(row.trim().split(/\s+/)[column], 16), 0);
    if (invalid > n / 100) throw new Error(`${kind}: conntrack found ${invalid} of ${n} packets invalid`);
    return n;
  };
}

/** The packet count of the mangle table's PREROUTING policy (DROP). */
function iptablesPolicyCount(): number {
  const save = inNetns(NS_RX, 'iptables-legacy-save', ['-c', '-t', 'mangle']);
  const m = /^:PREROUTING DROP \[(\d+):\d+\]/m.exec(save);
  return m ? Number(m[1]) : 0;
}

export function iptablesLegacyCt(): Receiver {
  const text = ['*mangle', ':PREROUTING DROP [0:0]', '-A PREROUTING -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', 'COMMIT', ''];
  inNetns(NS_RX, 'iptables-legacy-restore', [], { input: text.join('\n') });
  return { kind: 'iptables-legacy ct', counted: countedValid('iptables-legacy ct', iptablesPolicyCount), close() {} };
}

export function nftCt(): Receiver {
  nftLoad([
    '  chain pre {',
    '    type filter hook prerouting priority mangle; policy drop;',
    '    ct state established,related accept',
    '    counter drop',
    '  }',
  ]);
  return { kind: 'nft ct', counted: countedValid('nft ct', nftFinalCount), close() {} };
}
