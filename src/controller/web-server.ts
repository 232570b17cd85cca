/**
 * The metrics endpoint's server as its web configuration asks (web-config.ts):
 * plain HTTP, or HTTPS; every response with the configured headers; every
 * path behind basic authentication when users are configured (as
 * exporter-toolkit protects everything, /healthz included).
 *
 * The certificate and key are looked at (stat) at each new connection and
 * read again when either changed, before that connection's handshake: a
 * renewed certificate serves from the next scrape on, without a restart. A
 * changed pair that cannot be used (the key not yet replaced, say) is logged
 * and the previous pair keeps serving until the files agree again.
 */

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';

import { BasicAuth } from './basic-auth.js';
import type { Logger } from './logger.js';
import { tlsServerOptions, type TlsServerConfig, type WebConfig } from './web-config.js';

export function webServer(handler: http.RequestListener, web: WebConfig | undefined, log: Logger): Server {
  const guarded = web ? guard(handler, web, log) : handler;
  if (!web?.tls) return http.createServer(guarded);
  const tlsConfig = web.tls;
  const server = https.createServer(tlsServerOptions(tlsConfig), guarded);
  let seen = fileStamps(tlsConfig);
  server.prependListener('connection', () => {
    const now = fileStamps(tlsConfig);
    if (now === seen) return;
    seen = now;
    try {
      server.setSecureContext(tlsServerOptions(tlsConfig));
      log.info({ cert: tlsConfig.certFile, key: tlsConfig.keyFile }, 'certificate and key read again');
    } catch (error) {
      log.warn({ err: error, cert: tlsConfig.certFile }, 'the changed certificate or key cannot be used; the previous pair serves');
    }
  });
  server.on('tlsClientError', (error) => log.debug({ err: error }, 'TLS handshake failed'));
  return server;
}

/** Identity, size and time of the certificate and key files: a change of any is a change of the pair. */
function fileStamps(c: TlsServerConfig): string {
  return [c.certFile, c.keyFile, c.clientCaFile]
    .map((f) => {
      if (f === undefined) return '';
      try {
        const s = fs.statSync(f);
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join(' ');
}

function guard(handler: http.RequestListener, web: WebConfig, log: Logger): http.RequestListener {
  const auth = web.users.size > 0 ? new BasicAuth(web.users) : undefined;
  return (req, res) => {
    for (const [name, value] of Object.entries(web.headers)) res.setHeader(name, value);
    if (!auth) {
      handler(req, res);
      return;
    }
    auth.check(req.headers.authorization).then(
      (result) => {
        if (result === 'ok') handler(req, res);
        else if (result === 'busy') {
          res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('too many password checks under way\n');
        } else res.writeHead(401, { 'www-authenticate': 'Basic', 'content-type': 'text/plain' }).end('unauthorized\n');
      },
      (error: unknown) => {
        log.error({ err: error }, 'checking a password failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('checking the password failed\n');
      },
    );
  };
}
