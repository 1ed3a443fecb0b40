// The custom.metrics.k8s.io/v1beta2 API (what a Prometheus adapter serves and an HPA's Pods and Object
// metrics read), answered in the API server from the traffic rates the agents' service proxies count
// (src/agent/proxy/traffic.ts, the `traffic` part of /stats/summary):
//
//   GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/{name|*}/{metric}[?labelSelector=]
//   GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/services/{name}/{metric}
//
// Metrics: `requests-per-second` (HTTP/1.x requests) and `connections-per-second` (new connections), also
// accepted with the `flotilla.dev/` prefix (escaped as `flotilla.dev%2F…` in a path). A figure is the sum
// over every node (each node counts what its own proxy forwarded). An object no node reports (a pod that is
// no Service's endpoint, a Service without a cluster IP) is left out of lists; a get of it is 404.
import { ApiError, errors } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { formatMillis } from './quantity.js';
import type { SummaryDoc, TrafficRateDoc } from './shapes.js';
import type { SummarySource } from './source.js';

export const customMetricsGroup = 'custom.metrics.k8s.io';
export const customMetricsVersion = 'v1beta2';
export const customMetricsApiVersion = `${customMetricsGroup}/${customMetricsVersion}`;
const prefix = `/apis/${customMetricsApiVersion}/`;

/** The metrics served, by name, with the field of a traffic rate each reads. */
export const customMetricNames = ['requests-per-second', 'connections-per-second'] as const;
export type CustomMetricName = (typeof customMetricNames)[number];
const field: Record<
  CustomMetricName,
  keyof Pick<TrafficRateDoc, 'requestsPerSecond' | 'connectionsPerSecond'>
> = {
  'requests-per-second': 'requestsPerSecond',
  'connections-per-second': 'connectionsPerSecond',
};

/** The served metric a name means (with or without the `flotilla.dev/` prefix), or undefined. */
export function customMetricOf(name: string): CustomMetricName | undefined {
  const bare = name.startsWith('flotilla.dev/') ? name.slice('flotilla.dev/'.length) : name;
  return (customMetricNames as readonly string[]).includes(bare) ? (bare as CustomMetricName) : undefined;
}

export interface CustomMetricsRequest {
  namespace: string;
  resource: 'pods' | 'services';
  /** `*` for every object (pods only). */
  name: string;
  metric: CustomMetricName;
}

/** The request a path names; undefined when it is not under the group; throws 404 for unknown shapes. */
export function parseCustomMetricsPath(pathname: string): CustomMetricsRequest | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  const parts = pathname
    .slice(prefix.length)
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  // `flotilla.dev/requests-per-second` unescaped in the path: rejoin it.
  if (parts.length === 6 && parts[4] === 'flotilla.dev') parts.splice(4, 2, `${parts[4]}/${parts[5] ?? ''}`);
  const [ns, namespace, resource, name, metric, ...rest] = parts;
  if (
    ns !== 'namespaces' ||
    namespace === undefined ||
    (resource !== 'pods' && resource !== 'services') ||
    name === undefined ||
    metric === undefined ||
    rest.length > 0
  )
    throw new ApiError('NotFound', `the server could not find the requested resource (GET ${pathname})`);
  const m = customMetricOf(metric);
  if (m === undefined)
    throw new ApiError(
      'NotFound',
      `the server could not find the metric ${metric} for ${resource}: Flotilla serves ${customMetricNames.join(', ')}`,
    );
  if (resource === 'services' && name === '*')
    throw errors.badRequest('services: name a Service (a list of every Service is not served)');
  return { namespace, resource, name, metric: m };
}

export interface MetricValue {
  describedObject: { kind: string; namespace: string; name: string; apiVersion: string };
  metric: { name: string; selector?: { matchLabels: Record<string, string> } };
  timestamp: string;
  windowSeconds: number;
  value: string;
}

export interface MetricValueList {
  kind: 'MetricValueList';
  apiVersion: typeof customMetricsApiVersion;
  metadata: Record<string, never>;
  items: MetricValue[];
}

/** One object's figure summed over the nodes' documents, or undefined when no node reports it. */
export function sumTraffic(
  docs: Iterable<SummaryDoc>,
  which: 'pods' | 'services',
  namespace: string,
  name: string,
  metric: CustomMetricName,
): { value: number; time: number; windowSeconds: number } | undefined {
  let found = false;
  let value = 0;
  let time = 0;
  let windowSeconds = 0;
  for (const doc of docs) {
    const t = doc.traffic;
    if (t === undefined) continue;
    const r = t[which].find((x) => x.namespace === namespace && x.name === name);
    if (r === undefined) continue;
    found = true;
    value += r[field[metric]];
    time = Math.max(time, Date.parse(t.time) || 0);
    windowSeconds = Math.max(windowSeconds, Math.round(t.windowSeconds));
  }
  return found ? { value, time, windowSeconds } : undefined;
}

/** What the custom metrics API reads from the rest of the API server. */
export interface CustomMetricsDeps {
  listPods(namespace: string, labelSelector: string | undefined): Promise<KubeObject[]>;
  getService(namespace: string, name: string): Promise<KubeObject>;
  getPod(namespace: string, name: string): Promise<KubeObject>;
  allNodes(): Promise<KubeObject[]>;
  source: SummarySource;
}

export class CustomMetricsApi {
  constructor(private readonly deps: CustomMetricsDeps) {}

  async answer(r: CustomMetricsRequest, method: string, q: URLSearchParams): Promise<MetricValueList> {
    if (method !== 'GET')
      throw errors.methodNotAllowed(
        `${customMetricsGroup} is read-only: ${method} is not supported (use GET)`,
      );
    const docs = [...(await this.deps.source.summaries(await this.deps.allNodes())).values()];
    const items: MetricValue[] = [];
    const item = (kind: string, obj: KubeObject): void => {
      const ns = obj.metadata.namespace ?? r.namespace;
      const name = obj.metadata.name ?? '';
      const s = sumTraffic(docs, r.resource, ns, name, r.metric);
      if (s === undefined) return;
      items.push({
        describedObject: { kind, namespace: ns, name, apiVersion: '/v1' },
        metric: { name: r.metric },
        timestamp: new Date(s.time).toISOString(),
        windowSeconds: s.windowSeconds,
        value: formatMillis(Math.round(s.value * 1000)),
      });
    };
    const notFound = (): never => {
      throw new ApiError(
        'NotFound',
        `the server could not find the metric ${r.metric} for ${r.resource} ${r.name} in namespace ${r.namespace}`,
      );
    };
    if (r.resource === 'services') {
      const svc = await this.deps.getService(r.namespace, r.name).catch((err: unknown) => {
        if (err instanceof ApiError && err.reason === 'NotFound') return notFound();
        throw err;
      });
      item('Service', svc);
      if (items.length === 0) notFound();
    } else if (r.name === '*') {
      for (const p of await this.deps.listPods(r.namespace, q.get('labelSelector') ?? undefined))
        item('Pod', p);
    } else {
      const pod = await this.deps.getPod(r.namespace, r.name).catch((err: unknown) => {
        if (err instanceof ApiError && err.reason === 'NotFound') return notFound();
        throw err;
      });
      item('Pod', pod);
      if (items.length === 0) notFound();
    }
    return { kind: 'MetricValueList', apiVersion: customMetricsApiVersion, metadata: {}, items };
  }
}
