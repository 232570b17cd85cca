import fs from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { configFromOptions, configFromYaml, globToRegExp } from '../../../src/controller/config.js';
import { problems } from './config-problems.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';

/** A file with per-node interfaces: edge nodes first, then a fallback for the rest of the fleet. */
const FLEET = `interfaces:
  - name: eth0
    policy: edge.xdpfw
nodes:
  - match: edge-[0-9]*
    interfaces:
      - name: enp65s0f0
        policy: edge.xdpfw
      - name: enp65s0f1
        policy: edge.xdpfw
  - match: "edge-*"
    interfaces:
      - name: ens5
        policy: edge.xdpfw
  - match: gpu-??
    interfaces:
      - name: bond0
        policy: gpu.xdpfw
`;

const names = (text: string, node?: string) => configFromYaml(text, '/etc/xdpfw/config/run.yaml', node).interfaces.map((i) => i.name);

describe('run configuration: interfaces chosen per node', () => {
  it('the first entry whose glob matches the node name gives the interfaces', () => {
    expect(names(FLEET, 'edge-1')).toEqual(['enp65s0f0', 'enp65s0f1']);
    expect(names(FLEET, 'edge-west')).toEqual(['ens5']);
    expect(names(FLEET, 'gpu-07')).toEqual(['bond0']);
    expect(configFromYaml(FLEET, '/etc/xdpfw/config/run.yaml', 'gpu-07').interfaces[0].source).toEqual({
      kind: 'file',
      path: '/etc/xdpfw/config/gpu.xdpfw',
    });
  });

  it('a node no entry matches, or no node given, falls back to the top-level interfaces', () => {
    expect(names(FLEET, 'gpu-007')).toEqual(['eth0']);
    expect(names(FLEET, 'worker-1')).toEqual(['eth0']);
    expect(names(FLEET)).toEqual(['eth0']);
  });

  it('globs match the whole name: *, ?, ranges and negated classes', () => {
    const glob = (g: string) => globToRegExp(g)!;
    expect(glob('edge-*').test('edge-')).toBe(true);
    expect(glob('edge-*').test('xedge-1')).toBe(false);
    expect(glob('n?.example.net').test('n1.example.net')).toBe(true);
    expect(glob('n?.example.net').test('n1xexample.net')).toBe(false);
    expect(glob('rack[!0-3]-*').test('rack4-a')).toBe(true);
    expect(glob('rack[!0-3]-*').test('rack2-a')).toBe(false);
    expect(glob('a+b(c)').test('a+b(c)')).toBe(true);
    expect(globToRegExp('edge-[0-9')).toBeUndefined();
  });

  it('a node matching nothing, with no top-level interfaces, is an error naming the node', () => {
    const perNodeOnly = FLEET.replace(/^interfaces:\n(?: {2}.*\n)+/, '');
    expect(names(perNodeOnly, 'edge-2')).toEqual(['enp65s0f0', 'enp65s0f1']);
    expect(problems(() => configFromYaml(perNodeOnly, 'run.yaml', 'worker-1'))).toEqual([
      "run.yaml: node 'worker-1' matches no entry of nodes, and there are no top-level interfaces",
    ]);
    expect(problems(() => configFromYaml(perNodeOnly, 'run.yaml'))).toEqual([
      'run.yaml: nodes: give --node NAME (or XDPFW_NODE) to choose an entry; there are no top-level interfaces',
    ]);
  });

  it("every entry's shape and interfaces are checked, whichever node is chosen", () => {
    const text = `nodes:
  - match: "edge-[0-9"
    interfaces:
      - name: eth0
        policy: p
  - match: 7
    interfaces: []
  - interfaces:
      - name: eth0
        policy: p
        mode: turbo
    colour: blue
  - just a string
  - match: "*"
    interfaces:
      - name: eth0
`;
    expect(problems(() => configFromYaml(text, 'run.yaml', 'edge-1'))).toEqual([
      "run.yaml: nodes[0]: match must be a glob of node names (*, ?, [a-z]), not 'edge-[0-9'",
      "run.yaml: nodes[1]: match must be a glob of node names (*, ?, [a-z]), not '7'",
      "run.yaml: nodes[2]: unknown setting 'colour'",
      'run.yaml: nodes[2]: match is missing: a glob of node names (*, ?, [a-z])',
      "run.yaml: nodes[3]: expected a mapping with 'match' and 'interfaces'",
      'run.yaml: nodes[1].interfaces: a list of at least one interface is needed',
      "run.yaml: nodes[2].interfaces[0]: mode must be native, generic or auto, not 'turbo'",
      "run.yaml: nodes[4].interfaces[0]: give exactly one of 'policy' (a file or directory) and 'git' (a repository)",
    ]);
    expect(problems(() => configFromYaml('nodes: { match: "*" }\n', 'run.yaml', 'n1'))).toEqual([
      'run.yaml: nodes: expected a list of { match: GLOB, interfaces: [...] }',
      'run.yaml: interfaces: a list of at least one interface is needed',
    ]);
  });

  it('--node is refused without --config', () => {
    expect(problems(() => configFromOptions({ iface: ['eth0'], policy: 'p.xdpfw', node: 'edge-1' }, '/'))).toEqual([
      "--node needs --config: it chooses an entry of the file's nodes list",
    ]);
  });
});

describe('xdpfw run --node and XDPFW_NODE', () => {
  const dir = scratchDir('xdpfw-run-node-');
  const file = path.join(dir, 'run.yaml');
  // An invalid mode keeps every run at the configuration stage, whatever node is chosen.
  fs.writeFileSync(file, 'nodes:\n  - match: edge-*\n    interfaces:\n      - name: eth0\n        policy: p\n        mode: turbo\n');
  afterEach(() => {
    delete process.env.XDPFW_NODE;
  });

  it('the node comes from --node, else from XDPFW_NODE, and an unmatched one is named', async () => {
    let r = await runCli('run', '--config', file, '--node', 'db-1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[config-invalid]: ');
    expect(r.stderr).toContain(`${file}: node 'db-1' matches no entry of nodes`);
    process.env.XDPFW_NODE = 'db-2';
    r = await runCli('run', '--config', file);
    expect(r.stderr).toContain(`${file}: node 'db-2' matches no entry of nodes`);
    r = await runCli('run', '--config', file, '--node', 'db-3');
    expect(r.stderr).toContain(`${file}: node 'db-3' matches no entry of nodes`);
  });
});
