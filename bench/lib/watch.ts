// Watch fan-out: many watchers on one collection while writers create objects; per-delivery latency.
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { request } from 'undici';
import { call, type BenchServer } from './flotilla.js';
import { configMapJson } from './fixtures.js';
import { closedLoop, type LoadResult } from './load.js';

export interface FanoutResult {
  watchers: number;
  writes: number;
  writeLoad: LoadResult;
  /** receive time − the write's response time, ms (negative when the event beat the response). */
  fromResponse: Float64Array;
  /** receive time − the write's start time, ms (includes the write's own latency). */
  fromStart: Float64Array;
  /** Deliveries expected but not seen within the grace period (all watchers together). */
  missing: number;
  /** Watchers that missed at least one event. */
  watchersMissing: number;
  /** Events seen twice by the same watcher. */
  duplicates: number;
  /** Event lines that were not ADDED events for our objects (ERROR, unexpected types). */
  unexpected: string[];
}

interface WatchStream {
  received: Float64Array;
  count: number;
  body: Readable;
}

const namePattern = /"name":"wb-(\d{6})"/;

export async function watchFanout(
  server: BenchServer,
  opts: { namespace: string; watchers: number; writes: number; writers: number; graceMs?: number },
): Promise<FanoutResult> {
  const { namespace, watchers, writes, writers } = opts;
  const writeAgent = server.newAgent(writers);
  const watchAgent = server.newAgent(watchers);
  const streams: WatchStream[] = [];
  const unexpected: string[] = [];
  let duplicates = 0;
  let completeStreams = 0;
  let allDone: (() => void) | undefined;
  const allSeen = new Promise<void>((resolve) => (allDone = resolve));
  try {
    const ns = await call(
      server,
      writeAgent,
      'POST',
      '/api/v1/namespaces',
      JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }),
    );
    if (ns.status !== 201 && ns.status !== 409)
      throw new Error(`create namespace ${namespace}: HTTP ${ns.status} ${ns.text.slice(0, 300)}`);
    const list = await call(server, writeAgent, 'GET', `/api/v1/namespaces/${namespace}/configmaps`);
    if (list.status !== 200)
      throw new Error(`list configmaps: HTTP ${list.status} ${list.text.slice(0, 300)}`);
    const rv = (JSON.parse(list.text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

    // Open every watch and wait for its headers before the first write.
    await Promise.all(
      Array.from({ length: watchers }, async () => {
        const res = await request(
          `${server.url}/api/v1/namespaces/${namespace}/configmaps?watch=true&resourceVersion=${rv}`,
          {
            method: 'GET',
            dispatcher: watchAgent,
            headers: { authorization: `Bearer ${server.token}`, accept: 'application/json' },
            bodyTimeout: 0,
          },
        );
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          throw new Error(`watch: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
        }
        const stream: WatchStream = {
          received: new Float64Array(writes).fill(Number.NaN),
          count: 0,
          body: res.body,
        };
        streams.push(stream);
        let rest = '';
        res.body.setEncoding('utf8');
        res.body.on('data', (chunk: string) => {
          const at = performance.now();
          const text = rest + chunk;
          let from = 0;
          for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
            const line = text.slice(from, nl);
            from = nl + 1;
            const m = line.startsWith('{"type":"ADDED"') ? namePattern.exec(line) : null;
            if (m?.[1] === undefined) {
              if (unexpected.length < 5) unexpected.push(line.slice(0, 200));
              continue;
            }
            const i = Number(m[1]);
            if (!Number.isNaN(stream.received[i] ?? 0)) {
              duplicates++;
              continue;
            }
            stream.received[i] = at;
            if (++stream.count === writes && ++completeStreams === watchers) allDone?.();
          }
          rest = text.slice(from);
        });
        res.body.on('error', () => undefined); // destroyed at the end on purpose
      }),
    );

    const startedAt = new Float64Array(writes);
    const answeredAt = new Float64Array(writes);
    const writeLoad = await closedLoop(writes, writers, async (i) => {
      const name = `wb-${String(i).padStart(6, '0')}`;
      const body = configMapJson(name, namespace, i);
      startedAt[i] = performance.now();
      const res = await call(server, writeAgent, 'POST', `/api/v1/namespaces/${namespace}/configmaps`, body);
      answeredAt[i] = performance.now();
      return res.status === 201 ? undefined : `HTTP ${res.status} ${res.text.slice(0, 200)}`;
    });

    let grace: NodeJS.Timeout | undefined;
    await Promise.race([allSeen, new Promise((r) => (grace = setTimeout(r, opts.graceMs ?? 30_000)))]);
    clearTimeout(grace);

    const fromResponse: number[] = [];
    const fromStart: number[] = [];
    let missing = 0;
    let watchersMissing = 0;
    for (const s of streams) {
      let missed = 0;
      for (let i = 0; i < writes; i++) {
        const at = s.received[i] ?? Number.NaN;
        if (Number.isNaN(at)) {
          missed++;
          continue;
        }
        fromResponse.push(at - (answeredAt[i] ?? 0));
        fromStart.push(at - (startedAt[i] ?? 0));
      }
      missing += missed;
      if (missed > 0) watchersMissing++;
    }
    // Watchers that never opened count as missing everything.
    missing += (watchers - streams.length) * writes;
    watchersMissing += watchers - streams.length;
    return {
      watchers,
      writes,
      writeLoad,
      fromResponse: Float64Array.from(fromResponse),
      fromStart: Float64Array.from(fromStart),
      missing,
      watchersMissing,
      duplicates,
      unexpected,
    };
  } finally {
    for (const s of streams) s.body.destroy();
    await watchAgent.destroy().catch(() => undefined);
    await writeAgent.close().catch(() => undefined);
  }
}
