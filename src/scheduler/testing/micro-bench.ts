// Scheduling throughput micro-benchmark: a synthetic cluster, pods scheduled one by one with
// assume, as the shell does. Prints figures; asserts nothing (timings vary with the machine).
// Run: npx vitest run src/scheduler/testing/micro-bench.test.ts

import { SchedulerCache } from '../cache.js';
import { defaultProfile, schedulePod, type SchedulerProfile } from '../core.js';
import { node, pod, seededRandom } from './builders.js';

export type BenchMode = 'plain' | 'spread' | 'anti-affinity' | 'affinity';

export interface BenchOptions {
  nodes: number;
  pods: number;
  mode: BenchMode;
  profile?: SchedulerProfile;
  /** Pods already running before the timed run (spread over the nodes). */
  existingPods?: number;
}

export interface BenchResult {
  mode: BenchMode;
  nodes: number;
  pods: number;
  scheduled: number;
  ms: number;
  podsPerSecond: number;
}

const zones = ['zone-a', 'zone-b', 'zone-c'];

export function runSchedulerBench(o: BenchOptions): BenchResult {
  const cache = new SchedulerCache();
  for (let i = 0; i < o.nodes; i++) {
    cache.upsertNode(
      node(`node-${i}`)
        .cpu('32')
        .memory('128Gi')
        .pods(110)
        .zone(zones[i % zones.length] ?? '')
        .obj(),
    );
  }
  for (let i = 0; i < (o.existingPods ?? 0); i++) {
    cache.upsertPod(
      pod(`existing-${i}`)
        .label('app', `svc-${i % 50}`)
        .req({ cpu: '100m', memory: '128Mi' })
        .node(`node-${i % o.nodes}`)
        .obj(),
    );
  }
  const pods = [];
  for (let i = 0; i < o.pods; i++) {
    const app = `app-${i % 20}`;
    const b = pod(`bench-${i}`).label('app', app).req({ cpu: '100m', memory: '256Mi' });
    switch (o.mode) {
      case 'plain':
        break;
      case 'spread':
        b.spread({ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', selector: { app } });
        b.spread({
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          selector: { app },
          whenUnsatisfiable: 'ScheduleAnyway',
        });
        break;
      case 'anti-affinity':
        b.antiAffinity('kubernetes.io/hostname', { app });
        break;
      case 'affinity':
        b.preferredAffinity(10, 'topology.kubernetes.io/zone', { app });
        break;
    }
    pods.push(b.obj());
  }
  const random = seededRandom(7);
  const profile = o.profile ?? defaultProfile;
  // Warm up the JIT on a copy, so the figure is about steady state.
  const warm = cache.clone();
  for (const p of pods.slice(0, 200)) {
    const r = schedulePod(p, warm, profile, random);
    if (r.kind === 'Scheduled') warm.assume(p, r.nodeName);
  }
  let scheduled = 0;
  const t0 = performance.now();
  for (const p of pods) {
    const r = schedulePod(p, cache, profile, random);
    if (r.kind === 'Scheduled') {
      cache.assume(p, r.nodeName);
      scheduled++;
    }
  }
  const ms = performance.now() - t0;
  return { mode: o.mode, nodes: o.nodes, pods: o.pods, scheduled, ms, podsPerSecond: (o.pods / ms) * 1000 };
}

export function formatBench(r: BenchResult): string {
  return `${r.mode.padEnd(14)} nodes=${r.nodes} pods=${r.pods} scheduled=${r.scheduled} ${r.ms.toFixed(0)}ms ${r.podsPerSecond.toFixed(0)} pods/s`;
}
