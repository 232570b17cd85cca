/**
 * Which frames the fast path (src/xdp/fast-path.ts) decides itself, written
 * from its description rather than its code, so the kernel tests can show
 * that both paths were exercised.
 */
export function takenByFastPath(frame: Uint8Array): boolean {
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.length < 14 + 20) return false; // Ethernet and an IPv4 header
  let type = view.readUInt16BE(12);
  let ip = 14;
  if (type === 0x8100 || type === 0x88a8) {
    // One VLAN tag; behind it, the same as an untagged frame.
    if (view.length < 14 + 4 + 20) return false;
    type = view.readUInt16BE(16);
    ip += 4;
  }
  if (type === 0x86dd) {
    // IPv6 with TCP or UDP right after its header, the payload within the frame.
    if (view.length < ip + 40 || view[ip] >> 4 !== 6) return false;
    const payload = view.readUInt16BE(ip + 4);
    return payload <= view.length - ip - 40 && transportWhole(view, view[ip + 6], payload, ip + 40);
  }
  if (type !== 0x0800 || view[ip] !== 0x45) return false; // IPv4 without options
  if ((view.readUInt16BE(ip + 6) & 0x1fff) !== 0) return false; // a non-first fragment
  const total = view.readUInt16BE(ip + 2);
  return total >= 20 && total <= view.length - ip && transportWhole(view, view[ip + 9], total - 20, ip + 20);
}

/** A whole TCP (data offset ≥ 5) or UDP header in the `bytes` after the IP header, at `l4`. */
function transportWhole(view: Buffer, protocol: number, bytes: number, l4: number): boolean {
  if (protocol === 17) return bytes >= 8;
  return protocol === 6 && bytes >= 20 && view[l4 + 12] >> 4 >= 5;
}
