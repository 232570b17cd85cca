/**
 * UDP traffic for the rate-limit namespace test, run inside a namespace with
 * `ip netns exec NS node --import TS_LOADER udp-traffic.ts MODE ARGS…`:
 *
 *   receive HOST PORT…               counts datagrams by port and source address;
 *                                    prints {"listening":true}, then the counts
 *                                    ({"PORT SRC": N}) for each line read on stdin
 *   sender                           prints {"ready":true}, then sends the flows it
 *                                    reads on stdin, {"id","src","dst","port",
 *                                    "count","seconds"} a line: COUNT datagrams
 *                                    from SRC spread evenly over SECONDS; answers
 *                                    {"id","sent","seconds"}, SECONDS from the
 *                                    first datagram to the last
 *
 * Both stay up for the whole test file: starting node with the TypeScript
 * loader takes seconds on a busy machine.
 */
import dgram from 'node:dgram';

const [mode, ...args] = process.argv.slice(2);
const print = (o: unknown): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);

function receive(host: string, ports: number[]): void {
  const counts: Record<string, number> = {};
  let bound = 0;
  for (const port of ports) {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (_msg, from) => {
      const key = `${port} ${from.address}`;
      counts[key] = (counts[key] ?? 0) + 1;
    });
    socket.bind(port, host, () => {
      // A large buffer: a receiver stalled by a busy machine must not lose what the policy let in.
      socket.setRecvBufferSize(4 << 20);
      if (++bound === ports.length) print({ listening: true });
    });
  }
  let buffered = '';
  process.stdin.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      buffered = buffered.slice(nl + 1);
      print(counts);
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

/**
 * Paced by the clock rather than by timers: each tick sends what is due by
 * now, so a sender held up by a busy machine catches up and still ends on
 * time, and the rate the policy sees stays what was asked for on average.
 */
function send(flow: Flow): Promise<{ sent: number; seconds: number }> {
  const socket = dgram.createSocket('udp4');
  const payload = Buffer.alloc(32, 1);
  return new Promise((resolve) => {
    socket.bind(0, flow.src, () => {
      const start = process.hrtime.bigint();
      let sent = 0;
      let last = start;
      // Closing before the last send's callback could drop datagrams still queued.
      const done = () => {
        socket.close();
        resolve({ sent, seconds: Number(last - start) / 1e9 });
      };
      const tick = () => {
        const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
        const due = flow.count <= 1 ? flow.count : Math.min(flow.count, 1 + Math.floor((elapsed * (flow.count - 1)) / flow.seconds));
        for (; sent < due; sent++) socket.send(payload, flow.port, flow.dst, sent === flow.count - 1 ? done : undefined);
        last = process.hrtime.bigint();
        if (sent < flow.count) setTimeout(tick, 1);
      };
      tick();
    });
  });
}

interface Flow {
  id: number;
  src: string;
  dst: string;
  port: number;
  count: number;
  seconds: number;
}

/** Sends each flow read on stdin (one JSON line each, several at a time), answering {"id","sent","seconds"} when it is done. */
function sender(): void {
  let buffered = '';
  process.stdin.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const flow = JSON.parse(buffered.slice(0, nl)) as Flow;
      buffered = buffered.slice(nl + 1);
      void send(flow).then((r) => print({ id: flow.id, ...r }));
    }
  });
  process.stdin.on('end', () => process.exit(0));
  print({ ready: true });
}

switch (mode) {
  case 'receive':
    receive(args[0]!, args.slice(1).map(Number));
    break;
  case 'sender':
    sender();
    break;
  default:
    print({ error: `unknown mode ${mode}` });
    process.exit(2);
}
