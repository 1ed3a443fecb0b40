// Pure decisions of the legacy Endpoints controller (upstream pkg/controller/endpoint): the v1
// Endpoints object named after a Service, which `kubectl describe svc` and older clients read.
//
// Differences from the EndpointSlices, as upstream: terminating pods are left out (unless the Service
// publishes not-ready addresses); a pod that is not ready goes to `notReadyAddresses`; addresses are
// grouped into subsets by the ports they resolve to; at most 1000 addresses are kept, with the
// `endpoints.kubernetes.io/over-capacity: truncated` annotation when more were cut.

import { jsonEqual } from '../../api/patch/json.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { podEndpointPorts, type EndpointPort } from '../endpointslice/reconcile.js';
import {
  endpointHostname,
  isPodReady,
  labelsFromService,
  podIPv4,
  publishNotReadyAddresses,
  servicePorts,
  shouldPodBeInEndpoints,
} from '../endpointslice/service-pods.js';

export const MAX_CAPACITY = 1000;
export const OVER_CAPACITY_ANNOTATION = 'endpoints.kubernetes.io/over-capacity';

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: string; namespace: string; name: string; uid: string };
}

export interface EndpointsPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointsPort[];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function toEndpointsPort(p: EndpointPort): EndpointsPort {
  return {
    ...(p.name === '' ? {} : { name: p.name }),
    port: p.port,
    protocol: p.protocol,
    ...(p.appProtocol === undefined ? {} : { appProtocol: p.appProtocol }),
  };
}

function podAddress(pod: KubeObject, service: KubeObject): EndpointAddress {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const nodeName = str(spec.nodeName);
  const hostname = endpointHostname(pod, service);
  return {
    ip: podIPv4(pod) ?? '',
    ...(hostname === undefined ? {} : { hostname }),
    ...(nodeName === '' ? {} : { nodeName }),
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
    },
  };
}

function byIP(a: EndpointAddress, b: EndpointAddress): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const ua = a.targetRef?.uid ?? '';
  const ub = b.targetRef?.uid ?? '';
  return ua < ub ? -1 : ua > ub ? 1 : 0;
}

/**
 * The subsets of the Service's Endpoints. `pods` are the pods of its namespace its selector matches.
 * Subsets group addresses with the same resolved ports (in order of their ports), addresses sorted by IP.
 */
export function desiredSubsets(service: KubeObject, pods: readonly KubeObject[]): EndpointSubset[] {
  const tolerateUnready = publishNotReadyAddresses(service);
  const headlessNoPorts =
    servicePorts(service).length === 0 && isObject(service.spec) && service.spec.clusterIP === 'None';
  const groups = new Map<
    string,
    { ports: EndpointsPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }
  >();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const ports = podEndpointPorts(pod, service).map(toEndpointsPort);
    // A pod resolving none of the Service's ports offers no endpoint (a headless Service without ports excepted).
    if (ports.length === 0 && !headlessNoPorts) continue;
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (g === undefined) {
      g = { ports, ready: [], notReady: [] };
      groups.set(key, g);
    }
    const addr = podAddress(pod, service);
    if (tolerateUnready || isPodReady(pod)) g.ready.push(addr);
    else g.notReady.push(addr);
  }
  return [...groups.keys()].sort().map((key) => {
    const g = groups.get(key) as {
      ports: EndpointsPort[];
      ready: EndpointAddress[];
      notReady: EndpointAddress[];
    };
    return {
      ...(g.ready.length === 0 ? {} : { addresses: g.ready.sort(byIP) }),
      ...(g.notReady.length === 0 ? {} : { notReadyAddresses: g.notReady.sort(byIP) }),
      ...(g.ports.length === 0 ? {} : { ports: g.ports }),
    };
  });
}

function countAddresses(subsets: readonly EndpointSubset[]): number {
  return subsets.reduce((n, s) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
}

/** Keep at most `max` addresses: ready ones first, subsets in order. */
export function truncateSubsets(subsets: readonly EndpointSubset[], max: number): EndpointSubset[] {
  let budget = max;
  const ready = subsets.map((s) => {
    const keep = (s.addresses ?? []).slice(0, Math.max(0, budget));
    budget -= keep.length;
    return keep;
  });
  const notReady = subsets.map((s) => {
    const keep = (s.notReadyAddresses ?? []).slice(0, Math.max(0, budget));
    budget -= keep.length;
    return keep;
  });
  return subsets
    .map((s, i) => ({
      ...((ready[i] ?? []).length === 0 ? {} : { addresses: ready[i] }),
      ...((notReady[i] ?? []).length === 0 ? {} : { notReadyAddresses: notReady[i] }),
      ...(s.ports === undefined ? {} : { ports: s.ports }),
    }))
    .filter((s) => s.addresses !== undefined || s.notReadyAddresses !== undefined);
}

/** Labels of the Endpoints: the Service's, with the headless marker when it has no cluster IP. */
export function endpointsLabels(service: KubeObject): Record<string, string> {
  return labelsFromService(service, []);
}

export type EndpointsAction =
  | { action: 'none' }
  | { action: 'create'; endpoints: KubeObject }
  | { action: 'update'; endpoints: KubeObject };

function readSubsets(ep: KubeObject): EndpointSubset[] {
  const raw = ep.subsets;
  return Array.isArray(raw) ? (raw as EndpointSubset[]) : [];
}

/**
 * What to write for the Service's Endpoints given the one that exists now (`current`, from the cache).
 * An update carries the current resourceVersion, so a stale cache ends in a Conflict, not a lost write.
 */
export function reconcileEndpoints(input: {
  service: KubeObject;
  pods: readonly KubeObject[];
  current: KubeObject | undefined;
  maxCapacity?: number;
}): EndpointsAction {
  const { service, current } = input;
  const max = input.maxCapacity ?? MAX_CAPACITY;
  let subsets = desiredSubsets(service, input.pods);
  const over = countAddresses(subsets) > max;
  if (over) subsets = truncateSubsets(subsets, max);
  const labels = endpointsLabels(service);
  const annotations: Record<string, string> = { ...(current?.metadata.annotations ?? {}) };
  if (over) annotations[OVER_CAPACITY_ANNOTATION] = 'truncated';
  else delete annotations[OVER_CAPACITY_ANNOTATION];

  if (
    current !== undefined &&
    jsonEqual(readSubsets(current), subsets) &&
    jsonEqual(current.metadata.labels ?? {}, labels) &&
    jsonEqual(current.metadata.annotations ?? {}, annotations)
  ) {
    return { action: 'none' };
  }
  const metadata = {
    ...(current?.metadata ?? {}),
    name: service.metadata.name ?? '',
    namespace: service.metadata.namespace ?? '',
    labels,
    ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
  };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  const endpoints: KubeObject = { apiVersion: 'v1', kind: 'Endpoints', metadata, subsets };
  return current === undefined ? { action: 'create', endpoints } : { action: 'update', endpoints };
}
