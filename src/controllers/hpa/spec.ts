// Pure parsing of what the HPA decision reads: the autoscaling/v2 spec (metrics, min/max, behavior with
// upstream's defaults) and the facts about each pod (phase, readiness, start time, requests).
// Quantities become numbers in thousandths ("milli-units"), as upstream compares MilliValue()s.

import { tryParseQuantity, quantityToMillis } from '../../api/quantity.js';
import { isObject, type KubeObject } from '../../api/types.js';

export type ResourceName = 'cpu' | 'memory';

export interface MetricTarget {
  type: 'Utilization' | 'AverageValue' | 'Value';
  averageUtilization?: number;
  /** averageValue in thousandths. */
  averageValueMilli?: number;
  /** value in thousandths. */
  valueMilli?: number;
}

export interface DescribedObject {
  apiVersion?: string;
  kind: string;
  name: string;
}

export type MetricSpec =
  | { type: 'Resource'; name: string; target: MetricTarget }
  | { type: 'Pods'; name: string; selector?: unknown; target: MetricTarget }
  | {
      type: 'Object';
      name: string;
      selector?: unknown;
      describedObject: DescribedObject;
      target: MetricTarget;
    }
  /** ContainerResource and External: accepted by the API, not computed here (yet). */
  | { type: 'Unsupported'; sourceType: string };

export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: SelectPolicy;
  policies: ScalingPolicy[];
}

export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  metrics: MetricSpec[];
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
}

/** Upstream's defaults (used when `behavior` or a direction of it is absent). */
export function defaultScaleUp(): ScalingRules {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

/** `downscaleStabilizationSeconds` is the server-wide default window (upstream's flag, 300 s). */
export function defaultScaleDown(downscaleStabilizationSeconds = 300): ScalingRules {
  return {
    stabilizationWindowSeconds: downscaleStabilizationSeconds,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  };
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (isObject(v) ? v : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function millis(v: unknown): number | undefined {
  const q = tryParseQuantity(v);
  return q === undefined ? undefined : quantityToMillis(q);
}

function parseTarget(raw: unknown): MetricTarget {
  const t = rec(raw);
  const type = str(t['type']);
  const target: MetricTarget = {
    type: type === 'Utilization' || type === 'Value' ? type : 'AverageValue',
  };
  const au = num(t['averageUtilization']);
  if (au !== undefined) target.averageUtilization = au;
  const av = millis(t['averageValue']);
  if (av !== undefined) target.averageValueMilli = av;
  const v = millis(t['value']);
  if (v !== undefined) target.valueMilli = v;
  // A target that names a utilization is one, whatever `type` says (the API requires a type anyway).
  if (type === '' && au !== undefined) target.type = 'Utilization';
  return target;
}

function parseMetric(raw: unknown): MetricSpec {
  const m = rec(raw);
  const type = str(m['type']);
  switch (type) {
    case 'Resource': {
      const r = rec(m['resource']);
      return { type, name: str(r['name']), target: parseTarget(r['target']) };
    }
    case 'Pods': {
      const p = rec(m['pods']);
      const metric = rec(p['metric']);
      return {
        type,
        name: str(metric['name']),
        ...(metric['selector'] === undefined ? {} : { selector: metric['selector'] }),
        target: parseTarget(p['target']),
      };
    }
    case 'Object': {
      const o = rec(m['object']);
      const metric = rec(o['metric']);
      const d = rec(o['describedObject']);
      return {
        type,
        name: str(metric['name']),
        ...(metric['selector'] === undefined ? {} : { selector: metric['selector'] }),
        describedObject: {
          ...(typeof d['apiVersion'] === 'string' ? { apiVersion: d['apiVersion'] } : {}),
          kind: str(d['kind']),
          name: str(d['name']),
        },
        target: parseTarget(o['target']),
      };
    }
    default:
      return { type: 'Unsupported', sourceType: type };
  }
}

function parseRules(raw: unknown, fallback: ScalingRules): ScalingRules {
  if (!isObject(raw)) return fallback;
  const sp = str(raw['selectPolicy']);
  const policies = Array.isArray(raw['policies'])
    ? raw['policies'].map(rec).flatMap((p): ScalingPolicy[] => {
        const type = str(p['type']);
        const value = num(p['value']);
        const periodSeconds = num(p['periodSeconds']);
        if ((type !== 'Pods' && type !== 'Percent') || value === undefined || periodSeconds === undefined)
          return [];
        return [{ type, value, periodSeconds }];
      })
    : fallback.policies;
  return {
    stabilizationWindowSeconds: num(raw['stabilizationWindowSeconds']) ?? fallback.stabilizationWindowSeconds,
    selectPolicy: sp === 'Min' || sp === 'Disabled' || sp === 'Max' ? sp : fallback.selectPolicy,
    policies,
  };
}

/** The spec of an HPA object (autoscaling/v2 shape, as stored), with upstream's defaults filled in. */
export function parseHpaSpec(spec: unknown, downscaleStabilizationSeconds = 300): HpaSpec {
  const s = rec(spec);
  const behavior = rec(s['behavior']);
  const metrics = Array.isArray(s['metrics']) && s['metrics'].length > 0 ? s['metrics'] : [];
  return {
    minReplicas: num(s['minReplicas']) ?? 1,
    maxReplicas: num(s['maxReplicas']) ?? 1,
    metrics:
      metrics.length === 0
        ? [{ type: 'Resource', name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } }]
        : metrics.map(parseMetric),
    scaleUp: parseRules(behavior['scaleUp'], defaultScaleUp()),
    scaleDown: parseRules(behavior['scaleDown'], defaultScaleDown(downscaleStabilizationSeconds)),
  };
}

/** What the decision needs to know about a pod. Times in ms since the epoch. */
export interface PodSample {
  name: string;
  phase: string;
  deleting: boolean;
  startTimeMs?: number;
  ready?: { status: string; lastTransitionMs: number };
  /** Requests per container, in thousandths; absent when the container requests none of it. */
  containers: { name: string; cpuMilli?: number; memoryMilli?: number }[];
}

function timeMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export function podSampleOf(pod: KubeObject): PodSample {
  const status = rec(pod.status);
  const spec = rec(pod.spec);
  const conditions = Array.isArray(status['conditions']) ? status['conditions'].map(rec) : [];
  const ready = conditions.find((c) => c['type'] === 'Ready');
  const start = timeMs(status['startTime']);
  const containers = (Array.isArray(spec['containers']) ? spec['containers'] : []).map(rec).map((c) => {
    const requests = rec(rec(c['resources'])['requests']);
    const cpu = millis(requests['cpu']);
    const memory = millis(requests['memory']);
    return {
      name: str(c['name']),
      ...(cpu === undefined ? {} : { cpuMilli: cpu }),
      ...(memory === undefined ? {} : { memoryMilli: memory }),
    };
  });
  return {
    name: pod.metadata.name ?? '',
    phase: str(status['phase']) || 'Pending',
    deleting: typeof pod.metadata.deletionTimestamp === 'string',
    ...(start === undefined ? {} : { startTimeMs: start }),
    ...(ready === undefined
      ? {}
      : {
          ready: {
            status: str(ready['status']),
            lastTransitionMs: timeMs(ready['lastTransitionTime']) ?? start ?? 0,
          },
        }),
    containers,
  };
}
