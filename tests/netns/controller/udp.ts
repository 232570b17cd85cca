/**
 * Sequence-numbered UDP streams for the controller's netns test.
 *
 *   udp.ts send DST PORT[,PORT…] RATE   prints "sending" once its SIGTERM handler is set;
 *                                        every 1 ms, RATE/1000 datagrams to each port
 *                                        (round robin) until SIGTERM, then prints
 *                                        {"sent":{PORT:n},"payload":bytes} and exits
 *   udp.ts recv PORT[,PORT…]            prints "ready" once bound; on SIGTERM prints
 *                                        {PORT:{"received":n,"distinct":n}} and exits
 */

import dgram from 'node:dgram';

const PAYLOAD = 32; // bytes: 8-byte sequence number, then padding

const [mode, ...args] = process.argv.slice(2);

if (mode === 'send') {
  const [dst, portList, rateText] = args;
  const ports = portList.split(',').map(Number);
  const perTick = Math.max(1, Math.round(Number(rateText) / 1000));
  const socket = dgram.createSocket('udp4');
  const sent: Record<number, number> = Object.fromEntries(ports.map((p) => [p, 0]));
  let seq = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      seq++;
      for (const port of ports) {
        const b = Buffer.alloc(PAYLOAD);
        b.writeBigUInt64BE(BigInt(seq), 0);
        inFlight++;
        socket.send(b, port, dst, (error) => {
          inFlight--;
          if (!error) sent[port]++;
        });
      }
    }
  }, 1);
  process.on('SIGTERM', () => {
    clearInterval(timer);
    const finish = () => {
      if (inFlight > 0) return void setTimeout(finish, 5);
      process.stdout.write(`${JSON.stringify({ sent, payload: PAYLOAD })}\n`);
      socket.close();
      process.exit(0);
    };
    finish();
  });
  process.stdout.write('sending\n');
} else if (mode === 'recv') {
  const ports = args[0].split(',').map(Number);
  const seen = new Map<number, { received: number; seqs: Set<bigint> }>();
  let bound = 0;
  for (const port of ports) {
    const entry = { received: 0, seqs: new Set<bigint>() };
    seen.set(port, entry);
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    socket.on('message', (msg) => {
      entry.received++;
      if (msg.length >= 8) entry.seqs.add(msg.readBigUInt64BE(0));
    });
    socket.bind(port, () => {
      if (++bound === ports.length) process.stdout.write('ready\n');
    });
  }
  process.on('SIGTERM', () => {
    const out: Record<number, { received: number; distinct: number }> = {};
    for (const [port, e] of seen) out[port] = { received: e.received, distinct: e.seqs.size };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  });
} else {
  process.stderr.write('usage: udp.ts send DST PORTS RATE | udp.ts recv PORTS\n');
  process.exit(2);
}
