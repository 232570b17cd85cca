import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { processStatus } from '../../../src/app/preconditions.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-cli-');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The flat --json diagnostic of `drop src @nope` on line 2 of `path`. */
const unknownNope = (path: string) => ({
  code: 'unknown-set',
  severity: 'error',
  message: "unknown set '@nope'",
  hint: 'declare it with: set NAME { … } or set NAME from "file"',
  file: path,
  line: 2,
  col: 12,
  endLine: 2,
  endCol: 17,
});
const good = file('good.xdpfw', 'interface eth9 {\n  default drop\n  allow tcp dport 22 name "ssh"\n}\n');

afterEach(() => vi.restoreAllMocks());

describe('xdpfw --version', () => {
  it('prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli(flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
});

describe('xdpfw check', () => {
  it('exits 0 and says ok for a valid policy', async () => {
    const r = await runCli('check', good);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('good.xdpfw: ok (eth9: 1 rules, default drop)');
  });

  it('exits 1 and prints every error located, with the source line and a caret', async () => {
    const bad = file('bad.xdpfw', 'set blocklist { 192.0.2.0/24 }\ninterface eth0 {\n  drop src @blocklst\n  allow udp dport 70000\n}\n');
    const r = await runCli('check', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:3:12: error[unknown-set]: unknown set '@blocklst' (did you mean '@blocklist'?)`);
    expect(r.stderr).toContain('3 |   drop src @blocklst\n  |            ^^^^^^^^^\n');
    expect(r.stderr).toContain('error[invalid-port]');
    expect(r.stderr).toContain('2 error(s), 0 warning(s)');
  });

  it('warns about a policy without interface blocks, and apply refuses it without applying anything', async () => {
    const empty = file('no-interfaces.xdpfw', 'define ssh = 22\n');
    const checked = await runCli('check', empty);
    expect(checked.code).toBe(0);
    expect(checked.stderr).toContain(`${empty}:1:1: warning[no-interfaces]: ${empty} has no interface block: it applies to no interface`);
    const applied = await runCli('apply', empty);
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain(`error[no-interface]: ${empty} has no interface block: there is nothing to apply`);
  });

  it('prints a user error as JSON on stdout with --json, the policy diagnostics flat as check --json has them', async () => {
    const bad = file('bad-json.xdpfw', 'interface eth0 {\n  drop src @nope\n}\n');
    const r = await runCli('compile', bad, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      error: {
        code: 'policy-invalid',
        message: `${bad}: 1 error(s); nothing was applied`,
        hint: null,
        diagnostics: [unknownNope(bad)],
      },
    });
    const usage = await runCli('apply', good, '--iface', 'eth7', '--json');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({
      error: {
        code: 'interface-not-in-policy',
        message: `interface 'eth7' has no block in ${good}`,
        hint: 'the policy defines: eth9',
        diagnostics: [],
      },
    });
  });

  it('reports a missing file as a located error, not a crash', async () => {
    const r = await runCli('check', join(dir, 'missing.xdpfw'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[file-not-found]');
  });

  it('prints diagnostics as JSON with --json', async () => {
    const r = await runCli('check', '--json', good);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      files: [
        {
          file: good,
          ok: true,
          diagnostics: [
            expect.objectContaining({ code: 'nd-dropped', severity: 'warning', line: 2, col: 3 }),
            expect.objectContaining({ code: 'no-return-traffic', severity: 'warning', line: 2, col: 3 }),
          ],
          interfaces: [{ name: 'eth9', rules: 1, defaultAction: 'drop' }],
        },
      ],
    });
  });

  it('gives each diagnostic in --json as flat fields a script can use', async () => {
    const bad = file('bad.xdpfw', 'interface eth0 {\n  drop src @nope\n}\n');
    const r = await runCli('check', '--json', bad);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      files: [
        {
          file: bad,
          ok: false,
          interfaces: null,
          diagnostics: [unknownNope(bad)],
        },
      ],
    });
  });
});

describe('xdpfw compile', () => {
  it('lists rules with their identities and locations', async () => {
    const r = await runCli('compile', good);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('interface eth9');
    expect(r.stdout).toMatch(/0 {2}allow {2}ssh +allow tcp dport 22 name "ssh" +\(.*good\.xdpfw:3:3\)/);
  });

  it('says which path classifies each interface, in text and in JSON', async () => {
    const paths = file('paths.xdpfw', 'interface eth0 {\n  allow tcp dport 22\n}\ninterface eth1 {\n  allow tcp dport { 22, 80 }\n}\n');
    const r = await runCli('compile', paths);
    expect(r.stdout).toMatch(
      /interface eth0 [^]*\n {2}default allow; 1 rule\n {2}classification: linear, 1 rule\n {2}fast path: TCP and UDP, at most one VLAN tag; IPv4 without options: rule 0; IPv6 without extension headers: rule 0\n +0 {2}allow/,
    );
    expect(r.stdout).toMatch(
      /interface eth1 [^]*\n {2}default allow; 1 rule in 1 bit-vector word\(s\); \d+ classes\n {2}classification: bit vectors\n {2}fields: /,
    );
    const view = JSON.parse((await runCli('compile', paths, '--json')).stdout) as {
      interfaces: { constants: { classification: string }; linear: unknown[] | null; fastPathRules: unknown }[];
    };
    expect(view.interfaces.map((i) => [i.constants.classification, i.linear?.length ?? null, i.fastPathRules])).toEqual([
      ['linear', 1, { ipv4: [0], ipv6: [0] }],
      ['bit-vectors', null, null],
    ]);
  });

  it('says which rules the fast path tests per family: none that cannot match, none after one that matches every packet', async () => {
    const some = file('fast.xdpfw', 'interface eth0 {\n  allow tcp dport 22\n  drop icmp\n  allow ip4\n  drop udp\n}\n');
    expect((await runCli('compile', some)).stdout).toContain(
      '  fast path: TCP and UDP, at most one VLAN tag; IPv4 without options: rules 0, 2 (rule 2 matches every one); ' +
        'IPv6 without extension headers: rules 0, 3\n',
    );
    const none = file('slow.xdpfw', 'interface eth0 {\n  drop icmp\n  allow icmpv6\n}\n');
    expect((await runCli('compile', none)).stdout).toContain(
      '  fast path: TCP and UDP, at most one VLAN tag; IPv4 without options: no rule can match, the default decides; ' +
        'IPv6 without extension headers: no rule can match, the default decides\n',
    );
  });

  it('says how each address field is looked up: what a table hashes and how many /32s its records name inline', async () => {
    const hosts = file(
      'hosts.xdpfw',
      'interface eth0 {\n  drop src { 10.1.1.7, 10.1.2.8, 10.1.2.9, 10.1.3.0/28 }\n  drop udp dport 53\n}\n',
    );
    const r = await runCli('compile', hosts);
    expect(r.code).toBe(0);
    // 10.1.1.7 alone in its /24: inline; 10.1.2.8 and .9 share one: hashed, with the /28.
    expect(r.stdout).toContain('  addresses: src4 5 (table: 3 hashed, 1 inline), src6 1 (table: 0 hashed), dst4 0 (trie), dst6 0 (trie)');
  });

  it('refuses an interface the policy does not define, naming those it does', async () => {
    const r = await runCli('compile', good, '--iface', 'eth0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error[interface-not-in-policy]: interface 'eth0' has no block in ${good}`);
    expect(r.stderr).toContain('hint: the policy defines: eth9');
  });

  it('says nothing was applied when the policy has errors', async () => {
    const bad = file('bad2.xdpfw', 'interface eth0 {\n  allow dport 22\n}\n');
    const r = await runCli('compile', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[port-without-protocol]');
    expect(r.stderr).toContain(`error[policy-invalid]: ${bad}: 1 error(s); nothing was applied`);
  });
});

describe('xdpfw test (arguments)', () => {
  it('needs --packet or --cases', async () => {
    const r = await runCli('test', good);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[usage]: give --packet "…" or --cases FILE');
  });

  it('points at the column of a malformed packet', async () => {
    const r = await runCli('test', good, '--packet', 'tcp 10.0.0.1:1 > 10.0.0.2:99999');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error\[packet-syntax\]: packet: column \d+: /);
    expect(r.stderr).toContain('tcp 10.0.0.1:1 > 10.0.0.2:99999\n');
  });

  it('names the line of a malformed case', async () => {
    const cases = file('bad.cases', '# comment\ntcp 10.0.0.1:1 > 10.0.0.2:22 flags S => maybe\n');
    const r = await runCli('test', good, '--cases', cases);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error[cases-syntax]: ${cases}:2: expected 'PACKET => allow|drop|reject [rule-name]'`);
  });

  it('refuses a policy without an interface block, exit 1', async () => {
    const empty = file('empty.xdpfw', 'define web = { 80 }\n');
    const r = await runCli('test', empty, '--packet', 'udp 10.0.0.1:1 > 10.0.0.2:2');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error[no-interface]: ${empty} has no interface block to test`);
  });

  it('says when the cases file cannot be read', async () => {
    const r = await runCli('test', good, '--cases', join(dir, 'none.cases'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[cases-not-found]: cannot read');
  });
});

describe('commands that need the kernel', () => {
  for (const args of [['apply', good], ['detach'], ['status'], ['stats'], ['test', good, '--packet', 'udp 10.0.0.1:1 > 10.0.0.2:2']]) {
    it(`'${args[0]}' tells a non-root user without CAP_BPF to run it as root, exit 3`, async () => {
      vi.spyOn(process, 'geteuid').mockReturnValue(1000);
      vi.spyOn(processStatus, 'read').mockReturnValue('Name:\tnode\nCapEff:\t0000000000001000\n'); // CAP_NET_ADMIN only
      const r = await runCli(...args);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`error[not-root]: 'xdpfw ${args[0]}' needs root (CAP_BPF and CAP_NET_ADMIN)`);
    });
  }
});

describe('a non-root user holding CAP_BPF and CAP_NET_ADMIN', () => {
  it('gets past the permission check', async () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(1000);
    vi.spyOn(processStatus, 'read').mockReturnValue('Name:\tnode\nCapEff:\t0000008000001000\n');
    const r = await runCli('apply', good, '--iface', 'eth9');
    expect(r.stderr).not.toContain('error[not-root]');
  });
});

describe('usage', () => {
  it('exits 2 on an unknown command', async () => {
    const r = await runCli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 on an invalid --mode', async () => {
    const r = await runCli('apply', good, '--mode', 'turbo');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("argument 'turbo' is invalid");
  });
});
