/**
 * Which frames the fast path (src/xdp/fast-path.ts) decides itself, written
 * from its description rather than its code, so the kernel tests can show
 * that both paths were exercised.
 */
export function takenByFastPath(frame: Uint8Array): boolean {
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.length < 14 + 20) return false; // Ethernet and an IPv4 header
  const type = view.readUInt16BE(12);
  if (type === 0x86dd) {
    // IPv6 with TCP or UDP right after its header, the payload within the frame.
    if (view.length < 14 + 40 || view[14] >> 4 !== 6) return false;
    const payload = view.readUInt16BE(14 + 4);
    return payload <= view.length - 14 - 40 && transportWhole(view, view[14 + 6], payload, 14 + 40);
  }
  if (type !== 0x0800 || view[14] !== 0x45) return false; // untagged IPv4, no options
  if ((view.readUInt16BE(14 + 6) & 0x1fff) !== 0) return false; // a non-first fragment
  const total = view.readUInt16BE(14 + 2);
  return total >= 20 && total <= view.length - 14 && transportWhole(view, view[14 + 9], total - 20, 14 + 20);
}

/** A whole TCP (data offset ≥ 5) or UDP header in the `bytes` after the IP header at `l4`. */
function transportWhole(view: Buffer, protocol: number, bytes: number, l4: number): boolean {
  if (protocol === 17) return bytes >= 8;
  return protocol === 6 && bytes >= 20 && view[l4 + 12] >> 4 >= 5;
}
