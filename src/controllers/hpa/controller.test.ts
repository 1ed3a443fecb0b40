// The HPA controller on FakeApi with a virtual clock and a fake MetricsSource: a Deployment whose pods
// follow its replicas (as the ReplicaSet controller would), a CPU load spread over its pods.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errors } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import { kubeTime, MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { VirtualClock } from '../../testkit/clock.js';
import { HpaController, type HpaExecutor, type ScaleObject } from './controller.js';
import { FakeMetricsSource } from './metrics.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Deployment = info('apps/v1', 'Deployment');
const Pod = info('v1', 'Pod');
const HPA = info('autoscaling/v2', 'HorizontalPodAutoscaler');
const ns = 'default';

let api: FakeApi;
let clock: VirtualClock;
let recorder: MemoryEventRecorder;
let metrics: FakeMetricsSource;
let controller: HpaController;
/** Total CPU demand of the workload in millicores, spread evenly over its running pods. */
let load = 0;
let podSeq = 0;
let withRequests = true;

function pods(): KubeObject[] {
  return api.list(Pod).filter((p) => p.metadata.namespace === ns);
}

function replicas(): number {
  return (api.find(Deployment, ns, 'web')?.spec as { replicas: number }).replicas;
}

/** Make the pods match the Deployment, publish the load, as the rest of the cluster would. */
async function cluster(): Promise<void> {
  const want = replicas();
  const have = pods();
  for (let i = have.length; i < want; i++) {
    const now = kubeTime(clock.now());
    api.create(Pod, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `web-${++podSeq}`, namespace: ns, labels: { app: 'web' } },
      spec: {
        containers: [{ name: 'app', ...(withRequests ? { resources: { requests: { cpu: '500m' } } } : {}) }],
      },
      status: {
        phase: 'Running',
        startTime: now,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      },
    });
  }
  for (const p of have.slice(want)) await api.delete(Pod, ns, p.metadata.name ?? '', 'Background');
  const names = pods().map((p) => p.metadata.name ?? '');
  metrics.setCpu(ns, names, names.length === 0 ? 0 : Math.round(load / names.length), clock.now());
}

const executor = (): HpaExecutor => ({
  getScale: async (ref, namespace, name) => {
    if (ref.kind !== 'Deployment') throw new Error('unexpected kind');
    const d = api.find(Deployment, namespace, name);
    if (d === undefined) throw errors.notFound('deployments', 'apps', name);
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name, namespace },
      spec: { replicas: (d.spec as { replicas: number }).replicas },
      status: { replicas: pods().length, selector: 'app=web' },
    } satisfies ScaleObject;
  },
  updateScale: async (_ref, namespace, name, scale) => {
    const d = api.find(Deployment, namespace, name) as KubeObject;
    return api.patch(Deployment, namespace, name, {
      spec: { ...(d.spec as object), replicas: scale.spec.replicas },
    });
  },
  updateHpaStatus: (hpa) => api.updateStatus(HPA, hpa),
});

function hpa(over: Record<string, unknown> = {}): void {
  api.create(HPA, {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: ns, generation: 1 },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 1,
      maxReplicas: 8,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
        },
      ],
      ...over,
    },
  });
}

function status(): Record<string, unknown> {
  return (api.find(HPA, ns, 'web')?.status ?? {}) as Record<string, unknown>;
}

function condition(type: string): Record<string, unknown> | undefined {
  const list = (status()['conditions'] ?? []) as Record<string, unknown>[];
  return list.find((c) => c['type'] === type);
}

/** Advance in sync-period steps, letting the cluster follow after each; returns replicas after each step. */
async function run(seconds: number): Promise<number[]> {
  const seen: number[] = [];
  for (let t = 0; t < seconds; t += 15) {
    await clock.advance(15_000);
    await cluster();
    seen.push(replicas());
  }
  return seen;
}

async function startWith(initialReplicas: number, totalLoad: number, over: Record<string, unknown> = {}) {
  api.create(Deployment, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns },
    spec: { replicas: initialReplicas, selector: { matchLabels: { app: 'web' } } },
  });
  load = totalLoad;
  await cluster();
  // Pods that have run for a while: ready long before their samples.
  const old = kubeTime(clock.now() - 3_600_000);
  for (const p of pods())
    await api.updateStatus(Pod, {
      ...p,
      status: {
        ...(p.status as object),
        startTime: old,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: old }],
      },
    });
  hpa(over);
  controller.start();
  await clock.advance(0);
}

beforeEach(() => {
  api = new FakeApi();
  clock = new VirtualClock();
  recorder = new MemoryEventRecorder();
  metrics = new FakeMetricsSource();
  load = 0;
  withRequests = true;
  controller = new HpaController({
    informers: api,
    executor: executor(),
    metrics,
    clock,
    recorder,
    syncPeriodMs: 15_000,
  });
});

afterEach(async () => {
  await controller.stop();
});

describe('HpaController', () => {
  it('load above target: scales up within one sync, with the upstream event and status', async () => {
    await startWith(2, 2000); // 1000m a pod on 500m requests: 200 % against 50 % → 8
    expect(replicas()).toBe(6); // 2 + 4 pods: the default scale-up policy for 15 s
    expect(recorder.events.map((e) => [e.reason, e.message])).toContainEqual([
      'SuccessfulRescale',
      'New size: 6; reason: cpu resource utilization (percentage of request) above target',
    ]);
    const s = status();
    expect(s['currentReplicas']).toBe(2);
    expect(s['desiredReplicas']).toBe(6);
    expect(s['lastScaleTime']).toBe(kubeTime(clock.now()));
    expect(s['currentMetrics']).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', current: { averageValue: '1', averageUtilization: 200 } },
      },
    ]);
    expect(condition('AbleToScale')).toMatchObject({ status: 'True', reason: 'SucceededRescale' });
    expect(condition('ScalingActive')).toMatchObject({ status: 'True', reason: 'ValidMetricFound' });
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'ScaleUpLimit' });
  });

  it('reaches the max and says so with ScalingLimited TooManyReplicas', async () => {
    await startWith(2, 8000); // 8 pods would still be at 200 %
    await run(60);
    expect(replicas()).toBe(8);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooManyReplicas' });
  });

  it('load below target: scales down only after the stabilization window, and never flaps within it', async () => {
    await startWith(4, 1000); // 250m a pod: 50 % of request, on target
    expect(replicas()).toBe(4);
    await run(60);
    load = 200; // 10 %: desires 1
    const seen = await run(330);
    // the last on-target recommendation was made just before the drop: 300 s later it leaves the window
    const firstDown = seen.findIndex((r) => r < 4);
    expect(firstDown).toBeGreaterThanOrEqual(Math.floor(285 / 15));
    expect(seen.slice(0, firstDown).every((r) => r === 4)).toBe(true);
    expect(replicas()).toBe(1);
    // one change only: straight to 1 (100 % per 15 s)
    expect(new Set(seen)).toEqual(new Set([4, 1]));
    expect(recorder.events.filter((e) => e.reason === 'SuccessfulRescale').map((e) => e.message)).toEqual([
      'New size: 1; reason: All metrics below target',
    ]);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'False', reason: 'DesiredWithinRange' });
  });

  it('a fluctuating load inside the window does not flap', async () => {
    await startWith(4, 1000);
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      load = i % 2 === 0 ? 200 : 1000;
      seen.push(...(await run(15)));
    }
    expect(new Set(seen)).toEqual(new Set([4]));
    expect(condition('AbleToScale')).toMatchObject({
      reason: expect.stringMatching(/ScaleDownStabilized|ReadyForNewScale/),
    });
  });

  it('minReplicas holds a floor', async () => {
    await startWith(4, 0, { minReplicas: 3, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    await run(15);
    expect(replicas()).toBe(3);
    expect(condition('ScalingLimited')).toMatchObject({ status: 'True', reason: 'TooFewReplicas' });
  });

  it('pods without cpu requests: FailedGetResourceMetric condition and event, no scaling', async () => {
    withRequests = false;
    await startWith(2, 2000);
    expect(replicas()).toBe(2);
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
    expect(recorder.reasons()).toContain('FailedGetResourceMetric');
    expect(recorder.events.find((e) => e.reason === 'FailedGetResourceMetric')?.message).toMatch(
      /^failed to get cpu utilization: missing request for cpu in container app of Pod web-\d+$/,
    );
  });

  it('metrics unavailable: ScalingActive False, replicas untouched', async () => {
    metrics.error = new Error('the server is currently unable to handle the request');
    await startWith(2, 2000);
    metrics.error = new Error('the server is currently unable to handle the request');
    await run(15);
    expect(replicas()).toBe(2);
    expect(condition('ScalingActive')).toMatchObject({ status: 'False', reason: 'FailedGetResourceMetric' });
  });

  it('a target kind without a scale subresource: AbleToScale False with the reason', async () => {
    await startWith(2, 2000, { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' } });
    expect(condition('AbleToScale')).toMatchObject({ status: 'False', reason: 'FailedGetScale' });
    expect(String(condition('AbleToScale')?.['message'])).toContain(
      "the HPA controller was unable to get the target's current scale:",
    );
    expect(recorder.reasons()).toContain('FailedGetScale');
  });

  it('syncs once per period, not on its own status writes', async () => {
    await startWith(4, 1000);
    const calls = metrics.calls;
    await clock.advance(60_000);
    expect(metrics.calls - calls).toBe(4);
  });
});
