// Scheduler throughput: how many pods per second the scheduler places on a large cluster.
//
//   node dist/bench/scheduler.js [--nodes 5000] [--pods 10000] [--modes plain,anti-affinity,spread]
//                                [--json FILE]
//
// The scheduling algorithm in process, as kube-scheduler's own benchmark (scheduler_perf) measures its
// "SchedulingThroughput": a SchedulerCache with N nodes (4 CPU, 16 GiB, 110 pods, 3 zones), then P pods
// scheduled one after the other, each placed with `schedulePod` and `assume` (what the running
// scheduler does before its asynchronous bind). Modes:
//   plain          pods with requests only (100m CPU, 128 MiB);
//   anti-affinity  groups of 10 replicas with required pod anti-affinity on kubernetes.io/hostname;
//   spread         groups of 10 replicas with a DoNotSchedule topology spread on the zone (maxSkew 1).
// The end-to-end figure through a real API server with simulated nodes is `bench/scale.ts`.
import { runAsScript } from './lib/main.js';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/api/types.js';
import { defaultProfile, schedulePod, SchedulerCache } from '../src/scheduler/core.js';

type Mode = 'plain' | 'anti-affinity' | 'spread';

interface Options {
  nodes: number;
  pods: number;
  modes: Mode[];
  json: string | undefined;
}

const usage =
  'usage: scheduler.js [--nodes 5000] [--pods 10000] [--modes plain,anti-affinity,spread] [--json FILE]';

function parseArgs(args: string[]): Options {
  const o: Options = {
    nodes: 5000,
    pods: 10000,
    modes: ['plain', 'anti-affinity', 'spread'],
    json: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value; ${usage}`);
      return v;
    };
    if (a === '--nodes') o.nodes = Number(value());
    else if (a === '--pods') o.pods = Number(value());
    else if (a === '--json') o.json = value();
    else if (a === '--modes') {
      const modes = value().split(',');
      for (const m of modes) {
        if (m !== 'plain' && m !== 'anti-affinity' && m !== 'spread')
          throw new Error(`unknown mode ${m}; ${usage}`);
      }
      o.modes = modes as Mode[];
    } else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  if (!Number.isInteger(o.nodes) || o.nodes < 1) throw new Error(`--nodes must be a positive whole number`);
  if (!Number.isInteger(o.pods) || o.pods < 1) throw new Error(`--pods must be a positive whole number`);
  return o;
}

function makeNode(i: number): KubeObject {
  const name = `node-${i}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
      },
    },
    spec: {},
    status: {
      capacity: { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function makePod(i: number, mode: Mode): KubeObject {
  const app = `app-${Math.floor(i / 10)}`;
  const spec: Record<string, unknown> = {
    containers: [
      {
        name: 'main',
        image: 'registry.local/busybox:1',
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      },
    ],
  };
  const selector = { matchLabels: { app } };
  if (mode === 'anti-affinity') {
    spec['affinity'] = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
  } else if (mode === 'spread') {
    spec['topologySpreadConstraints'] = [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: selector,
      },
    ];
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, namespace: 'default', uid: `uid-pod-${i}`, labels: { app } },
    spec,
    status: { phase: 'Pending' },
  };
}

interface ModeResult {
  mode: Mode;
  nodes: number;
  pods: number;
  scheduled: number;
  unschedulable: number;
  seconds: number;
  podsPerSecond: number;
  p50Micros: number;
  p99Micros: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function run(mode: Mode, opts: Options): ModeResult {
  const cache = new SchedulerCache();
  for (let i = 0; i < opts.nodes; i++) cache.upsertNode(makeNode(i));
  const pods = Array.from({ length: opts.pods }, (_, i) => makePod(i, mode));
  // Warm-up on a throw-away copy so V8 has compiled the hot paths before the clock starts.
  const warm = cache.clone();
  for (let i = 0; i < 200; i++) {
    const p = makePod(opts.pods + i, mode);
    const r = schedulePod(p, warm, defaultProfile);
    if (r.kind === 'Scheduled') warm.assume(p, r.nodeName);
  }
  const latencies: number[] = [];
  let scheduled = 0;
  let unschedulable = 0;
  const started = performance.now();
  for (const pod of pods) {
    const t = performance.now();
    const r = schedulePod(pod, cache, defaultProfile);
    if (r.kind === 'Scheduled') {
      cache.assume(pod, r.nodeName);
      scheduled++;
    } else unschedulable++;
    latencies.push((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode,
    nodes: opts.nodes,
    pods: opts.pods,
    scheduled,
    unschedulable,
    seconds,
    podsPerSecond: opts.pods / seconds,
    p50Micros: percentile(latencies, 50),
    p99Micros: percentile(latencies, 99),
  };
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const results: ModeResult[] = [];
  process.stdout.write(
    `scheduler throughput: ${fmt(opts.nodes)} nodes, ${fmt(opts.pods)} pods, one at a time\n`,
  );
  for (const mode of opts.modes) {
    const r = run(mode, opts);
    results.push(r);
    process.stdout.write(
      `${mode}: ${fmt(r.podsPerSecond)} pods/s (${fmt(r.scheduled)} placed, ${fmt(r.unschedulable)} unschedulable in ${r.seconds.toFixed(1)} s), ` +
        `per pod p50 ${fmt(r.p50Micros)} µs, p99 ${fmt(r.p99Micros)} µs\n`,
    );
  }
  process.stdout.write(
    '\n| mode | pods/s | p50 per pod | p99 per pod | ÷ kube-scheduler anchor (1,150 pods/s) |\n|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.mode} | ${fmt(r.podsPerSecond)} | ${fmt(r.p50Micros)} µs | ${fmt(r.p99Micros)} µs | ${(r.podsPerSecond / 1150).toFixed(2)} |\n`,
    );
  }
  if (opts.json !== undefined) writeFileSync(opts.json, JSON.stringify(results, null, 2));
}

runAsScript(
  import.meta.url,
  async () => {
    main();
    return 0;
  },
  usage,
);
