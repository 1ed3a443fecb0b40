// HorizontalPodAutoscaler wiring: every sync period (`--hpa-sync-period`, default 15 s) per HPA, read
// the target's scale subresource, its pods (by the scale's selector, from the pod informer) and their
// metrics, ask the pure `recommendReplicas`, write the scale when it changes and the HPA status.
//
// The interfaces the server implements to run it:
//   InformerProvider: informers for autoscaling/v2 HorizontalPodAutoscaler and v1 Pod.
//   HpaExecutor (below), e.g. over an ApiClient `c`:
//     getScale:        (ref, ns, name) => c.getScale(ref, ns, name)
//     updateScale:     (ref, ns, name, scale) => c.updateScale(ref, ns, name, scale)
//     updateHpaStatus: (hpa) => c.updateStatus(HPA, hpa.metadata.namespace, hpa)
//   MetricsSource (metrics.ts): HttpMetricsSource over `(path) => c.request('GET', path)`.
// The scaling history (recommendations and scale events, for windows and policies) lives in memory,
// as upstream's does; on a restart it is seeded from status.desiredReplicas.

import { isApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import { matchesLabels, parseLabelSelector } from '../../api/selectors.js';
import { isObject, type KubeObject } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller, keyOf, splitKey } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { kubeTime, nullEventRecorder, type EventRecorder } from '../../machinery/event-recorder.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import type { MetricsSource, PodMetricsSample } from './metrics.js';
import {
  initialHistory,
  recommendReplicas,
  recordScale,
  type ConditionType,
  type ConditionUpdate,
  type HpaSettings,
  type MetricData,
  type PodUsage,
  type ScalingHistory,
} from './recommend.js';
import { parseHpaSpec, podSampleOf, type MetricSpec } from './spec.js';

/** autoscaling/v1 Scale as the executor passes it. */
export interface ScaleObject extends KubeObject {
  spec: { replicas?: number };
  status?: { replicas: number; selector?: string };
}

export interface ScaleTargetRef {
  apiVersion: string;
  kind: string;
}

export interface HpaExecutor {
  getScale(ref: ScaleTargetRef, namespace: string, name: string): Promise<ScaleObject>;
  updateScale(ref: ScaleTargetRef, namespace: string, name: string, scale: ScaleObject): Promise<unknown>;
  updateHpaStatus(hpa: KubeObject): Promise<unknown>;
}

export interface HpaControllerOptions {
  informers: InformerProvider;
  executor: HpaExecutor;
  metrics: MetricsSource;
  clock: Clock;
  logger?: Logger;
  /** Events on the HPA: SuccessfulRescale, FailedGetScale, FailedGetResourceMetric, ... */
  recorder?: EventRecorder;
  /** `--hpa-sync-period`. Default 15 s. */
  syncPeriodMs?: number;
  /** Default scale-down stabilization when behavior does not set one. Default 300 s. */
  downscaleStabilizationSeconds?: number;
  settings?: Partial<HpaSettings>;
  /** Default 2. */
  workers?: number;
}

export const defaultHpaSyncPeriodMs = 15_000;

/** Targets with a scale subresource here. */
const scalableKinds = new Set(['apps/Deployment', 'apps/ReplicaSet']);

function infoFor(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`, {
      transient: false,
    });
  return info;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (isObject(v) ? v : {});

interface Condition extends ConditionUpdate {
  lastTransitionTime: string;
}

const conditionOrder: ConditionType[] = ['AbleToScale', 'ScalingActive', 'ScalingLimited'];

/** Apply updates (later ones win) to the existing conditions; a transition time moves only on a status change. */
export function mergeConditions(
  existing: unknown,
  updates: readonly ConditionUpdate[],
  now: string,
): Condition[] {
  const byType = new Map<string, Condition>();
  for (const c of Array.isArray(existing) ? existing.map(rec) : []) {
    if (typeof c['type'] === 'string') byType.set(c['type'], c as unknown as Condition);
  }
  const latest = new Map<string, ConditionUpdate>();
  for (const u of updates) latest.set(u.type, u);
  for (const [type, u] of latest) {
    const old = byType.get(type);
    byType.set(type, {
      ...u,
      lastTransitionTime: old !== undefined && old.status === u.status ? old.lastTransitionTime : now,
    });
  }
  const rank = (t: string): number => {
    const i = conditionOrder.indexOf(t as ConditionType);
    return i < 0 ? conditionOrder.length : i;
  };
  return [...byType.values()].sort((a, b) => rank(a.type) - rank(b.type));
}

export class HpaController {
  private readonly hpaSource: ObjectSource;
  private readonly podSource: ObjectSource;
  private readonly executor: HpaExecutor;
  private readonly metrics: MetricsSource;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: EventRecorder;
  private readonly syncPeriodMs: number;
  private readonly downscaleStabilizationSeconds: number;
  private readonly settings: Partial<HpaSettings>;
  private readonly controller: Controller;
  private readonly hpas = new Map<string, KubeObject>();
  private readonly histories = new Map<string, ScalingHistory>();
  private readonly timers = new Map<string, TimerHandle>();
  private unsubscribe: (() => void)[] = [];
  private stopped = false;

  constructor(options: HpaControllerOptions) {
    this.hpaSource = options.informers.informerFor(infoFor('autoscaling/v2', 'HorizontalPodAutoscaler'));
    this.podSource = options.informers.informerFor(infoFor('v1', 'Pod'));
    this.executor = options.executor;
    this.metrics = options.metrics;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.recorder = options.recorder ?? nullEventRecorder;
    this.syncPeriodMs = options.syncPeriodMs ?? defaultHpaSyncPeriodMs;
    if (!Number.isFinite(this.syncPeriodMs) || this.syncPeriodMs <= 0)
      throw new MachineryError('InvalidKey', `hpa sync period must be positive, got ${this.syncPeriodMs}`, {
        transient: false,
      });
    this.downscaleStabilizationSeconds = options.downscaleStabilizationSeconds ?? 300;
    this.settings = options.settings ?? {};
    this.controller = new Controller({
      name: 'horizontal-pod-autoscaler',
      clock: options.clock,
      logger: this.logger,
      workers: options.workers ?? 2,
      sync: (key) => this.sync(key),
    });
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.hpaSource.addEventHandler({
        onAdd: (h) => {
          this.hpas.set(keyOf(h), h);
          this.controller.enqueue(keyOf(h));
        },
        onUpdate: (old, h) => {
          this.hpas.set(keyOf(h), h);
          // Our own status writes do not trigger a sync (that would double the decisions); spec edits do.
          if (old.metadata.generation !== h.metadata.generation) this.controller.enqueue(keyOf(h));
        },
        onDelete: (h) => {
          const key = keyOf(h);
          this.hpas.delete(key);
          this.histories.delete(key);
          const t = this.timers.get(key);
          if (t !== undefined) this.clock.clearTimeout(t);
          this.timers.delete(key);
        },
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    await this.controller.stop();
  }

  /** Sync every HPA once now (tests, `flotilla` tooling). */
  enqueueAll(): void {
    for (const key of this.hpas.keys()) this.controller.enqueue(key);
  }

  private scheduleNext(key: string): void {
    if (this.stopped) return;
    const old = this.timers.get(key);
    if (old !== undefined) this.clock.clearTimeout(old);
    this.timers.set(
      key,
      this.clock.setTimeout(() => {
        this.timers.delete(key);
        this.controller.enqueue(key);
      }, this.syncPeriodMs),
    );
  }

  private async sync(key: string): Promise<void> {
    const hpa = this.hpas.get(key);
    if (hpa === undefined) return;
    this.scheduleNext(key);
    const { namespace = '' } = splitKey(key);
    const now = this.clock.now();
    const spec = parseHpaSpec(hpa.spec, this.downscaleStabilizationSeconds);
    const status = rec(hpa.status);
    const ref = rec(rec(hpa.spec)['scaleTargetRef']);
    const refKind = typeof ref['kind'] === 'string' ? ref['kind'] : '';
    const refName = typeof ref['name'] === 'string' ? ref['name'] : '';
    const refApiVersion = typeof ref['apiVersion'] === 'string' ? ref['apiVersion'] : 'apps/v1';
    const updates: ConditionUpdate[] = [];

    const writeStatus = async (patch: Rec): Promise<void> => {
      const next: Rec = {
        ...status,
        ...(hpa.metadata.generation === undefined ? {} : { observedGeneration: hpa.metadata.generation }),
        ...patch,
        conditions: mergeConditions(status['conditions'], updates, kubeTime(now)),
      };
      if (JSON.stringify(next) === JSON.stringify(hpa.status)) return;
      try {
        await this.executor.updateHpaStatus({ ...hpa, status: next });
      } catch (err) {
        // The next sync writes again; a conflict only means our cache was behind.
        if (isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound')) return;
        throw err;
      }
    };

    // The target's scale.
    const info = findByKind(refApiVersion, refKind);
    const target: ScaleTargetRef = { apiVersion: refApiVersion, kind: refKind };
    let scale: ScaleObject;
    try {
      if (info === undefined || !scalableKinds.has(`${info.group}/${info.kind}`)) {
        const group = refApiVersion.includes('/') ? refApiVersion.split('/')[0] : '';
        throw new Error(
          info === undefined
            ? `unable to determine resource for scale target reference: no matches for kind "${refKind}" in group "${group ?? ''}"`
            : `${refKind} has no scale subresource`,
        );
      }
      scale = await this.executor.getScale(target, namespace, refName);
    } catch (err) {
      const msg = describeError(err);
      this.recorder.record(hpa, 'Warning', 'FailedGetScale', msg);
      updates.push({
        type: 'AbleToScale',
        status: 'False',
        reason: 'FailedGetScale',
        message: `the HPA controller was unable to get the target's current scale: ${msg}`,
      });
      await writeStatus({});
      return;
    }
    updates.push({
      type: 'AbleToScale',
      status: 'True',
      reason: 'SucceededGetScale',
      message: "the HPA controller was able to get the target's current scale",
    });
    const current = scale.spec.replicas ?? 0;
    const selectorText = scale.status?.selector ?? '';
    let selector: ReturnType<typeof parseLabelSelector>;
    try {
      if (selectorText === '') throw new Error('selector is required');
      selector = parseLabelSelector(selectorText);
    } catch (err) {
      const msg = describeError(err);
      this.recorder.record(hpa, 'Warning', selectorText === '' ? 'SelectorRequired' : 'InvalidSelector', msg);
      updates.push({
        type: 'ScalingActive',
        status: 'False',
        reason: 'InvalidSelector',
        message: `the HPA target's scale is missing a selector or it is invalid: ${msg}`,
      });
      await writeStatus({ currentReplicas: current, desiredReplicas: status['desiredReplicas'] ?? current });
      return;
    }
    const podObjects = this.podSource
      .list()
      .filter((p) => p.metadata.namespace === namespace && matchesLabels(selector, p.metadata.labels));
    const metrics = await this.fetchMetrics(spec.metrics, namespace, selectorText);

    const history =
      this.histories.get(key) ??
      initialHistory(
        typeof status['desiredReplicas'] === 'number' ? status['desiredReplicas'] : current,
        now,
      );
    const r = recommendReplicas(
      {
        spec,
        currentReplicas: current,
        statusReplicas: scale.status?.replicas ?? current,
        pods: podObjects.map(podSampleOf),
        metrics,
        settings: this.settings,
      },
      history,
      now,
    );
    let nextHistory = r.history;
    for (const e of r.events) this.recorder.record(hpa, e.type, e.reason, e.message);
    updates.push(...r.conditions);
    let desired = r.desiredReplicas;
    let lastScaleTime = status['lastScaleTime'];
    if (r.rescale) {
      try {
        await this.executor.updateScale(target, namespace, refName, {
          ...scale,
          spec: { ...scale.spec, replicas: desired },
        });
        updates.push({
          type: 'AbleToScale',
          status: 'True',
          reason: 'SucceededRescale',
          message: `the HPA controller was able to update the target scale to ${desired}`,
        });
        this.recorder.record(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${r.reason}`);
        nextHistory = recordScale(nextHistory, spec, current, desired, now);
        lastScaleTime = kubeTime(now);
        this.logger.info('scaled', { hpa: key, from: current, to: desired, reason: r.reason });
      } catch (err) {
        const msg = describeError(err);
        this.recorder.record(
          hpa,
          'Warning',
          'FailedRescale',
          `New size: ${desired}; reason: ${r.reason}; error: ${msg}`,
        );
        updates.push({
          type: 'AbleToScale',
          status: 'False',
          reason: 'FailedUpdateScale',
          message: `the HPA controller was unable to update the target scale: ${msg}`,
        });
        desired = current;
      }
    }
    this.histories.set(key, nextHistory);
    await writeStatus({
      currentReplicas: current,
      desiredReplicas: desired,
      currentMetrics: r.currentMetrics,
      ...(lastScaleTime === undefined ? {} : { lastScaleTime }),
    });
  }

  private async fetchMetrics(
    specs: readonly MetricSpec[],
    namespace: string,
    selector: string,
  ): Promise<MetricData[]> {
    let resource: Promise<MetricData> | undefined;
    const resourceData = (): Promise<MetricData> => {
      resource ??= this.metrics.podMetrics(namespace, selector).then(
        (samples): MetricData => ({ kind: 'resource', samples: samples.map(toUsage) }),
        (err: unknown): MetricData => ({ kind: 'error', message: describeError(err) }),
      );
      return resource;
    };
    const notAvailable = (what: string): MetricData => ({
      kind: 'error',
      message: `${what} metrics are not available yet`,
    });
    const out: MetricData[] = [];
    for (const m of specs) {
      try {
        switch (m.type) {
          case 'Resource':
            out.push(await resourceData());
            break;
          case 'Pods':
            out.push(
              this.metrics.podsMetric === undefined
                ? notAvailable('pods')
                : {
                    kind: 'pods',
                    samples: (await this.metrics.podsMetric(namespace, selector, m.name)).map((s) => ({
                      pod: s.pod,
                      valueMilli: s.valueMilli,
                      timestampMs: s.timestamp,
                    })),
                  },
            );
            break;
          case 'Object': {
            if (this.metrics.objectMetric === undefined) {
              out.push(notAvailable('object'));
              break;
            }
            const v = await this.metrics.objectMetric(namespace, m.describedObject, m.name);
            out.push({ kind: 'object', valueMilli: v.valueMilli, timestampMs: v.timestamp });
            break;
          }
          case 'Unsupported':
            out.push({ kind: 'error', message: 'unsupported metric source' });
            break;
        }
      } catch (err) {
        out.push({ kind: 'error', message: describeError(err) });
      }
    }
    return out;
  }
}

function toUsage(s: PodMetricsSample): PodUsage {
  let cpu = 0;
  let memory = 0;
  for (const c of s.containers) {
    cpu += c.cpuMilli;
    memory += c.memoryBytes * 1000;
  }
  return {
    pod: s.pod,
    timestampMs: s.timestamp,
    windowMs: s.windowSeconds * 1000,
    cpuMilli: cpu,
    memoryMilli: memory,
  };
}
