// Control-plane benchmark: create throughput, list of 10,000 pods, watch fan-out and RSS of a real
// `flotilla server` process, for the SQLite store and for a real etcd; side by side with Docker Swarm's
// raft store (docker config create / list) when dockerd is on the machine.
//
//   npm run build && node dist/bench/control-plane.js [--store sqlite|etcd|both] [--quick]
//        [--parts creates,watch,pods] [--cpu-prof DIR] [--json FILE] [--dockerd PATH] [--no-peer]
//
// Each part runs against its own fresh server process (and, for etcd, its own fresh etcd).
//
// Prints figures, never asserts on them: the exit code is non-zero only when something failed (a server
// did not start, a request was refused, a watcher missed events, a list came back short).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { startEtcd, type EtcdInstance } from '../src/testkit/etcd.js';
import { call, repoRoot, startServer, type BenchServer } from './lib/flotilla.js';
import { configMapJson, podJson } from './lib/fixtures.js';
import { onInterrupt } from './lib/cleanup.js';
import { closedLoop, type LoadResult } from './lib/load.js';
import { freePort } from './lib/net.js';
import { cpuSeconds, statusMb, untilQuiet } from './lib/proc.js';
import { fmt, mb, summarize, type Summary } from './lib/stats.js';
import { findDockerd, startSwarm, swarmConfigBench, type SwarmFigures } from './lib/swarm.js';
import { watchFanout } from './lib/watch.js';

type StoreKind = 'sqlite' | 'etcd';

type Part = 'creates' | 'watch' | 'pods';
const allParts: Part[] = ['creates', 'watch', 'pods'];

interface Options {
  stores: StoreKind[];
  parts: Part[];
  creates: number;
  clients: number;
  warmup: number;
  pods: number;
  listRuns: number;
  pagedRuns: number;
  pageLimit: number;
  watchers: number;
  watchWrites: number;
  watchWriters: number;
  cpuProfDir: string | undefined;
  jsonFile: string | undefined;
  dockerd: string | undefined;
  peer: boolean;
}

interface LoadFigures {
  count: number;
  ok: number;
  failed: number;
  failures: string[];
  perSecond: number;
  wallMs: number;
  latency: Summary;
  /** Server CPU seconds used during the run (user + system). */
  serverCpuS: number;
  /** This (client) process's CPU seconds during the run. */
  clientCpuS: number;
}

interface WatchFigures {
  watchers: number;
  writes: number;
  writesFailed: number;
  deliveries: number;
  missing: number;
  watchersMissing: number;
  duplicates: number;
  unexpected: string[];
  fromResponse: Summary;
  fromStart: Summary;
  writeLatency: Summary;
}

interface PodFigures {
  pods: LoadFigures;
  list: { runs: Summary; bytes: number; items: number; error: string | undefined };
  paged: { runs: Summary; pages: number; items: number; error: string | undefined };
  idleMb: number;
  afterPodsMb: number;
  /** How long the server stayed busy after the last create answered (the scheduler's first attempts). */
  settleMs: number;
  afterListsMb: number;
  peakMb: number;
}

interface StoreFigures {
  store: StoreKind;
  creates: LoadFigures | undefined;
  watch: WatchFigures | undefined;
  pods: PodFigures | undefined;
  /** VmRSS of each fresh server 2 s after it started, before any request of ours. */
  idleRssMb: number[];
  loadavg: { before: number[]; after: number[] };
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    stores: ['sqlite', 'etcd'],
    parts: allParts,
    creates: 10_000,
    clients: 50,
    // A JIT runtime is slow for its first second or two of work (compilation, lazily loaded code, 50 TLS
    // handshakes); the creates are measured on a warm server, as steady state.
    warmup: 2_000,
    pods: 10_000,
    listRuns: 10,
    pagedRuns: 3,
    pageLimit: 500,
    watchers: 100,
    watchWrites: 1_000,
    watchWriters: 10,
    cpuProfDir: undefined,
    jsonFile: undefined,
    dockerd: undefined,
    peer: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--store': {
        const v = value();
        if (v === 'both') opts.stores = ['sqlite', 'etcd'];
        else if (v === 'sqlite' || v === 'etcd') opts.stores = [v];
        else throw new Error('--store must be sqlite, etcd or both');
        break;
      }
      case '--quick':
        opts.creates = 2_000;
        opts.pods = 2_000;
        opts.watchWrites = 200;
        break;
      case '--parts': {
        const parts = value().split(',');
        for (const p of parts)
          if (!allParts.includes(p as Part)) throw new Error(`--parts takes ${allParts.join(',')}; got ${p}`);
        opts.parts = parts as Part[];
        break;
      }
      case '--cpu-prof':
        opts.cpuProfDir = value();
        break;
      case '--json':
        opts.jsonFile = value();
        break;
      case '--dockerd':
        opts.dockerd = value();
        break;
      case '--no-peer':
        opts.peer = false;
        break;
      case '--warmup': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0) throw new Error('--warmup takes a count of creates');
        opts.warmup = n;
        break;
      }
      case undefined:
        break;
      case '-h':
      case '--help':
        log(
          'usage: node dist/bench/control-plane.js [--store sqlite|etcd|both] [--quick] [--parts creates,watch,pods] [--cpu-prof DIR] [--json FILE] [--dockerd PATH] [--no-peer] [--warmup N (default 2000)]',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${String(a)}`);
    }
  }
  return opts;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU seconds of the server and of this client process since `cpuSnapshot` was taken. */
function cpuSnapshot(pid: number): () => { serverCpuS: number; clientCpuS: number } {
  const server0 = cpuSeconds(pid);
  const client0 = process.cpuUsage();
  return () => {
    const client = process.cpuUsage(client0);
    return { serverCpuS: cpuSeconds(pid) - server0, clientCpuS: (client.user + client.system) / 1e6 };
  };
}

function loadFigures(
  r: LoadResult,
  count: number,
  cpu: { serverCpuS: number; clientCpuS: number },
): LoadFigures {
  return {
    count,
    ok: r.ok,
    failed: r.failed,
    failures: r.failures,
    perSecond: r.perSecond,
    wallMs: r.wallMs,
    latency: summarize(r.latencies),
    ...cpu,
  };
}

function loads(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/** A fresh server (and for etcd a fresh etcd) for one part of the benchmark; always cleaned up. */
async function withServer<T>(
  store: StoreKind,
  opts: Options,
  label: string,
  fn: (server: BenchServer) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), `flotilla-bench-${store}-`));
  let etcd: EtcdInstance | undefined;
  let server: BenchServer | undefined;
  const forget = onInterrupt(async () => {
    await server?.stop(2_000);
    await etcd?.stop(2_000);
    rmSync(dataDir, { recursive: true, force: true });
  });
  try {
    if (store === 'etcd') etcd = await startEtcd();
    const profDir = opts.cpuProfDir === undefined ? undefined : join(opts.cpuProfDir, `${store}-${label}`);
    if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
    server = await startServer({
      dataDir,
      port: await freePort(),
      store,
      ...(etcd === undefined ? {} : { etcdEndpoints: etcd.endpoint }),
      ...(profDir === undefined ? {} : { cpuProfDir: profDir }),
    });
    return await fn(server);
  } finally {
    if (server !== undefined) {
      const how = await server.stop();
      if (how !== '0') log(`  (server ${label} exited with ${how})`);
    }
    await etcd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    forget();
  }
}

async function measureCreates(server: BenchServer, opts: Options): Promise<LoadFigures> {
  const agent = server.newAgent(opts.clients);
  try {
    // Warm-up (not counted): opens every connection (TLS handshakes) and lets V8 compile the hot paths.
    await closedLoop(opts.warmup, opts.clients, async (i) => {
      const res = await call(
        server,
        agent,
        'POST',
        '/api/v1/namespaces/default/configmaps',
        configMapJson(`warmup-${i}`, 'default', i),
      );
      return res.status === 201 ? undefined : `HTTP ${res.status}`;
    });
    const cpu = cpuSnapshot(server.pid);
    const r = await closedLoop(opts.creates, opts.clients, async (i) => {
      const name = `bench-cm-${String(i).padStart(6, '0')}`;
      const res = await call(
        server,
        agent,
        'POST',
        '/api/v1/namespaces/default/configmaps',
        configMapJson(name, 'default', i),
      );
      return res.status === 201 ? undefined : `HTTP ${res.status} ${res.text.slice(0, 200)}`;
    });
    return loadFigures(r, opts.creates, cpu());
  } finally {
    await agent.close();
  }
}

async function measurePodsAndLists(server: BenchServer, opts: Options): Promise<Omit<PodFigures, 'idleMb'>> {
  const agent = server.newAgent(opts.clients);
  try {
    const cpu = cpuSnapshot(server.pid);
    const r = await closedLoop(opts.pods, opts.clients, async (i) => {
      const res = await call(server, agent, 'POST', '/api/v1/namespaces/default/pods', podJson(i, 'default'));
      return res.status === 201 ? undefined : `HTTP ${res.status} ${res.text.slice(0, 200)}`;
    });
    const pods = loadFigures(r, opts.pods, cpu());
    // The scheduler tries every new pod once (no node fits here: a status update and an event each), as
    // kube-scheduler does. The lists below measure listing, so they start once that work is done.
    const settleMs = await untilQuiet(server.pid);
    const afterPodsMb = statusMb(server.pid, 'VmRSS');

    // Full list, no limit: time until the last byte of the body has arrived.
    // A refused list is a result (reported, and a failure of the run), not a reason to stop measuring.
    const listMs: number[] = [];
    let bytes = 0;
    let items = 0;
    let listError: string | undefined;
    for (let run = 0; run < opts.listRuns; run++) {
      const t0 = performance.now();
      const res = await call(server, agent, 'GET', '/api/v1/namespaces/default/pods');
      if (res.status !== 200) {
        listError = `HTTP ${res.status} ${res.text.slice(0, 400)}`;
        break;
      }
      listMs.push(performance.now() - t0);
      if (run === 0) {
        bytes = Buffer.byteLength(res.text);
        items = (JSON.parse(res.text) as { items: unknown[] }).items.length;
      }
    }

    // Paginated traversal: limit=N&continue=..., parsing each page for its continue token, as a client does.
    const pagedMs: number[] = [];
    let pages = 0;
    let pagedItems = 0;
    let pagedError: string | undefined;
    for (let run = 0; run < opts.pagedRuns && pagedError === undefined; run++) {
      let token: string | undefined;
      let n = 0;
      let p = 0;
      const t0 = performance.now();
      do {
        const q = `limit=${opts.pageLimit}${token === undefined ? '' : `&continue=${encodeURIComponent(token)}`}`;
        const res = await call(server, agent, 'GET', `/api/v1/namespaces/default/pods?${q}`);
        if (res.status !== 200) {
          pagedError = `page ${p + 1}: HTTP ${res.status} ${res.text.slice(0, 400)}`;
          break;
        }
        const page = JSON.parse(res.text) as { items: unknown[]; metadata: { continue?: string } };
        n += page.items.length;
        p++;
        token = page.metadata.continue === '' ? undefined : page.metadata.continue;
      } while (token !== undefined);
      if (pagedError !== undefined) break;
      pagedMs.push(performance.now() - t0);
      pages = p;
      pagedItems = n;
    }
    return {
      pods,
      list: { runs: summarize(listMs), bytes, items, error: listError },
      paged: { runs: summarize(pagedMs), pages, items: pagedItems, error: pagedError },
      afterPodsMb,
      settleMs,
      afterListsMb: statusMb(server.pid, 'VmRSS'),
      peakMb: statusMb(server.pid, 'VmHWM'),
    };
  } finally {
    await agent.close();
  }
}

async function runStore(store: StoreKind, opts: Options): Promise<StoreFigures> {
  const before = loads();
  log(`\n== ${store}: load average ${before.join(' ')}`);
  const idle: number[] = [];
  const idleRss = async (server: BenchServer): Promise<void> => {
    await sleep(2_000);
    idle.push(statusMb(server.pid, 'VmRSS'));
  };

  let creates: LoadFigures | undefined;
  if (opts.parts.includes('creates')) {
    log(`  server 1: idle RSS, ${opts.creates} ConfigMap creates by ${opts.clients} clients`);
    creates = await withServer(store, opts, 'creates', async (server) => {
      await idleRss(server);
      return measureCreates(server, opts);
    });
    log(
      `  creates: ${fmt(creates.perSecond)}/s, p50 ${fmt(creates.latency.p50)} ms, p99 ${fmt(creates.latency.p99)} ms, failed ${creates.failed}`,
    );
  }

  let watch: WatchFigures | undefined;
  if (opts.parts.includes('watch')) {
    log(
      `  server 2: watch fan-out, ${opts.watchers} watchers × ${opts.watchWrites} writes by ${opts.watchWriters} writers`,
    );
    watch = await withServer(store, opts, 'watch', async (server) => {
      await idleRss(server);
      const w = await watchFanout(server, {
        namespace: 'bench-watch',
        watchers: opts.watchers,
        writes: opts.watchWrites,
        writers: opts.watchWriters,
      });
      return {
        watchers: w.watchers,
        writes: w.writes,
        writesFailed: w.writeLoad.failed,
        deliveries: w.fromResponse.length,
        missing: w.missing,
        watchersMissing: w.watchersMissing,
        duplicates: w.duplicates,
        unexpected: w.unexpected,
        fromResponse: summarize(w.fromResponse),
        fromStart: summarize(w.fromStart),
        writeLatency: summarize(w.writeLoad.latencies),
      };
    });
    log(
      `  watch: ${watch.deliveries} deliveries, missing ${watch.missing}, p99 ${fmt(watch.fromResponse.p99)} ms after the write's response`,
    );
  }

  let pods: PodFigures | undefined;
  if (opts.parts.includes('pods')) {
    log(
      `  server 3: ${opts.pods} Pod creates, RSS, full list ×${opts.listRuns}, limit=${opts.pageLimit} traversal ×${opts.pagedRuns}`,
    );
    pods = await withServer(store, opts, 'pods', async (server) => {
      await idleRss(server);
      const idleMb = idle[idle.length - 1] ?? Number.NaN;
      return { idleMb, ...(await measurePodsAndLists(server, opts)) };
    });
    if (pods.list.error !== undefined) log(`  full list of pods refused: ${pods.list.error}`);
    else
      log(
        `  list of ${pods.list.items} pods: p50 ${fmt(pods.list.runs.p50)} ms, ${fmt(mb(pods.list.bytes))} MB`,
      );
    log(
      `  RSS ${fmt(pods.idleMb)} MB idle → ${fmt(pods.afterPodsMb)} MB after the pods → ${fmt(pods.afterListsMb)} MB after the lists`,
    );
  }

  return { store, creates, watch, pods, idleRssMb: idle, loadavg: { before, after: loads() } };
}

// ------------------------------------------------------------------------------------------------ report

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

interface Target {
  label: string;
  /** Which store the target applies to (undefined: every store). */
  store?: StoreKind;
  value: (f: StoreFigures) => number | undefined;
  limit: number;
  atLeast: boolean;
  unit: string;
  /** The target is stated for 10,000 pods: with fewer (--quick) the figure is shown without a verdict. */
  fullSizeOnly?: boolean;
}

const targets: Target[] = [
  {
    label: 'create throughput',
    store: 'sqlite',
    value: (f) => f.creates?.perSecond,
    limit: 2_000,
    atLeast: true,
    unit: 'creates/s',
  },
  {
    label: 'create p99',
    store: 'sqlite',
    value: (f) => f.creates?.latency.p99,
    limit: 50,
    atLeast: false,
    unit: 'ms',
  },
  {
    label: 'list of 10,000 pods p50',
    value: (f) => (f.pods?.list.error !== undefined ? Infinity : f.pods?.list.runs.p50),
    limit: 300,
    atLeast: false,
    unit: 'ms',
    fullSizeOnly: true,
  },
  {
    label: 'list of 10,000 pods max',
    value: (f) => (f.pods?.list.error !== undefined ? Infinity : f.pods?.list.runs.max),
    limit: 300,
    atLeast: false,
    unit: 'ms',
    fullSizeOnly: true,
  },
  { label: 'idle RSS (first server)', value: (f) => f.idleRssMb[0], limit: 80, atLeast: false, unit: 'MB' },
];

const dash = '—';

/** The pod part ran and its full list answered. */
function listed(r: StoreFigures): r is StoreFigures & { pods: PodFigures } {
  return r.pods !== undefined && r.pods.list.error === undefined;
}

function pair(a: number | undefined, b: number | undefined): string {
  return a === undefined && b === undefined ? dash : `${fmt(a)} / ${fmt(b)}`;
}

function report(results: StoreFigures[], opts: Options, peer: SwarmFigures | string | undefined): boolean {
  const cols = results.map((r) => r.store);
  const row = (label: string, f: (r: StoreFigures) => string): string[] => [label, ...results.map(f)];
  const heading = (label: string): string[] => row(label, () => '');
  const rows: string[][] = [
    heading(`ConfigMap creates (${fmt(opts.creates)}, ${opts.clients} clients)`),
    row('  throughput (creates/s)', (r) => fmt(r.creates?.perSecond)),
    row('  latency p50 (ms)', (r) => fmt(r.creates?.latency.p50)),
    row('  latency p99 (ms)', (r) => fmt(r.creates?.latency.p99)),
    row('  latency max (ms)', (r) => fmt(r.creates?.latency.max)),
    row('  failed', (r) => fmt(r.creates?.failed)),
    row('  CPU: server / bench client (s)', (r) => pair(r.creates?.serverCpuS, r.creates?.clientCpuS)),
    row('  server CPU per create (ms)', (r) =>
      r.creates === undefined ? dash : fmt((r.creates.serverCpuS * 1000) / Math.max(1, r.creates.ok)),
    ),
    heading(
      `Watch fan-out (${opts.watchers} watchers × ${fmt(opts.watchWrites)} creates, ${opts.watchWriters} writers)`,
    ),
    row('  deliveries', (r) => fmt(r.watch?.deliveries)),
    row('  missing (watchers short)', (r) =>
      r.watch === undefined ? dash : `${fmt(r.watch.missing)} (${fmt(r.watch.watchersMissing)})`,
    ),
    row('  after write response: p50 (ms)', (r) => fmt(r.watch?.fromResponse.p50)),
    row('  after write response: p99 (ms)', (r) => fmt(r.watch?.fromResponse.p99)),
    row('  after write response: max (ms)', (r) => fmt(r.watch?.fromResponse.max)),
    row('  after write start: p50 (ms)', (r) => fmt(r.watch?.fromStart.p50)),
    row('  after write start: p99 (ms)', (r) => fmt(r.watch?.fromStart.p99)),
    row('  write latency p50 / p99 (ms)', (r) => pair(r.watch?.writeLatency.p50, r.watch?.writeLatency.p99)),
    heading(`Pods (${fmt(opts.pods)}, ${opts.clients} clients)`),
    row('  pod creates/s', (r) => fmt(r.pods?.pods.perSecond)),
    row('  pod create p50 / p99 (ms)', (r) => pair(r.pods?.pods.latency.p50, r.pods?.pods.latency.p99)),
    row('  CPU: server / bench client (s)', (r) => pair(r.pods?.pods.serverCpuS, r.pods?.pods.clientCpuS)),
    row('  server busy after the creates (s)', (r) =>
      fmt(r.pods === undefined ? undefined : r.pods.settleMs / 1000),
    ),
    row(`  full list ×${opts.listRuns}: p50 (ms)`, (r) =>
      r.pods?.list.error !== undefined
        ? `refused: ${r.pods.list.error.slice(0, 8)}`
        : fmt(r.pods?.list.runs.p50),
    ),
    row('  full list: max (ms)', (r) => fmt(r.pods?.list.runs.max)),
    row('  full list: size (MB)', (r) => (listed(r) ? fmt(mb(r.pods.list.bytes)) : dash)),
    row('  full list: items', (r) => (listed(r) ? fmt(r.pods.list.items) : dash)),
    row('  bytes per pod', (r) =>
      listed(r) ? fmt(r.pods.list.bytes / Math.max(1, r.pods.list.items)) : dash,
    ),
    row(`  limit=${opts.pageLimit} traversal ×${opts.pagedRuns}: p50 (ms)`, (r) =>
      r.pods?.paged.error !== undefined
        ? `refused: ${r.pods.paged.error.slice(0, 16)}`
        : fmt(r.pods?.paged.runs.p50),
    ),
    row('  pages / items', (r) => pair(r.pods?.paged.pages, r.pods?.paged.items)),
    heading('RSS (MB)'),
    row('  idle: first server', (r) => fmt(r.idleRssMb[0])),
    row('  idle: every fresh server', (r) =>
      r.idleRssMb.length === 0 ? dash : r.idleRssMb.map((v) => fmt(v)).join(', '),
    ),
    row(`  after ${fmt(opts.pods)} pods`, (r) => fmt(r.pods?.afterPodsMb)),
    row('  after the lists', (r) => fmt(r.pods?.afterListsMb)),
    row('  peak (VmHWM)', (r) => fmt(r.pods?.peakMb)),
    row(
      'load average (1 min) before → after',
      (r) => `${r.loadavg.before[0] ?? '?'} → ${r.loadavg.after[0] ?? '?'}`,
    ),
  ];
  log('\n' + table(['figure', ...cols], rows));

  log('\nTargets');
  const trows: string[][] = [];
  for (const t of targets) {
    for (const r of results) {
      if (t.store !== undefined && t.store !== r.store) continue;
      const v = t.value(r);
      const verdict =
        v === undefined
          ? 'not run'
          : t.fullSizeOnly === true && opts.pods !== 10_000
            ? `n/a: ${fmt(opts.pods)} pods`
            : (t.atLeast ? v >= t.limit : v <= t.limit)
              ? 'met'
              : 'MISSED';
      const shown =
        v === Infinity
          ? 'refused'
          : t.unit === 'MB' && v !== undefined
            ? `${v.toFixed(1)} MB`
            : `${fmt(v)} ${t.unit}`;
      trows.push([
        `${t.label} (${r.store})`,
        shown,
        `${t.atLeast ? '≥' : '≤'} ${fmt(t.limit)} ${t.unit}`,
        verdict,
      ]);
    }
  }
  log(table(['target', 'measured', 'target', ''], trows));

  if (typeof peer === 'string') log(`\n${peer}`);
  else if (peer !== undefined) {
    const s = summarize(peer.creates.latencies);
    const listP50 = summarize(peer.listMs).p50;
    log(
      `\nPeer: Docker Swarm ${peer.version} (raft store via the Engine API on a unix socket; same count, clients and warm-up)`,
    );
    const prow = (
      label: string,
      swarm: string,
      f: (r: StoreFigures) => string,
      rat: (r: StoreFigures) => string,
    ): string[] => [label, swarm, ...results.map(f), ...results.map(rat)];
    log(
      table(
        [
          'figure',
          'swarm',
          ...results.map((r) => `flotilla ${r.store}`),
          ...results.map((r) => `${r.store} ÷ swarm`),
        ],
        [
          prow(
            'creates/s',
            fmt(peer.creates.perSecond),
            (r) => fmt(r.creates?.perSecond),
            (r) => ratio(r.creates?.perSecond, peer.creates.perSecond),
          ),
          prow(
            'create p50 (ms)',
            fmt(s.p50),
            (r) => fmt(r.creates?.latency.p50),
            (r) => ratio(r.creates?.latency.p50, s.p50),
          ),
          prow(
            'create p99 (ms)',
            fmt(s.p99),
            (r) => fmt(r.creates?.latency.p99),
            (r) => ratio(r.creates?.latency.p99, s.p99),
          ),
          prow(
            'failed',
            fmt(peer.creates.failed),
            (r) => fmt(r.creates?.failed),
            () => '',
          ),
          prow(
            `list of ${fmt(peer.listCount)}: p50 (ms)`,
            fmt(listP50),
            (r) => fmt(r.pods?.list.runs.p50),
            (r) => ratio(r.pods?.list.runs.p50, listP50),
          ),
          prow(
            'list size (MB)',
            fmt(mb(peer.listBytes)),
            (r) => (listed(r) ? fmt(mb(r.pods.list.bytes)) : dash),
            () => '',
          ),
        ],
      ),
    );
    log(
      `(flotilla ÷ swarm: above 1 is better for creates/s, below 1 is better for times; Flotilla lists ${fmt(opts.pods)} pods, Swarm ${fmt(peer.listCount)} configs)`,
    );
  }

  // Real failures only: requests refused, events lost, short lists.
  let ok = true;
  for (const r of results) {
    const problems: string[] = [];
    if (r.creates !== undefined && r.creates.failed > 0)
      problems.push(`${r.creates.failed} ConfigMap creates failed: ${r.creates.failures.join(' | ')}`);
    if (r.watch !== undefined) {
      if (r.watch.writesFailed > 0) problems.push(`${r.watch.writesFailed} watched writes failed`);
      if (r.watch.missing > 0)
        problems.push(
          `${r.watch.missing} watch deliveries missing (${r.watch.watchersMissing} watchers short)`,
        );
      if (r.watch.duplicates > 0) problems.push(`${r.watch.duplicates} duplicate watch deliveries`);
      if (r.watch.unexpected.length > 0)
        problems.push(`unexpected watch lines: ${r.watch.unexpected.join(' | ')}`);
    }
    if (r.pods !== undefined) {
      if (r.pods.pods.failed > 0)
        problems.push(`${r.pods.pods.failed} Pod creates failed: ${r.pods.pods.failures.join(' | ')}`);
      if (r.pods.list.error !== undefined) problems.push(`full list of pods refused: ${r.pods.list.error}`);
      else if (r.pods.list.items !== r.pods.pods.ok)
        problems.push(`full list returned ${r.pods.list.items} pods, ${r.pods.pods.ok} were created`);
      if (r.pods.paged.error !== undefined) problems.push(`paginated list refused: ${r.pods.paged.error}`);
      else if (r.pods.paged.items !== r.pods.pods.ok)
        problems.push(
          `paginated traversal returned ${r.pods.paged.items} pods, ${r.pods.pods.ok} were created`,
        );
    }
    for (const p of problems) log(`FAILURE (${r.store}): ${p}`);
    if (problems.length > 0) ok = false;
  }
  if (peer !== undefined && typeof peer !== 'string' && peer.creates.failed > 0) {
    log(`note: ${peer.creates.failed} Swarm config creates failed: ${peer.creates.failures.join(' | ')}`);
  }
  return ok;
}

function ratio(a: number | undefined, b: number): string {
  if (a === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${(a / b).toFixed(2)}×`;
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The commit the build came from, and whether src/ had uncommitted changes (others edit it concurrently). */
function sourceVersion(): string {
  const cwd = repoRoot();
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown (no git)';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'bin'], { cwd, encoding: 'utf8' });
  const n = (dirty.stdout ?? '').split('\n').filter((l) => l !== '').length;
  return `${head.stdout.trim()}${n > 0 ? ` + ${n} uncommitted path(s) under src/ or bin/` : ''} (dist/ is whatever was last built)`;
}

function etcdVersion(): string {
  const r = spawnSync('/usr/bin/etcd', ['--version'], { encoding: 'utf8' });
  return /etcd Version: (\S+)/.exec(r.stdout ?? '')?.[1] ?? 'not installed';
}

export async function main(argv: string[]): Promise<number> {
  const opts = parseArgs(argv);
  const startedAt = new Date();
  log(`Flotilla control-plane benchmark — ${startedAt.toISOString()}`);
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${fmt(totalmem() / 2 ** 30)} GiB, ${osName()}, kernel ${release()}, Node ${process.version}`,
  );
  log(`source: ${sourceVersion()}`);
  log(`load average at start: ${loads().join(' ')} (the machine is shared: compare ratios within one run)`);
  log(
    `stores: ${opts.stores.join(', ')}; sqlite = WAL, synchronous=FULL, group commit; etcd ${opts.stores.includes('etcd') ? etcdVersion() : '-'} (Debian defaults, fsync per commit)`,
  );
  log(
    'client and server share the machine; all traffic is over loopback HTTPS (TLS 1.3, keep-alive, bearer token)',
  );

  const results: StoreFigures[] = [];
  for (const store of opts.stores) results.push(await runStore(store, opts));

  let peer: SwarmFigures | string | undefined;
  if (opts.peer) {
    const dockerd = findDockerd(opts.dockerd);
    if (dockerd === undefined) {
      peer = 'peer: Docker Swarm not installed (apt-get install docker.io) — skipped';
    } else {
      log(`\n== peer: Docker Swarm (${dockerd}): load average ${loads().join(' ')}`);
      let engine;
      try {
        engine = await startSwarm(dockerd, log);
      } catch (err) {
        peer = `peer: dockerd failed to start — skipped: ${(err as Error).message}`;
      }
      if (engine !== undefined) {
        try {
          // Warm-up (not counted), as for Flotilla.
          const warm = engine.pool(opts.clients);
          const warmIds: string[] = [];
          await closedLoop(opts.warmup, opts.clients, async (i) => {
            const res = await warm.request({
              path: '/configs/create',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                Name: `warmup-${i}`,
                Data: Buffer.from(`warm ${i}`).toString('base64'),
              }),
            });
            const text = await res.body.text();
            if (res.statusCode !== 201) return `HTTP ${res.statusCode}`;
            warmIds.push((JSON.parse(text) as { ID: string }).ID);
            return undefined;
          });
          // Remove the warm-up configs so the list holds exactly the measured ones, like the pod list.
          await closedLoop(warmIds.length, 10, async (i) => {
            const res = await warm.request({ path: `/configs/${warmIds[i] ?? ''}`, method: 'DELETE' });
            await res.body.text();
            return res.statusCode === 204 || res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`;
          });
          peer = await swarmConfigBench(engine, {
            count: opts.creates,
            clients: opts.clients,
            listRuns: opts.listRuns,
          });
          log(
            `  swarm: ${fmt(peer.creates.perSecond)} config creates/s, list of ${peer.listCount} in ${fmt(summarize(peer.listMs).p50)} ms`,
          );
        } finally {
          const notes = await engine.stop();
          for (const n of notes) log(`  peer cleanup: ${n}`);
        }
      }
    }
  }

  const ok = report(results, opts, peer);
  log(
    `\nload average at end: ${loads().join(' ')}; took ${fmt((Date.now() - startedAt.getTime()) / 1000)} s`,
  );
  if (opts.cpuProfDir !== undefined)
    log(
      `server CPU profiles: ${opts.cpuProfDir}/<store>-<part>/*.cpuprofile (summarise with node dist/bench/profile-summary.js FILE)`,
    );
  if (opts.jsonFile !== undefined) {
    const json = {
      startedAt: startedAt.toISOString(),
      machine: { cores: cpus().length, os: osName(), kernel: release(), node: process.version },
      options: opts,
      results,
      peer:
        typeof peer === 'string' || peer === undefined
          ? peer
          : { ...peer, creates: { ...peer.creates, latencies: summarize(peer.creates.latencies) } },
    };
    writeFileSync(opts.jsonFile, JSON.stringify(json, null, 2));
  }
  return ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `control-plane benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
