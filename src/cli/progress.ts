import type { FillProgress } from '../xdp/index.js';
import type { CliIo } from './io.js';
import { err } from './io.js';

/** Progress of a large map fill on stderr: a line every 10%, only when there is much to load. */
export function progressReporter(io: CliIo, ifname: string): (p: FillProgress) => void {
  let nextPercent = 10;
  return (p) => {
    if (p.totalAll < 100_000) return;
    const percent = Math.floor((p.doneAll / p.totalAll) * 100);
    if (percent >= nextPercent || p.doneAll === p.totalAll) {
      err(
        io,
        `${ifname}: loading maps ${percent}% (${p.doneAll.toLocaleString('en-US')} of ${p.totalAll.toLocaleString('en-US')} entries)`,
      );
      nextPercent = Math.floor(percent / 10) * 10 + 10;
    }
  };
}
