/**
 * Rule bit vectors while compiling: Uint32Arrays (two per 64-bit word of the
 * data plane's vectors), interned by content so every distinct vector gets
 * one class id, numbered in order of first appearance.
 */

export type Bits = Uint32Array;

export function words32(nrules: number): number {
  return 2 * Math.max(1, Math.ceil(nrules / 64));
}

export function setBit(bits: Bits, rule: number): void {
  bits[rule >>> 5] |= 1 << (rule & 31);
}

export function clearBit(bits: Bits, rule: number): void {
  bits[rule >>> 5] &= ~(1 << (rule & 31));
}

/** A fresh vector with the bits of `rules` set. */
export function bitsOf(size: number, rules: Iterable<number>): Bits {
  const bits = new Uint32Array(size);
  for (const r of rules) setBit(bits, r);
  return bits;
}

/**
 * Vectors carved out of shared buffers. A Uint32Array of more than 64 bytes
 * is a malloc'd store with its own GC bookkeeping: thousands of them (the
 * classes of 4,096 rules) cost more to allocate and collect than to fill.
 */
export class BitsArena {
  private chunk = new Uint32Array(0);
  private used = 0;

  constructor(private readonly size: number) {}

  /** A zeroed vector of `size` words. */
  alloc(): Bits {
    if (this.used + this.size > this.chunk.length) {
      this.chunk = new Uint32Array(Math.max(this.size, 16384));
      this.used = 0;
    }
    const bits = new Uint32Array(this.chunk.buffer, 4 * this.used, this.size); // cheaper than subarray()
    this.used += this.size;
    return bits;
  }

  /** A copy of `bits` (of `size` words). */
  copy(bits: Bits): Bits {
    const out = this.alloc();
    out.set(bits);
    return out;
  }
}

export class VectorTable {
  readonly vectors: Bits[] = [];
  private arena: BitsArena | undefined;
  /** Class ids by a hash of their vector (FNV-1a over the words): no string key per lookup. */
  private readonly byHash = new Map<number, number[]>();

  /** The class id of this vector (copied when new: the caller may reuse its array). */
  intern(bits: Bits): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < bits.length; i++) hash = Math.imul(hash ^ bits[i], 0x01000193);
    const ids = this.byHash.get(hash);
    if (ids) for (const id of ids) if (sameBits(this.vectors[id], bits)) return id;
    const id = this.vectors.length;
    this.arena ??= new BitsArena(bits.length);
    this.vectors.push(this.arena.copy(bits));
    if (ids) ids.push(id);
    else this.byHash.set(hash, [id]);
    return id;
  }

  /**
   * The vectors as the data plane stores them: unsigned 64-bit words. On a
   * little-endian host each is a view of the interned words, no copy.
   */
  words(): BigUint64Array[] {
    return this.vectors.map((bits) => {
      if (LITTLE_ENDIAN) return new BigUint64Array(bits.buffer, bits.byteOffset, bits.length / 2);
      const out = new BigUint64Array(bits.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = (BigInt(bits[2 * i + 1]) << 32n) | BigInt(bits[2 * i]);
      return out;
    });
  }
}

function sameBits(a: Bits, b: Bits): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** On a little-endian host, two adjacent u32 (low, high) are one u64 in memory. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Rule indexes whose bit is set, ascending. */
export function rulesOf(words: ArrayLike<bigint>): number[] {
  const out: number[] = [];
  for (let w = 0; w < words.length; w++) {
    const word = words[w];
    if (word === 0n) continue;
    for (const [half, base] of [
      [Number(word & 0xffffffffn), 64 * w],
      [Number(word >> 32n), 64 * w + 32],
    ]) {
      for (let bits = half; bits !== 0; bits &= bits - 1) out.push(base + 31 - Math.clz32(bits & -bits));
    }
  }
  return out;
}
