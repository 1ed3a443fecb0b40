// The HPA's decision, pure: `recommendReplicas(input, history, now)` → the replica count to set, the
// status to report (currentMetrics, conditions) and the history to keep for the next sync.
//
// Upstream semantics (docs "Horizontal Pod Autoscaling", autoscaling/v2; re-implemented, not copied):
// - per metric, ratio = current / target; within the tolerance (0.1) keep the current count, else
//   desired = ceil(ratio × pods with a usable sample);
// - pods being deleted or Failed are ignored; Pending pods, and for cpu pods not yet ready (readiness
//   within the cpu initialization period / initial readiness delay) are set aside; pods without a
//   sample are "missing". Missing pods count as 100 % of target on a scale-down and 0 % on a scale-up,
//   set-aside pods as 0 % on a scale-up; when that reverses the direction or lands within the
//   tolerance, nothing changes;
// - the largest proposal over metrics wins; a failing metric blocks a scale-down but not a scale-up;
// - behavior: stabilization windows over the recorded recommendations (up: the lowest of the window,
//   down: the highest), then Pods/Percent policies over the scale events of their period, selected by
//   selectPolicy (Max: the largest change, Min: the smallest, Disabled: none), then min/max.

import type { HpaSpec, MetricSpec, PodSample, ResourceName, ScalingRules } from './spec.js';

export interface HpaSettings {
  /** Ratio band around 1.0 in which nothing changes. Upstream default 0.1. */
  tolerance: number;
  /** Upstream `--horizontal-pod-autoscaler-cpu-initialization-period`, default 5 min. */
  cpuInitializationPeriodMs: number;
  /** Upstream `--horizontal-pod-autoscaler-initial-readiness-delay`, default 30 s. */
  initialReadinessDelayMs: number;
}

export const defaultHpaSettings: HpaSettings = {
  tolerance: 0.1,
  cpuInitializationPeriodMs: 5 * 60_000,
  initialReadinessDelayMs: 30_000,
};

/** One pod's resource usage sample (containers summed), in thousandths (cpu: millicores, memory: milli-bytes). */
export interface PodUsage {
  pod: string;
  timestampMs: number;
  windowMs: number;
  cpuMilli: number;
  memoryMilli: number;
}

/** What the controller fetched for one metric of the spec (same index). */
export type MetricData =
  | { kind: 'resource'; samples: readonly PodUsage[] }
  | { kind: 'pods'; samples: readonly { pod: string; valueMilli: number; timestampMs: number }[] }
  | { kind: 'object'; valueMilli: number; timestampMs: number }
  | { kind: 'error'; message: string };

export interface RecommendInput {
  spec: HpaSpec;
  /** scale.spec.replicas of the target. */
  currentReplicas: number;
  /** scale.status.replicas (Object metrics with an averageValue divide by it). */
  statusReplicas: number;
  /** The pods of the target's selector. */
  pods: readonly PodSample[];
  metrics: readonly MetricData[];
  settings?: Partial<HpaSettings>;
}

export interface TimedReplicas {
  timestampMs: number;
  replicas: number;
}

/** The clock-derived memory of one HPA (upstream keeps it in the controller, lost on restart too). */
export interface ScalingHistory {
  /** Recommendations before stabilization, one a sync. */
  recommendations: TimedReplicas[];
  /** Replicas added by each scale-up / removed by each scale-down. */
  scaleUpEvents: TimedReplicas[];
  scaleDownEvents: TimedReplicas[];
  /**
   * The target's replicas at the last sync. A target found above zero after being at zero was woken by
   * someone else (the activator, on a connection to its Service): that counts as a recommendation of its
   * size, so a scale-down stabilization window passes before it can go back to zero.
   */
  lastCurrent?: number;
}

export const emptyHistory = (): ScalingHistory => ({
  recommendations: [],
  scaleUpEvents: [],
  scaleDownEvents: [],
});

/**
 * The history of an HPA the controller has not seen yet: like upstream, one recommendation equal to
 * its last reported status.desiredReplicas, so a restart does not scale down at once.
 */
export function initialHistory(statusDesiredReplicas: number, now: number): ScalingHistory {
  return { ...emptyHistory(), recommendations: [{ timestampMs: now, replicas: statusDesiredReplicas }] };
}

export type ConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';

export interface ConditionUpdate {
  type: ConditionType;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface HpaEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Recommendation {
  /** The count to set; equal to currentReplicas when nothing changes. */
  desiredReplicas: number;
  rescale: boolean;
  /** For the SuccessfulRescale event: "cpu resource utilization (percentage of request) above target". */
  reason: string;
  /** status.currentMetrics (autoscaling/v2 MetricStatus objects, in spec order, failed ones left out). */
  currentMetrics: Record<string, unknown>[];
  conditions: ConditionUpdate[];
  events: HpaEvent[];
  history: ScalingHistory;
}

// ---------------------------------------------------------------------------------------------
// Per-metric replica proposals.

interface Proposal {
  replicas: number;
  /** e.g. "cpu resource utilization (percentage of request)". */
  metricName: string;
  status: Record<string, unknown>;
}

class MetricError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** A quantity string from thousandths: 250 → "250m", 2000 → "2". */
export function milliQuantity(milli: number): string {
  const m = Math.round(milli);
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

interface Groups {
  ready: Set<string>;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** Sort pods as upstream's groupPods does. `cpu` enables the readiness checks. */
function groupPods(
  pods: readonly PodSample[],
  samples: ReadonlyMap<string, { timestampMs: number; windowMs?: number }>,
  cpu: boolean,
  settings: HpaSettings,
  now: number,
): Groups {
  const g: Groups = { ready: new Set(), unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    if (pod.deleting || pod.phase === 'Failed') {
      g.ignored.add(pod.name);
      continue;
    }
    if (pod.phase === 'Pending') {
      g.unready.add(pod.name);
      continue;
    }
    const sample = samples.get(pod.name);
    if (sample === undefined) {
      g.missing.add(pod.name);
      continue;
    }
    if (cpu) {
      let unready: boolean;
      if (pod.ready === undefined || pod.startTimeMs === undefined) unready = true;
      else if (pod.startTimeMs + settings.cpuInitializationPeriodMs > now) {
        // Still possibly initializing: only a sample taken wholly after it became ready counts.
        unready =
          pod.ready.status === 'False' ||
          sample.timestampMs < pod.ready.lastTransitionMs + (sample.windowMs ?? 0);
      } else {
        // Past initialization: unready only if it never became ready after starting.
        unready =
          pod.ready.status === 'False' &&
          pod.startTimeMs + settings.initialReadinessDelayMs > pod.ready.lastTransitionMs;
      }
      if (unready) {
        g.unready.add(pod.name);
        continue;
      }
    }
    g.ready.add(pod.name);
  }
  return g;
}

/** Sum of a resource's requests per pod; throws like upstream when a container requests none. */
function podRequests(pods: readonly PodSample[], resource: ResourceName): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    let total = 0;
    for (const c of pod.containers) {
      const r = resource === 'cpu' ? c.cpuMilli : c.memoryMilli;
      if (r === undefined)
        throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.name}`);
      total += r;
    }
    out.set(pod.name, total);
  }
  return out;
}

function utilizationRatio(
  values: ReadonlyMap<string, number>,
  requests: ReadonlyMap<string, number>,
  target: number,
): { ratio: number; utilization: number; rawAverage: number } {
  let used = 0;
  let requested = 0;
  let n = 0;
  for (const [pod, v] of values) {
    const r = requests.get(pod);
    if (r === undefined) continue;
    used += v;
    requested += r;
    n++;
  }
  if (requested === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((used * 100) / requested);
  return { ratio: utilization / target, utilization, rawAverage: Math.trunc(used / n) };
}

function averageRatio(
  values: ReadonlyMap<string, number>,
  target: number,
): { ratio: number; average: number } {
  let total = 0;
  for (const v of values.values()) total += v;
  const average = Math.trunc(total / values.size);
  return { ratio: average / target, average };
}

/**
 * The shared core of upstream's replica calculator: `ratioOf` turns per-pod values into a usage ratio;
 * missing and set-aside pods then dampen it. Returns the proposal and the undampened figures.
 */
function dampened<T>(
  current: number,
  groups: Groups,
  values: Map<string, number>,
  ratioOf: (values: ReadonlyMap<string, number>) => { ratio: number } & T,
  fallbackOnScaleDown: (pod: string) => number,
  tolerance: number,
): { replicas: number } & T {
  for (const p of [...groups.ignored, ...groups.unready]) values.delete(p);
  if (values.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
  const base = ratioOf(values);
  const scaleUpWithUnready = groups.unready.size > 0 && base.ratio > 1;
  if (!scaleUpWithUnready && groups.missing.size === 0) {
    if (Math.abs(1 - base.ratio) <= tolerance) return { ...base, replicas: current };
    return { ...base, replicas: Math.ceil(base.ratio * groups.ready.size) };
  }
  if (base.ratio < 1) for (const p of groups.missing) values.set(p, fallbackOnScaleDown(p));
  else if (base.ratio > 1) for (const p of groups.missing) values.set(p, 0);
  if (scaleUpWithUnready) for (const p of groups.unready) values.set(p, 0);
  const next = ratioOf(values).ratio;
  if (Math.abs(1 - next) <= tolerance || (base.ratio < 1 && next > 1) || (base.ratio > 1 && next < 1))
    return { ...base, replicas: current };
  const replicas = Math.ceil(next * values.size);
  // Dampening must never turn the direction around.
  if ((next < 1 && replicas > current) || (next > 1 && replicas < current))
    return { ...base, replicas: current };
  return { ...base, replicas };
}

function resourceProposal(
  metric: Extract<MetricSpec, { type: 'Resource' }>,
  data: MetricData,
  input: RecommendInput,
  settings: HpaSettings,
  now: number,
): Proposal {
  const resource = metric.name;
  const utilizationTarget =
    metric.target.type === 'Utilization' ? metric.target.averageUtilization : undefined;
  const what = utilizationTarget === undefined ? 'usage' : 'utilization';
  const fail = (message: string): never => {
    throw new MetricError('FailedGetResourceMetric', `failed to get ${resource} ${what}: ${message}`);
  };
  if (resource !== 'cpu' && resource !== 'memory') return fail(`unsupported resource ${resource}`);
  if (data.kind === 'error') return fail(`unable to get metrics for resource ${resource}: ${data.message}`);
  if (data.kind !== 'resource') return fail('unexpected metric data');
  if (input.pods.length === 0) return fail('no pods returned by selector while calculating replica count');
  const samples = new Map(data.samples.map((s) => [s.pod, s] as const));
  const values = new Map(
    data.samples.map((s) => [s.pod, resource === 'cpu' ? s.cpuMilli : s.memoryMilli] as const),
  );
  // Samples of pods outside the selector do not count.
  const known = new Set(input.pods.map((p) => p.name));
  for (const pod of [...values.keys()]) if (!known.has(pod)) values.delete(pod);
  const groups = groupPods(input.pods, samples, resource === 'cpu', settings, now);
  const name = resource;
  try {
    if (utilizationTarget !== undefined) {
      const requests = podRequests(input.pods, resource);
      // A missing pod on a scale-down is taken at the target (at least 100 % of its request).
      const fallbackPct = Math.max(100, utilizationTarget);
      const r = dampened(
        input.currentReplicas,
        groups,
        values,
        (v) => utilizationRatio(v, requests, utilizationTarget),
        (p) => ((requests.get(p) ?? 0) * fallbackPct) / 100,
        settings.tolerance,
      );
      return {
        replicas: r.replicas,
        metricName: `${name} resource utilization (percentage of request)`,
        status: {
          type: 'Resource',
          resource: {
            name,
            current: { averageValue: milliQuantity(r.rawAverage), averageUtilization: r.utilization },
          },
        },
      };
    }
    const target = metric.target.averageValueMilli;
    if (target === undefined)
      return fail('invalid resource metric source: neither a utilization target nor a value target was set');
    const r = dampened(
      input.currentReplicas,
      groups,
      values,
      (v) => averageRatio(v, target),
      () => target,
      settings.tolerance,
    );
    return {
      replicas: r.replicas,
      metricName: `${name} resource`,
      status: { type: 'Resource', resource: { name, current: { averageValue: milliQuantity(r.average) } } },
    };
  } catch (err) {
    if (err instanceof MetricError) throw err;
    return fail((err as Error).message);
  }
}

function podsProposal(
  metric: Extract<MetricSpec, { type: 'Pods' }>,
  data: MetricData,
  input: RecommendInput,
  settings: HpaSettings,
  now: number,
): Proposal {
  const fail = (message: string): never => {
    throw new MetricError('FailedGetPodsMetric', `failed to get pods metric value: ${message}`);
  };
  if (data.kind === 'error') return fail(`unable to get metric ${metric.name}: ${data.message}`);
  if (data.kind !== 'pods') return fail('unexpected metric data');
  const target = metric.target.averageValueMilli;
  if (target === undefined) return fail('no averageValue target');
  if (input.pods.length === 0) return fail('no pods returned by selector while calculating replica count');
  const known = new Set(input.pods.map((p) => p.name));
  const samples = new Map(data.samples.filter((s) => known.has(s.pod)).map((s) => [s.pod, s] as const));
  const values = new Map([...samples].map(([p, s]) => [p, s.valueMilli] as const));
  const groups = groupPods(input.pods, samples, false, settings, now);
  try {
    const r = dampened(
      input.currentReplicas,
      groups,
      values,
      (v) => averageRatio(v, target),
      () => target,
      settings.tolerance,
    );
    return {
      replicas: r.replicas,
      metricName: `pods metric ${metric.name}`,
      status: {
        type: 'Pods',
        pods: {
          metric: {
            name: metric.name,
            ...(metric.selector === undefined ? {} : { selector: metric.selector }),
          },
          current: { averageValue: milliQuantity(r.average) },
        },
      },
    };
  } catch (err) {
    return fail((err as Error).message);
  }
}

function readyPodCount(pods: readonly PodSample[]): number {
  return pods.filter((p) => p.phase === 'Running' && p.ready?.status === 'True').length;
}

function objectProposal(
  metric: Extract<MetricSpec, { type: 'Object' }>,
  data: MetricData,
  input: RecommendInput,
  settings: HpaSettings,
): Proposal {
  const fail = (message: string): never => {
    throw new MetricError('FailedGetObjectMetric', `failed to get object metric value: ${message}`);
  };
  if (data.kind === 'error') return fail(`unable to get metric ${metric.name}: ${data.message}`);
  if (data.kind !== 'object') return fail('unexpected metric data');
  const current = input.currentReplicas;
  const metricStatus = {
    name: metric.name,
    ...(metric.selector === undefined ? {} : { selector: metric.selector }),
  };
  const base = { describedObject: metric.describedObject, metric: metricStatus };
  const name = `${metric.describedObject.kind} metric ${metric.name}`;
  if (metric.target.type === 'AverageValue' && metric.target.averageValueMilli !== undefined) {
    const target = metric.target.averageValueMilli;
    const statusReplicas = Math.max(1, input.statusReplicas);
    const ratio = data.valueMilli / (target * statusReplicas);
    const replicas = Math.abs(1 - ratio) > settings.tolerance ? Math.ceil(data.valueMilli / target) : current;
    return {
      replicas,
      metricName: name,
      status: {
        type: 'Object',
        object: { ...base, current: { averageValue: milliQuantity(data.valueMilli / statusReplicas) } },
      },
    };
  }
  const target = metric.target.valueMilli;
  if (target === undefined) return fail('no value or averageValue target');
  const ratio = data.valueMilli / target;
  let replicas: number;
  if (current === 0) replicas = Math.ceil(ratio);
  else if (Math.abs(1 - ratio) <= settings.tolerance) replicas = current;
  else {
    const ready = readyPodCount(input.pods);
    if (ready === 0) return fail('unable to calculate ready pods: no ready pods returned by selector');
    replicas = Math.ceil(ratio * ready);
  }
  return {
    replicas,
    metricName: name,
    status: { type: 'Object', object: { ...base, current: { value: milliQuantity(data.valueMilli) } } },
  };
}

function proposalFor(
  metric: MetricSpec,
  data: MetricData | undefined,
  input: RecommendInput,
  settings: HpaSettings,
  now: number,
): Proposal {
  const d: MetricData = data ?? { kind: 'error', message: 'no data' };
  switch (metric.type) {
    case 'Resource':
      return resourceProposal(metric, d, input, settings, now);
    case 'Pods':
      return podsProposal(metric, d, input, settings, now);
    case 'Object':
      return objectProposal(metric, d, input, settings);
    case 'Unsupported':
      throw new MetricError(
        'InvalidMetricSourceType',
        `unsupported metric source type "${metric.sourceType}"`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Behavior: stabilization and rate policies.

/** Replicas changed by the events of the last `periodSeconds`. */
function changedWithin(events: readonly TimedReplicas[], periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.filter((e) => e.timestampMs > cutoff).reduce((sum, e) => sum + e.replicas, 0);
}

/** The most replicas the scale-up policies allow now. */
export function scaleUpLimit(
  current: number,
  history: ScalingHistory,
  rules: ScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled' || rules.policies.length === 0) return current;
  const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
  let result = rules.selectPolicy === 'Min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const p of rules.policies) {
    // Count from the size at the start of the period: what was already added in it uses the budget.
    const start =
      current -
      changedWithin(history.scaleUpEvents, p.periodSeconds, now) +
      changedWithin(history.scaleDownEvents, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

/** The fewest replicas the scale-down policies allow now. */
export function scaleDownLimit(
  current: number,
  history: ScalingHistory,
  rules: ScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled' || rules.policies.length === 0) return current;
  // Min selects the smallest change, i.e. the highest floor.
  const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
  let result = rules.selectPolicy === 'Min' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const p of rules.policies) {
    const start =
      current +
      changedWithin(history.scaleDownEvents, p.periodSeconds, now) -
      changedWithin(history.scaleUpEvents, p.periodSeconds, now);
    const proposed = p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return result;
}

function stabilize(
  current: number,
  desired: number,
  spec: HpaSpec,
  history: ScalingHistory,
  now: number,
): { replicas: number; recommendations: TimedReplicas[]; condition: ConditionUpdate } {
  const upCutoff = now - spec.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - spec.scaleDown.stabilizationWindowSeconds * 1000;
  let up = desired;
  let down = desired;
  for (const r of history.recommendations) {
    if (r.timestampMs > upCutoff) up = Math.min(up, r.replicas);
    if (r.timestampMs > downCutoff) down = Math.max(down, r.replicas);
  }
  let replicas = Math.max(current, up);
  replicas = Math.min(replicas, down);
  // Keep only what a window can still see, plus this one.
  const oldest = Math.min(upCutoff, downCutoff);
  const recommendations = [
    ...history.recommendations.filter((r) => r.timestampMs > oldest),
    { timestampMs: now, replicas: desired },
  ];
  let condition: ConditionUpdate = {
    type: 'AbleToScale',
    status: 'True',
    reason: 'ReadyForNewScale',
    message: 'recommended size matches current size',
  };
  if (replicas !== desired) {
    condition =
      desired > current
        ? {
            type: 'AbleToScale',
            status: 'True',
            reason: 'ScaleUpStabilized',
            message:
              'recent recommendations were lower than current one, applying the lowest recent recommendation',
          }
        : {
            type: 'AbleToScale',
            status: 'True',
            reason: 'ScaleDownStabilized',
            message:
              'recent recommendations were higher than current one, applying the highest recent recommendation',
          };
  }
  return { replicas, recommendations, condition };
}

function applyRates(
  current: number,
  desired: number,
  spec: HpaSpec,
  history: ScalingHistory,
  now: number,
): { replicas: number; condition: ConditionUpdate } {
  const limited = (replicas: number, reason: string, message: string) => ({
    replicas,
    condition: { type: 'ScalingLimited' as const, status: 'True' as const, reason, message },
  });
  if (desired > current) {
    const limit = Math.max(current, scaleUpLimit(current, history, spec.scaleUp, now));
    if (spec.maxReplicas > limit) {
      if (desired > limit)
        return limited(
          limit,
          'ScaleUpLimit',
          'the desired replica count is increasing faster than the maximum scale rate',
        );
    } else if (desired > spec.maxReplicas) {
      return limited(
        spec.maxReplicas,
        'TooManyReplicas',
        'the desired replica count is more than the maximum replica count',
      );
    }
  } else if (desired < current) {
    const limit = Math.min(current, scaleDownLimit(current, history, spec.scaleDown, now));
    if (spec.minReplicas < limit) {
      if (desired < limit)
        return limited(
          limit,
          'ScaleDownLimit',
          'the desired replica count is decreasing faster than the maximum scale rate',
        );
    } else if (desired < spec.minReplicas) {
      return limited(
        spec.minReplicas,
        'TooFewReplicas',
        'the desired replica count is less than the minimum replica count',
      );
    }
  }
  return {
    replicas: desired,
    condition: {
      type: 'ScalingLimited',
      status: 'False',
      reason: 'DesiredWithinRange',
      message: 'the desired count is within the acceptable range',
    },
  };
}

/** Remember a scale the controller made (call after the scale update succeeded). */
export function recordScale(
  history: ScalingHistory,
  spec: HpaSpec,
  from: number,
  to: number,
  now: number,
): ScalingHistory {
  const longest = (rules: ScalingRules): number => Math.max(0, ...rules.policies.map((p) => p.periodSeconds));
  const keep = (events: TimedReplicas[], rules: ScalingRules): TimedReplicas[] =>
    events.filter((e) => e.timestampMs > now - longest(rules) * 1000);
  const up = keep(history.scaleUpEvents, spec.scaleUp);
  const down = keep(history.scaleDownEvents, spec.scaleDown);
  if (to > from) up.push({ timestampMs: now, replicas: to - from });
  if (to < from) down.push({ timestampMs: now, replicas: from - to });
  // The target is at `to` now: a target found above zero at the next sync after going to zero was woken.
  return {
    recommendations: history.recommendations,
    scaleUpEvents: up,
    scaleDownEvents: down,
    lastCurrent: to,
  };
}

// ---------------------------------------------------------------------------------------------
// The whole decision.

export function recommendReplicas(
  input: RecommendInput,
  before: ScalingHistory,
  now: number,
): Recommendation {
  const settings: HpaSettings = { ...defaultHpaSettings, ...input.settings };
  const { spec, currentReplicas: current } = input;
  const woken = current > 0 && before.lastCurrent === 0;
  const history: ScalingHistory = {
    ...before,
    lastCurrent: current,
    recommendations: woken
      ? [...before.recommendations, { timestampMs: now, replicas: current }]
      : before.recommendations,
  };
  const conditions: ConditionUpdate[] = [];
  const events: HpaEvent[] = [];
  const keep = (extra: Partial<Recommendation> = {}): Recommendation => ({
    desiredReplicas: current,
    rescale: false,
    reason: '',
    currentMetrics: [],
    conditions,
    events,
    history,
    ...extra,
  });

  if (current === 0 && spec.minReplicas !== 0) {
    // Implicit maintenance mode: someone scaled the target to zero by hand.
    conditions.push({
      type: 'ScalingActive',
      status: 'False',
      reason: 'ScalingDisabled',
      message: 'scaling is disabled since the replica count of the target is zero',
    });
    return keep();
  }
  if (current > spec.maxReplicas || current < spec.minReplicas) {
    const above = current > spec.maxReplicas;
    const desired = above ? spec.maxReplicas : spec.minReplicas;
    return keep({
      desiredReplicas: desired,
      rescale: true,
      reason: above
        ? 'Current number of replicas above Spec.MaxReplicas'
        : 'Current number of replicas below Spec.MinReplicas',
    });
  }

  // Every metric proposes; the largest wins.
  let best: Proposal | undefined;
  let firstError: MetricError | undefined;
  let invalid = 0;
  const currentMetrics: Record<string, unknown>[] = [];
  for (const [i, metric] of spec.metrics.entries()) {
    try {
      const p = proposalFor(metric, input.metrics[i], input, settings, now);
      currentMetrics.push(p.status);
      if (best === undefined || p.replicas > best.replicas) best = p;
    } catch (err) {
      const e = err instanceof MetricError ? err : new MetricError('FailedGetResourceMetric', String(err));
      events.push({ type: 'Warning', reason: e.reason, message: e.message });
      firstError ??= e;
      invalid++;
    }
  }
  const proposal = best;
  if (
    proposal === undefined ||
    (firstError !== undefined && (invalid >= spec.metrics.length || proposal.replicas < current))
  ) {
    const e = firstError ?? new MetricError('FailedGetResourceMetric', 'no metrics');
    conditions.push({
      type: 'ScalingActive',
      status: 'False',
      reason: e.reason,
      message: `the HPA was unable to compute the replica count: ${e.message}`,
    });
    events.push({
      type: 'Warning',
      reason: 'FailedComputeMetricsReplicas',
      message: `invalid metrics (${invalid} invalid out of ${spec.metrics.length}), first error is: ${e.message}`,
    });
    return keep({ currentMetrics });
  }
  conditions.push({
    type: 'ScalingActive',
    status: 'True',
    reason: 'ValidMetricFound',
    message: `the HPA was able to successfully calculate a replica count from ${proposal.metricName}`,
  });

  const proposed = proposal.replicas;
  const reason =
    proposed > current
      ? `${proposal.metricName} above target`
      : proposed < current
        ? 'All metrics below target'
        : '';
  const stable = stabilize(current, proposed, spec, history, now);
  conditions.push(stable.condition);
  const rated = applyRates(current, stable.replicas, spec, history, now);
  conditions.push(rated.condition);
  const desired = rated.replicas;
  return {
    desiredReplicas: desired,
    rescale: desired !== current,
    reason,
    currentMetrics,
    conditions,
    events,
    history: { ...history, recommendations: stable.recommendations },
  };
}
