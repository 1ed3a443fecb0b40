// The metrics.k8s.io/v1beta1 API (what metrics-server serves and `kubectl top` reads), answered in the API
// server itself from the agents' stats:
//
//   GET /apis/metrics.k8s.io/v1beta1/nodes[/{name}]                      NodeMetrics(List)
//   GET /apis/metrics.k8s.io/v1beta1/pods                                 PodMetricsList, all namespaces
//   GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]        PodMetrics(List)
//
// Lists take `labelSelector` (and, for pods, `fieldSelector`) and match the Nodes' and Pods' own labels
// and fields. Read-only: every other method is 405 with a Status; watch is refused the same way. An object
// the agents report nothing for (node not Ready, simulated, not answering, no rate yet, pod not running)
// is left out of lists, and a get of it is 404, as metrics-server does.
import { ApiError, errors } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import {
  metricsApiVersion,
  metricsGroup,
  metricsList,
  nodeMetricsOf,
  podMetricsOf,
  type MetricsList,
  type NodeMetrics,
  type PodMetrics,
} from './shapes.js';
import type { SummarySource } from './source.js';

export const metricsPathPrefix = `/apis/${metricsApiVersion}/`;

export interface MetricsRequest {
  resource: 'nodes' | 'pods';
  /** Pods only; undefined: all namespaces. */
  namespace: string | undefined;
  name: string | undefined;
}

/** The metrics request a path names, undefined when it is not under /apis/metrics.k8s.io/v1beta1/. */
export function parseMetricsPath(pathname: string): MetricsRequest | undefined {
  if (!pathname.startsWith(metricsPathPrefix)) return undefined;
  const parts = pathname
    .slice(metricsPathPrefix.length)
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  const [a, b, c, d, ...rest] = parts;
  if (rest.length > 0) return notFound(pathname);
  if (a === 'nodes' && c === undefined) return { resource: 'nodes', namespace: undefined, name: b };
  if (a === 'pods' && b === undefined) return { resource: 'pods', namespace: undefined, name: undefined };
  if (a === 'namespaces' && b !== undefined && c === 'pods')
    return { resource: 'pods', namespace: b, name: d };
  return notFound(pathname);
}

function notFound(pathname: string): never {
  throw new ApiError('NotFound', `the server could not find the requested resource (GET ${pathname})`);
}

/** What the metrics API reads from the rest of the API server. */
export interface MetricsDeps {
  listNodes(labelSelector: string | undefined): Promise<KubeObject[]>;
  getNode(name: string): Promise<KubeObject>;
  listPods(
    namespace: string | undefined,
    labelSelector: string | undefined,
    fieldSelector: string | undefined,
  ): Promise<KubeObject[]>;
  getPod(namespace: string, name: string): Promise<KubeObject>;
  /** Every node, for pod queries (pods are looked up on the node they are bound to). */
  allNodes(): Promise<KubeObject[]>;
  source: SummarySource;
  now: () => Date;
}

function nodeNameOf(pod: KubeObject): string | undefined {
  const spec = pod.spec as { nodeName?: unknown } | undefined;
  return typeof spec?.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : undefined;
}

export class MetricsApi {
  private readonly deps: MetricsDeps;

  constructor(deps: MetricsDeps) {
    this.deps = deps;
  }

  /** Answers a request (method and query already parsed); throws the client's ApiError. */
  async answer(
    r: MetricsRequest,
    method: string,
    q: URLSearchParams,
  ): Promise<NodeMetrics | PodMetrics | MetricsList<NodeMetrics> | MetricsList<PodMetrics>> {
    const kind = r.resource === 'nodes' ? 'nodemetrics' : 'podmetrics';
    if (method !== 'GET')
      throw errors.methodNotAllowed(
        `${kind}.${metricsGroup} is read-only: ${method} is not supported (use GET)`,
      );
    if (q.get('watch') === 'true' || q.get('watch') === '1')
      throw errors.methodNotAllowed(`${kind}.${metricsGroup} does not support watch`);
    const labelSelector = q.get('labelSelector') ?? undefined;
    if (r.resource === 'nodes') {
      if (r.name !== undefined) return this.nodeMetricsByName(r.name);
      return metricsList<NodeMetrics>('NodeMetricsList', await this.nodeMetrics(labelSelector));
    }
    if (r.name !== undefined && r.namespace !== undefined) return this.podMetricsByName(r.namespace, r.name);
    return metricsList<PodMetrics>(
      'PodMetricsList',
      await this.podMetrics(r.namespace, labelSelector, q.get('fieldSelector') ?? undefined),
    );
  }

  /** NodeMetrics of the Nodes matching `labelSelector` that have figures, sorted by name. */
  async nodeMetrics(labelSelector?: string): Promise<NodeMetrics[]> {
    const nodes = await this.deps.listNodes(labelSelector);
    const docs = await this.deps.source.summaries(nodes);
    const now = this.deps.now();
    const out: NodeMetrics[] = [];
    for (const n of nodes) {
      const doc = docs.get(n.metadata.name ?? '');
      const m = doc === undefined ? undefined : nodeMetricsOf(n, doc, now);
      if (m !== undefined) out.push(m);
    }
    return out.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async nodeMetricsByName(name: string): Promise<NodeMetrics> {
    const node = await this.deps.getNode(name).catch((err: unknown) => {
      if (err instanceof ApiError && err.reason === 'NotFound')
        throw errors.notFound('nodemetrics', metricsGroup, name);
      throw err;
    });
    const doc = await this.deps.source.summary(node);
    const m = doc === undefined ? undefined : nodeMetricsOf(node, doc, this.deps.now());
    if (m === undefined) throw errors.notFound('nodemetrics', metricsGroup, name);
    return m;
  }

  /**
   * PodMetrics of the Pods in `namespace` (undefined: all) matching the selectors that have figures,
   * sorted by namespace and name. This is what an autoscaler reads; the HTTP list returns the same items.
   */
  async podMetrics(
    namespace: string | undefined,
    labelSelector?: string,
    fieldSelector?: string,
  ): Promise<PodMetrics[]> {
    const pods = await this.deps.listPods(namespace, labelSelector, fieldSelector);
    const wanted = new Set(pods.flatMap((p) => nodeNameOf(p) ?? []));
    if (wanted.size === 0) return [];
    const nodes = (await this.deps.allNodes()).filter((n) => wanted.has(n.metadata.name ?? ''));
    const docs = await this.deps.source.summaries(nodes);
    const now = this.deps.now();
    const out: PodMetrics[] = [];
    for (const p of pods) {
      const node = nodeNameOf(p);
      const doc = node === undefined ? undefined : docs.get(node);
      const m = doc === undefined ? undefined : podMetricsOf(p, doc, now);
      if (m !== undefined) out.push(m);
    }
    return out.sort(
      (a, b) =>
        a.metadata.namespace.localeCompare(b.metadata.namespace) ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  }

  async podMetricsByName(namespace: string, name: string): Promise<PodMetrics> {
    const pod = await this.deps.getPod(namespace, name).catch((err: unknown) => {
      if (err instanceof ApiError && err.reason === 'NotFound')
        throw errors.notFound('podmetrics', metricsGroup, name);
      throw err;
    });
    const nodeName = nodeNameOf(pod);
    let m: PodMetrics | undefined;
    if (nodeName !== undefined) {
      const node = await this.deps.getNode(nodeName).catch(() => undefined);
      const doc = node === undefined ? undefined : await this.deps.source.summary(node);
      m = doc === undefined ? undefined : podMetricsOf(pod, doc, this.deps.now());
    }
    if (m === undefined) throw errors.notFound('podmetrics', metricsGroup, name);
    return m;
  }
}
