/** What the figures were measured on, CPU pinning, and the sysctls a bench must not leave changed. */
import fs from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';

export interface Machine {
  nproc: number;
  kernel: string;
  cpu: string;
  memGiB: number;
  node: string;
  hypervisor: string | null;
}

export function machine(): Machine {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' }).stdout ?? '';
  const hypervisor = /Hypervisor vendor:\s*(.*)/.exec(lscpu)?.[1] ?? (flags.includes('hypervisor') ? 'yes' : null);
  return {
    nproc: os.cpus().length,
    kernel: os.release(),
    cpu: model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    hypervisor,
  };
}

export function machineLine(m = machine()): string {
  return (
    `machine: ${m.nproc} CPU(s) ${m.cpu}${m.hypervisor ? ` (VM, ${m.hypervisor})` : ''}, ` +
    `${m.memGiB} GiB, kernel ${m.kernel}, Node ${m.node}`
  );
}

/** The CPUs this process may run on, from /proc/self/status. */
export function allowedCpus(): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
}

/**
 * Re-executes this script under `taskset -c cpu` unless it already runs
 * pinned there, so the figures never depend on where the scheduler put us.
 */
export function pinTo(cpu: number): void {
  if (allowedCpus() === String(cpu)) return;
  if (process.env.XDPFW_BENCH_PINNED === '1') {
    process.stderr.write(`bench: could not pin to CPU ${cpu} (allowed: ${allowedCpus()}); going on unpinned\n`);
    return;
  }
  const r = spawnSync('taskset', ['-c', String(cpu), process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, XDPFW_BENCH_PINNED: '1' },
  });
  process.exit(r.status ?? (r.signal ? 128 : 1));
}

/** A sysctl value changed for the bench's duration; `restore()` puts it back. */
export class SysctlGuard {
  private readonly saved = new Map<string, string>();

  set(path: string, value: string): void {
    const current = fs.readFileSync(path, 'utf8').trim();
    if (current === value) return;
    if (!this.saved.has(path)) this.saved.set(path, current);
    fs.writeFileSync(path, value);
  }

  restore(): void {
    for (const [path, value] of this.saved) {
      try {
        fs.writeFileSync(path, value);
      } catch (err) {
        process.stderr.write(`bench: could not restore ${path} to ${value}: ${String(err)}\n`);
      }
    }
    this.saved.clear();
  }
}

/** bpf_stats_enabled adds ~70 ns to every program run: the benches run with it off, and restore it. */
export function statsOff(guard: SysctlGuard): void {
  guard.set('/proc/sys/kernel/bpf_stats_enabled', '0');
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (BPF programs, namespaces, netfilter): run with sudo\n');
    process.exit(3);
  }
}

/** /proc/loadavg's three averages: other work on the machine shows up in the figures' spread. */
export function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function cpuTimes(): { busy: number; total: number }[] {
  return fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const v = l.split(/\s+/).slice(1).map(Number);
      const idle = v[3] + v[4];
      const total = v.reduce((s, x) => s + x, 0);
      return { busy: total - idle, total };
    });
}

/** The busiest CPU's share of time spent on other work over `ms` (this process sleeps meanwhile). */
export async function otherLoad(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return Math.max(...b.map((x, i) => (x.busy - a[i].busy) / Math.max(1, x.total - a[i].total)));
}

/**
 * Other work on the machine moves the figures: wait (up to `maxSeconds`)
 * until no CPU is more than 15% busy, and say so either way.
 */
export async function waitForQuiet(maxSeconds = 120): Promise<string> {
  const started = Date.now();
  let load = await otherLoad();
  while (load > 0.15 && Date.now() - started < maxSeconds * 1000) {
    process.stderr.write(`bench: the machine is busy (a CPU ${Math.round(load * 100)}% used by other work), waiting…\n`);
    await new Promise((r) => setTimeout(r, 4000));
    load = await otherLoad();
  }
  const waited = Math.round((Date.now() - started) / 1000);
  return load > 0.15
    ? `other work used up to ${Math.round(load * 100)}% of a CPU when the bench started (waited ${waited} s): expect a wider spread`
    : `machine quiet at start (other work < ${Math.max(1, Math.round(load * 100))}% of a CPU)`;
}
