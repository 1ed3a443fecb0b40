// Closed-loop load: `clients` workers each send one request at a time until `count` have been sent.
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  /** Latency of every successful operation, ms. */
  latencies: Float64Array;
  ok: number;
  failed: number;
  /** The first few failures, for the report. */
  failures: string[];
  wallMs: number;
  /** Successful operations per second over the whole run. */
  perSecond: number;
}

/**
 * Run `op(i)` for i in [0, count) with `clients` concurrent workers. `op` resolves to undefined on
 * success or to a failure description; a thrown error also counts as a failure.
 */
export async function closedLoop(
  count: number,
  clients: number,
  op: (i: number) => Promise<string | undefined>,
): Promise<LoadResult> {
  const latencies = new Float64Array(count);
  let next = 0;
  let ok = 0;
  let failed = 0;
  const failures: string[] = [];
  const start = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        problem = await op(i);
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      const t1 = performance.now();
      if (problem === undefined) latencies[ok++] = t1 - t0;
      else {
        failed++;
        if (failures.length < 5) failures.push(problem);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(clients, count) }, worker));
  const wallMs = performance.now() - start;
  return {
    latencies: latencies.subarray(0, ok),
    ok,
    failed,
    failures,
    wallMs,
    perSecond: (ok * 1000) / wallMs,
  };
}
