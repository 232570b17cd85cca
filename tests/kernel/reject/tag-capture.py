"""
For the reject namespace test: captures on an interface for SECONDS and
prints one JSON line per frame — direction, the VLAN tag in the frame's
bytes or in the kernel's metadata (the receive path strips a tag into
skb metadata; PACKET_AUXDATA reports it), and the first bytes after.
Usage: tag-capture.py IFNAME SECONDS
"""
import json
import socket
import struct
import sys
import time

SOL_PACKET, PACKET_AUXDATA, ETH_P_ALL = 263, 8, 3
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 1 << 4, 1 << 6

ifname, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.bind((ifname, 0))
print(json.dumps({"ready": True}), flush=True)
end = time.time() + seconds
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        data, ancillary, _, address = s.recvmsg(2048, socket.CMSG_SPACE(20))
    except socket.timeout:
        break
    tag = None
    if struct.unpack("!H", data[12:14])[0] in (0x8100, 0x88A8):
        tag = {"where": "frame", "tpid": struct.unpack("!H", data[12:14])[0], "tci": struct.unpack("!H", data[14:16])[0]}
    for level, kind, value in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", value[:20])
            if status & TP_STATUS_VLAN_VALID:
                tag = {"where": "metadata", "tpid": tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100, "tci": tci}
    print(json.dumps({"outgoing": address[2] == socket.PACKET_OUTGOING, "tag": tag, "head": data[:64].hex()}), flush=True)
