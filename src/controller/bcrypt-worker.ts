/**
 * The worker side of basic-auth.ts's password checks: bcrypt is slow on
 * purpose (~100 ms at cost 10 in pure JavaScript), and bcryptjs's own
 * asynchronous compare still runs in slices of 100 ms on the thread that
 * called it; here it runs on a thread of its own, one check at a time.
 */

import { parentPort } from 'node:worker_threads';

import bcrypt from 'bcryptjs';

export interface PasswordCheck {
  id: number;
  password: string;
  hash: string;
}

const port = parentPort!;
port.on('message', (m: PasswordCheck) => {
  let matched = false;
  try {
    matched = bcrypt.compareSync(m.password, m.hash);
  } catch {
    // A hash bcryptjs cannot read matches nothing (web-config.ts checked its shape already).
  }
  port.postMessage({ id: m.id, matched });
});
