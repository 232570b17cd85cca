import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

import bcrypt from 'bcryptjs';
import { afterAll, describe, expect, it } from 'vitest';

import { BasicAuth, MAX_WAITING, REMEMBER_MS } from '../../../src/controller/basic-auth.js';
import { ControllerMetrics, listen, metricsServer, type MetricsSources } from '../../../src/controller/metrics.js';
import { readWebConfig } from '../../../src/controller/web-config.js';
import { LiveWebConfig } from '../../../src/controller/web-server.js';
import { scratchDir } from '../../support/scratch.js';
import { selfSigned } from '../../support/tls-fixtures.js';
import { memoryLogger } from './fakes.js';

const execFileAsync = promisify(execFile);
const dir = scratchDir('xdpfw-webserver-');
const server = selfSigned(dir, 'server');
const client = selfSigned(dir, 'client');
const HASH = bcrypt.hashSync('right', 4);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const sources: MetricsSources = {
  interfaces: () => [{ name: 'eth0', source: 's', enforced: true, failing: false }],
  stats: () => {
    throw new Error('not enforced');
  },
};
const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function start(webYaml: string): Promise<{ port: number; web: LiveWebConfig; file: string }> {
  const file = path.join(dir, `web-${servers.length}.yml`);
  fs.writeFileSync(file, webYaml);
  const web = new LiveWebConfig(readWebConfig(file));
  const s = metricsServer(new ControllerMetrics(sources), sources, memoryLogger().log, web);
  servers.push(s);
  const { port } = await listen(s, '127.0.0.1', 0);
  return { port, web, file };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  certificate: tls.PeerCertificate;
}

function httpsGet(
  port: number,
  url: string,
  o: { auth?: string; ca?: string; cert?: string; key?: string; maxVersion?: tls.SecureVersion } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: url,
        agent: false,
        ca: fs.readFileSync(o.ca ?? server.cert),
        cert: o.cert && fs.readFileSync(o.cert),
        key: o.key && fs.readFileSync(o.key),
        maxVersion: o.maxVersion,
        headers: o.auth ? { authorization: o.auth } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        const certificate = (res.socket as tls.TLSSocket).getPeerCertificate();
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, certificate }));
      },
    );
    req.on('error', reject);
  });
}

const TLS_AND_USERS = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: '${HASH}'
`;

describe('the metrics endpoint under a web configuration', () => {
  it('serves HTTPS with the configured certificate, and answers 401 without the right password, on every path', async () => {
    const { port } = await start(TLS_AND_USERS);
    const none = await httpsGet(port, '/metrics');
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Basic']);
    expect(none.certificate.subject.CN).toBe('server');
    expect((await httpsGet(port, '/healthz')).status).toBe(401);
    expect((await httpsGet(port, '/metrics', { auth: basic('prometheus', 'wrong') })).status).toBe(401);
    expect((await httpsGet(port, '/metrics', { auth: basic('nobody', 'right') })).status).toBe(401);
    const right = await httpsGet(port, '/metrics', { auth: basic('prometheus', 'right') });
    expect(right.status).toBe(200);
    expect(right.body).toContain('xdpfw_enforced{interface="eth0"} 1');
    expect(right.headers['x-content-type-options']).toBe('nosniff');
    expect((await httpsGet(port, '/healthz', { auth: basic('prometheus', 'right') })).status).toBe(200);
  });

  it('a client that does not trust the certificate is refused, and plain HTTP to the TLS port gets no answer', async () => {
    const { port } = await start(TLS_AND_USERS);
    await expect(httpsGet(port, '/metrics', { ca: client.cert })).rejects.toThrow(/self-signed certificate/);
    const plain = new Promise((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, resolve).on('error', reject),
    );
    await expect(plain).rejects.toThrow();
  });

  it('curl scrapes it with the CA and a password', async (context) => {
    const { port } = await start(TLS_AND_USERS);
    try {
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
    } catch {
      context.skip('curl is not installed');
    }
    // Asynchronous: the server answering curl runs in this process.
    const curl = async (...args: string[]) =>
      (
        await execFileAsync(
          'curl',
          ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', server.cert, ...args, `https://127.0.0.1:${port}/metrics`],
          {
            encoding: 'utf8',
            timeout: 10_000,
          },
        )
      ).stdout;
    expect(await curl()).toBe('401');
    expect(await curl('-u', 'prometheus:wrong')).toBe('401');
    expect(await curl('-u', 'prometheus:right')).toBe('200');
  });

  it('RequireAndVerifyClientCert refuses a client without a certificate the CA signed', async () => {
    const { port } = await start(`tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: client.crt
`);
    await expect(httpsGet(port, '/metrics')).rejects.toThrow();
    await expect(httpsGet(port, '/metrics', { cert: server.cert, key: server.key })).rejects.toThrow();
    expect((await httpsGet(port, '/metrics', { cert: client.cert, key: client.key })).status).toBe(200);
  });

  it('reads a renewed certificate and key at the next connection, and keeps the old pair while the new one mismatches', async () => {
    const renewDir = fs.mkdtempSync(path.join(dir, 'renew-'));
    const first = selfSigned(renewDir, 'first');
    const second = selfSigned(renewDir, 'second');
    const cert = path.join(renewDir, 'tls.crt');
    const key = path.join(renewDir, 'tls.key');
    fs.copyFileSync(first.cert, cert);
    fs.copyFileSync(first.key, key);
    const { port } = await start(`tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n`);
    expect((await httpsGet(port, '/healthz', { ca: first.cert })).certificate.subject.CN).toBe('first');
    fs.copyFileSync(second.cert, cert); // the key not yet: the pair does not match
    expect((await httpsGet(port, '/healthz', { ca: first.cert })).certificate.subject.CN).toBe('first');
    fs.copyFileSync(second.key, key);
    expect((await httpsGet(port, '/healthz', { ca: second.cert })).certificate.subject.CN).toBe('second');
  });

  it('takes a configuration read again (SIGHUP) from the next request: new users, headers and TLS settings; not HTTP for HTTPS', async () => {
    const { port, web, file } = await start(TLS_AND_USERS);
    expect((await httpsGet(port, '/livez', { auth: basic('prometheus', 'right'), maxVersion: 'TLSv1.2' })).status).toBe(200);
    const reread = (yaml: string) => {
      fs.writeFileSync(file, yaml);
      return web.replace(readWebConfig(file));
    };
    const rotated = `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  min_version: TLS13
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  scraper: '${bcrypt.hashSync('new', 4)}'
`;
    expect(reread(rotated)).toBeUndefined();
    expect((await httpsGet(port, '/metrics', { auth: basic('prometheus', 'right') })).status).toBe(401);
    const now = await httpsGet(port, '/metrics', { auth: basic('scraper', 'new') });
    expect([now.status, now.headers['x-frame-options'], now.headers['x-content-type-options']]).toEqual([200, 'deny', undefined]);
    await expect(httpsGet(port, '/livez', { auth: basic('scraper', 'new'), maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version/);
    expect(reread('basic_auth_users: {}\n')).toBe('switching between HTTP and HTTPS takes a restart');
    expect((await httpsGet(port, '/metrics', { auth: basic('scraper', 'new') })).status).toBe(200);
  });
});

describe('basic authentication', () => {
  it('remembers a good password for a while, so a known scraper passes even while bad passwords fill the queue', async () => {
    let now = 0;
    const auth = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('right', 8)]]), () => now);
    expect(await auth.check(basic('prometheus', 'right'))).toBe('ok');
    const flood = Array.from({ length: MAX_WAITING + 3 }, (_, i) => auth.check(basic('prometheus', `wrong${i}`)));
    expect(await auth.check(basic('prometheus', 'right'))).toBe('ok');
    expect(await auth.check(basic('prometheus', 'another'))).toBe('busy');
    const results = await Promise.all(flood);
    expect(results.filter((r) => r === 'denied')).toHaveLength(MAX_WAITING + 1);
    expect(results.filter((r) => r === 'busy')).toHaveLength(2);
    now += REMEMBER_MS + 1;
    expect(await auth.check(basic('prometheus', 'right'))).toBe('ok');
    expect(await auth.check(basic('prometheus', 'wrong'))).toBe('denied');
    expect(await auth.check('Bearer abc')).toBe('denied');
  });

  it("checks a password without holding the daemon's event loop", async () => {
    const auth = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('right', 10)]]));
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const t = performance.now();
      longest = Math.max(longest, t - last);
      last = t;
    }, 1);
    const started = performance.now();
    expect(await auth.check(basic('prometheus', 'wrong'))).toBe('denied');
    clearInterval(timer);
    expect(performance.now() - started).toBeGreaterThan(20);
    expect(longest).toBeLessThan(30);
  });
});
