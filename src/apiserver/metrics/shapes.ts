// metrics.k8s.io/v1beta1 objects built from agents' Summary documents, shaped as metrics-server shapes
// them: NodeMetrics and PodMetrics carry the object's name, namespace and labels, `timestamp` (when the
// figures were taken), `window` (the span the CPU rate covers) and `usage` {cpu, memory}; PodMetrics
// has one entry per running container instead of a pod total. Pure: the caller passes the clock's now.
import type { KubeObject } from '../../api/types.js';
import { formatCpuNanoCores, formatGoDuration, formatMemoryBytes } from './quantity.js';

export const metricsGroup = 'metrics.k8s.io';
export const metricsVersion = 'v1beta1';
export const metricsApiVersion = `${metricsGroup}/${metricsVersion}`;

/** The parts of the agent's Summary (src/agent/server/stats.ts) the metrics API reads. */
export interface SummaryUsage {
  cpu: { time: string; usageNanoCores?: number };
  memory: { time: string; workingSetBytes: number };
}
export interface SummaryDoc {
  node: SummaryUsage & { nodeName: string };
  pods: Array<
    SummaryUsage & {
      podRef: { name: string; namespace: string; uid: string };
      containers: Array<SummaryUsage & { name: string }>;
    }
  >;
  windowSeconds?: number;
  /** Connection and request rates the node's service proxy counted (src/agent/proxy/traffic.ts). */
  traffic?: {
    time: string;
    windowSeconds: number;
    services: TrafficRateDoc[];
    pods: TrafficRateDoc[];
  };
}

export interface TrafficRateDoc {
  namespace: string;
  name: string;
  connectionsPerSecond: number;
  requestsPerSecond: number;
}

export interface Usage {
  cpu: string;
  memory: string;
}

export interface NodeMetrics {
  kind: 'NodeMetrics';
  apiVersion: typeof metricsApiVersion;
  metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> };
  timestamp: string;
  window: string;
  usage: Usage;
}

export interface ContainerMetrics {
  name: string;
  usage: Usage;
}

export interface PodMetrics {
  kind: 'PodMetrics';
  apiVersion: typeof metricsApiVersion;
  metadata: {
    name: string;
    namespace: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
  };
  timestamp: string;
  window: string;
  containers: ContainerMetrics[];
}

export interface MetricsList<T extends NodeMetrics | PodMetrics> {
  kind: `${T['kind']}List`;
  apiVersion: typeof metricsApiVersion;
  metadata: Record<string, never>;
  items: T[];
}

/** Usage, or undefined while the agent has no CPU rate yet (a single sample, a just-started container). */
export function usageOf(u: SummaryUsage): Usage | undefined {
  if (u.cpu.usageNanoCores === undefined) return undefined;
  return {
    cpu: formatCpuNanoCores(u.cpu.usageNanoCores),
    memory: formatMemoryBytes(u.memory.workingSetBytes),
  };
}

function labelsOf(obj: KubeObject): { labels?: Record<string, string> } {
  const l = obj.metadata.labels;
  return l === undefined || l === null || Object.keys(l).length === 0 ? {} : { labels: { ...l } };
}

/** The NodeMetrics of a Node from its agent's Summary; undefined while there is no rate yet. */
export function nodeMetricsOf(node: KubeObject, summary: SummaryDoc, now: Date): NodeMetrics | undefined {
  const usage = usageOf(summary.node);
  if (usage === undefined || summary.windowSeconds === undefined) return undefined;
  return {
    kind: 'NodeMetrics',
    apiVersion: metricsApiVersion,
    metadata: { name: node.metadata.name ?? '', creationTimestamp: now.toISOString(), ...labelsOf(node) },
    timestamp: summary.node.cpu.time,
    window: formatGoDuration(summary.windowSeconds),
    usage,
  };
}

/**
 * The PodMetrics of a Pod from its node's Summary. Left out (undefined), as metrics-server leaves them
 * out, when the agent does not report the pod (not running there, or a different pod of the same name)
 * or when any of its running containers has no rate yet: a partial pod total would mislead an autoscaler.
 */
export function podMetricsOf(pod: KubeObject, summary: SummaryDoc, now: Date): PodMetrics | undefined {
  const name = pod.metadata.name ?? '';
  const namespace = pod.metadata.namespace ?? '';
  const uid = pod.metadata.uid;
  const found = summary.pods.find(
    (p) =>
      p.podRef.name === name &&
      p.podRef.namespace === namespace &&
      (uid === undefined || p.podRef.uid === uid),
  );
  if (found === undefined || found.containers.length === 0 || summary.windowSeconds === undefined)
    return undefined;
  const containers: ContainerMetrics[] = [];
  for (const c of found.containers) {
    const usage = usageOf(c);
    if (usage === undefined) return undefined;
    containers.push({ name: c.name, usage });
  }
  return {
    kind: 'PodMetrics',
    apiVersion: metricsApiVersion,
    metadata: { name, namespace, creationTimestamp: now.toISOString(), ...labelsOf(pod) },
    timestamp: found.cpu.time,
    window: formatGoDuration(summary.windowSeconds),
    containers,
  };
}

export function metricsList<T extends NodeMetrics | PodMetrics>(
  kind: `${T['kind']}List`,
  items: T[],
): MetricsList<T> {
  return { kind, apiVersion: metricsApiVersion, metadata: {}, items };
}
