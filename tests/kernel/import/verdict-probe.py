"""
For the iptables and nft differential tests: sends Ethernet frames into
the receiving namespace and reports, for each, the iptables-legacy rule
that decided it, or the nft rule counters it moved, read from the kernel's
own counters.

Run inside the receiving namespace (ip netns exec RECEIVER python3 ...);
the sending socket is made in SENDER's namespace (setns), so one process
does both ends without a process per packet. Before each frame the
connection table is flushed (ctnetlink), so every frame meets the state a
packet nobody has seen before meets. After the frame, the filter table's
entries are read (IPT_SO_GET_ENTRIES) until exactly one deciding entry
(ACCEPT, DROP, REJECT, a built-in chain's policy) has counted it.

With --nft MARKER, the counters are every nft rule's `counter` (listed
through libnftables, in process), and a frame is done when a counter of
table MARKER (one that every frame reaches, before the others) has moved;
the answer is then {"moved": {"FAMILY TABLE CHAIN HANDLE": packets}}.

Usage: verdict-probe.py SENDER IFNAME [--nft MARKER]. Reads lines of hex
frames (one dump's packets a line, separated by spaces) and writes one JSON
line each: a list of {"chain", "rule" (1-based, or "policy"), "verdict"},
or of {"moved"} with --nft, or {"error"}.
"""
import ctypes
import json
import os
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
SOL_IP, IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES = 0, 64, 65
NETLINK_NETFILTER, NLMSG_ERROR = 12, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
CTNETLINK_DELETE = (1 << 8) | 2  # NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE
HOOK_NAMES = {0: "PREROUTING", 1: "INPUT", 2: "FORWARD", 3: "OUTPUT", 4: "POSTROUTING"}
# struct ipt_entry: ipt_ip (84 bytes), nfcache, target_offset, next_offset, comefrom, counters
ENTRY = struct.Struct("=84xIHHIQQ")
STANDARD_VERDICTS = {-1: "DROP", -2: "ACCEPT"}
WAIT_SECONDS = 2.0
# libnftables' output flag for JSON (NFT_CTX_OUTPUT_JSON)
NFT_OUTPUT_JSON = 1 << 4

libc = ctypes.CDLL(None, use_errno=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


sender_ns, ifname = sys.argv[1], sys.argv[2]
nft_marker = sys.argv[4] if sys.argv[3:4] == ["--nft"] else None
home = f"/proc/self/fd/{os.open('/proc/self/ns/net', os.O_RDONLY)}"
setns(f"/run/netns/{sender_ns}")
sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
sender.bind((ifname, 0))
setns(home)
table_socket = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
ctnetlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
ctnetlink.bind((0, 0))
if nft_marker:
    libnft = ctypes.CDLL("libnftables.so.1")
    libnft.nft_ctx_new.restype = ctypes.c_void_p
    libnft.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    libnft.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    libnft.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    libnft.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    libnft.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    libnft.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    libnft.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    libnft.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    nft = libnft.nft_ctx_new(0)
    libnft.nft_ctx_output_set_flags(nft, NFT_OUTPUT_JSON)
    libnft.nft_ctx_buffer_output(nft)
    libnft.nft_ctx_buffer_error(nft)


def getsockopt(option, request, size):
    buffer = ctypes.create_string_buffer(request, size)
    length = ctypes.c_uint32(size)
    if libc.getsockopt(table_socket.fileno(), SOL_IP, option, buffer, ctypes.byref(length)) != 0:
        raise OSError(ctypes.get_errno(), "getsockopt of table filter")
    return buffer.raw[: length.value]


def deciding_entries():
    """The filter table's deciding entries: {offset: (chain, rule, verdict, packets)}."""
    name = b"filter".ljust(32, b"\0")
    info = getsockopt(IPT_SO_GET_INFO, name, 84)
    valid_hooks, *rest = struct.unpack_from("=I5I5III", info, 32)
    hook_entry, underflow, size = rest[0:5], rest[5:10], rest[11]
    blob = getsockopt(IPT_SO_GET_ENTRIES, name + struct.pack("=I4x", size), 40 + size)[40:]
    starts = {hook_entry[h]: HOOK_NAMES[h] for h in range(5) if valid_hooks & (1 << h)}
    policies = {underflow[h] for h in range(5) if valid_hooks & (1 << h)}
    entries, chain, rule, offset = {}, None, 0, 0
    while offset < len(blob):
        _, target_offset, next_offset, _, packets, _ = ENTRY.unpack_from(blob, offset)
        target = offset + target_offset
        target_name = blob[target + 2 : target + 31].split(b"\0")[0].decode()
        if offset in starts:
            chain, rule = starts[offset], 0
        if target_name == "ERROR":
            chain, rule = blob[target + 32 : target + 64].split(b"\0")[0].decode(), 0
        else:
            rule += 1
            verdict = target_name if target_name == "REJECT" else None
            if target_name == "":
                verdict = STANDARD_VERDICTS.get(struct.unpack_from("=i", blob, target + 32)[0])
            if verdict:
                entries[offset] = (chain, "policy" if offset in policies else rule, verdict, packets)
        offset += next_offset
    return entries


def nft_counters():
    """Every nft rule counter: {"FAMILY TABLE CHAIN HANDLE": packets}."""
    if libnft.nft_run_cmd_from_buffer(nft, b"list ruleset") != 0:
        raise OSError(0, f"nft list ruleset: {libnft.nft_ctx_get_error_buffer(nft).decode()}")
    counters = {}
    for element in json.loads(libnft.nft_ctx_get_output_buffer(nft))["nftables"]:
        rule = element.get("rule")
        for statement in rule["expr"] if rule else []:
            if "counter" in statement:
                key = f"{rule['family']} {rule['table']} {rule['chain']} {rule['handle']}"
                counters[key] = statement["counter"]["packets"]
    return counters


def decide_nft(frame, before):
    flush_connections()
    sender.send(frame)
    deadline = time.monotonic() + WAIT_SECONDS
    marker = f" {nft_marker} "
    while True:
        after = nft_counters()
        if any(marker in k and n != before.get(k, 0) for k, n in after.items()):
            break
        if time.monotonic() > deadline:
            return after, {"error": f"no counter of table {nft_marker} counted the frame"}
        time.sleep(0.0002)
    # the marker's chain runs first: the frame may still be in the later ones
    time.sleep(0.001)
    after = nft_counters()
    return after, {"moved": {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}}


def flush_connections():
    header = struct.pack("=IHHII", 20, CTNETLINK_DELETE, NLM_F_REQUEST | NLM_F_ACK, 1, 0)
    # AF_UNSPEC: both families' connections
    ctnetlink.send(header + struct.pack("=BBH", socket.AF_UNSPEC, 0, 0))
    answer = ctnetlink.recv(4096)
    kind, error = struct.unpack_from("=H", answer, 4)[0], struct.unpack_from("=i", answer, 16)[0]
    # ENOENT: the namespace tracks nothing yet (no rule asked for a state).
    if kind != NLMSG_ERROR or error not in (0, -2):
        raise OSError(-error, "flushing the connection table")


def decide(frame, before):
    flush_connections()
    sender.send(frame)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        after = deciding_entries()
        moved = [(o, e) for o, e in after.items() if e[3] != before.get(o, (0, 0, 0, 0))[3]]
        if moved or time.monotonic() > deadline:
            break
        time.sleep(0.0002)
    if len(moved) != 1 or moved[0][1][3] - before.get(moved[0][0], (0, 0, 0, 0))[3] != 1:
        counted = [f"{e[0]} {e[1]} +{e[3] - before.get(o, (0, 0, 0, 0))[3]}" for o, e in moved]
        return after, {"error": f"expected one deciding entry to count the frame once; counted: {counted or 'none'}"}
    chain, rule, verdict, _ = moved[0][1]
    return after, {"chain": chain, "rule": rule, "verdict": verdict}


for line in sys.stdin:
    try:
        before = nft_counters() if nft_marker else deciding_entries()
        results = []
        for text in line.split():
            before, result = (decide_nft if nft_marker else decide)(bytes.fromhex(text), before)
            results.append(result)
        print(json.dumps(results), flush=True)
    except OSError as error:
        print(json.dumps({"error": str(error)}), flush=True)
