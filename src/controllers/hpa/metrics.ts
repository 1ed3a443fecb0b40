// Where the HPA controller reads metrics: a small port with an implementation over the API
// (metrics.k8s.io/v1beta1 PodMetrics, as metrics-server serves them) and a fake for tests.
//
// Pods and Object metrics (custom metrics) are optional methods: a source without them answers
// "not available", and the HPA reports FailedGetPodsMetric / FailedGetObjectMetric for those metrics.

import { tryParseQuantity, quantityToMillis } from '../../api/quantity.js';
import { isObject } from '../../api/types.js';
import type { DescribedObject } from './spec.js';

export interface ContainerUsage {
  name: string;
  cpuMilli: number;
  memoryBytes: number;
}

export interface PodMetricsSample {
  pod: string;
  /** ms since the epoch: when the sample was taken (end of its window). */
  timestamp: number;
  windowSeconds: number;
  containers: ContainerUsage[];
}

export interface MetricsSource {
  /** Resource usage of the pods of `namespace` matching `labelSelector` (a selector string). */
  podMetrics(namespace: string, labelSelector: string): Promise<PodMetricsSample[]>;
  /** A custom per-pod metric (values in thousandths). Absent: not available yet. */
  podsMetric?(
    namespace: string,
    labelSelector: string,
    metricName: string,
  ): Promise<{ pod: string; valueMilli: number; timestamp: number }[]>;
  /** A custom metric describing one object (value in thousandths). Absent: not available yet. */
  objectMetric?(
    namespace: string,
    describedObject: DescribedObject,
    metricName: string,
  ): Promise<{ valueMilli: number; timestamp: number }>;
}

/** The raw GET the HTTP source needs: `ApiClient.request('GET', path)` fits. */
export type GetJson = (path: string) => Promise<unknown>;

/** Go duration text as metrics-server writes `window` ("15s", "1m0s", "10.5s", "500ms"). */
export function parseWindowSeconds(text: unknown): number {
  if (typeof text !== 'string') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === 'h' ? n * 3600 : unit === 'm' ? n * 60 : unit === 'ms' ? n / 1000 : n;
  }
  return total;
}

function millis(v: unknown): number {
  const q = tryParseQuantity(v);
  return q === undefined ? 0 : quantityToMillis(q);
}

/** Parse a PodMetricsList (metrics.k8s.io/v1beta1). */
export function podMetricsFromList(body: unknown): PodMetricsSample[] {
  const items = isObject(body) && Array.isArray(body['items']) ? body['items'] : [];
  return items.filter(isObject).map((item) => {
    const meta = isObject(item['metadata']) ? item['metadata'] : {};
    const ts = typeof item['timestamp'] === 'string' ? Date.parse(item['timestamp']) : NaN;
    const containers = Array.isArray(item['containers']) ? item['containers'].filter(isObject) : [];
    return {
      pod: typeof meta['name'] === 'string' ? meta['name'] : '',
      timestamp: Number.isNaN(ts) ? 0 : ts,
      windowSeconds: parseWindowSeconds(item['window']),
      containers: containers.map((c) => {
        const usage = isObject(c['usage']) ? c['usage'] : {};
        return {
          name: typeof c['name'] === 'string' ? c['name'] : '',
          cpuMilli: millis(usage['cpu']),
          memoryBytes: Math.ceil(millis(usage['memory']) / 1000),
        };
      }),
    };
  });
}

/** Resource paths of the custom metrics API per described kind (the API serves Pods and Services). */
const customResourceOf: Record<string, string> = { Pod: 'pods', Service: 'services' };

/** Parse a MetricValueList (custom.metrics.k8s.io/v1beta1 or v1beta2): name, value in thousandths, time. */
export function metricValuesFromList(
  body: unknown,
): { name: string; valueMilli: number; timestamp: number }[] {
  const items = isObject(body) && Array.isArray(body['items']) ? body['items'] : [];
  return items.filter(isObject).map((item) => {
    const obj = isObject(item['describedObject']) ? item['describedObject'] : {};
    const ts = typeof item['timestamp'] === 'string' ? Date.parse(item['timestamp']) : NaN;
    return {
      name: typeof obj['name'] === 'string' ? obj['name'] : '',
      valueMilli: millis(item['value']),
      timestamp: Number.isNaN(ts) ? 0 : ts,
    };
  });
}

/**
 * Reads PodMetrics (GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods) and custom metrics
 * (GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/NS/{pods/*|services/NAME}/METRIC) through the API
 * server, as the upstream HPA does through the aggregated APIs.
 */
export class HttpMetricsSource implements MetricsSource {
  constructor(private readonly get: GetJson) {}

  async podsMetric(
    namespace: string,
    labelSelector: string,
    metricName: string,
  ): Promise<{ pod: string; valueMilli: number; timestamp: number }[]> {
    const q = labelSelector === '' ? '' : `?labelSelector=${encodeURIComponent(labelSelector)}`;
    const body = await this.get(
      `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${encodeURIComponent(namespace)}/pods/*/${encodeURIComponent(metricName)}${q}`,
    );
    return metricValuesFromList(body).map((v) => ({
      pod: v.name,
      valueMilli: v.valueMilli,
      timestamp: v.timestamp,
    }));
  }

  async objectMetric(
    namespace: string,
    describedObject: DescribedObject,
    metricName: string,
  ): Promise<{ valueMilli: number; timestamp: number }> {
    const resource = customResourceOf[describedObject.kind];
    if (resource === undefined)
      throw new Error(
        `no custom metrics for kind ${describedObject.kind}: Flotilla serves them for Pods and Services`,
      );
    const body = await this.get(
      `/apis/custom.metrics.k8s.io/v1beta2/namespaces/${encodeURIComponent(namespace)}/${resource}/${encodeURIComponent(describedObject.name)}/${encodeURIComponent(metricName)}`,
    );
    const first = metricValuesFromList(body)[0];
    if (first === undefined)
      throw new Error(`no value of ${metricName} for ${describedObject.kind} ${describedObject.name}`);
    return { valueMilli: first.valueMilli, timestamp: first.timestamp };
  }

  async podMetrics(namespace: string, labelSelector: string): Promise<PodMetricsSample[]> {
    const q = labelSelector === '' ? '' : `?labelSelector=${encodeURIComponent(labelSelector)}`;
    const body = await this.get(
      `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods${q}`,
    );
    return podMetricsFromList(body);
  }
}

/** A scripted source for tests: set `samples` (by namespace) or `error`. */
export class FakeMetricsSource implements MetricsSource {
  /** Samples served per namespace (the selector is applied by the caller's pod list, not here). */
  readonly samples = new Map<string, PodMetricsSample[]>();
  error: Error | undefined;
  calls = 0;

  async podMetrics(namespace: string): Promise<PodMetricsSample[]> {
    this.calls++;
    if (this.error !== undefined) throw this.error;
    return this.samples.get(namespace) ?? [];
  }

  /** Every pod in `pods` uses `cpuMilli` (one container "app"), sampled at `timestamp`. */
  setCpu(namespace: string, pods: readonly string[], cpuMilli: number, timestamp: number): void {
    this.samples.set(
      namespace,
      pods.map((pod) => ({
        pod,
        timestamp,
        windowSeconds: 15,
        containers: [{ name: 'app', cpuMilli, memoryBytes: 64 * 1024 * 1024 }],
      })),
    );
  }
}
