import { describe, expect, it } from 'vitest';

import { configFromOptions, configFromYaml, parseListen, parseSeconds, withOverrides } from '../../../src/controller/config.js';
import { problems } from './config-problems.js';

describe('controller configuration', () => {
  it('a command line with --policy gives one file source per interface, paths made absolute', () => {
    const c = configFromOptions(
      { iface: ['eth0', 'eth1'], policy: 'edge.xdpfw', metrics: '127.0.0.1:9100', mode: 'generic' },
      '/etc/xdpfw',
    );
    expect(c.interfaces).toEqual([
      { name: 'eth0', mode: 'generic', source: { kind: 'file', path: '/etc/xdpfw/edge.xdpfw' } },
      { name: 'eth1', mode: 'generic', source: { kind: 'file', path: '/etc/xdpfw/edge.xdpfw' } },
    ]);
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(c.detachOnExit).toBe(false);
  });

  it('a command line with --git defaults to branch main, policy.xdpfw and a 30 s poll', () => {
    const c = configFromOptions({ iface: ['eth0'], git: 'https://git.example/net/policies.git' }, '/');
    expect(c.interfaces[0].source).toEqual({
      kind: 'git',
      repo: 'https://git.example/net/policies.git',
      branch: 'main',
      path: 'policy.xdpfw',
      pollSeconds: 30,
    });
  });

  it('a local repository path becomes absolute; scp-like and URL remotes stay as written', () => {
    expect(configFromOptions({ iface: ['e'], git: 'repo' }, '/srv').interfaces[0].source).toMatchObject({ repo: '/srv/repo' });
    expect(configFromOptions({ iface: ['e'], git: 'git@host:net/p.git' }, '/srv').interfaces[0].source).toMatchObject({
      repo: 'git@host:net/p.git',
    });
  });

  it('rejects a command line without an interface, with both or neither source, or git options without --git', () => {
    expect(problems(() => configFromOptions({ policy: 'p' }))).toContain('give at least one --iface (or a --config file)');
    expect(problems(() => configFromOptions({ iface: ['e'], policy: 'p', git: 'g' }))).toContain(
      'give exactly one of --policy FILE and --git REPO',
    );
    expect(problems(() => configFromOptions({ iface: ['e'], policy: 'p', branch: 'x' }))).toContain('--branch needs --git');
  });

  it('a YAML file configures several interfaces with different sources', () => {
    const c = configFromYaml(
      `metrics: ":9100"
mode: native
detachOnExit: true
interfaces:
  - name: eth0
    policy: policies/edge.xdpfw
  - name: eth1
    mode: generic
    git: ../policies.git
    branch: prod
    path: edge/eth1.xdpfw
    poll: 2m
`,
      '/etc/xdpfw/run.yaml',
    );
    expect(c.metrics).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(c.detachOnExit).toBe(true);
    expect(c.interfaces).toEqual([
      { name: 'eth0', mode: 'native', source: { kind: 'file', path: '/etc/xdpfw/policies/edge.xdpfw' } },
      {
        name: 'eth1',
        mode: 'generic',
        source: { kind: 'git', repo: '/etc/policies.git', branch: 'prod', path: 'edge/eth1.xdpfw', pollSeconds: 120 },
      },
    ]);
  });

  it('reports every problem of a YAML file at once', () => {
    const found = problems(() =>
      configFromYaml(
        `metrics: nowhere
colour: blue
interfaces:
  - name: eth0
  - name: eth0
    policy: a
    mode: turbo
  - name: eth1
    git: r
    path: /etc/passwd
`,
        'run.yaml',
      ),
    );
    expect(found).toEqual([
      "run.yaml: unknown setting 'colour'",
      "run.yaml: metrics: 'nowhere' is not HOST:PORT",
      "run.yaml: interfaces[0]: give exactly one of 'policy' (a file or directory) and 'git' (a repository)",
      'run.yaml: interfaces[1]: interface eth0 is listed twice',
      "run.yaml: interfaces[1]: mode must be native, generic or auto, not 'turbo'",
      "run.yaml: interfaces[2]: path must be relative to the repository root, not '/etc/passwd'",
    ]);
  });

  it('a YAML syntax error names the file', () => {
    expect(problems(() => configFromYaml('interfaces: [', 'run.yaml'))[0]).toMatch(/^run\.yaml: /);
  });

  it('a metrics port alone listens on the loopback address; every address only when named', () => {
    const listen = (metrics: string) => configFromOptions({ iface: ['eth0'], policy: 'p', metrics }, '/').metrics;
    expect(listen('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(listen(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(listen('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(listen('[::]:9464')).toEqual({ host: '::', port: 9464 });
    expect(configFromYaml('metrics: 9464\ninterfaces:\n  - name: eth0\n    policy: /p\n', '/x.yaml').metrics).toEqual({
      host: '127.0.0.1',
      port: 9464,
    });
    expect(problems(() => configFromOptions({ iface: ['eth0'], policy: 'p', metrics: '70000' }, '/'))).toEqual([
      "command line: metrics: '70000' is not HOST:PORT",
    ]);
  });

  it('a git source may require signed commits, by SSH allowed signers or an OpenPGP keyring', () => {
    const flags = configFromOptions({ iface: ['eth0'], git: 'r.git', requireSigned: true, allowedSigners: 'signers' }, '/etc');
    expect(flags.interfaces[0].source).toMatchObject({ kind: 'git', requireSigned: { allowedSigners: '/etc/signers' } });
    const file = configFromYaml(
      'interfaces:\n  - name: eth0\n    git: r.git\n    requireSigned: { keyring: keys/ops.asc }\n',
      '/etc/xdpfw/run.yaml',
    );
    expect(file.interfaces[0].source).toMatchObject({ requireSigned: { keyring: '/etc/xdpfw/keys/ops.asc' } });
    expect(problems(() => configFromOptions({ iface: ['e'], policy: 'p', requireSigned: true, keyring: 'k' }))).toEqual([
      '--require-signed needs --git',
    ]);
    expect(problems(() => configFromOptions({ iface: ['e'], git: 'r', requireSigned: true }))).toEqual([
      '--require-signed needs exactly one of --allowed-signers FILE (SSH) and --keyring FILE (OpenPGP)',
    ]);
    expect(problems(() => configFromOptions({ iface: ['e'], git: 'r', keyring: 'k' }))).toEqual([
      '--allowed-signers and --keyring need --require-signed',
    ]);
    expect(
      problems(() =>
        configFromYaml(
          'interfaces:\n  - name: eth0\n    git: r\n    requireSigned: yes\n  - name: eth1\n    policy: p\n    requireSigned: { keyring: k }\n',
          'run.yaml',
        ),
      ),
    ).toEqual([
      'run.yaml: interfaces[0]: requireSigned: give { allowedSigners: FILE } (SSH signatures) or { keyring: FILE } (OpenPGP)',
      'run.yaml: interfaces[1]: requireSigned needs a git source',
    ]);
  });

  it('flags beside --config override its top-level settings', () => {
    const c = configFromYaml('interfaces:\n  - name: eth0\n    policy: /p\n', '/x.yaml');
    expect(withOverrides(c, { metrics: '[::1]:9200', detachOnExit: true }).metrics).toEqual({ host: '::1', port: 9200 });
  });

  it('compile limits default to 2048 MiB and 60 s, and come from flags or the file', () => {
    const d = configFromOptions({ iface: ['eth0'], policy: 'p.xdpfw' }, '/');
    expect([d.compileMemoryMb, d.compileTimeoutSeconds]).toEqual([2048, 60]);
    const flags = configFromOptions({ iface: ['eth0'], policy: 'p.xdpfw', compileMemory: '512', compileTimeout: '90s' }, '/');
    expect([flags.compileMemoryMb, flags.compileTimeoutSeconds]).toEqual([512, 90]);
    const file = configFromYaml(
      'compileMemoryMb: 256\ncompileTimeoutSeconds: 2m\ninterfaces: [{ name: eth0, policy: p.xdpfw }]\n',
      '/x.yaml',
    );
    expect([file.compileMemoryMb, file.compileTimeoutSeconds]).toEqual([256, 120]);
    expect(withOverrides(file, { compileMemory: '1024' }).compileMemoryMb).toBe(1024);
    expect(
      problems(() =>
        configFromYaml('compileMemoryMb: 8\ncompileTimeoutSeconds: soon\ninterfaces: [{ name: eth0, policy: p }]\n', '/x.yaml'),
      ),
    ).toEqual([
      "/x.yaml: compileTimeoutSeconds: 'soon' is not a positive duration",
      "/x.yaml: compileMemoryMb: '8' is not a number of MiB (16 or more)",
    ]);
    expect(() => withOverrides(file, { compileMemory: 'lots' })).toThrow(/--compile-memory: 'lots' is not a number of MiB/);
  });

  it('stale pins are freed every 10 minutes unless told otherwise', () => {
    expect(configFromOptions({ iface: ['eth0'], policy: 'p.xdpfw' }, '/').gcSeconds).toBe(600);
    expect(configFromOptions({ iface: ['eth0'], policy: 'p.xdpfw', gcInterval: '30s' }, '/').gcSeconds).toBe(30);
    const file = configFromYaml('gcSeconds: 1h\ninterfaces: [{ name: eth0, policy: p.xdpfw }]\n', '/x.yaml');
    expect(file.gcSeconds).toBe(3600);
    expect(withOverrides(file, { gcInterval: '5m' }).gcSeconds).toBe(300);
    expect(problems(() => configFromYaml('gcSeconds: never\ninterfaces: [{ name: eth0, policy: p }]\n', '/x.yaml'))).toEqual([
      "/x.yaml: gcSeconds: 'never' is not a positive duration",
    ]);
  });

  it('parses listen addresses and durations', () => {
    expect(parseListen('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    expect(parseListen('80')).toEqual({ host: '127.0.0.1', port: 80 });
    expect(parseListen('host:')).toBeUndefined();
    expect(parseListen('h:70000')).toBeUndefined();
    expect(parseSeconds('500ms')).toBe(0.5);
    expect(parseSeconds(5)).toBe(5);
    expect(parseSeconds('1h')).toBe(3600);
    expect(parseSeconds('0')).toBeUndefined();
    expect(parseSeconds('soon')).toBeUndefined();
  });
});
