/**
 * A TCP client for the `apply --confirm` namespace test, run inside a
 * namespace with `ip netns exec NS node --import TS_LOADER confirm-stream.ts
 * HOST PORT`: one connection to an echo server, 1 KiB written every 20 ms,
 * and every 100 ms a JSON line with the bytes echoed back so far, so the
 * test sees the stream stall and resume on the same socket. Ends when stdin
 * closes.
 */
import net from 'node:net';

const [host, port] = process.argv.slice(2);
const print = (o: Record<string, unknown>): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);

let received = 0;
const socket = net.connect({ host, port: Number(port) }, () => {
  print({ connected: true, localPort: socket.localPort });
  const writer = setInterval(() => socket.write(Buffer.alloc(1024, 1)), 20);
  const reporter = setInterval(() => print({ received }), 100);
  process.stdin.on('end', () => {
    clearInterval(writer);
    clearInterval(reporter);
    socket.destroy();
  });
  process.stdin.resume();
});
socket.on('data', (d: Buffer) => (received += d.length));
socket.on('error', (e) => {
  print({ error: e.message });
  process.exit(1);
});
