// Request-rate figures from the datapath: the `traffic` chain of the proxy's table counts, per service
// VIP:port and per endpoint ip:port, new connections and HTTP requests (ruleset.ts). A TrafficMeter reads
// those counters every interval and turns the difference between the last two readings into per-second
// rates per Service and per Pod, for the agent's `/stats/summary` (and from there the control plane's
// custom metrics API, which an HPA can target).
//
// What a node counts is what its own proxy DNAT'ed: connections that started on this node (its pods, the
// host, NodePorts on it). The control plane adds the nodes' figures up.
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, asStrMap } from '../../api/validation/access.js';
import { systemClock, type Clock, type TimerHandle } from '../../machinery/clock.js';
import { run } from './host.js';
import { trafficSets } from './ruleset.js';

/** Counter values of one reading, by set name, then by element `ip:port`. */
export interface CounterReading {
  /** ms since the epoch. */
  at: number;
  sets: Map<string, Map<string, number>>;
}

export interface TrafficRate {
  namespace: string;
  name: string;
  /** New connections per second (TCP and UDP flows). */
  connectionsPerSecond: number;
  /** HTTP/1.x requests per second (client segments opening a request). */
  requestsPerSecond: number;
}

/** The `traffic` part of the agent's Summary document. */
export interface TrafficSummary {
  /** When the later reading was taken (RFC 3339). */
  time: string;
  /** Seconds between the two readings the rates come from. */
  windowSeconds: number;
  services: TrafficRate[];
  pods: TrafficRate[];
}

/** Elements of one set from `nft -j list set` output: `ip:port` → packets. Unknown shapes are skipped. */
export function parseCounterSet(json: string): Map<string, number> {
  const out = new Map<string, number>();
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return out;
  }
  for (const entry of asArr(asObj(doc)?.['nftables'])) {
    const set = asObj(asObj(entry)?.['set']);
    if (set === undefined) continue;
    for (const el of asArr(set['elem'])) {
      const e = asObj(asObj(el)?.['elem']);
      const concat = asArr(asObj(e?.['val'])?.['concat']);
      const ip = asStr(concat[0]);
      const port = asNum(concat[1]);
      const packets = asNum(asObj(e?.['counter'])?.['packets']);
      if (ip !== undefined && port !== undefined && packets !== undefined) out.set(`${ip}:${port}`, packets);
    }
  }
  return out;
}

/**
 * Per-element rates between two readings: (later − earlier) / seconds. An element whose counter went
 * back was re-created (a resync rewrites the sets): its count since then is used. An element that is new
 * counts from zero. Empty when no time passed.
 */
export function counterRates(prev: CounterReading, cur: CounterReading): Map<string, Map<string, number>> {
  const seconds = (cur.at - prev.at) / 1000;
  const out = new Map<string, Map<string, number>>();
  if (!(seconds > 0)) return out;
  for (const [setName, elements] of cur.sets) {
    const before = prev.sets.get(setName) ?? new Map<string, number>();
    const rates = new Map<string, number>();
    for (const [key, value] of elements) {
      const was = before.get(key) ?? 0;
      rates.set(key, (value >= was ? value - was : value) / seconds);
    }
    out.set(setName, rates);
  }
  return out;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * Rates by Service (VIP:port → the Service with that cluster IP and port) and by Pod (ip:port → the Pod an
 * EndpointSlice endpoint with that address names in its targetRef), summed over ports. Every Service and
 * every endpoint Pod the view knows is listed, with 0 when nothing was counted, so "no traffic" reads as 0
 * and not as a missing metric.
 */
export function attributeRates(
  rates: Map<string, Map<string, number>>,
  services: readonly KubeObject[],
  slices: readonly KubeObject[],
): { services: TrafficRate[]; pods: TrafficRate[] } {
  const svcOut = new Map<string, TrafficRate>();
  const podOut = new Map<string, TrafficRate>();
  const entry = (m: Map<string, TrafficRate>, namespace: string, name: string): TrafficRate => {
    const k = `${namespace}/${name}`;
    let r = m.get(k);
    if (r === undefined) {
      r = { namespace, name, connectionsPerSecond: 0, requestsPerSecond: 0 };
      m.set(k, r);
    }
    return r;
  };
  const get = (set: string, key: string): number => rates.get(set)?.get(key) ?? 0;

  for (const svc of services) {
    const spec = asObj(svc.spec) ?? {};
    const ips = [
      ...new Set(
        [...asArr(spec['clusterIPs']), spec['clusterIP']].filter(
          (x): x is string => typeof x === 'string' && x !== '' && x !== 'None',
        ),
      ),
    ];
    if (ips.length === 0) continue;
    const r = entry(svcOut, svc.metadata.namespace ?? '', svc.metadata.name ?? '');
    for (const p of asArr(spec['ports'])) {
      const port = asNum(asObj(p)?.['port']);
      if (port === undefined) continue;
      for (const ip of ips) {
        r.connectionsPerSecond += get(trafficSets.serviceConnections, `${ip}:${port}`);
        r.requestsPerSecond += get(trafficSets.serviceRequests, `${ip}:${port}`);
      }
    }
  }

  // One endpoint address:port can be listed by several slices (several Services select the pod): count it
  // once per pod.
  const seen = new Set<string>();
  for (const slice of slices) {
    const namespace = slice.metadata.namespace ?? '';
    const ports = asArr((slice as { ports?: unknown }).ports)
      .map((p) => asNum(asObj(p)?.['port']))
      .filter((p): p is number => p !== undefined);
    for (const e of asArr((slice as { endpoints?: unknown }).endpoints)) {
      const eo = asObj(e);
      const ref = asStrMap(eo?.['targetRef']);
      if (ref['kind'] !== 'Pod' || ref['name'] === undefined) continue;
      const r = entry(podOut, ref['namespace'] ?? namespace, ref['name']);
      for (const a of asArr(eo?.['addresses'])) {
        if (typeof a !== 'string') continue;
        for (const port of ports) {
          const key = `${a}:${port}`;
          if (seen.has(`${r.namespace}/${r.name}/${key}`)) continue;
          seen.add(`${r.namespace}/${r.name}/${key}`);
          r.connectionsPerSecond += get(trafficSets.endpointConnections, key);
          r.requestsPerSecond += get(trafficSets.endpointRequests, key);
        }
      }
    }
  }
  const finish = (m: Map<string, TrafficRate>): TrafficRate[] =>
    [...m.values()]
      .map((r) => ({
        ...r,
        connectionsPerSecond: round3(r.connectionsPerSecond),
        requestsPerSecond: round3(r.requestsPerSecond),
      }))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return { services: finish(svcOut), pods: finish(podOut) };
}

/** Reads the counter sets of one table (one `nft -j list set` per set). */
export type ReadCounters = (table: string) => Promise<Map<string, Map<string, number>>>;

export const readKernelCounters: ReadCounters = async (table) => {
  const out = new Map<string, Map<string, number>>();
  await Promise.all(
    Object.values(trafficSets).map(async (name) => {
      const r = await run('nft', ['-j', 'list', 'set', 'ip', table, name]);
      // Before the proxy's first sync the table (or an older agent's table) lacks the set: no figures.
      out.set(name, r.code === 0 ? parseCounterSet(r.stdout) : new Map());
    }),
  );
  return out;
};

export interface TrafficMeterOptions {
  table: string;
  view: { services(): KubeObject[]; slices(): KubeObject[] };
  /** Reading period (ms); default 10 s, as the resource stats. */
  intervalMs?: number;
  read?: ReadCounters;
  clock?: Clock;
  log?: (line: string) => void;
}

/** Reads the traffic counters every interval; `summary()` gives the rates between the last two readings. */
export class TrafficMeter {
  private readonly opts: TrafficMeterOptions;
  private readonly clock: Clock;
  private previous: CounterReading | undefined;
  private current: CounterReading | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private failing = false;

  constructor(opts: TrafficMeterOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    void this.readNow().finally(() => {
      if (this.running) this.timer = this.clock.setTimeout(() => this.tick(), this.opts.intervalMs ?? 10_000);
    });
  }

  /** Takes one reading now (the one before it is kept for rates). */
  async readNow(): Promise<void> {
    try {
      const at = this.clock.now();
      const sets = await (this.opts.read ?? readKernelCounters)(this.opts.table);
      this.previous = this.current;
      this.current = { at, sets };
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.opts.log?.(`proxy: reading traffic counters failed: ${(err as Error).message}`);
      this.failing = true;
    }
  }

  /** Rates between the last two readings, attributed with the view's current objects; undefined before two. */
  summary(): TrafficSummary | undefined {
    const prev = this.previous;
    const cur = this.current;
    if (prev === undefined || cur === undefined) return undefined;
    const rates = counterRates(prev, cur);
    return {
      time: new Date(cur.at).toISOString(),
      windowSeconds: Math.round((cur.at - prev.at) / 100) / 10,
      ...attributeRates(rates, this.opts.view.services(), this.opts.view.slices()),
    };
  }
}
