/**
 * PrefixClasses (output.ts) ↔ LpmEntry objects, for display and tests; the
 * compiler and the loader work on the columns.
 */
import { bytesToText } from './address.js';
import type { LpmEntry, PrefixClasses } from '../output.js';
import { wordBytes, word32 } from './prefix-list.js';

/** 32-bit words per address. */
export const wordsOf = (family: 4 | 6): 1 | 4 => (family === 4 ? 1 : 4);

export function prefixCount(p: PrefixClasses): number {
  return p.prefixLength.length;
}

/** Network-order bytes of entry `i`. */
export function prefixBytes(p: PrefixClasses, family: 4 | 6, i: number): number[] {
  const width = wordsOf(family);
  return wordBytes(p.words, i * width, width);
}

export function prefixText(p: PrefixClasses, family: 4 | 6, i: number): string {
  return `${bytesToText(family, prefixBytes(p, family, i))}/${p.prefixLength[i]}`;
}

export function toEntries(p: PrefixClasses, family: 4 | 6): LpmEntry[] {
  return Array.from({ length: prefixCount(p) }, (_, i) => ({
    bytes: prefixBytes(p, family, i),
    prefixLength: p.prefixLength[i],
    text: prefixText(p, family, i),
    classId: p.classId[i],
  }));
}

export function fromEntries(entries: readonly LpmEntry[], family: 4 | 6): PrefixClasses {
  const width = wordsOf(family);
  const out = emptyPrefixClasses(family, entries.length);
  entries.forEach((e, i) => {
    out.prefixLength[i] = e.prefixLength;
    out.classId[i] = e.classId;
    for (let w = 0; w < width; w++) out.words[i * width + w] = word32(e.bytes, w);
  });
  return out;
}

export function emptyPrefixClasses(family: 4 | 6, n = 0): PrefixClasses {
  return { prefixLength: new Uint8Array(n), classId: new Uint32Array(n), words: new Uint32Array(n * wordsOf(family)) };
}

/** The first `n` entries (views, no copy). */
export function truncatePrefixClasses(p: PrefixClasses, family: 4 | 6, n: number): PrefixClasses {
  return {
    prefixLength: p.prefixLength.subarray(0, n),
    classId: p.classId.subarray(0, n),
    words: p.words.subarray(0, n * wordsOf(family)),
  };
}
