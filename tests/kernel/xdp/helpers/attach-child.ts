/**
 * Run by attach.test.ts inside a test namespace (`ip netns exec NS node
 * --import ts-loader.mjs attach-child.ts <command> …`), like the CLI would
 * be. Prints one JSON line: the result, or {error: {name, code, message, errnoName}}.
 * Loaded programs are not closed on purpose: the process exits, and only the
 * pins keep the program attached.
 */

import { attach, detach, loadPolicyProgram, readCounters, replace, status } from '../../../../src/xdp/index.js';
import type { AttachMode } from '../../../../src/xdp/index.js';
import { compileMini } from './policy.js';

const [command, objectPath, ifname, arg] = process.argv.slice(2);

async function main(): Promise<unknown> {
  switch (command) {
    case 'attach': {
      // arg: "<mode>:<default action>"
      const [mode, action] = arg.split(':') as [AttachMode, 'allow' | 'drop'];
      const loaded = await loadPolicyProgram(compileMini([], action), { objectPath });
      return attach(loaded, ifname, mode);
    }
    case 'replace': {
      // arg: "<default action>[:<expected program id>]"
      const [action, expected] = arg.split(':');
      const loaded = await loadPolicyProgram(compileMini([], action as 'allow' | 'drop'), { objectPath });
      return replace(loaded, ifname, expected ? { expectedProgId: Number(expected) } : {});
    }
    case 'detach':
      return { detached: detach(ifname) };
    case 'status':
      return status(ifname);
    case 'counters': {
      const c = readCounters({ ifname });
      return { default: c.global.default.packets.toString(), nonIp: c.global.nonIp.packets.toString() };
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

try {
  console.log(JSON.stringify(await main()));
} catch (err) {
  const e = err as Error & { errnoName?: string; code?: string };
  console.log(JSON.stringify({ error: { name: e.name, code: e.code, message: e.message, errnoName: e.errnoName } }));
  process.exitCode = 1;
}
