/**
 * Which frames the IPv4 fast path (src/xdp/fast-path.ts) decides itself,
 * written from its description rather than its code, so the kernel tests
 * can show that both paths were exercised.
 */
export function takenByFastPath(frame: Uint8Array): boolean {
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.length < 14 + 20 + 20) return false; // Ethernet, IPv4, a TCP header's worth
  if (view.readUInt16BE(12) !== 0x0800 || view[14] !== 0x45) return false; // untagged IPv4, no options
  if ((view.readUInt16BE(14 + 6) & 0x1fff) !== 0) return false; // a non-first fragment
  const total = view.readUInt16BE(14 + 2);
  if (total > view.length - 14) return false;
  const proto = view[14 + 9];
  if (proto === 17) return total >= 28;
  return proto === 6 && total >= 40 && view[14 + 20 + 12] >> 4 >= 5;
}
