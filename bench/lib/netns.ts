/**
 * The e2e bench's wire: two network namespaces, xdpfw-bench-tx and
 * xdpfw-bench-rx, joined by one veth pair, and nothing outside them. The
 * receiving veth gets NAPI (GRO on) so native XDP and netfilter both run in
 * its poll loop; static neighbours and no IPv6 keep control traffic out of
 * the counts. Removing the namespaces removes everything made inside them:
 * the veths, XDP links, iptables, nft and ipset state.
 */
import fs from 'node:fs';
import { ifindexOf } from '../../src/xdp/link.js';
import { withNetns } from './native.js';
import { inNetns, run, tryRun } from './sh.js';
import { SysctlGuard } from './machine.js';

export const NS_TX = 'xdpfw-bench-tx';
export const NS_RX = 'xdpfw-bench-rx';
export const IF_TX = 'xbench-tx';
export const IF_RX = 'xbench-rx';
export const MAC_TX = '02:b0:0c:00:00:01';
export const MAC_RX = '02:b0:0c:00:00:02';
export const IP_TX = '198.18.0.1';
export const IP_RX = '198.19.0.1';

export type NapiMode = 'one-cpu' | 'two-cpu';

/** Removes the bench namespaces if they exist (a previous run killed hard). Touches nothing else. */
export function removeBenchNamespaces(): void {
  for (const ns of [NS_TX, NS_RX]) {
    if (fs.existsSync(`/run/netns/${ns}`)) tryRun('ip', ['netns', 'del', ns]);
  }
}

/**
 * A sysctl guard and a cleanup for a bench that creates namespaces: the
 * cleanup removes them and restores the sysctls, also on SIGINT/SIGTERM.
 */
export function benchCleanup(): { guard: SysctlGuard; cleanup: () => void } {
  const guard = new SysctlGuard();
  const cleanup = () => {
    removeBenchNamespaces();
    guard.restore();
  };
  const interrupted = () => {
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  return { guard, cleanup };
}

export class BenchWire {
  readonly txIfindex: number;

  private constructor() {
    this.txIfindex = withNetns(NS_TX, () => ifindexOf(IF_TX));
  }

  /** Creates the namespaces and the veth pair, fresh. */
  static create(): BenchWire {
    removeBenchNamespaces();
    try {
      run('ip', ['netns', 'add', NS_TX]);
      run('ip', ['netns', 'add', NS_RX]);
      run('ip', [
        '-n',
        NS_TX,
        'link',
        'add',
        IF_TX,
        'address',
        MAC_TX,
        'type',
        'veth',
        'peer',
        'name',
        IF_RX,
        'address',
        MAC_RX,
        'netns',
        NS_RX,
      ]);
      for (const [ns, dev, ip, peerIp, peerMac] of [
        [NS_TX, IF_TX, IP_TX, IP_RX, MAC_RX],
        [NS_RX, IF_RX, IP_RX, IP_TX, MAC_TX],
      ]) {
        inNetns(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
        run('ip', ['-n', ns, 'addr', 'add', `${ip}/15`, 'dev', dev]);
        run('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'up']);
        run('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
        run('ip', ['-n', ns, 'neigh', 'replace', peerIp, 'lladdr', peerMac, 'dev', dev, 'nud', 'permanent']);
      }
      inNetns(NS_TX, 'ethtool', ['-K', IF_TX, 'tso', 'off']);
      inNetns(NS_RX, 'ethtool', ['-K', IF_RX, 'gro', 'on']);
      return new BenchWire();
    } catch (err) {
      removeBenchNamespaces();
      throw err;
    }
  }

  destroy(): void {
    removeBenchNamespaces();
  }

  /** Packets the receiving veth's NAPI took off its ring (with or without an XDP program). */
  rxPackets(): number {
    const stats = inNetns(NS_RX, 'ethtool', ['-S', IF_RX]);
    const m = /rx_queue_0_xdp_packets:\s*(\d+)/.exec(stats);
    if (!m) throw new Error(`ethtool -S ${IF_RX} has no rx_queue_0_xdp_packets`);
    return Number(m[1]);
  }

  /**
   * one-cpu: the receiver's NAPI runs in softirq on the sender's CPU (threaded off);
   * two-cpu: in its own kernel thread, pinned to `napiCpu`. Returns that thread's pid.
   */
  setMode(mode: NapiMode, napiCpu: number): number | null {
    inNetns(NS_RX, 'sh', ['-c', `echo ${mode === 'two-cpu' ? 1 : 0} > /sys/class/net/${IF_RX}/threaded`]);
    if (mode === 'one-cpu') return null;
    const pid = napiThread();
    run('taskset', ['-pc', String(napiCpu), String(pid)], { stdio: 'ignore' });
    return pid;
  }
}

/** The NAPI kernel thread of the receiving veth (napi/xbench-rx-<id>). */
export function napiThread(): number {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith(`napi/${IF_RX}-`)) found.push(Number(entry));
    } catch {
      // a process that just exited
    }
  }
  if (found.length === 0) throw new Error(`no NAPI thread for ${IF_RX} (threaded mode refused?)`);
  return Math.max(...found); // the newest, if an XDP attach recreated the NAPI
}

/** Time the thread has run on a CPU, in ns (/proc/<pid>/schedstat, field 1). */
export function runtimeNs(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
}
