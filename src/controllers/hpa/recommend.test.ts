// recommendReplicas against the examples of the upstream documentation ("Horizontal Pod Autoscaling":
// algorithm details, scaling policies, stabilization window, default behavior, the v1.33 tolerance
// post's 50 → 60 example), with a virtual clock for windows and policies.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../testkit/clock.js';
import {
  emptyHistory,
  initialHistory,
  recommendReplicas,
  recordScale,
  type MetricData,
  type PodUsage,
  type Recommendation,
  type ScalingHistory,
} from './recommend.js';
import { parseHpaSpec, type PodSample } from './spec.js';

const T0 = Date.UTC(2024, 0, 1);

/** A running pod, ready since long ago, requesting `cpu` millicores (null: no request). */
function pod(name: string, over: Partial<PodSample> = {}, cpu: number | null = 1000): PodSample {
  return {
    name,
    phase: 'Running',
    deleting: false,
    startTimeMs: T0 - 3_600_000,
    ready: { status: 'True', lastTransitionMs: T0 - 3_500_000 },
    containers: [{ name: 'app', ...(cpu === null ? {} : { cpuMilli: cpu, memoryMilli: 64e9 }) }],
    ...over,
  };
}

function usage(p: string, cpuMilli: number, at = T0): PodUsage {
  return { pod: p, timestampMs: at, windowMs: 15_000, cpuMilli, memoryMilli: 32e9 };
}

const cpuUtil = (pct: number) => ({
  type: 'Resource',
  resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: pct } },
});

function names(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `p${i}`);
}

describe('recommendReplicas: the replica formula and tolerance', () => {
  const cases: {
    name: string;
    replicas: number;
    metric: Record<string, unknown>;
    perPod: number;
    want: number;
  }[] = [
    {
      // docs: current 200m, desired 100m → replicas doubled
      name: '200m against 100m doubles',
      replicas: 3,
      metric: {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '100m' } },
      },
      perPod: 200,
      want: 6,
    },
    {
      // docs: current 50m, desired 100m → halved
      name: '50m against 100m halves',
      replicas: 4,
      metric: {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '100m' } },
      },
      perPod: 50,
      want: 2,
    },
    // v1.33 tolerance post: 50 replicas at 90 % against 75 % → ceil(50 × 90/75) = 60
    { name: '90% of 75% on 50 pods gives 60', replicas: 50, metric: cpuUtil(75), perPod: 900, want: 60 },
    // within the 0.1 tolerance nothing moves, either way
    { name: '80% of 75% is within tolerance', replicas: 50, metric: cpuUtil(75), perPod: 800, want: 50 },
    { name: '70% of 75% is within tolerance', replicas: 50, metric: cpuUtil(75), perPod: 700, want: 50 },
    // just past it
    { name: '83% of 75% scales', replicas: 10, metric: cpuUtil(75), perPod: 830, want: 12 },
  ];
  it.each(cases)('$name', ({ replicas, metric, perPod, want }) => {
    const pods = names(replicas).map((n) => pod(n));
    const rec = recommendReplicas(
      {
        spec: parseHpaSpec({ minReplicas: 1, maxReplicas: 100, metrics: [metric] }),
        currentReplicas: replicas,
        statusReplicas: replicas,
        pods,
        metrics: [{ kind: 'resource', samples: pods.map((p) => usage(p.name, perPod)) }],
      },
      emptyHistory(),
      T0,
    );
    expect(rec.desiredReplicas).toBe(want);
    expect(rec.rescale).toBe(want !== replicas);
  });

  it('reports utilization and raw average in currentMetrics and says why it scaled', () => {
    const pods = names(2).map((n) => pod(n, {}, 500));
    const rec = recommendReplicas(
      {
        spec: parseHpaSpec({ maxReplicas: 10, metrics: [cpuUtil(50)] }),
        currentReplicas: 2,
        statusReplicas: 2,
        pods,
        metrics: [{ kind: 'resource', samples: pods.map((p) => usage(p.name, 400)) }],
      },
      emptyHistory(),
      T0,
    );
    expect(rec.currentMetrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', current: { averageValue: '400m', averageUtilization: 80 } },
      },
    ]);
    expect(rec.desiredReplicas).toBe(4);
    expect(rec.reason).toBe('cpu resource utilization (percentage of request) above target');
    expect(rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound' }),
    );
  });

  it('defaults to cpu at 80 % when no metrics are given, like the API', () => {
    expect(parseHpaSpec({ maxReplicas: 3 }).metrics).toEqual([
      { type: 'Resource', name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
    ]);
  });
});

describe('recommendReplicas: missing metrics and not-yet-ready pods (docs: algorithm details)', () => {
  const run = (
    pods: PodSample[],
    samples: ReturnType<typeof usage>[],
    target = 50,
    now = T0,
  ): Recommendation =>
    recommendReplicas(
      {
        spec: parseHpaSpec({ maxReplicas: 20, metrics: [cpuUtil(target)] }),
        currentReplicas: pods.length,
        statusReplicas: pods.length,
        pods,
        metrics: [{ kind: 'resource', samples }],
      },
      emptyHistory(),
      now,
    );

  it('a scale-down assumes pods without metrics use 100 % of their request', () => {
    // 4 pods at 10 % of a 50 % target and one without a sample: 0.2 alone, (40+100)/500 = 28 % → 0.56 → 3
    const pods = names(5).map((n) => pod(n));
    expect(
      run(
        pods,
        names(4).map((n) => usage(n, 100)),
      ).desiredReplicas,
    ).toBe(3);
  });

  it('no scale-down when the missing pods at 100 % turn the direction around', () => {
    // 2 pods at 20 %, 2 missing: (40+200)/400 = 60 % > 50 % → stay at 4 (a naive average would give 1)
    const pods = names(4).map((n) => pod(n));
    expect(
      run(
        pods,
        names(2).map((n) => usage(n, 200)),
      ).desiredReplicas,
    ).toBe(4);
  });

  it('a scale-up assumes pods without metrics use 0 %', () => {
    // 2 pods at 100 % of 50 %, 2 missing: (200+0)/400 = 50 % → within tolerance → no change
    const pods = names(4).map((n) => pod(n));
    expect(
      run(
        pods,
        names(2).map((n) => usage(n, 1000)),
      ).desiredReplicas,
    ).toBe(4);
  });

  it('a scale-up counts not-yet-ready (Pending) pods at 0 %, and stops when that reverses it', () => {
    // 1 ready pod at 60 % of 50 % and 3 Pending: 60/400 = 15 % → would be a scale-down → no change
    const pods = [pod('p0'), ...['p1', 'p2', 'p3'].map((n) => pod(n, { phase: 'Pending' }))];
    expect(run(pods, [usage('p0', 600)]).desiredReplicas).toBe(4);
  });

  it('unready pods dampen a scale-up without cancelling it', () => {
    // 3 ready at 100 % of 50 %, 1 Pending: (300+0)/400 = 75 % → 1.5 × 4 → 6
    const pods = [...names(3).map((n) => pod(n)), pod('p3', { phase: 'Pending' })];
    expect(
      run(
        pods,
        names(3).map((n) => usage(n, 1000)),
      ).desiredReplicas,
    ).toBe(6);
  });

  it('cpu samples taken before the pod became ready (within the initialization period) are set aside', () => {
    const now = T0;
    const starting = pod('p1', {
      startTimeMs: now - 20_000,
      ready: { status: 'True', lastTransitionMs: now - 5_000 },
    });
    // p1's sample covers 15 s ending now, but it became ready 5 s ago: its 100 % is a start-up spike.
    const rec = run([pod('p0'), starting], [usage('p0', 250, now), usage('p1', 1000, now)], 50, now);
    // p0 alone: 25 % of 50 % → would scale down, p1 set aside → no scale-up dampening; 0.5 × 1 → 1
    expect(rec.desiredReplicas).toBe(1);
  });

  it('ignores pods being deleted and failed pods', () => {
    const pods = [pod('p0'), pod('p1'), pod('gone', { deleting: true }), pod('dead', { phase: 'Failed' })];
    const rec = run(pods, [usage('p0', 1000), usage('p1', 1000), usage('gone', 0), usage('dead', 0)]);
    expect(rec.desiredReplicas).toBe(4); // 100 % of 50 % on 2 counted pods → 4
  });

  it('pods without a cpu request: FailedGetResourceMetric, no scaling', () => {
    const pods = [pod('p0'), pod('p1', {}, null)];
    const rec = run(pods, [usage('p0', 900), usage('p1', 900)]);
    expect(rec.rescale).toBe(false);
    expect(rec.conditions).toContainEqual({
      type: 'ScalingActive',
      status: 'False',
      reason: 'FailedGetResourceMetric',
      message:
        'the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod p1',
    });
    expect(rec.events.map((e) => e.reason)).toEqual([
      'FailedGetResourceMetric',
      'FailedComputeMetricsReplicas',
    ]);
  });
});

describe('recommendReplicas: several metrics (docs: scaling on multiple metrics)', () => {
  const pods = names(4).map((n) => pod(n));
  const spec = parseHpaSpec({
    maxReplicas: 20,
    metrics: [
      cpuUtil(50),
      {
        type: 'Pods',
        pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } },
      },
      {
        type: 'Object',
        object: {
          describedObject: { apiVersion: 'v1', kind: 'Service', name: 'web' },
          metric: { name: 'requests-per-second' },
          target: { type: 'Value', value: '100' },
        },
      },
    ],
  });
  const cpu: MetricData = { kind: 'resource', samples: pods.map((p) => usage(p.name, 500)) }; // 1.0 → 4
  const rps = (v: number): MetricData => ({
    kind: 'pods',
    samples: pods.map((p) => ({ pod: p.name, valueMilli: v * 1000, timestampMs: T0 })),
  });

  it('takes the largest proposal', () => {
    const rec = recommendReplicas(
      {
        spec,
        currentReplicas: 4,
        statusReplicas: 4,
        pods,
        metrics: [cpu, rps(20), { kind: 'object', valueMilli: 150_000, timestampMs: T0 }],
      },
      emptyHistory(),
      T0,
    );
    // cpu 4, pods metric 20/10 × 4 = 8, object 150/100 × 4 ready = 6
    expect(rec.desiredReplicas).toBe(8);
    expect(rec.reason).toBe('pods metric rps above target');
    expect(rec.currentMetrics).toHaveLength(3);
  });

  it('scales up on the metrics it has when another is not available', () => {
    const rec = recommendReplicas(
      {
        spec,
        currentReplicas: 4,
        statusReplicas: 4,
        pods,
        metrics: [cpu, rps(20), { kind: 'error', message: 'not available' }],
      },
      emptyHistory(),
      T0,
    );
    expect(rec.desiredReplicas).toBe(8);
    expect(rec.events).toContainEqual(expect.objectContaining({ reason: 'FailedGetObjectMetric' }));
  });

  it('does not scale down while a metric is not available', () => {
    const rec = recommendReplicas(
      {
        spec,
        currentReplicas: 4,
        statusReplicas: 4,
        pods,
        metrics: [
          { kind: 'resource', samples: pods.map((p) => usage(p.name, 100)) },
          rps(1),
          { kind: 'error', message: 'not available' },
        ],
      },
      emptyHistory(),
      T0,
    );
    expect(rec.rescale).toBe(false);
    expect(rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingActive', status: 'False', reason: 'FailedGetObjectMetric' }),
    );
  });
});

/**
 * Drive one HPA through time: every `syncSeconds` the metrics ask for `want(t)` replicas (an Object
 * metric with an averageValue target of 1 proposes exactly its value), and the scale is applied as
 * the controller would. Returns the replica count after each sync.
 */
async function simulate(opts: {
  behavior?: Record<string, unknown>;
  min?: number;
  max?: number;
  start: number;
  want: (seconds: number) => number;
  seconds: number;
  syncSeconds?: number;
  /** Someone else (the activator) scales a target at zero to one before this sync. */
  wake?: (seconds: number) => boolean;
}): Promise<{ t: number; replicas: number; rec: Recommendation }[]> {
  const clock = new VirtualClock(T0);
  const spec = parseHpaSpec({
    minReplicas: opts.min ?? 1,
    maxReplicas: opts.max ?? 100,
    metrics: [
      {
        type: 'Object',
        object: {
          describedObject: { kind: 'Service', name: 'web' },
          metric: { name: 'load' },
          target: { type: 'AverageValue', averageValue: '1' },
        },
      },
    ],
    ...(opts.behavior === undefined ? {} : { behavior: opts.behavior }),
  });
  let replicas = opts.start;
  let history: ScalingHistory = initialHistory(opts.start, T0);
  const out: { t: number; replicas: number; rec: Recommendation }[] = [];
  const step = (opts.syncSeconds ?? 15) * 1000;
  for (let t = 0; t <= opts.seconds * 1000; t += step) {
    if (t > 0) await clock.advance(step);
    const now = clock.now();
    const want = opts.want(t / 1000);
    if (replicas === 0 && opts.wake?.(t / 1000) === true) replicas = 1;
    const rec = recommendReplicas(
      {
        spec,
        currentReplicas: replicas,
        statusReplicas: replicas,
        pods: names(replicas).map((n) => pod(n)),
        metrics: [{ kind: 'object', valueMilli: want * 1000, timestampMs: now }],
      },
      history,
      now,
    );
    history = rec.history;
    if (rec.rescale) {
      history = recordScale(history, spec, replicas, rec.desiredReplicas, now);
      replicas = rec.desiredReplicas;
    }
    out.push({ t: t / 1000, replicas, rec });
  }
  return out;
}

const series = (runs: { replicas: number }[]): number[] => runs.map((r) => r.replicas);

describe('recommendReplicas: behavior over time (docs: configurable scaling behavior)', () => {
  it('default scale-up: 4 pods or 100 % every 15 s, whichever is more', async () => {
    // 1 → 5 (1+4 > 2×1), → 10 (2×5 > 5+4), → 20, → 40, → 50 (max of the metric)
    const runs = await simulate({ start: 1, want: () => 50, seconds: 60 });
    expect(series(runs)).toEqual([5, 10, 20, 40, 50]);
    expect(runs[0]?.rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingLimited', status: 'True', reason: 'ScaleUpLimit' }),
    );
  });

  it('default scale-down: waits out the 300 s stabilization window, then goes straight down', async () => {
    // load falls at t=0 from 10 pods' worth to 2
    const runs = await simulate({ start: 10, want: (t) => (t < 15 ? 10 : 2), seconds: 330 });
    const at = (t: number): number | undefined => runs.find((r) => r.t === t)?.replicas;
    expect(at(15)).toBe(10);
    expect(at(285)).toBe(10); // the recommendation of t=0 (10) is still inside the window
    expect(at(300)).toBe(2); // 100 % per 15 s allows it all at once
    expect(runs.find((r) => r.t === 15)?.rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'AbleToScale', reason: 'ScaleDownStabilized' }),
    );
  });

  it('never flaps within the window: a dip and a spike inside 5 minutes change nothing downward', async () => {
    const want = (t: number): number => (t % 60 < 30 ? 2 : 6);
    const runs = await simulate({ start: 6, want, seconds: 600 });
    expect(new Set(series(runs))).toEqual(new Set([6]));
  });

  it('change downscale stabilization window: 60 s', async () => {
    const runs = await simulate({
      start: 10,
      want: (t) => (t < 15 ? 10 : 2),
      behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
      seconds: 90,
    });
    const at = (t: number): number | undefined => runs.find((r) => r.t === t)?.replicas;
    expect(at(45)).toBe(10);
    expect(at(60)).toBe(2);
  });

  it('scaling policies: 80 → 10 with 4 Pods / 10 Percent per 60 s removes 8, then 8 (7.2 rounded up), then 4 at a time below 40', async () => {
    const runs = await simulate({
      start: 80,
      min: 1,
      want: () => 10,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [
            { type: 'Pods', value: 4, periodSeconds: 60 },
            { type: 'Percent', value: 10, periodSeconds: 60 },
          ],
        },
      },
      seconds: 60 * 14,
      syncSeconds: 60,
    });
    expect(series(runs)).toEqual([72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10, 10]);
  });

  it('a policy period counts every scale inside it: no second step within 60 s', async () => {
    const runs = await simulate({
      start: 80,
      want: () => 10,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
        },
      },
      seconds: 60,
    });
    expect(series(runs)).toEqual([72, 72, 72, 72, 64]);
  });

  it('selectPolicy Min: at most 5 pods a minute even when 10 % is more', async () => {
    const runs = await simulate({
      start: 80,
      want: () => 10,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          policies: [
            { type: 'Percent', value: 10, periodSeconds: 60 },
            { type: 'Pods', value: 5, periodSeconds: 60 },
          ],
          selectPolicy: 'Min',
        },
      },
      seconds: 120,
      syncSeconds: 60,
    });
    expect(series(runs)).toEqual([75, 70, 65]);
  });

  it('selectPolicy Disabled: no scale-down at all, scale-up still works', async () => {
    const down = await simulate({
      start: 10,
      want: () => 2,
      behavior: { scaleDown: { selectPolicy: 'Disabled' } },
      seconds: 900,
    });
    expect(new Set(series(down))).toEqual(new Set([10]));
    const up = await simulate({
      start: 2,
      want: () => 4,
      behavior: { scaleDown: { selectPolicy: 'Disabled' } },
      seconds: 0,
    });
    expect(series(up)).toEqual([4]);
  });

  it('scale-up stabilization window: the lowest recommendation of the window wins', async () => {
    // behaviour from the docs' example: scaleUp window 120 s; a short spike to 8 does not scale up
    const runs = await simulate({
      start: 2,
      want: (t) => (t >= 60 && t < 90 ? 8 : 2),
      behavior: { scaleUp: { stabilizationWindowSeconds: 120 } },
      seconds: 300,
    });
    expect(new Set(series(runs))).toEqual(new Set([2]));
    const sustained = await simulate({
      start: 2,
      want: () => 8,
      behavior: { scaleUp: { stabilizationWindowSeconds: 120 } },
      seconds: 135,
    });
    // a sustained rise scales once the window holds only higher recommendations (at the policy's pace)
    expect(sustained.find((r) => r.t === 105)?.replicas).toBe(2);
    expect(sustained.find((r) => r.t === 120)?.replicas).toBe(6);
    expect(sustained.find((r) => r.t === 105)?.rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'AbleToScale', reason: 'ScaleUpStabilized' }),
    );
  });

  it('min/max clamp with ScalingLimited TooManyReplicas / TooFewReplicas', async () => {
    const up = await simulate({ start: 4, max: 6, want: () => 20, seconds: 0 });
    expect(series(up)).toEqual([6]);
    expect(up[0]?.rec.conditions).toContainEqual({
      type: 'ScalingLimited',
      status: 'True',
      reason: 'TooManyReplicas',
      message: 'the desired replica count is more than the maximum replica count',
    });
    const down = await simulate({
      start: 4,
      min: 3,
      want: () => 1,
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
      seconds: 0,
    });
    expect(series(down)).toEqual([3]);
    expect(down[0]?.rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingLimited', status: 'True', reason: 'TooFewReplicas' }),
    );
  });

  it('a target outside min/max is brought inside without looking at metrics', async () => {
    const runs = await simulate({ start: 12, max: 8, want: () => 12, seconds: 0 });
    expect(series(runs)).toEqual([8]);
    expect(runs[0]?.rec.reason).toBe('Current number of replicas above Spec.MaxReplicas');
  });

  it('a target scaled to zero by hand disables scaling (ScalingActive False, ScalingDisabled)', async () => {
    const runs = await simulate({ start: 0, want: () => 5, seconds: 0 });
    expect(series(runs)).toEqual([0]);
    expect(runs[0]?.rec.conditions).toContainEqual(
      expect.objectContaining({ type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled' }),
    );
  });
});

describe('recommendReplicas: scale to zero (minReplicas 0, an Object metric)', () => {
  const behavior = { scaleDown: { stabilizationWindowSeconds: 60 } };

  it('goes to zero only after a whole stabilization window without load, and back up on load', async () => {
    const out = await simulate({
      behavior,
      min: 0,
      start: 2,
      want: (t) => (t >= 150 ? 3 : 0),
      seconds: 180,
    });
    const at = (t: number) => out.find((o) => o.t === t)?.replicas;
    expect(at(45)).toBe(2);
    expect(at(60)).toBe(0); // the first sync whose window holds only zeros
    expect(at(135)).toBe(0);
    expect(at(150)).toBe(3); // from zero: ceil(value / target)
  });

  it('a target woken by the activator stays up for a window even when the HPA never saw the load', async () => {
    const out = await simulate({
      behavior,
      min: 0,
      start: 0,
      want: () => 0,
      wake: (t) => t === 30,
      seconds: 150,
    });
    const at = (t: number) => out.find((o) => o.t === t)?.replicas;
    expect(at(15)).toBe(0);
    expect(at(30)).toBe(1);
    expect(at(75)).toBe(1);
    expect(at(90)).toBe(0); // 60 s after the wake-up the window holds only zeros
    // Never more than one change back down: no flapping.
    const changes = out.filter((o, i) => i > 0 && o.replicas !== out[i - 1]?.replicas).length;
    expect(changes).toBe(2);
  });

  it('a target woken right after the HPA took it to zero also stays up for a window', async () => {
    const out = await simulate({
      behavior,
      min: 0,
      start: 1,
      want: () => 0,
      // The HPA takes it to zero at 60 s; the activator wakes it before the next sync.
      wake: (t) => t === 75,
      seconds: 150,
    });
    const at = (t: number) => out.find((o) => o.t === t)?.replicas;
    expect(at(60)).toBe(0);
    expect(at(75)).toBe(1);
    expect(at(120)).toBe(1);
    expect(at(135)).toBe(0);
  });
});
