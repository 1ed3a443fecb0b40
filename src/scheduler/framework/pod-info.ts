// A pod parsed once for scheduling: requests as plain numbers, host ports, tolerations, compiled
// affinity terms. Both the pod being scheduled and every pod in the cache are held this way, so
// plugins never touch quantities or raw JSON in their per-node loops.

import { quantityToMillis, quantityValue, tryParseQuantity } from '../../api/quantity.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, asStrMap, objItems, type Obj } from '../../api/validation/access.js';
import {
  compileLabelSelector,
  compileNodeSelectorTerm,
  parseTolerations,
  type LabelMatcher,
  type NodeSelectorTerm,
  type Toleration,
} from './match.js';

/** Requests of a pod (or totals of a node): cpu in millicores, the rest in units (bytes, counts). */
export interface Resources {
  milliCpu: number;
  memory: number;
  ephemeralStorage: number;
  /** Extended resources, hugepages...: name -> value. Zero values are left out. */
  scalar: Map<string, number>;
}

export function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, ephemeralStorage: 0, scalar: new Map() };
}

/** Upstream's defaults for pods that request nothing, used only for scoring (not fitting). */
export const DefaultMilliCpuRequest = 100;
export const DefaultMemoryRequest = 200 * 1024 * 1024;

export interface HostPort {
  /** '0.0.0.0' when unset: every address */
  hostIP: string;
  protocol: string;
  port: number;
}

export interface AffinityTerm {
  topologyKey: string;
  selector: LabelMatcher;
  /** Namespaces named in the term (or the pod's own when neither list nor selector is given). */
  namespaces: ReadonlySet<string>;
  /** namespaceSelector `{}`: every namespace. */
  allNamespaces: boolean;
  /** A non-empty namespaceSelector, evaluated against namespace labels the cache knows. */
  namespaceSelector: LabelMatcher | undefined;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  weight: number;
}

export interface PodInfo {
  readonly pod: KubeObject;
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The node the pod is on (bound or assumed); '' for the pod being scheduled. */
  readonly nodeName: string;
  readonly priority: number;
  readonly preemptionPolicy: string;
  readonly deleting: boolean;
  /** status.startTime (else creationTimestamp) in ms, 0 when unknown: preemption prefers younger victims. */
  readonly startTime: number;
  readonly requests: Resources;
  readonly nonZeroMilliCpu: number;
  readonly nonZeroMemory: number;
  readonly hostPorts: readonly HostPort[];
  readonly tolerations: readonly Toleration[];
  readonly nodeSelector: Readonly<Record<string, string>> | undefined;
  /** undefined when the pod has no required node affinity */
  readonly requiredNodeAffinity: readonly NodeSelectorTerm[] | undefined;
  readonly preferredNodeAffinity: readonly { weight: number; term: NodeSelectorTerm }[];
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly preferredAffinity: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinity: readonly WeightedAffinityTerm[];
  /** Normalized image names of all containers. */
  readonly images: readonly string[];
  readonly containerCount: number;
  readonly spec: Obj;
}

const reserved = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods']);

function addRequests(into: Resources, requests: Obj | undefined): void {
  if (requests === undefined) return;
  for (const [name, raw] of Object.entries(requests)) {
    const q = tryParseQuantity(raw);
    if (q === undefined) continue;
    switch (name) {
      case 'cpu':
        into.milliCpu += quantityToMillis(q);
        break;
      case 'memory':
        into.memory += quantityValue(q);
        break;
      case 'ephemeral-storage':
        into.ephemeralStorage += quantityValue(q);
        break;
      default: {
        if (reserved.has(name)) break;
        const v = quantityValue(q);
        if (v !== 0) into.scalar.set(name, (into.scalar.get(name) ?? 0) + v);
      }
    }
  }
}

function maxInto(into: Resources, other: Resources): void {
  into.milliCpu = Math.max(into.milliCpu, other.milliCpu);
  into.memory = Math.max(into.memory, other.memory);
  into.ephemeralStorage = Math.max(into.ephemeralStorage, other.ephemeralStorage);
  for (const [k, v] of other.scalar) into.scalar.set(k, Math.max(into.scalar.get(k) ?? 0, v));
}

function containerRequests(c: Obj): Obj | undefined {
  return asObj(asObj(c['resources'])?.['requests']);
}

/**
 * Sum of containers' requests, max with each init container, plus overhead (the contract's rule);
 * and the "non-zero" cpu/memory upstream scores with (100m / 200Mi for containers asking nothing).
 */
export function podRequests(spec: Obj): {
  requests: Resources;
  nonZeroMilliCpu: number;
  nonZeroMemory: number;
} {
  const requests = emptyResources();
  let nzCpu = 0;
  let nzMem = 0;
  for (const [c] of objItems(spec['containers'])) {
    const r = containerRequests(c);
    const one = emptyResources();
    addRequests(one, r);
    requests.milliCpu += one.milliCpu;
    requests.memory += one.memory;
    requests.ephemeralStorage += one.ephemeralStorage;
    for (const [k, v] of one.scalar) requests.scalar.set(k, (requests.scalar.get(k) ?? 0) + v);
    nzCpu += r !== undefined && r['cpu'] !== undefined ? one.milliCpu : DefaultMilliCpuRequest;
    nzMem += r !== undefined && r['memory'] !== undefined ? one.memory : DefaultMemoryRequest;
  }
  for (const [c] of objItems(spec['initContainers'])) {
    const r = containerRequests(c);
    const one = emptyResources();
    addRequests(one, r);
    maxInto(requests, one);
    nzCpu = Math.max(
      nzCpu,
      r !== undefined && r['cpu'] !== undefined ? one.milliCpu : DefaultMilliCpuRequest,
    );
    nzMem = Math.max(nzMem, r !== undefined && r['memory'] !== undefined ? one.memory : DefaultMemoryRequest);
  }
  const overhead = asObj(spec['overhead']);
  if (overhead !== undefined) {
    const o = emptyResources();
    addRequests(o, overhead);
    requests.milliCpu += o.milliCpu;
    requests.memory += o.memory;
    requests.ephemeralStorage += o.ephemeralStorage;
    for (const [k, v] of o.scalar) requests.scalar.set(k, (requests.scalar.get(k) ?? 0) + v);
    nzCpu += o.milliCpu;
    nzMem += o.memory;
  }
  return { requests, nonZeroMilliCpu: nzCpu, nonZeroMemory: nzMem };
}

/** upstream normalizedImageName: an image without tag or digest means `:latest`. */
export function normalizedImageName(name: string): string {
  if (name.includes('@')) return name;
  return name.lastIndexOf(':') <= name.lastIndexOf('/') ? `${name}:latest` : name;
}

function hostPortsOf(spec: Obj): HostPort[] {
  const out: HostPort[] = [];
  for (const [c] of objItems(spec['containers'])) {
    for (const [p] of objItems(c['ports'])) {
      const port = asNum(p['hostPort']) ?? 0;
      if (port <= 0) continue;
      out.push({
        hostIP: asStr(p['hostIP']) || '0.0.0.0',
        protocol: asStr(p['protocol']) || 'TCP',
        port,
      });
    }
  }
  return out;
}

function affinityTerm(raw: Obj, ownNamespace: string): AffinityTerm {
  const listed = asArr(raw['namespaces']).filter((x): x is string => typeof x === 'string');
  const nsSel = raw['namespaceSelector'];
  const nsObj = asObj(nsSel);
  const emptySelector =
    nsObj !== undefined &&
    Object.keys(asObj(nsObj['matchLabels']) ?? {}).length === 0 &&
    asArr(nsObj['matchExpressions']).length === 0;
  const namespaces = new Set(listed);
  if (listed.length === 0 && nsObj === undefined) namespaces.add(ownNamespace);
  return {
    topologyKey: asStr(raw['topologyKey']) ?? '',
    selector: compileLabelSelector(raw['labelSelector']),
    namespaces,
    allNamespaces: emptySelector,
    namespaceSelector: nsObj !== undefined && !emptySelector ? compileLabelSelector(nsObj) : undefined,
  };
}

function requiredTerms(v: unknown, ns: string): AffinityTerm[] {
  return objItems(v).map(([t]) => affinityTerm(t, ns));
}

function preferredTerms(v: unknown, ns: string): WeightedAffinityTerm[] {
  const out: WeightedAffinityTerm[] = [];
  for (const [w] of objItems(v)) {
    const weight = asNum(w['weight']) ?? 0;
    const t = asObj(w['podAffinityTerm']);
    if (weight === 0 || t === undefined) continue;
    out.push({ ...affinityTerm(t, ns), weight });
  }
  return out;
}

function timeOf(v: unknown): number {
  const s = asStr(v);
  if (s === undefined) return 0;
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

const noTerms: readonly never[] = Object.freeze([]);

/** Parses a pod; `nodeName` is where it sits ('' for the pod being scheduled). */
export function newPodInfo(pod: KubeObject, nodeName = ''): PodInfo {
  const spec = asObj(pod.spec) ?? {};
  const status = asObj(pod.status) ?? {};
  const namespace = pod.metadata.namespace ?? 'default';
  const { requests, nonZeroMilliCpu, nonZeroMemory } = podRequests(spec);
  const affinity = asObj(spec['affinity']);
  const nodeAff = asObj(affinity?.['nodeAffinity']);
  const podAff = asObj(affinity?.['podAffinity']);
  const podAnti = asObj(affinity?.['podAntiAffinity']);
  const requiredNode = asObj(nodeAff?.['requiredDuringSchedulingIgnoredDuringExecution']);
  const preferredNode: { weight: number; term: NodeSelectorTerm }[] = [];
  for (const [p] of objItems(nodeAff?.['preferredDuringSchedulingIgnoredDuringExecution'])) {
    const weight = asNum(p['weight']) ?? 0;
    const term = compileNodeSelectorTerm(p['preference']);
    // Upstream skips zero weights and empty preferences (an empty preferred term is a no-op).
    if (weight === 0 || (term.expressions.length === 0 && term.fields.length === 0)) continue;
    preferredNode.push({ weight, term });
  }
  const nodeSelector = asStrMap(spec['nodeSelector']);
  const images: string[] = [];
  let containerCount = 0;
  for (const key of ['containers', 'initContainers']) {
    for (const [c] of objItems(spec[key])) {
      containerCount++;
      const image = asStr(c['image']);
      if (image !== undefined && image !== '') images.push(normalizedImageName(image));
    }
  }
  return {
    pod,
    uid: pod.metadata.uid ?? `${namespace}/${pod.metadata.name ?? ''}`,
    name: pod.metadata.name ?? '',
    namespace,
    labels: pod.metadata.labels ?? {},
    nodeName,
    priority: asNum(spec['priority']) ?? 0,
    preemptionPolicy: asStr(spec['preemptionPolicy']) ?? 'PreemptLowerPriority',
    deleting: pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    startTime: timeOf(status['startTime']) || timeOf(pod.metadata.creationTimestamp),
    requests,
    nonZeroMilliCpu,
    nonZeroMemory,
    hostPorts: hostPortsOf(spec),
    tolerations: parseTolerations(spec['tolerations']),
    nodeSelector: Object.keys(nodeSelector).length > 0 ? nodeSelector : undefined,
    requiredNodeAffinity:
      requiredNode === undefined
        ? undefined
        : objItems(requiredNode['nodeSelectorTerms']).map(([t]) => compileNodeSelectorTerm(t)),
    preferredNodeAffinity: preferredNode,
    requiredAffinity: podAff
      ? requiredTerms(podAff['requiredDuringSchedulingIgnoredDuringExecution'], namespace)
      : noTerms,
    requiredAntiAffinity: podAnti
      ? requiredTerms(podAnti['requiredDuringSchedulingIgnoredDuringExecution'], namespace)
      : noTerms,
    preferredAffinity: podAff
      ? preferredTerms(podAff['preferredDuringSchedulingIgnoredDuringExecution'], namespace)
      : noTerms,
    preferredAntiAffinity: podAnti
      ? preferredTerms(podAnti['preferredDuringSchedulingIgnoredDuringExecution'], namespace)
      : noTerms,
    images,
    containerCount,
    spec,
  };
}

/** The same pod placed on another node (assume). */
export function withNodeName(info: PodInfo, nodeName: string): PodInfo {
  return { ...info, nodeName };
}

export function hasPodAffinity(p: PodInfo): boolean {
  return (
    p.requiredAffinity.length > 0 ||
    p.requiredAntiAffinity.length > 0 ||
    p.preferredAffinity.length > 0 ||
    p.preferredAntiAffinity.length > 0
  );
}

/** Does `term` (of some pod) select pod `p`? `nsLabels` looks up namespace labels for namespaceSelector. */
export function termMatchesPod(
  term: AffinityTerm,
  p: { namespace: string; labels: Readonly<Record<string, string>> },
  nsLabels: (ns: string) => Readonly<Record<string, string>> | undefined,
): boolean {
  return termMatchesNamespace(term, p.namespace, nsLabels) && term.selector(p.labels);
}

export function termMatchesNamespace(
  term: AffinityTerm,
  namespace: string,
  nsLabels: (ns: string) => Readonly<Record<string, string>> | undefined,
): boolean {
  if (term.allNamespaces || term.namespaces.has(namespace)) return true;
  if (term.namespaceSelector === undefined) return false;
  const labels = nsLabels(namespace);
  return labels !== undefined && term.namespaceSelector(labels);
}
