/**
 * The two libc calls the benches need beyond src/xdp/libbpf.ts: setns(2), so
 * the main thread can attach programs and inject frames inside the bench's
 * namespaces, and gettid(2) for /proc/<tid> paths. setns changes only the
 * calling thread, which is the thread that makes every bpf() call here.
 */
import fs from 'node:fs';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const c = {
  setns: libc.func('int setns(int fd, int nstype)'),
  gettid: libc.func('int gettid(void)'),
};
const CLONE_NEWNET = 0x40000000;

/** Runs `body` with the calling thread in network namespace `ns` (/run/netns/ns), then returns to where it was. */
export function withNetns<T>(ns: string, body: () => T): T {
  const home = fs.openSync(`/proc/thread-self/ns/net`, 'r');
  const target = fs.openSync(`/run/netns/${ns}`, 'r');
  try {
    if ((c.setns(target, CLONE_NEWNET) as number) !== 0) throw new Error(`setns into ${ns} failed: errno ${koffi.errno()}`);
    try {
      return body();
    } finally {
      if ((c.setns(home, CLONE_NEWNET) as number) !== 0) {
        // Never carry on in the wrong namespace: everything after would act on the bench's interfaces.
        process.stderr.write(`bench: cannot return to the original network namespace (errno ${koffi.errno()})\n`);
        process.exit(70);
      }
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(home);
  }
}

export const gettid = (): number => c.gettid() as number;
