import { Random as SeededRandom } from '../../tests/support/random.js';

/** The tests' seeded generator, so every bench run measures the same policies and packets; plus what the bench needs. */
export class Random extends SeededRandom {
  /** A 32-bit unsigned integer. */
  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** Picks from `[weight, value]` pairs in proportion to the weights. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of choices) {
      if ((x -= w) < 0) return v;
    }
    return choices[choices.length - 1][1];
  }
}
