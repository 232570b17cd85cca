"""
The client half of the stateful exchanges test, run inside a namespace:
argv[1] is this side's address, argv[2] a JSON list of exchanges
({"id", "kind", "dst", "port", "sport"?}), all started at once; prints one
JSON object, each exchange's id to its outcome. Every exchange waits at
most WAIT_SECONDS, so a dropped packet costs the same as a refused one.

kinds:
  tcp       connect, send BYTES and read them back (the peer echoes):
            connected, refused (RST or ICMP), timed out
  udp       a datagram from `sport` (else any port): answered (a datagram
            back), refused (an ICMP port unreachable back), no answer
  ping      one echo request (ping(8)): answered, no answer
  bare-ack  a TCP segment with ACK only, no connection behind it, from
            `sport`; a stack that sees it answers RST: reset, no answer
"""

import json
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

WAIT_SECONDS = 1.0
BYTES = 100_000


def tcp(me, x):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(WAIT_SECONDS)
    try:
        s.connect((x["dst"], x["port"]))
        s.sendall(b"\x07" * BYTES)
        got = 0
        while got < BYTES:
            chunk = s.recv(65536)
            if not chunk:
                return "closed early"
            got += len(chunk)
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timed out"
    except OSError as error:
        return f"error {error.errno}"
    finally:
        s.close()


def udp(me, x):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(WAIT_SECONDS)
    try:
        s.bind((me, x.get("sport", 0)))
        # connected: an ICMP error about the datagram comes back as ECONNREFUSED
        s.connect((x["dst"], x["port"]))
        s.send(b"query")
        s.recv(2048)
        return "answered"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "no answer"
    finally:
        s.close()


def ping(me, x):
    done = subprocess.run(["ping", "-c", "1", "-W", str(int(WAIT_SECONDS)), "-q", x["dst"]], capture_output=True)
    return "answered" if done.returncode == 0 else "no answer"


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def bare_ack(me, x):
    sport, dport = x["sport"], x["port"]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    try:
        seq, ack = random.getrandbits(32), random.getrandbits(32)
        header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 65535, 0, 0)
        pseudo = socket.inet_aton(me) + socket.inet_aton(x["dst"]) + struct.pack("!BBH", 0, 6, len(header))
        header = header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]
        raw.sendto(header, (x["dst"], 0))
        deadline = time.monotonic() + WAIT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([raw], [], [], left)[0]:
                break
            packet, (source, _) = raw.recvfrom(65535)
            ihl = (packet[0] & 0x0F) * 4
            got_sport, got_dport = struct.unpack_from("!HH", packet, ihl)
            if source == x["dst"] and (got_sport, got_dport) == (dport, sport) and packet[ihl + 13] & 0x04:
                return "reset"
        return "no answer"
    finally:
        raw.close()


KINDS = {"tcp": tcp, "udp": udp, "ping": ping, "bare-ack": bare_ack}


def main():
    me, exchanges = sys.argv[1], json.loads(sys.argv[2])
    outcomes = {}

    def one(x):
        try:
            outcomes[x["id"]] = KINDS[x["kind"]](me, x)
        except Exception as error:  # an outcome to compare, not a crash that hides the others
            outcomes[x["id"]] = f"error {error}"

    threads = [threading.Thread(target=one, args=(x,)) for x in exchanges]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(outcomes), flush=True)


main()
