/**
 * Address tables (bpf/xdpfw.h, XDPFW_ADDR_TABLE), built from the same LPM
 * entries as the trie: each entry's class already accounts for every entry
 * containing it, so a lookup only has to find the longest entry containing
 * the address. The data plane reads a /16-indexed class table, then — only
 * where an entry longer than /16 lies in that /16 — a bitmap of 2^24
 * buckets, then — only for a marked bucket — the bucket's record (found by
 * rank: records exist for marked buckets only), which answers unless an
 * entry longer than the bucket meets the address's 64th of it; then an
 * exact-match hash is probed for the lengths the record lists. Before the
 * record, the bucket's quick byte (one per record, at the same rank) answers
 * with the /16's class when the bucket has that class and no longer entry
 * meets the address's eighth of it: most addresses in a bucket that only
 * holds host routes never read the 16-byte record.
 *
 * Why (measured on the bench machine, addresses varying across 131,072
 * packets, docs/DESIGN.md): the kernel's LPM trie costs ~1.4 µs a lookup at
 * a million prefixes, a 64 MiB direct table ~150 ns, a hash probe ~250 ns;
 * the /16 table and the 2 MiB bitmap stay in cache (~30 ns together).
 */
import {
  BUCKET4_ROW,
  BUCKET6_ROW,
  BUCKET_BITS,
  BUCKET_ROW_WORDS,
  DEEPER,
  HOST4,
  HOST4_SHIFT,
  L16_ENTRIES,
  MAX_ADDR_SHIFT6,
  QUICK_RECORD,
  STRUCT,
} from '../../contract/kernel.js';
import {
  ADDRESS_SLOTS,
  type AddressLookup,
  type AddressSlot,
  type AddressTable,
  type BucketRecords,
  type PrefixClasses,
} from '../output.js';
import { emptyPrefixClasses, prefixCount, wordsOf } from '../structures/prefix-classes.js';
import { word32 } from '../structures/prefix-list.js';

/** Buckets per bitmap row (struct xdpfw_bucket_row), and bitmap rows. */
export const BUCKETS_PER_ROW = 64 * BUCKET_ROW_WORDS;
const ROWS = 2 ** BUCKET_BITS / BUCKETS_PER_ROW;
/** POW2[k] = 2^k, without Math.pow in the loops. */
const POW2 = Float64Array.from({ length: 129 }, (_, k) => 2 ** k);
/** Bits of a bucket's 64ths (the cover mask). */
const UNIT_BITS = 6;

/**
 * struct xdpfw_bucket4 / xdpfw_bucket6 in u32 words, and records per map row
 * (XDPFW_BUCKET4_ROW / XDPFW_BUCKET6_ROW): cls, the class of the longest
 * entry of length <= shift + 24 over the bucket; cover (two words, low
 * first), bit i: an entry longer than that meets the bucket's i-th 64th;
 * lens, their lengths: IPv4 bit 32 - L; IPv6 four words, bit 128 - L of the
 * first u64 for L > 64, else 64 - L of the second.
 *
 * IPv4's lens may instead name one /32 of the bucket inline (XDPFW_HOST4,
 * its last byte at XDPFW_HOST4_SHIFT), of the class AddressLookup.host, in
 * place of a hash entry: in a blocklist most /32s are alone in their /24
 * and share one class (the 1M bench set: 578k of its 653k hashed entries),
 * and an array row costs less to load than a hash entry.
 */
export const RECORD = {
  4: recordWords(STRUCT.xdpfw_bucket4, BUCKET4_ROW),
  6: recordWords(STRUCT.xdpfw_bucket6, BUCKET6_ROW),
} as const;

function recordWords(record: { size: number; fields: { cls: number; lens: number; cover: number } }, perRow: number) {
  const { cls, lens, cover } = record.fields;
  return { words: record.size / 4, perRow, cls: cls / 4, lens: lens / 4, cover: cover / 4 };
}

export type AddressLookupChoice = 'auto' | 'trie' | 'table';

/** How each slot is looked up and, where by table, its table. */
export interface AddressLookups {
  addressLookup: Record<AddressSlot, AddressLookup>;
  addressTables: Record<AddressSlot, AddressTable | null>;
}

/** The address-tables pass: each slot's lookup chosen, and its table built from the slot's LPM entries. */
export function addressLookups(entries: Record<AddressSlot, PrefixClasses>, choice: AddressLookupChoice): AddressLookups {
  const addressLookup = {} as Record<AddressSlot, AddressLookup>;
  const addressTables = {} as Record<AddressSlot, AddressTable | null>;
  for (const slot of ADDRESS_SLOTS) {
    const family = slot.endsWith('4') ? 4 : 6;
    const lookup = chooseAddressLookup(entries[slot], family, choice);
    addressLookup[slot] = lookup;
    addressTables[slot] = lookup.mode === 'table' ? buildAddressTable(entries[slot], lookup, family) : null;
  }
  return { addressLookup, addressTables };
}

/**
 * How one slot is looked up. 'auto' takes the table whenever the field has
 * entries: measured, it is faster than the trie at every size on the
 * default path (49 vs 87 ns at 10 entries, 74 vs 1,390 ns at a million), for
 * ~2.4 MiB of maps a slot. 'trie' and 'table' force one (tests).
 */
export function chooseAddressLookup(entries: PrefixClasses, family: 4 | 6, choice: AddressLookupChoice = 'auto'): AddressLookup {
  if (choice === 'trie' || prefixCount(entries) === 0) return { mode: 'trie', shift: 0, base: 0, host: 0 };
  const width = wordsOf(family);
  let first = -1;
  let differ = 0; // bits where some longer entry's first 32 differ from the first one's
  let minLength = 128;
  for (let i = 0; i < prefixCount(entries); i++) {
    const length = entries.prefixLength[i];
    if (length <= 16) continue;
    minLength = Math.min(minLength, length);
    const head = entries.words[i * width];
    if (first < 0) first = head;
    differ |= head ^ first;
  }
  // IPv6 only; shift <= minLength - 17 bounds the buckets one entry marks to 2^7.
  const shift = family === 4 || first < 0 ? 0 : Math.max(0, Math.min(Math.clz32(differ), minLength - 17, MAX_ADDR_SHIFT6));
  return { mode: 'table', shift, base: shift === 0 ? 0 : first >>> (32 - shift), host: family === 4 ? hostClass(entries) : 0 };
}

/** The class most IPv4 /32 entries have (the lowest such id on a tie), 0 when there is none. */
function hostClass(entries: PrefixClasses): number {
  const n = prefixCount(entries);
  let top = -1;
  for (let i = 0; i < n; i++) if (entries.prefixLength[i] === 32) top = Math.max(top, entries.classId[i]);
  if (top < 0) return 0;
  const counts = new Uint32Array(top + 1);
  for (let i = 0; i < n; i++) if (entries.prefixLength[i] === 32) counts[entries.classId[i]]++;
  let best = 0;
  for (let cls = 1; cls <= top; cls++) if (counts[cls] > counts[best]) best = cls;
  return best;
}

/** Address bits shift..shift+31 (head: bits 0..31, next: 32..63): the bucket, then the 64th of it, then two more bits. */
function window32(head: number, next: number, shift: number): number {
  if (shift === 0) return head;
  if (shift === 32) return next;
  return ((head << shift) | (next >>> (32 - shift))) >>> 0;
}

const bytesWindow = (bytes: readonly number[], shift: number) => window32(word32(bytes), bytes.length > 4 ? word32(bytes, 1) : 0, shift);

/** The bucket of an address, as xdpfw.bpf.c computes it. */
export function bucketOf(bytes: readonly number[], shift: number): number {
  return bytesWindow(bytes, shift) >>> (32 - BUCKET_BITS);
}

/** The first 32 bits of the addresses in bucket `b`. */
function bucketHead(b: number, { shift, base }: AddressLookup): number {
  const high = shift === 0 ? 0 : shift === 32 ? base : (base << (32 - shift)) >>> 0;
  const low = shift <= 8 ? (b << (8 - shift)) >>> 0 : b >>> (shift - 8);
  return (high | low) >>> 0;
}

/** The address table of a slot in table mode. Entries are read once, into typed arrays: a million take ~0.5 s. */
export function buildAddressTable(entries: PrefixClasses, lookup: AddressLookup, family: 4 | 6): AddressTable {
  const { shift } = lookup;
  const bucketLength = shift + BUCKET_BITS; // entries up to this long cover whole buckets
  const width = wordsOf(family);
  const n = prefixCount(entries);
  const heads = width === 1 ? entries.words : new Uint32Array(n);
  const windows = shift === 0 ? heads : new Uint32Array(n); // address bits shift..shift+31: bucket, 64th, 2 more
  const lengths = entries.prefixLength;
  const classes = entries.classId;
  const perLength = new Uint32Array(129);
  for (let i = 0; i < n; i++) {
    if (width > 1) heads[i] = entries.words[i * width];
    if (shift !== 0) windows[i] = window32(heads[i], entries.words[i * width + 1], shift);
    perLength[lengths[i]]++;
  }
  // Indexes of the entries up to /16 by length (a counting sort), so that painting shorter first lets the longest win.
  const starts = new Uint32Array(18);
  for (let length = 0; length <= 16; length++) starts[length + 1] = starts[length] + perLength[length];
  const byLength = new Uint32Array(starts[17]);
  const next = starts.slice(0, 17);
  for (let i = 0; i < n; i++) if (lengths[i] <= 16) byLength[next[lengths[i]]++] = i;
  const ofLength = (length: number) => byLength.subarray(starts[length], starts[length + 1]);

  const l16 = new Uint32Array(L16_ENTRIES);
  for (let length = 0; length <= 16; length++) {
    for (const i of ofLength(length)) l16.fill(classes[i], heads[i] >>> 16, (heads[i] >>> 16) + 2 ** (16 - length));
  }
  const buckets = new Uint8Array(2 ** BUCKET_BITS / 8);
  // Rows of the bitmap with a marked bucket: the loops below skip the rest (a small policy's are nearly all empty).
  const rowMarked = new Uint8Array(ROWS);
  // Entries of length 17..bucketLength mark the buckets [first, end) they
  // cover. In (bucket, length) order — LPM entries come so — an entry comes
  // before those inside it, which the record sweep below relies on.
  let shallowCount = 0;
  for (let length = 17; length <= bucketLength; length++) shallowCount += perLength[length];
  let shallow = new Uint32Array(shallowCount);
  let inOrder = true;
  for (let i = 0, j = 0; i < n; i++) {
    const length = lengths[i];
    if (length < 17 || length > bucketLength) continue;
    const first = windows[i] >>> (32 - BUCKET_BITS);
    if (j > 0) {
      const previous = windows[shallow[j - 1]] >>> (32 - BUCKET_BITS);
      if (first < previous || (first === previous && length < lengths[shallow[j - 1]])) inOrder = false;
    }
    shallow[j++] = i;
    const end = first + POW2[bucketLength - length];
    for (let b = first; b < end; b++) buckets[b >>> 3] |= 1 << (b & 7);
    rowMarked.fill(1, first >>> 9, ((end - 1) >>> 9) + 1);
    l16[heads[i] >>> 16] |= DEEPER;
  }
  if (!inOrder) shallow = shallow.sort((x, y) => windows[x] - windows[y] || lengths[x] - lengths[y]);
  const shallowFirst = new Uint32Array(shallowCount);
  const shallowEnd = new Uint32Array(shallowCount);
  for (let j = 0; j < shallowCount; j++) {
    shallowFirst[j] = windows[shallow[j]] >>> (32 - BUCKET_BITS);
    shallowEnd[j] = shallowFirst[j] + POW2[bucketLength - lengths[shallow[j]]];
  }
  // Entries longer than the bucket, in bucket order (LPM entries come sorted by address).
  let deepCount = 0;
  for (let length = bucketLength + 1; length <= 128; length++) deepCount += perLength[length];
  let deep = new Uint32Array(deepCount);
  let sorted = true;
  for (let i = 0, j = 0; i < n; i++) {
    if (lengths[i] <= bucketLength) continue;
    const b = windows[i] >>> (32 - BUCKET_BITS);
    if (j > 0 && b < windows[deep[j - 1]] >>> (32 - BUCKET_BITS)) sorted = false;
    deep[j++] = i;
    buckets[b >>> 3] |= 1 << (b & 7);
    rowMarked[b >>> 9] = 1;
    l16[heads[i] >>> 16] |= DEEPER;
  }
  if (!sorted) deep = deep.sort((x, y) => (windows[x] >>> (32 - BUCKET_BITS)) - (windows[y] >>> (32 - BUCKET_BITS)));

  const { rank, count } = ranks(buckets, rowMarked);
  const layout = RECORD[family];
  const { words: recordWords, cls: clsAt, cover: coverAt, lens: lensAt } = layout;
  const addressBits = family === 4 ? 32 : 128;
  const rec = new Uint32Array(Math.max(1, Math.ceil(count / layout.perRow)) * layout.perRow * recordWords);
  const records: BucketRecords = { count, words: rec };
  const quick = new Uint8Array(count);
  const words = new Uint32Array(buckets.buffer, buckets.byteOffset, buckets.length / 4); // little-endian host
  const hashedOut = new Uint8Array(deepCount); // deep entries named inline (HOST4), not hashed
  let r = 0;
  let k = 0; // next of `deep`
  let p = 0; // next of `shallow`
  const open = new Int32Array(129); // indexes into `shallow` that may cover the bucket, innermost last
  let depth = 0;
  for (let w = 0; w < words.length; w++) {
    if (rowMarked[w >>> 4] === 0) {
      w += 15; // the rest of the row (16 words of 32 buckets)
      continue;
    }
    for (let marks = words[w]; marks !== 0; marks &= marks - 1) {
      const b = w * 32 + 31 - Math.clz32(marks & -marks); // the lowest marked bucket left
      for (; p < shallowCount && shallowFirst[p] <= b; p++) {
        while (depth > 0 && shallowEnd[open[depth - 1]] <= shallowFirst[p]) depth--;
        open[depth++] = p;
      }
      while (depth > 0 && shallowEnd[open[depth - 1]] <= b) depth--;
      const outer = (l16[bucketHead(b, lookup) >>> 16] & ~DEEPER) >>> 0; // the /16's class
      const at = r * recordWords;
      const cls = depth > 0 ? classes[shallow[open[depth - 1]]] : outer;
      rec[at + clsAt] = cls;
      let hosts = 0; // IPv4 /32s of the bucket, and of those, of the host class (the last one's index in `host`)
      let hostsOfClass = 0;
      let host = -1;
      for (; k < deepCount && windows[deep[k]] >>> (32 - BUCKET_BITS) === b; k++) {
        const i = deep[k];
        const unit = (windows[i] >>> (32 - BUCKET_BITS - UNIT_BITS)) & 63;
        const units = POW2[Math.max(0, bucketLength + UNIT_BITS - lengths[i])];
        for (let u = unit; u < unit + units; u++) rec[at + coverAt + (u >>> 5)] |= 1 << (u & 31);
        const lengthBit = addressBits - lengths[i];
        rec[at + lensAt + (lengthBit >>> 5)] |= 1 << (lengthBit & 31);
        if (family === 4 && lengths[i] === 32) {
          hosts++;
          if (classes[i] === lookup.host) {
            hostsOfClass++;
            host = k;
          }
        }
      }
      if (hostsOfClass === 1) {
        // Inline: out of the hash, and its length bit (bit 0) cleared when it was the bucket's only /32.
        rec[at + lensAt] |= HOST4 | ((heads[deep[host]] & 0xff) << HOST4_SHIFT);
        if (hosts === 1) rec[at + lensAt] &= ~1;
        hashedOut[host] = 1;
      }
      quick[r] = cls === outer ? eighths(rec[at + coverAt], rec[at + coverAt + 1]) : QUICK_RECORD;
      r++;
    }
  }
  let inlined = 0;
  for (let j = 0; j < deepCount; j++) inlined += hashedOut[j];
  const hashed = emptyPrefixClasses(family, deepCount - inlined);
  for (let j = 0, h = 0; j < deepCount; j++) {
    if (hashedOut[j]) continue;
    const i = deep[j];
    hashed.prefixLength[h] = lengths[i];
    hashed.classId[h] = classes[i];
    for (let w = 0; w < width; w++) hashed.words[h * width + w] = entries.words[i * width + w];
    h++;
  }
  return { l16, buckets, rank, quick, records, hashed };
}

/** How many /32s an IPv4 table's records name inline (HOST4) instead of its hash. */
export function inlineHosts(table: AddressTable): number {
  const { words: recordWords, lens } = RECORD[4];
  let n = 0;
  for (let r = 0; r < table.records.count; r++) if (table.records.words[r * recordWords + lens] & HOST4) n++;
  return n;
}

/** A quick byte from a cover mask (64ths, low u32 first): bit i set when a 64th of the i-th eighth is met. */
function eighths(low: number, high: number): number {
  return nonZeroBytes(low) | (nonZeroBytes(high) << 4);
}

/** Bit i set when byte i of `x` is nonzero. */
function nonZeroBytes(x: number): number {
  return (x & 0xff ? 1 : 0) | (x & 0xff00 ? 2 : 0) | (x & 0xff0000 ? 4 : 0) | (x & 0xff000000 ? 8 : 0);
}

/** For each bitmap row, the marked buckets before it; and their total. */
function ranks(buckets: Uint8Array, rowMarked: Uint8Array): { rank: Uint32Array; count: number } {
  const words = new Uint32Array(buckets.buffer, buckets.byteOffset, buckets.length / 4);
  const rank = new Uint32Array(ROWS);
  let count = 0;
  for (let row = 0; row < ROWS; row++) {
    rank[row] = count;
    if (rowMarked[row] === 0) continue;
    for (let i = row * 16; i < row * 16 + 16; i++) if (words[i] !== 0) count += popcount32(words[i]);
  }
  return { rank, count };
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

const hashIndex = new WeakMap<AddressTable, Map<string, number>>();

/** The hash's answer for `address` masked to `length`, or undefined on a miss. */
function probe(table: AddressTable, address: readonly number[], length: number): number | undefined {
  const width = address.length / 4;
  let index = hashIndex.get(table);
  if (!index) {
    const { prefixLength, classId, words } = table.hashed;
    index = new Map();
    for (let j = 0; j < prefixLength.length; j++) {
      index.set(`${prefixLength[j]}/${words.subarray(j * width, (j + 1) * width).join('.')}`, classId[j]);
    }
    hashIndex.set(table, index);
  }
  const masked: number[] = [];
  for (let w = 0; w < width; w++) {
    const bits = Math.max(0, Math.min(32, length - 32 * w));
    masked.push(bits === 0 ? 0 : (word32(address, w) & (0xffffffff << (32 - bits))) >>> 0);
  }
  return index.get(`${length}/${masked.join('.')}`);
}

const marked = (buckets: Uint8Array, b: number) => (buckets[b >>> 3] & (1 << (b & 7))) !== 0;

/** The class a table lookup gives `address` (4 or 16 bytes), step by step as xdpfw.bpf.c: for tests. */
export function tableClass(lookup: AddressLookup, table: AddressTable, address: readonly number[]): number {
  const l16 = table.l16[word32(address) >>> 16];
  if ((l16 & DEEPER) === 0) return l16;
  const cls = (l16 & ~DEEPER) >>> 0;
  if (lookup.shift > 0 && word32(address) >>> (32 - lookup.shift) !== lookup.base) return cls;
  const w = bytesWindow(address, lookup.shift);
  const b = w >>> (32 - BUCKET_BITS);
  if (!marked(table.buckets, b)) return cls;
  let r = table.rank[Math.floor(b / BUCKETS_PER_ROW)];
  for (let i = b - (b % BUCKETS_PER_ROW); i < b; i++) if (marked(table.buckets, i)) r++;
  const unit = (w >>> (32 - BUCKET_BITS - UNIT_BITS)) & 63;
  if (((table.quick[r] >>> (unit >>> 3)) & 1) === 0) return cls;
  const width = address.length * 8;
  const layout = RECORD[width === 32 ? 4 : 6];
  const rec = table.records.words;
  const at = r * layout.words;
  if (((rec[at + layout.cover + (unit >>> 5)] >>> (unit & 31)) & 1) === 0) return rec[at + layout.cls];
  const lens = rec[at + layout.lens];
  if (width === 32 && lens & HOST4 && ((lens >>> HOST4_SHIFT) & 0xff) === address[3]) return lookup.host;
  for (let bit = 0; bit < (width === 32 ? 8 : width); bit++) {
    // IPv4: bit 32 - L (L 25..32); IPv6: bits 0..63 for L 128..65, bits 64..127 for L 64..1
    if (((rec[at + layout.lens + (bit >>> 5)] >>> (bit & 31)) & 1) === 0) continue;
    const length = width - bit;
    const hit = probe(table, address, length);
    if (hit !== undefined) return hit;
  }
  return rec[at + layout.cls];
}
