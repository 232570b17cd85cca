/**
 * xdpfw on Deno 2: `check`, `compile` and `test` (the kernel program, through
 * koffi and libbpf under Deno's Node-API) of the example policies print
 * byte for byte what they print on Node, and exit with the same code. Deno
 * comes from the npm registry (scripts/install-runtimes.sh); it runs the
 * same bin/xdpfw.js with no permission beyond reading, the environment,
 * system information and FFI.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { REPO, skipWithoutRoot } from '../xdp/helpers/env.js';
import { buildCli } from '../cli/netns-cli.js';

const DENO = path.join(REPO, 'scripts/runtimes/node_modules/.bin/deno');
const DENO_PERMISSIONS = ['--allow-read', '--allow-env', '--allow-sys', '--allow-ffi'];
const CLI = path.join(REPO, 'bin/xdpfw.js');

/** Outside CI a missing Deno skips with the command that installs it; in CI it fails. */
function skipWithoutDeno(): boolean {
  if (fs.existsSync(DENO) || process.env.CI === 'true') return false;
  console.warn('\n*** SKIPPED the Deno tests: run scripts/install-runtimes.sh first ***\n');
  return true;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runOn(runtime: 'node' | 'deno', args: string[]): Run {
  const [command, prefix] = runtime === 'node' ? [process.execPath, []] : [DENO, ['run', ...DENO_PERMISSIONS]];
  const r = spawnSync(command, [...prefix, CLI, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PACKETS = [
  'tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S',
  'tcp 198.51.100.20:40000 > 192.0.2.1:443 flags S',
  'tcp [2001:db8:1::5]:5000 > [2001:db8::1]:22 flags S',
  'udp 10.200.0.2:1000 > 10.200.0.1:5000',
  'udp 10.200.0.3:1000 > 10.200.0.1:5000',
  'icmp 10.200.0.2 > 10.200.0.1 type echo-request',
  'icmpv6 fd00:200::4 > fd00:200::1 type echo-request',
  'tcp 198.51.100.1:4242 > 192.0.2.1:8081 flags SA ct established',
];

describe.skipIf(skipWithoutRoot('Deno tests') || skipWithoutDeno())('the example policies on Deno', () => {
  const dir = scratchDir('xdpfw-deno-');
  const broken = path.join(dir, 'broken.xdpfw');
  const cases = path.join(dir, 'cases.txt');

  beforeAll(() => {
    buildCli();
    fs.writeFileSync(broken, 'set blocklist { 203.0.113.0/24 }\ninterface eth0 {\n  default drop\n  drop src @blocklst\n}\n');
    fs.writeFileSync(
      cases,
      ['tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S => drop blocklist', 'udp 198.51.100.1:1000 > 192.0.2.1:53 => drop'].join('\n'),
    );
  }, 180_000);

  const policies = ['policies/edge.xdpfw', 'policies/netns-test.xdpfw'];
  const commands: [string, (policy: string) => string[]][] = [
    ['check', (p) => ['check', p]],
    ['check --json', (p) => ['check', '--json', p]],
    ['compile', (p) => ['compile', p]],
    ['compile --json', (p) => ['compile', '--json', p]],
    ['test', (p) => ['test', p, ...PACKETS.flatMap((packet) => ['--packet', packet])]],
    ['test --json', (p) => ['test', '--json', p, ...PACKETS.flatMap((packet) => ['--packet', packet])]],
  ];

  it.each(policies.flatMap((policy) => commands.map(([name, args]) => [`${name} ${policy}`, args(policy)] as const)))(
    '%s: the same output and exit code',
    (_name, args) => {
      const node = runOn('node', args);
      const deno = runOn('deno', args);
      expect(node.status, node.stderr).toBe(0);
      expect(node.stdout.length).toBeGreaterThan(0);
      expect(deno).toEqual(node);
    },
  );

  it.each([
    ['a policy with an error', () => ['check', broken], 1],
    ['a cases file with a mismatch', () => ['test', 'policies/edge.xdpfw', '--cases', cases], 1],
    ['a missing file', () => ['compile', path.join(dir, 'missing.xdpfw')], 1],
    ['a malformed packet', () => ['test', 'policies/edge.xdpfw', '--packet', 'tcp 10.0.0.1 > nowhere'], 2],
  ] as const)('%s: the same message and exit code', (_name, args, status) => {
    const node = runOn('node', args());
    const deno = runOn('deno', args());
    expect(node.status, node.stderr + node.stdout).toBe(status);
    expect(node.stderr + node.stdout).toMatch(/error|mismatch|=>/);
    expect(deno).toEqual(node);
  });
});
