/**
 * Another checkout's loader, in a process of its own, for bench:ab
 * (lib/paired.ts): a process holds one checkout's src/xdp, whose libbpf
 * bindings declare process-wide koffi types. Forked by the parent with an
 * IPC channel:
 *
 *   checkout-loader.ts CHECKOUT_DIR
 *
 * The parent sends the bench's policies; this process compiles them with
 * this checkout's compiler (the one the parent compiles with: the
 * compilers must agree) and says `ready`. For each `load`, it loads one
 * with CHECKOUT_DIR's loader and object, pins the program where the parent
 * says (bpftool, by id: this process imports nothing of this checkout's
 * src/xdp), closes its own handles and says `pinned`; the pin then holds
 * the program and its maps until the parent removes it. It exits when the
 * parent disconnects.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompiledInterface } from '../../src/compiler/index.js';
import type { loadPolicyProgram } from '../../src/xdp/index.js';
import { compileBenchPolicy, type BenchPolicy } from './policy-gen.js';
import { run } from './sh.js';

/** Parent to child. */
export type LoaderRequest = { type: 'policies'; policies: BenchPolicy[] } | { type: 'load'; policy: number; pin: string };
/** Child to parent. */
export type LoaderReply = { type: 'ready' } | { type: 'pinned' } | { type: 'error'; message: string };

function reply(message: LoaderReply): void {
  process.send!(message);
}

async function main(): Promise<void> {
  const [checkout] = process.argv.slice(2);
  if (!checkout || !process.send) throw new Error('usage: forked by bench/lib/paired.ts with CHECKOUT_DIR');
  const dir = path.resolve(checkout);
  const objectPath = path.join(dir, 'bpf/xdpfw.bpf.o');
  const { loadPolicyProgram: load } = (await import(pathToFileURL(path.join(dir, 'src/xdp/index.ts')).href)) as {
    loadPolicyProgram: typeof loadPolicyProgram;
  };
  let compiled: CompiledInterface[] = [];
  process.on('message', (request: LoaderRequest) => {
    void (async () => {
      try {
        if (request.type === 'policies') {
          compiled = request.policies.map((p) => compileBenchPolicy(p));
          reply({ type: 'ready' });
          return;
        }
        const program = await load(compiled[request.policy], { objectPath });
        try {
          run('bpftool', ['prog', 'pin', 'id', String(program.progId), request.pin]);
        } finally {
          program.close();
        }
        reply({ type: 'pinned' });
      } catch (err) {
        reply({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`checkout-loader: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
