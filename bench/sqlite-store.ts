// In-process micro-benchmark of SqliteStore (no HTTP): group-commit creates and latest-revision lists.
//
//   npx vite-node bench/sqlite-store.ts [-- --work-us 300]
//
// --writer-thread: run the store's writer on a worker thread (SqliteStoreOptions.writerThread).
// --work-us N: each caller burns N µs of CPU on the event loop before every create, standing in for the
// API server's per-request work (TLS, parsing, validation), so that time the event loop spends blocked in
// a commit shows up as latency. Default 0. Nothing asserts on timings.

import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SqliteStore as Current } from '../src/store/sqlite-store.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'usage: sqlite-store.js [--work-us 0] [--creates 10000] [--clients 50] [--list 10000] [--writer-thread]\n',
  );
  process.exit(0);
}
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const workUs = flag('--work-us', 0);
const creates = flag('--creates', 10_000);
const clients = flag('--clients', 50);
const listN = flag('--list', 10_000);
const writerThread = args.includes('--writer-thread');
// --impl FILE: measure another copy of sqlite-store.ts (e.g. an older commit's) for an A/B comparison.
const implIndex = args.indexOf('--impl');
const SqliteStore: typeof Current =
  implIndex >= 0
    ? ((await import(args[implIndex + 1] ?? '')) as { SqliteStore: typeof Current }).SqliteStore
    : Current;

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (n: number): string => n.toFixed(1);
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const burn = (us: number): void => {
  const until = performance.now() + us / 1000;
  while (performance.now() < until);
};

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-sqlite-'));
try {
  console.log(`loadavg at start: ${load()}; writer thread: ${writerThread}`);

  // ---- creates ----
  {
    const store = new SqliteStore({ path: join(dir, 'creates.db'), compactIntervalMs: 0, writerThread });
    const value = 'x'.repeat(500);
    for (let i = 0; i < 200; i++) await store.create(`/warm/${i}`, value); // warm-up
    const latencies: number[] = [];
    let next = 0;
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < creates) {
          const i = next++;
          if (workUs > 0) burn(workUs);
          const t0 = performance.now();
          await store.create(`/registry/configmaps/default/cm-${i}`, value);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsed = performance.now() - started;
    delay.disable();
    latencies.sort((a, b) => a - b);
    const stats = store.stats();
    console.log(
      `creates: ${creates} from ${clients} callers (work ${workUs} µs each): ${Math.round((creates / elapsed) * 1000)} creates/s, ` +
        `p50 ${ms(pct(latencies, 50))} ms, p99 ${ms(pct(latencies, 99))} ms, max ${ms(latencies.at(-1) ?? NaN)} ms; ` +
        `event-loop delay p99 ${ms(delay.percentile(99) / 1e6)} ms, max ${ms(delay.max / 1e6)} ms; ` +
        `${stats.transactions} transactions, largest batch ${stats.largestBatch}`,
    );
    await store.close();
  }

  // ---- lists ----
  {
    const store = new SqliteStore({ path: join(dir, 'list.db'), compactIntervalMs: 0, writerThread });
    const value = JSON.stringify({ kind: 'Pod', pad: 'p'.repeat(960) });
    // Some churn, so that the log holds several versions of many keys (as a live cluster's does).
    const revs = await Promise.all(
      Array.from({ length: listN }, (_, i) => store.create(`/registry/pods/default/pod-${i}`, value)),
    );
    await Promise.all(
      revs.map((rev, i) =>
        i % 2 === 0 ? store.update(`/registry/pods/default/pod-${i}`, value, rev) : Promise.resolve(0),
      ),
    );
    for (let i = 0; i < 1000; i++) await store.create(`/registry/configmaps/other/cm-${i}`, 'v');
    const past = (await store.currentRevision()) - 1;
    const time = async (what: string, fn: () => Promise<number>): Promise<void> => {
      const runs: number[] = [];
      const cpu: number[] = [];
      let n = 0;
      for (let i = 0; i < 15; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        n = await fn();
        runs.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
      runs.sort((a, b) => a - b);
      cpu.sort((a, b) => a - b);
      console.log(
        `${what}: ${n} items, wall median ${ms(pct(runs, 50))} ms (min ${ms(runs[0] ?? NaN)}, max ${ms(runs.at(-1) ?? NaN)}), ` +
          `CPU median ${ms(pct(cpu, 50))} ms (min ${ms(cpu[0] ?? NaN)})`,
      );
    };
    await time('list at the latest revision', async () => {
      return (await store.list({ prefix: '/registry/pods/' })).items.length;
    });
    await time('list at a past revision', async () => {
      return (await store.list({ prefix: '/registry/pods/', revision: past })).items.length;
    });
    await time('count', async () => store.count('/registry/pods/'));
    await time('10,000 gets', async () => {
      let n = 0;
      for (let i = 0; i < listN; i++)
        if ((await store.get(`/registry/pods/default/pod-${i}`)) !== undefined) n++;
      return n;
    });
    await store.close();
  }
  console.log(`loadavg at end: ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
