/**
 * Where a program spends its time, by sampling: `perf record -e cpu-clock`
 * on the bench CPU while the program runs through BPF_PROG_TEST_RUN. JITed
 * BPF programs show up as bpf_prog_<tag>_<name>, and the helpers and map
 * lookups they call (trie_lookup_elem for LPM tries) under their own names.
 * `bpftool prog profile` needs hardware counters (cycles), which a VM often
 * lacks: tried first, reported as it answers.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestRunner } from '../../src/xdp/test-run.js';
import { hasCommand } from './sh.js';

const SECONDS = 3;

function bpftoolProfile(progId: number): string {
  if (!hasCommand('bpftool')) return 'bpftool prog profile: bpftool not installed';
  const r = spawnSync('bpftool', ['prog', 'profile', 'id', String(progId), 'duration', '1', 'cycles', 'instructions'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  return `bpftool prog profile (cycles, instructions): ${r.status === 0 ? out : `unavailable here (${out || `exit ${r.status}`})`}`;
}

/**
 * `perf record` of this process's main thread (the one in BPF_PROG_TEST_RUN)
 * while `runFd` (the rotator, tail-calling the program) runs `frame`.
 */
export async function profileProgram(progId: number, runFd: number, frame: Uint8Array, cpu: number): Promise<string> {
  const lines = [bpftoolProfile(progId)];
  if (!hasCommand('perf')) return [...lines, 'perf: not installed'].join('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-bench-perf-'));
  const data = path.join(dir, 'perf.data');
  try {
    const other = cpu === 0 ? 1 : 0;
    const perf = spawn(
      'taskset',
      [
        '-c',
        String(other),
        'perf',
        'record',
        '-q',
        '-e',
        'cpu-clock',
        '-F',
        '9999',
        '-t',
        String(process.pid),
        '-o',
        data,
        '--',
        'sleep',
        String(SECONDS),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    perf.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => perf.on('close', resolve));
    await new Promise((r) => setTimeout(r, 300)); // let perf start sampling
    const runner = new TestRunner(runFd);
    const until = performance.now() + (SECONDS - 0.6) * 1000;
    while (performance.now() < until) runner.timed(frame, 200_000);
    const status = await done;
    if (status !== 0) return [...lines, `perf record failed: ${stderr.trim().split('\n').slice(-2).join(' | ')}`].join('\n');
    const report = spawnSync('perf', ['report', '-i', data, '--stdio', '--sort', 'sym', '--percent-limit', '2'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const top = (report.stdout ?? '')
      .split('\n')
      .filter((l) => /^\s+\d+\.\d+%/.test(l))
      .map((l) => l.trim().replace(/\s+\[[k.]\]\s+/, '  '))
      .slice(0, 12);
    if (top.length === 0) {
      const why = `${report.stderr ?? ''}${report.stdout ?? ''}`.trim().split('\n').slice(0, 4).join(' | ');
      return [...lines, `perf report gave no symbols (${why || 'no samples'})`].join('\n');
    }
    return [
      ...lines,
      `perf record -e cpu-clock of the test-running thread (CPU ${cpu}), ${SECONDS} s, symbols ≥ 2% of samples:`,
      ...top.map((l) => `  ${l}`),
    ].join('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
