// Bounded polling with a progress line: the benchmarks that wait for a cluster to converge say where it is
// every few seconds and fail with the last state seen when time runs out.
import { performance } from 'node:perf_hooks';

export interface Probe {
  done: boolean;
  /** One short line on where things stand ("40 updated, 95 available"). */
  progress: string;
}

/**
 * Calls `check` every `intervalMs` until it reports done; logs `label: <s> s, <progress>` every
 * `progressMs`. Resolves to the ms from `since` (default: the call) to the first done check; throws after
 * `timeoutMs` with the last progress. A throwing check counts as not done.
 */
export async function waitUntil(
  label: string,
  check: () => Promise<Probe>,
  opts: {
    timeoutMs: number;
    intervalMs: number;
    log: (line: string) => void;
    since?: number;
    progressMs?: number;
  },
): Promise<number> {
  const since = opts.since ?? performance.now();
  const progressMs = opts.progressMs ?? 3_000;
  let nextLog = performance.now() + progressMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const p = await check();
      last = p.progress;
      if (p.done) return performance.now() - since;
    } catch (err) {
      last = `error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const now = performance.now();
    if (now - since > opts.timeoutMs)
      throw new Error(`${label}: not done after ${Math.round(opts.timeoutMs / 1000)} s (${last})`);
    if (now >= nextLog) {
      opts.log(`${label}: ${Math.round((now - since) / 1000)} s, ${last}`);
      nextLog = now + progressMs;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
