// Node and container resource usage in the kubelet's Summary API shape (`GET /stats/summary`, what
// metrics-server and `kubectl get --raw /api/v1/nodes/<n>/proxy/stats/summary` read).
//
// A StatsCollector samples every running container's cgroup counters (runtime.stats) and the host's
// /proc/stat and /proc/meminfo every `intervalMs`, keeping the last two samples. The document is a pure
// function of those two samples (`summarize`): cumulative CPU is reported as is, the usage rate
// (usageNanoCores) is the CPU time between the two samples over the time between them, and is left out
// when it cannot be known (first sample, a container that appeared since, a counter that went back).
import { readFile } from 'node:fs/promises';
import { systemClock, type Clock, type TimerHandle } from '../../machinery/clock.js';
import type { TrafficSummary } from '../proxy/traffic.js';
import type { ContainerRuntime, ContainerStats, ContainerStatus } from '../runtime/types.js';

// ---- The document (field names as in k8s.io/kubelet/pkg/apis/stats/v1alpha1) ----

export interface CpuUsage {
  /** When the figures were taken (RFC 3339). */
  time: string;
  /** CPU use over the last sampling window, in billionths of a core; absent until two samples exist. */
  usageNanoCores?: number;
  /** Cumulative CPU time, nanoseconds. */
  usageCoreNanoSeconds: number;
}

export interface MemoryUsage {
  time: string;
  /** Bytes that cannot be reclaimed without swapping: what evictions and `kubectl top` use. */
  workingSetBytes: number;
  usageBytes: number;
  /** Node only: memory still available (MemAvailable). */
  availableBytes?: number;
}

export interface SummaryContainer {
  name: string;
  startTime: string;
  cpu: CpuUsage;
  memory: MemoryUsage;
}

export interface SummaryPod {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  cpu: CpuUsage;
  memory: MemoryUsage;
  containers: SummaryContainer[];
}

export interface SummaryNode {
  nodeName: string;
  startTime: string;
  cpu: CpuUsage;
  memory: MemoryUsage & { availableBytes: number };
}

export interface Summary {
  node: SummaryNode;
  pods: SummaryPod[];
  /**
   * Flotilla's addition to the kubelet shape: seconds between the two samples the usageNanoCores rates
   * come from (the `window` of metrics.k8s.io). Absent until two samples exist.
   */
  windowSeconds?: number;
  /**
   * Flotilla's addition: connection and request rates this node's service proxy counted, per Service and
   * per Pod (src/agent/proxy/traffic.ts). Absent without a proxy or before its second reading.
   */
  traffic?: TrafficSummary;
}

// ---- Samples ----

/** The host's counters at one moment (from /proc). */
export interface HostSample {
  time: Date;
  /** When the machine booted (btime in /proc/stat): the node's startTime. */
  bootTime: Date;
  /** Non-idle CPU time of all CPUs together, nanoseconds. */
  cpuUsageNanos: number;
  memTotalBytes: number;
  memAvailableBytes: number;
  memFreeBytes: number;
}

export interface ContainerSample {
  status: ContainerStatus;
  /** Undefined when the runtime had no figures for it (gone between list and stats). */
  stats: ContainerStats | undefined;
}

export interface StatsSample {
  host: HostSample;
  containers: ContainerSample[];
}

// ---- Pure computations ----

/**
 * Average use in nanocores between two readings of a cumulative CPU counter, or undefined when it cannot
 * be known (no time passed, or the counter went back: a different process or a reset cgroup).
 */
export function cpuRate(
  prevNanos: number,
  prevTime: Date,
  curNanos: number,
  curTime: Date,
): number | undefined {
  const dtNanos = (curTime.getTime() - prevTime.getTime()) * 1e6;
  const used = curNanos - prevNanos;
  if (!(dtNanos > 0) || used < 0) return undefined;
  return Math.round((used / dtNanos) * 1e9);
}

function cpuUsage(time: Date, total: number, rate: number | undefined): CpuUsage {
  return {
    time: time.toISOString(),
    ...(rate === undefined ? {} : { usageNanoCores: rate }),
    usageCoreNanoSeconds: Math.round(total),
  };
}

interface Measured {
  status: ContainerStatus;
  stats: ContainerStats;
}

/** Running containers with figures, one per pod container (the newest attempt when several run). */
function running(sample: StatsSample | undefined): Map<string, Measured> {
  const out = new Map<string, Measured>();
  for (const c of sample?.containers ?? []) {
    if (c.status.state !== 'running' || c.stats === undefined) continue;
    const key = `${c.status.labels.podUid}\u0000${c.status.labels.containerName}`;
    const seen = out.get(key);
    if (seen === undefined || seen.status.labels.attempt < c.status.labels.attempt)
      out.set(key, { status: c.status, stats: c.stats });
  }
  return out;
}

/**
 * The Summary document from the latest sample and the one before it (for rates). Exited, created and
 * unknown containers are left out, and so are pods with no running container. A pod's figures are the
 * sums of its containers'; its usageNanoCores is present when at least one of its containers has one.
 */
export function summarize(nodeName: string, current: StatsSample, previous?: StatsSample): Summary {
  const h = current.host;
  const ph = previous?.host;
  const node: SummaryNode = {
    nodeName,
    startTime: h.bootTime.toISOString(),
    cpu: cpuUsage(
      h.time,
      h.cpuUsageNanos,
      ph === undefined ? undefined : cpuRate(ph.cpuUsageNanos, ph.time, h.cpuUsageNanos, h.time),
    ),
    memory: {
      time: h.time.toISOString(),
      workingSetBytes: Math.max(0, h.memTotalBytes - h.memAvailableBytes),
      usageBytes: Math.max(0, h.memTotalBytes - h.memFreeBytes),
      availableBytes: h.memAvailableBytes,
    },
  };

  // Rates are per container id: a restarted container is a new id with a fresh counter.
  const before = new Map<string, ContainerStats>();
  for (const m of running(previous).values()) before.set(m.status.id, m.stats);

  const pods = new Map<string, { ref: SummaryPod['podRef']; items: Array<Measured & { rate?: number }> }>();
  for (const m of running(current).values()) {
    const l = m.status.labels;
    let pod = pods.get(l.podUid);
    if (pod === undefined) {
      pod = { ref: { name: l.podName, namespace: l.podNamespace, uid: l.podUid }, items: [] };
      pods.set(l.podUid, pod);
    }
    const prev = before.get(m.status.id);
    const rate =
      prev === undefined
        ? undefined
        : cpuRate(prev.cpuUsageNanos, prev.timestamp, m.stats.cpuUsageNanos, m.stats.timestamp);
    pod.items.push(rate === undefined ? m : { ...m, rate });
  }

  const out: SummaryPod[] = [];
  for (const pod of pods.values()) {
    pod.items.sort((a, b) => a.status.labels.containerName.localeCompare(b.status.labels.containerName));
    const containers = pod.items.map((c): SummaryContainer => ({
      name: c.status.labels.containerName,
      startTime: (c.status.startedAt ?? c.status.createdAt).toISOString(),
      cpu: cpuUsage(c.stats.timestamp, c.stats.cpuUsageNanos, c.rate),
      memory: {
        time: c.stats.timestamp.toISOString(),
        workingSetBytes: c.stats.memoryWorkingSetBytes,
        usageBytes: c.stats.memoryUsageBytes,
      },
    }));
    const latest = new Date(Math.max(...pod.items.map((c) => c.stats.timestamp.getTime())));
    const earliest = new Date(
      Math.min(...pod.items.map((c) => (c.status.startedAt ?? c.status.createdAt).getTime())),
    );
    const rates = pod.items.flatMap((c) => (c.rate === undefined ? [] : [c.rate]));
    const sum = (f: (c: Measured) => number): number => pod.items.reduce((n, c) => n + f(c), 0);
    out.push({
      podRef: pod.ref,
      startTime: earliest.toISOString(),
      cpu: cpuUsage(
        latest,
        sum((c) => c.stats.cpuUsageNanos),
        rates.length === 0 ? undefined : rates.reduce((a, b) => a + b, 0),
      ),
      memory: {
        time: latest.toISOString(),
        workingSetBytes: sum((c) => c.stats.memoryWorkingSetBytes),
        usageBytes: sum((c) => c.stats.memoryUsageBytes),
      },
      containers,
    });
  }
  out.sort(
    (a, b) =>
      a.podRef.namespace.localeCompare(b.podRef.namespace) || a.podRef.name.localeCompare(b.podRef.name),
  );
  const window = ph === undefined ? undefined : sampleWindowSeconds(ph.time, h.time);
  return window === undefined ? { node, pods: out } : { node, pods: out, windowSeconds: window };
}

/** Seconds between two sampling rounds (ms precision), undefined when no time passed. */
export function sampleWindowSeconds(prev: Date, cur: Date): number | undefined {
  const ms = cur.getTime() - prev.getTime();
  return ms > 0 ? ms / 1000 : undefined;
}

/**
 * Linux reports /proc/stat times in USER_HZ ticks, which the kernel fixes at 100 a second for user space
 * on every architecture we run (x86_64, aarch64), whatever the kernel's internal HZ.
 */
export const userHz = 100;

/** Non-idle CPU time of all CPUs (user+nice+system+irq+softirq+steal, ns) and the boot time. */
export function parseProcStat(text: string): { cpuUsageNanos: number; bootTime: Date } {
  let ticks: number | undefined;
  let btime: number | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'cpu') {
      // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user/nice.
      const n = (i: number): number => Number(f[i] ?? 0) || 0;
      ticks = n(1) + n(2) + n(3) + n(6) + n(7) + n(8);
    } else if (f[0] === 'btime') {
      btime = Number(f[1]);
    }
  }
  if (ticks === undefined) throw new Error('/proc/stat has no aggregate "cpu" line');
  return {
    cpuUsageNanos: ticks * (1e9 / userHz),
    bootTime: new Date(btime !== undefined && Number.isFinite(btime) ? btime * 1000 : 0),
  };
}

/** MemTotal, MemAvailable (estimated on kernels without it) and MemFree, in bytes. */
export function parseMeminfo(text: string): { total: number; available: number; free: number } {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m !== null) kb.set(m[1] ?? '', Number(m[2]));
  }
  const total = kb.get('MemTotal');
  const free = kb.get('MemFree');
  if (total === undefined || free === undefined) throw new Error('/proc/meminfo has no MemTotal or MemFree');
  const available = kb.get('MemAvailable') ?? free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  return { total: total * 1024, available: available * 1024, free: free * 1024 };
}

/** Reads the host's counters from `procDir` (default /proc). */
export async function readHostSample(now: Date, procDir = '/proc'): Promise<HostSample> {
  const [stat, meminfo] = await Promise.all([
    readFile(`${procDir}/stat`, 'utf8'),
    readFile(`${procDir}/meminfo`, 'utf8'),
  ]);
  const s = parseProcStat(stat);
  const m = parseMeminfo(meminfo);
  return {
    time: now,
    bootTime: s.bootTime,
    cpuUsageNanos: s.cpuUsageNanos,
    memTotalBytes: m.total,
    memAvailableBytes: m.available,
    memFreeBytes: m.free,
  };
}

// ---- The collector ----

export interface StatsCollectorOptions {
  runtime: Pick<ContainerRuntime, 'listContainers' | 'stats'>;
  /** The Node's name, reported as node.nodeName. */
  nodeName: string;
  /** Sampling period (ms); default 10 s. */
  intervalMs?: number;
  /** Host counters; default reads /proc. Tests inject their own. */
  sampleHost?: (now: Date) => Promise<HostSample>;
  clock?: Clock;
  log?: (line: string) => void;
  /** The service proxy's traffic rates, added to the document as `traffic`. */
  traffic?: { summary(): TrafficSummary | undefined };
}

export const defaultStatsIntervalMs = 10_000;

export class StatsCollector {
  private readonly opts: StatsCollectorOptions;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private previous: StatsSample | undefined;
  private current: StatsSample | undefined;
  /** Samples run one after another (the timer and sampleNow never overlap). */
  private chain: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(opts: StatsCollectorOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => undefined);
  }

  get intervalMs(): number {
    return this.opts.intervalMs ?? defaultStatsIntervalMs;
  }

  /** Takes a first sample now, then one every intervalMs until stop(). Idempotent. */
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
    void this.sampleNow()
      .catch((err: unknown) => this.log(`stats: sampling failed: ${(err as Error).message}`))
      .finally(() => {
        if (this.running) this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
      });
  }

  /** Takes one sample (after any in flight); the one before it is kept for rates. */
  sampleNow(): Promise<void> {
    const next = this.chain.then(() => this.takeSample());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async takeSample(): Promise<void> {
    const now = new Date(this.clock.now());
    const sampleHost = this.opts.sampleHost ?? ((t: Date) => readHostSample(t));
    const [host, list] = await Promise.all([sampleHost(now), this.opts.runtime.listContainers()]);
    const containers = await Promise.all(
      list
        .filter((c) => c.state === 'running')
        .map(async (status): Promise<ContainerSample> => {
          try {
            return { status, stats: await this.opts.runtime.stats(status.id) };
          } catch (err) {
            this.log(`stats: container ${status.id}: ${(err as Error).message}`);
            return { status, stats: undefined };
          }
        }),
    );
    this.previous = this.current;
    this.current = { host, containers };
  }

  /** The Summary document; takes a first sample when none was taken yet. */
  async summary(): Promise<Summary> {
    if (this.current === undefined) await this.sampleNow();
    const current = this.current;
    if (current === undefined) throw new Error('no stats sample could be taken');
    const doc = summarize(this.opts.nodeName, current, this.previous);
    const traffic = this.opts.traffic?.summary();
    return traffic === undefined ? doc : { ...doc, traffic };
  }
}
