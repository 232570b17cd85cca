/**
 * Traffic for the connection-tracking namespace test, run inside a
 * namespace with `ip netns exec NS node --import TS_LOADER flows.ts MODE
 * ARGS…`. Each mode prints one JSON line when it is done (servers: one line
 * when listening).
 */
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);
const print = (o: Record<string, unknown>): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);
const family = (host: string): 'udp4' | 'udp6' => (host.includes(':') ? 'udp6' : 'udp4');

function deadline(ms: number, what: string): NodeJS.Timeout {
  return setTimeout(() => {
    print({ ok: false, error: `${what}: no answer within ${ms} ms` });
    process.exit(0);
  }, ms);
}

switch (mode) {
  case 'tcp-server': {
    // Echoes every byte back.
    const [host, port] = args;
    net
      .createServer((socket) => {
        socket.on('error', () => {});
        socket.pipe(socket);
      })
      .listen(Number(port), host, () => print({ listening: true }));
    break;
  }
  case 'udp-server': {
    const [host, port] = args;
    const socket = dgram.createSocket(family(host));
    socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
    socket.bind(Number(port), host, () => print({ listening: true }));
    break;
  }
  case 'tcp-roundtrip': {
    // Sends BYTES and reads them all back: data both ways.
    const [host, port, bytes] = args;
    const want = Number(bytes);
    const timer = deadline(5000, 'tcp');
    let got = 0;
    const socket = net.connect({ host, port: Number(port) }, () => socket.write(Buffer.alloc(want, 7)));
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= want) {
        clearTimeout(timer);
        print({ ok: true, bytes: got, localPort: socket.localPort });
        socket.destroy();
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      print({ ok: false, error: e.message });
    });
    break;
  }
  case 'udp-roundtrip': {
    const [host, port] = args;
    const socket = dgram.createSocket(family(host));
    const timer = deadline(2000, 'udp');
    socket.on('message', () => {
      clearTimeout(timer);
      print({ ok: true });
      socket.close();
    });
    socket.send(Buffer.from('query'), Number(port), host);
    break;
  }
  case 'tcp-stream': {
    // A long-lived connection: 1 KiB every 10 ms until stdin closes; reports
    // the longest wait between two echoes, the stall a lost policy would cause.
    const [host, port] = args;
    let last = 0;
    let maxGapMs = 0;
    let bytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect({ host, port: Number(port) }, () => {
      last = Date.now();
      print({ sending: true, localPort: socket.localPort });
      timer = setInterval(() => socket.write(Buffer.alloc(1024, 1)), 10);
    });
    socket.on('data', (d: Buffer) => {
      const now = Date.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      bytes += d.length;
    });
    socket.on('error', (e) => print({ ok: false, error: e.message }));
    process.stdin.on('end', () => {
      clearInterval(timer);
      maxGapMs = Math.max(maxGapMs, Date.now() - last);
      print({ ok: !socket.destroyed, maxGapMs, bytes });
      socket.destroy();
    });
    process.stdin.resume();
    break;
  }
  default:
    print({ ok: false, error: `unknown mode ${mode}` });
}
