/**
 * The e2e bench's banned flood: one source sends UDP past
 * `limit rate over 1000/second per src ban @banned 10s`, which bans it
 * after its first few packets; from then on `drop src @banned`, the
 * policy's first rule, drops it. Against bare XDP_DROP on the same kind of
 * wire, as the stateful floods are measured (lib/ct-e2e.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { removeSetsIfUnused } from '../../src/xdp/dynsets.js';
import { ensureBpffs, loadPolicyProgram, readCounters, type LoadedProgram } from '../../src/xdp/index.js';
import { closeFd } from '../../src/xdp/libbpf.js';
import { removeMeterTableIfUnused } from '../../src/xdp/limits.js';
import { stateRoot } from '../../src/xdp/pins.js';
import { compileBenchPolicy, BENCH_IFACE } from './policy-gen.js';
import { attachToReceiver, type Receiver, type ReceiverKind } from './receivers.js';
import { fixed, grouped, percent, ratio, table, type Sample } from './stats.js';

export const BAN_RECEIVERS = ['bare XDP_DROP', 'xdpfw ban'] as const satisfies readonly ReceiverKind[];
const BAN_RULES = ['drop src @banned', 'drop udp limit rate over 1000/second per src ban @banned 10s'];
const RECEIVER_LABEL: Partial<Record<ReceiverKind, string>> = { 'xdpfw ban': `xdpfw: ${BAN_RULES.join('; ')}` };

/** xdpfw banning the flood's source; its meter table and set under a pins key of the bench's own, removed at close. */
export async function xdpfwBan(): Promise<Receiver> {
  const pins = { netnsId: `bench-ban-e2e-${process.pid}` };
  ensureBpffs(pins);
  const removeTables = () => {
    removeMeterTableIfUnused(pins, new Set());
    removeSetsIfUnused(new Set(), pins);
    fs.rmSync(path.join(stateRoot(pins), pins.netnsId), { recursive: true, force: true }); // the sets' declarations' parent
  };
  // default allow: the packets within the rate, before the ban, go on
  const text = [
    'set banned dynamic timeout 10s',
    `interface ${BENCH_IFACE} {`,
    '  default allow',
    ...BAN_RULES.map((r) => `  ${r}`),
    '}',
    '',
  ];
  const compiled = compileBenchPolicy({ path: 'bench.xdpfw', files: new Map([['bench.xdpfw', text.join('\n')]]), rules: 2 });
  let program: LoadedProgram | null = null;
  try {
    program = await loadPolicyProgram(compiled, { pins });
    const loaded = program;
    const link = attachToReceiver('xdpfw ban', loaded.progFd);
    return {
      kind: 'xdpfw ban',
      counted: () => {
        const c = readCounters(loaded, { nrules: 2 });
        const total = c.rules[0].packets + c.rules[1].packets + c.global.default.packets;
        // a ban every 10 s, each after a burst's few packets: all but those are the ban's
        if (c.rules[0].packets * 100n < total * 99n) {
          throw new Error(`xdpfw ban: only ${c.rules[0].packets} of ${total} packets dropped by drop src @banned`);
        }
        return Number(total);
      },
      close() {
        closeFd(link.linkFd); // the last reference: the link detaches
        loaded.close();
        removeTables();
      },
    };
  } catch (err) {
    program?.close();
    removeTables();
    throw err;
  }
}

export interface BanMeasurement {
  kind: ReceiverKind;
  kpps: Sample;
  loss: number;
  nsPerPacket: Sample;
}

/** The banned flood's figures, and the ratio with its target. */
export function banReport(ms: BanMeasurement[]): { text: string; targets: string[] } {
  const drop = ms.find((m) => m.kind === 'bare XDP_DROP');
  const ours = ms.find((m) => m.kind === 'xdpfw ban');
  const rows = ms.map((m) => [
    RECEIVER_LABEL[m.kind] ?? m.kind,
    grouped(m.kpps.median),
    `±${percent(m.kpps.spread / 2)}`,
    percent(Math.max(0, m.loss)),
    fixed(m.nsPerPacket.median, 0),
    `±${percent(m.nsPerPacket.spread / 2)}`,
    drop && m !== drop ? ratio(m.kpps.median / drop.kpps.median) : '',
  ]);
  const targets: string[] = [];
  if (drop && ours) {
    const x = ours.kpps.median / drop.kpps.median;
    targets.push(`banned source: xdpfw ban ≥ 0.8 × bare XDP_DROP one-CPU pps: ${ratio(x)} ${x >= 0.8 ? 'met' : 'MISSED'}`);
  }
  const text = table(['receiver', 'one-CPU kpps', 'spread', 'lost', 'receiver ns/packet', 'spread', '× XDP_DROP'], rows);
  return { text, targets };
}
