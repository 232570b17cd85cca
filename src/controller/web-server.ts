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
 *
 * SIGHUP reads the whole file again (run.ts): users, headers and the TLS
 * settings change for the next request and connection; a file with
 * problems is refused and the one in force stays. Only a switch between
 * HTTP and HTTPS, or into or out of asking for client certificates, takes
 * a restart.
 */

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Server } from 'node:net';

import { BasicAuth } from './basic-auth.js';
import type { Logger } from './logger.js';
import { tlsServerOptions, type TlsServerConfig, type WebConfig } from './web-config.js';

/** The web configuration in force, with the password checker of its users. */
export class LiveWebConfig {
  private auth: BasicAuth | undefined;

  constructor(private web: WebConfig) {
    this.auth = authFor(web);
  }

  get current(): WebConfig {
    return this.web;
  }

  get authenticator(): BasicAuth | undefined {
    return this.auth;
  }

  /** Puts `next` in force; the reason when it cannot be without a restart. */
  replace(next: WebConfig): string | undefined {
    if ((next.tls === undefined) !== (this.web.tls === undefined)) return 'switching between HTTP and HTTPS takes a restart';
    // Asking clients for certificates is the server's setting, not its secure context's.
    if ((next.tls?.clientCaFile === undefined) !== (this.web.tls?.clientCaFile === undefined)) {
      return 'asking clients for certificates, or no longer, takes a restart';
    }
    this.web = next;
    this.auth = authFor(next);
    return undefined;
  }
}

const authFor = (web: WebConfig): BasicAuth | undefined => (web.users.size > 0 ? new BasicAuth(web.users) : undefined);

export function webServer(handler: http.RequestListener, web: LiveWebConfig | undefined, log: Logger): Server {
  const guarded = web ? guard(handler, web, log) : handler;
  if (!web?.current.tls) return http.createServer(guarded);
  const tlsOf = () => web.current.tls!;
  const server = https.createServer(tlsServerOptions(tlsOf()), guarded);
  let seen = fileStamps(tlsOf());
  server.prependListener('connection', () => {
    const tlsConfig = tlsOf();
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

/** The TLS settings, and the identity, size and time of their files: a change of any is a change of the context. */
function fileStamps(c: TlsServerConfig): string {
  const files = [c.certFile, c.keyFile, c.clientCaFile].map((f) => {
    if (f === undefined) return '';
    try {
      const s = fs.statSync(f);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  });
  return `${JSON.stringify(c)} ${files.join(' ')}`;
}

function guard(handler: http.RequestListener, web: LiveWebConfig, log: Logger): http.RequestListener {
  return (req, res) => {
    for (const [name, value] of Object.entries(web.current.headers)) res.setHeader(name, value);
    const auth = web.authenticator;
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
