// Durations on the command line, as kubectl writes them.
import { usageError } from './io.js';

/** `30s`, `5m`, `1h`, `1m30s`, or plain seconds; 0 = no limit. */
export function parseDuration(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  if (consumed !== text.length || text === '')
    throw usageError(`invalid duration "${text}" (use e.g. 30s, 5m, 1h)`);
  return total;
}
