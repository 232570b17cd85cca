/**
 * The real daemon with `--metrics PORT` and a web configuration: it listens
 * on 127.0.0.1 only, serves HTTPS with the configured certificate, and asks
 * for the password; a client in the namespace scrapes it as Prometheus would.
 */

import fs from 'node:fs';
import path from 'node:path';

import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { selfSigned } from '../../support/tls-fixtures.js';
import { cliNamespace } from '../cli/netns-cli.js';
import { run, skipWithoutRoot, type TestNetns } from '../xdp/helpers/env.js';
import { Daemon } from './daemon.js';

const PORT = 9477;

/** A GET (HTTPS, or HTTP for an http: URL) from inside the namespace, trusting `ca`: the status, or the error's code when no answer came. */
function scrape(ns: TestNetns, url: string, ca: string, auth?: string): string {
  const script = `
    const client = require(${JSON.stringify(url.startsWith('https:') ? 'node:https' : 'node:http')});
    client.get(${JSON.stringify(url)}, { ca: require('node:fs').readFileSync(${JSON.stringify(ca)}), agent: false,
      headers: ${JSON.stringify(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {})} },
      (r) => { console.log(r.statusCode); r.resume(); })
      .on('error', (e) => console.log(e.code ?? e.message));`;
  return run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script]).trim();
}

describe.skipIf(skipWithoutRoot('the daemon serving metrics over TLS'))('xdpfw run --metrics PORT --web-config', () => {
  const { ns } = cliNamespace('webcfg', () => daemon?.stop());
  const dir = scratchDir('xdpfw-webcfg-');
  let daemon: Daemon | undefined;

  it('listens on 127.0.0.1 only, over TLS, and answers /metrics only with the password', async () => {
    const file = path.join(dir, 'p.xdpfw');
    fs.writeFileSync(file, 'interface veth0 {\n  default allow\n}\n');
    const tls = selfSigned(dir, 'daemon');
    const web = path.join(dir, 'web.yml');
    fs.writeFileSync(
      web,
      `tls_server_config:\n  cert_file: daemon.crt\n  key_file: daemon.key\nbasic_auth_users:\n  prometheus: '${bcrypt.hashSync('right', 6)}'\n`,
    );
    daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', file, '--metrics', String(PORT), '--web-config', web]);
    const serving = (await daemon.waitFor((e) => e.msg === 'serving /metrics and /healthz')) as unknown as Record<string, unknown>;
    expect(serving).toMatchObject({ address: `127.0.0.1:${PORT}`, tls: true, basicAuth: true });
    await daemon.waitFor((e) => e.msg === 'running');
    const listening = run('ip', ['netns', 'exec', ns.name, 'ss', '-Htln', `sport = :${PORT}`]);
    expect(listening.trim().split(/\s+/)[3]).toBe(`127.0.0.1:${PORT}`);

    const url = `https://127.0.0.1:${PORT}/metrics`;
    expect(scrape(ns, url, tls.cert)).toBe('401');
    expect(scrape(ns, url, tls.cert, 'prometheus:wrong')).toBe('401');
    expect(scrape(ns, url, tls.cert, 'prometheus:right')).toBe('200');
    expect(scrape(ns, `https://127.0.0.1:${PORT}/healthz`, tls.cert)).toBe('401');
    // Not served on the veth's address, and not in plain HTTP.
    expect(scrape(ns, `https://10.99.0.1:${PORT}/metrics`, tls.cert)).toBe('ECONNREFUSED');
    expect(scrape(ns, `http://127.0.0.1:${PORT}/metrics`, tls.cert)).toBe('ECONNRESET');

    // SIGHUP reads the file again: a rotated password serves at once; a broken file is refused, the rotated one stays.
    fs.writeFileSync(web, fs.readFileSync(web, 'utf8').replace(/prometheus: '.*'/, `prometheus: '${bcrypt.hashSync('rotated', 6)}'`));
    let from = daemon.events().length;
    daemon.child.kill('SIGHUP');
    await daemon.waitFor((e) => e.msg === 'web configuration read again', 15_000, from);
    expect(scrape(ns, url, tls.cert, 'prometheus:right')).toBe('401');
    expect(scrape(ns, url, tls.cert, 'prometheus:rotated')).toBe('200');
    fs.writeFileSync(web, 'basic_auth_users:\n  prometheus: not-a-hash\n');
    from = daemon.events().length;
    daemon.child.kill('SIGHUP');
    await daemon.waitFor((e) => e.msg === 'web configuration refused; the one in force stays', 15_000, from);
    expect(scrape(ns, url, tls.cert, 'prometheus:rotated')).toBe('200');

    // The password checks' worker does not keep the daemon alive after SIGTERM.
    const stopped = Date.now();
    await daemon.stop();
    expect(Date.now() - stopped).toBeLessThan(5000);
  }, 60_000);
});
