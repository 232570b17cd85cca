import fs from 'node:fs';

import { cookieOf, netnsKey } from '../../../../src/xdp/netns.js';

/** The key xdpfw gives the pins and state of `ip netns` namespace `name` (src/xdp/netns.ts). */
export function netnsKeyOf(name: string): string {
  const file = `/run/netns/${name}`;
  const cookie = cookieOf(file);
  if (cookie === null) throw new Error(`cannot read the cookie of network namespace ${name}`);
  return netnsKey({ inode: fs.statSync(file).ino, cookie });
}
