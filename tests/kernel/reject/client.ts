/**
 * A client of the reject namespace test, run in the peer namespace:
 * `client.ts tcp|udp HOST PORT` connects (TCP) or sends on a connected
 * socket (UDP) and prints one JSON line: the error code the socket got
 * (or "timeout" after 3 s), and how many milliseconds it took.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const [kind, host, portText] = process.argv.slice(2);
const port = Number(portText);
const started = process.hrtime.bigint();
const TIMEOUT_MS = 3000;

function done(code: string): never {
  console.log(JSON.stringify({ code, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  process.exit(0);
}

setTimeout(() => done('timeout'), TIMEOUT_MS);

if (kind === 'tcp') {
  const socket = net.connect({ host, port });
  socket.on('connect', () => done('connected'));
  socket.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
} else {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  // Linux reports an ICMP error to a connected UDP socket on its next receive or send.
  socket.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  socket.on('message', () => done('answered'));
  socket.connect(port, host, () => {
    const send = () => socket.send('probe', (e) => e && done((e as NodeJS.ErrnoException).code ?? e.message));
    send();
    setInterval(send, 200).unref();
  });
}
