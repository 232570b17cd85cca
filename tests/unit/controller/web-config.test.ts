import fs from 'node:fs';
import path from 'node:path';

import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';

import { WebConfigError, readWebConfig } from '../../../src/controller/web-config.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { selfSigned } from '../../support/tls-fixtures.js';

const dir = scratchDir('xdpfw-webconfig-');
const server = selfSigned(dir, 'server');
const other = selfSigned(dir, 'other');
const HASH = bcrypt.hashSync('secret', 4);

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function problems(text: string): string[] {
  const file = write('web.yml', text);
  try {
    readWebConfig(file);
  } catch (error) {
    if (error instanceof WebConfigError) return error.problems.map((p) => p.replace(file, 'web.yml'));
    throw error;
  }
  return [];
}

describe('the web configuration of the metrics endpoint', () => {
  it("reads exporter-toolkit's format, paths relative to the file", () => {
    const file = write(
      'ok.yml',
      `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  prometheus: '${HASH}'
`,
    );
    const c = readWebConfig(file);
    expect(c.tls).toEqual({
      certFile: server.cert,
      keyFile: server.key,
      clientCaFile: undefined,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
    });
    expect(c.headers).toEqual({ 'X-Frame-Options': 'deny' });
    expect([...c.users]).toEqual([['prometheus', HASH]]);
  });

  it('an empty file asks for nothing: plain HTTP, no passwords', () => {
    expect(readWebConfig(write('empty.yml', ''))).toMatchObject({ tls: undefined, headers: {}, users: new Map() });
  });

  it('refuses unknown keys, and the keys of the format xdpfw does not implement, each with its line', () => {
    expect(
      problems(`tls_server_config:
  cert_file: server.crt
  key_file: server.key
  certfile: x
  client_allowed_sans: [a]
rate_limit: { interval: 1s }
`),
    ).toEqual([
      'web.yml:4: tls_server_config.certfile: unknown key (known here: cert_file, key_file, client_auth_type, client_ca_file, min_version, max_version, cipher_suites)',
      'web.yml:5: tls_server_config.client_allowed_sans: is not supported by xdpfw',
      'web.yml:6: rate_limit: is not supported by xdpfw',
    ]);
  });

  it('says where the YAML is invalid', () => {
    expect(problems('tls_server_config: [\n')[0]).toMatch(/^web\.yml:2: /);
  });

  it('refuses a basic_auth_users value that is not a bcrypt hash', () => {
    expect(problems("basic_auth_users:\n  alice: '$2y$10$short'\n  bob: plain\n")).toEqual([
      'web.yml:2: basic_auth_users.alice: is not a bcrypt hash ($2y$10$ and 53 characters; htpasswd -nBC 10 "" makes one)',
      'web.yml:3: basic_auth_users.bob: is not a bcrypt hash ($2y$10$ and 53 characters; htpasswd -nBC 10 "" makes one)',
    ]);
  });

  it('refuses versions, suites, client authentication and headers it does not know, and a half-given pair', () => {
    expect(
      problems(`tls_server_config:
  key_file: server.key
  min_version: TLS9
  client_auth_type: VerifyClientCertIfGiven
  cipher_suites: [RC4]
http_server_config:
  headers:
    X-Frame-Options: allow
    Server: xdpfw
`),
    ).toEqual([
      'web.yml:2: tls_server_config: needs both cert_file and key_file',
      "web.yml:3: tls_server_config.min_version: 'TLS9' is not one of TLS10, TLS11, TLS12, TLS13",
      "web.yml:4: tls_server_config.client_auth_type: 'VerifyClientCertIfGiven' is not supported by xdpfw (NoClientCert or RequireAndVerifyClientCert)",
      expect.stringMatching(/^web\.yml:5: tls_server_config\.cipher_suites: 'RC4' is not a TLS 1\.2 cipher suite Go allows \(TLS_ECDHE/),
      "web.yml:8: http_server_config.headers.X-Frame-Options: must be deny or sameorigin, not 'allow'",
      'web.yml:9: http_server_config.headers.Server: unknown key (known here: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)',
    ]);
  });

  it('RequireAndVerifyClientCert needs client_ca_file, and client_ca_file needs it', () => {
    expect(
      problems('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n'),
    ).toEqual(['web.yml:4: tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file']);
    expect(problems('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: other.crt\n')).toEqual([
      'web.yml:4: tls_server_config.client_ca_file: is set without client_auth_type: RequireAndVerifyClientCert',
    ]);
  });

  it("refuses a missing certificate, and a key that is not the certificate's", () => {
    expect(problems('tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n')).toEqual([
      `web.yml: tls_server_config.cert_file: cannot read ${path.join(dir, 'missing.crt')}: ENOENT`,
    ]);
    expect(problems('tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^web\\.yml: tls_server_config: the certificate \\(${server.cert}\\) and key \\(${other.key}\\) cannot be used together: .*key values mismatch`,
        ),
      ),
    ]);
  });

  it('xdpfw run exits 2 with web-config-invalid, and names a file it cannot read', async () => {
    const bad = write('bad.yml', 'basic_auth_users:\n  alice: plain\n');
    const r = await runCli('run', '--iface', 'eth0', '--policy', 'p.xdpfw', '--metrics', '9464', '--web-config', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error[web-config-invalid]: ${bad}:2: basic_auth_users.alice: is not a bcrypt hash`);
    const missing = path.join(dir, 'missing.yml');
    const m = await runCli('run', '--iface', 'eth0', '--policy', 'p.xdpfw', '--metrics', '9464', '--web-config', missing);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`error[web-config-invalid]: cannot read ${missing}: ENOENT`);
  });

  it('--web-config without --metrics is a configuration error', async () => {
    const r = await runCli('run', '--iface', 'eth0', '--policy', 'p.xdpfw', '--web-config', 'web.yml');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[config-invalid]: command line: webConfig needs metrics (the address it secures)');
  });
});
