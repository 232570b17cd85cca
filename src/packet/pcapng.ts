/**
 * Frames as a pcapng file (the format of draft-ietf-opsawg-pcapng, which
 * tcpdump and Wireshark read): a section header, one interface description
 * per interface (Ethernet, nanosecond timestamps), and an enhanced packet
 * block per frame with a comment, where `xdpfw trace --pcap` writes the
 * verdict and the rule. Pure: blocks in, bytes out. No npm package writes
 * pcapng with per-packet comments (pcap-writer and pcap-ng-parser write
 * classic pcap or only read).
 */

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const LINKTYPE_ETHERNET = 1;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const IF_TSRESOL = 9;

const pad4 = (n: number): number => (n + 3) & ~3;

function option(code: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.length, 2);
  value.copy(out, 4);
  return out;
}

const END_OF_OPTIONS = Buffer.alloc(4); // opt_endofopt: code 0, length 0

/** A block: type, total length, body, total length again. */
function block(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(out.length, 4);
  body.copy(out, 8);
  out.writeUInt32LE(out.length, out.length - 4);
  return out;
}

/** The file's start: its section header. */
export function pcapngHeader(): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(0x1a2b3c4d, 0); // byte-order magic
  body.writeUInt16LE(1, 4); // version 1.0
  body.writeUInt16LE(0, 6);
  body.writeBigInt64LE(-1n, 8); // section length not given
  return block(SHB, body);
}

/** An interface's description; packets name it by its order among these (0, 1, …). */
export function pcapngInterface(name: string, snaplen: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(LINKTYPE_ETHERNET, 0);
  head.writeUInt32LE(snaplen, 4);
  const options = [option(IF_NAME, Buffer.from(name, 'utf8')), option(IF_TSRESOL, Buffer.from([9])), END_OF_OPTIONS];
  return block(IDB, Buffer.concat([head, ...options]));
}

/** One frame: its first bytes `data`, its length on the wire, when (ns since the epoch), and a comment. */
export function pcapngPacket(iface: number, timeNs: bigint, data: Uint8Array, originalLength: number, comment: string): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(iface, 0);
  head.writeUInt32LE(Number(timeNs >> 32n), 4);
  head.writeUInt32LE(Number(timeNs & 0xffff_ffffn), 8);
  head.writeUInt32LE(data.length, 12);
  head.writeUInt32LE(originalLength, 16);
  const frame = Buffer.alloc(pad4(data.length));
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(frame);
  return block(EPB, Buffer.concat([head, frame, option(OPT_COMMENT, Buffer.from(comment, 'utf8')), END_OF_OPTIONS]));
}
