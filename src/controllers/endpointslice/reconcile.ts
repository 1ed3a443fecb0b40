// Pure decisions of the EndpointSlice controller (upstream pkg/controller/endpointslice reconciler):
//
//   desiredEndpoints(service, pods, zoneOf)  → the endpoints each set of resolved ports should list
//   reconcileSlices(service, desired, existing, max) → which slices to create, update and delete
//
// Endpoints are grouped by the ports they resolve to (a named targetPort can resolve differently per
// pod, or not at all), one group of slices per port set. Churn is kept low the way upstream does:
// endpoints stay in the slice that holds them, a slice is written only when its content changed, new
// endpoints first fill slices that are written anyway, then the one unchanged slice they fit into best,
// and only then new slices; a slice that would be deleted is reused for one that would be created.

import { jsonEqual } from '../../api/patch/json.js';
import { isObject, type KubeObject, type OwnerReference } from '../../api/types.js';
import {
  endpointHostname,
  isPodReady,
  isPodTerminating,
  labelsFromService,
  podIPv4,
  publishNotReadyAddresses,
  resolveTargetPort,
  servicePorts,
  shouldPodBeInEndpoints,
} from './service-pods.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.flotilla.io';
/** Upstream's default `--max-endpoints-per-slice`. */
export const MAX_ENDPOINTS_PER_SLICE = 100;
export const ADDRESS_TYPE = 'IPv4';

export interface EndpointPort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointConditions {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

export interface TargetRef {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface Endpoint {
  addresses: string[];
  conditions: EndpointConditions;
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef?: TargetRef;
}

/** The endpoints that resolve to one set of ports. */
export interface EndpointGroup {
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

export interface SlicePlan {
  create: KubeObject[];
  /** Whole slices to PUT; each carries the resourceVersion it was computed from. */
  update: KubeObject[];
  delete: KubeObject[];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A canonical string for a set of ports (order does not matter). */
export function portsKey(ports: readonly EndpointPort[]): string {
  return JSON.stringify(
    ports.map((p) => [p.name, p.protocol, p.port, p.appProtocol ?? '']).sort((a, b) => (a < b ? -1 : 1)),
  );
}

/** An endpoint's identity (upstream `hashEndpoint`): its addresses, hostname and target. */
export function endpointKey(ep: Endpoint): string {
  return JSON.stringify([
    [...ep.addresses].sort(),
    ep.hostname ?? '',
    ep.targetRef?.namespace ?? '',
    ep.targetRef?.name ?? '',
  ]);
}

/** One pod's endpoint for the Service (upstream `podToEndpoint`). */
export function podToEndpoint(
  pod: KubeObject,
  service: KubeObject,
  zoneOf: (nodeName: string) => string | undefined,
): Endpoint {
  const serving = isPodReady(pod);
  const terminating = isPodTerminating(pod);
  // A terminating endpoint is never ready, unless the Service asks for not-ready addresses to be published.
  const ready = publishNotReadyAddresses(service) || (serving && !terminating);
  const spec = isObject(pod.spec) ? pod.spec : {};
  const nodeName = str(spec.nodeName);
  const zone = nodeName === '' ? undefined : zoneOf(nodeName);
  const hostname = endpointHostname(pod, service);
  return {
    addresses: [podIPv4(pod) ?? ''],
    conditions: { ready, serving, terminating },
    ...(hostname === undefined ? {} : { hostname }),
    ...(nodeName === '' ? {} : { nodeName }),
    ...(zone === undefined || zone === '' ? {} : { zone }),
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
    },
  };
}

/** The Service ports this pod resolves, in spec order (unresolvable named ports left out). */
export function podEndpointPorts(pod: KubeObject, service: KubeObject): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of servicePorts(service)) {
    const port = resolveTargetPort(pod, sp);
    if (port === undefined) continue;
    out.push({
      name: sp.name,
      port,
      protocol: sp.protocol,
      ...(sp.appProtocol === undefined ? {} : { appProtocol: sp.appProtocol }),
    });
  }
  return out;
}

/**
 * The endpoints the Service's pods give, grouped by resolved port set (keyed by `portsKey`). `pods`
 * are the pods of the Service's namespace its selector matches; terminating pods are kept (they show
 * `terminating: true`), finished pods and pods without an address are left out. Pods are taken in
 * name order so new slices are filled predictably.
 */
export function desiredEndpoints(input: {
  service: KubeObject;
  pods: readonly KubeObject[];
  zoneOf: (nodeName: string) => string | undefined;
}): Map<string, EndpointGroup> {
  const groups = new Map<string, EndpointGroup>();
  const pods = [...input.pods].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = podEndpointPorts(pod, input.service);
    const key = portsKey(ports);
    let group = groups.get(key);
    if (group === undefined) {
      group = { ports, endpoints: [] };
      groups.set(key, group);
    }
    group.endpoints.push(podToEndpoint(pod, input.service, input.zoneOf));
  }
  return groups;
}

/** The labels of the Service's slices: the Service's own (reserved keys excepted) and the two markers. */
export function sliceLabels(service: KubeObject): Record<string, string> {
  return {
    ...labelsFromService(service, [SERVICE_NAME_LABEL, MANAGED_BY_LABEL]),
    [SERVICE_NAME_LABEL]: service.metadata.name ?? '',
    [MANAGED_BY_LABEL]: CONTROLLER_NAME,
  };
}

/** The slice is ours: labelled as managed by this controller. */
export function isManagedSlice(slice: KubeObject): boolean {
  return slice.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME;
}

export function serviceOwnerRef(service: KubeObject): OwnerReference {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    name: service.metadata.name ?? '',
    uid: service.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

function ownedBy(slice: KubeObject, service: KubeObject): boolean {
  return (slice.metadata.ownerReferences ?? []).some(
    (r) => r.controller === true && r.kind === 'Service' && r.uid === service.metadata.uid,
  );
}

// ---------------------------------------------------------------------------------------------
// Reading slices back: what the API stored, in the shapes above.

function bool(value: unknown, absent: boolean): boolean {
  return typeof value === 'boolean' ? value : absent;
}

/** A stored endpoint in canonical form (unknown fields dropped; absent conditions as the API reads them). */
export function readEndpoint(raw: unknown): Endpoint {
  const e = isObject(raw) ? raw : {};
  const c = isObject(e.conditions) ? e.conditions : {};
  const t = isObject(e.targetRef) ? e.targetRef : undefined;
  const hostname = str(e.hostname);
  const nodeName = str(e.nodeName);
  const zone = str(e.zone);
  return {
    addresses: Array.isArray(e.addresses) ? e.addresses.map(str) : [],
    conditions: {
      ready: bool(c.ready, true),
      serving: bool(c.serving, bool(c.ready, true)),
      terminating: bool(c.terminating, false),
    },
    ...(hostname === '' ? {} : { hostname }),
    ...(nodeName === '' ? {} : { nodeName }),
    ...(zone === '' ? {} : { zone }),
    ...(t === undefined
      ? {}
      : {
          targetRef: {
            kind: str(t.kind),
            namespace: str(t.namespace),
            name: str(t.name),
            uid: str(t.uid),
          },
        }),
  };
}

export function readPorts(slice: KubeObject): EndpointPort[] {
  const ports = slice.ports;
  if (!Array.isArray(ports)) return [];
  return ports.map((raw) => {
    const p = isObject(raw) ? raw : {};
    const appProtocol = str(p.appProtocol);
    return {
      name: str(p.name),
      port: typeof p.port === 'number' ? p.port : 0,
      protocol: str(p.protocol) || 'TCP',
      ...(appProtocol === '' ? {} : { appProtocol }),
    };
  });
}

export function readEndpoints(slice: KubeObject): Endpoint[] {
  return Array.isArray(slice.endpoints) ? slice.endpoints.map(readEndpoint) : [];
}

// ---------------------------------------------------------------------------------------------
// Planning

function newSlice(service: KubeObject, ports: EndpointPort[], endpoints: Endpoint[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${service.metadata.name ?? ''}-`,
      namespace: service.metadata.namespace ?? '',
      labels: sliceLabels(service),
      ownerReferences: [serviceOwnerRef(service)],
    },
    addressType: ADDRESS_TYPE,
    endpoints,
    ports,
  };
}

/** A working copy of an existing slice while planning. */
interface Draft {
  slice: KubeObject;
  endpoints: Endpoint[];
  labels: Record<string, string>;
}

function draftToSlice(d: Draft): KubeObject {
  return {
    ...d.slice,
    metadata: { ...d.slice.metadata, labels: d.labels },
    endpoints: d.endpoints,
  };
}

function byName(a: KubeObject, b: KubeObject): number {
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** Upstream `getSliceToFill`: the unchanged slice with the least room left that still fits `n`. */
function sliceToFill(candidates: readonly Draft[], n: number, max: number): Draft | undefined {
  let best: Draft | undefined;
  let bestRoom = max;
  for (const d of candidates) {
    const room = max - (d.endpoints.length + n);
    if (room >= 0 && room < bestRoom) {
      best = d;
      bestRoom = room;
      if (room === 0) break;
    }
  }
  return best;
}

interface GroupPlan {
  create: KubeObject[];
  update: KubeObject[];
  delete: KubeObject[];
}

function reconcileGroup(
  service: KubeObject,
  group: EndpointGroup,
  existing: readonly KubeObject[],
  max: number,
): GroupPlan {
  const wantLabels = sliceLabels(service);
  const remaining = new Map<string, Endpoint>();
  for (const ep of group.endpoints) remaining.set(endpointKey(ep), ep);

  const toUpdate: Draft[] = [];
  const unchanged: Draft[] = [];
  const toDelete: KubeObject[] = [];

  // 1. Keep each desired endpoint where it is; drop the ones no longer desired.
  for (const slice of existing) {
    const kept: Endpoint[] = [];
    let changed = false;
    const current = readEndpoints(slice);
    for (const ep of current) {
      const key = endpointKey(ep);
      const want = remaining.get(key);
      if (want === undefined) {
        changed = true;
        continue;
      }
      kept.push(want);
      if (!jsonEqual(want, ep)) changed = true;
      remaining.delete(key);
    }
    const labelsChanged = !jsonEqual(slice.metadata.labels ?? {}, wantLabels);
    const draft: Draft = { slice, endpoints: kept, labels: wantLabels };
    if (changed && kept.length === 0) toDelete.push(slice);
    else if (changed || labelsChanged) toUpdate.push(draft);
    else unchanged.push({ ...draft, endpoints: current });
  }

  const queue = [...remaining.values()];
  // 2. Slices written anyway take new endpoints first, the fullest first.
  if (queue.length > 0 && toUpdate.length > 0) {
    const fullestFirst = [...toUpdate].sort((a, b) => b.endpoints.length - a.endpoints.length);
    for (const d of fullestFirst) {
      while (queue.length > 0 && d.endpoints.length < max) d.endpoints.push(queue.shift() as Endpoint);
    }
  }

  // 3. Then the unchanged slice the rest fits into best, else new slices.
  const create: KubeObject[] = [];
  while (queue.length > 0) {
    const fill = queue.length < max ? sliceToFill(unchanged, queue.length, max) : undefined;
    if (fill !== undefined) {
      unchanged.splice(unchanged.indexOf(fill), 1);
      fill.endpoints = [...fill.endpoints];
      while (queue.length > 0 && fill.endpoints.length < max) fill.endpoints.push(queue.shift() as Endpoint);
      toUpdate.push(fill);
      continue;
    }
    create.push(newSlice(service, group.ports, queue.splice(0, max)));
  }
  return { create, update: toUpdate.map(draftToSlice), delete: toDelete };
}

/**
 * What to write so that the Service's slices list exactly `desired`, at most `maxEndpointsPerSlice`
 * endpoints each. `existing` are the slices labelled with the Service's name and managed by this
 * controller. Slices of other address types or owned by another Service (an earlier one of the same
 * name) are deleted; when no endpoints exist one empty placeholder slice is kept, as upstream.
 * A Service being deleted gets no new slices.
 */
export function reconcileSlices(input: {
  service: KubeObject;
  desired: ReadonlyMap<string, EndpointGroup>;
  existing: readonly KubeObject[];
  maxEndpointsPerSlice?: number;
}): SlicePlan {
  const { service } = input;
  const max = Math.max(1, input.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE);
  const plan: SlicePlan = { create: [], update: [], delete: [] };

  const byPorts = new Map<string, KubeObject[]>();
  const considered: KubeObject[] = [];
  for (const slice of [...input.existing].sort(byName)) {
    if (slice.addressType !== ADDRESS_TYPE || !ownedBy(slice, service)) {
      plan.delete.push(slice);
      continue;
    }
    considered.push(slice);
    const key = portsKey(readPorts(slice));
    byPorts.set(key, [...(byPorts.get(key) ?? []), slice]);
  }
  const groupDeletes: KubeObject[] = [];
  for (const key of [...input.desired.keys()].sort()) {
    const group = input.desired.get(key) as EndpointGroup;
    const g = reconcileGroup(service, group, byPorts.get(key) ?? [], max);
    plan.create.push(...g.create);
    plan.update.push(...g.update);
    groupDeletes.push(...g.delete);
  }
  for (const [key, slices] of byPorts) if (!input.desired.has(key)) groupDeletes.push(...slices);

  // Nothing to list: one placeholder slice with no ports and no endpoints stands for the Service.
  if (considered.length === groupDeletes.length && plan.create.length === 0) {
    const placeholder = newSlice(service, [], []);
    const only = groupDeletes.length === 1 ? groupDeletes[0] : undefined;
    if (only !== undefined && isPlaceholderFor(only, service)) groupDeletes.length = 0;
    else plan.create.push(placeholder);
  }

  // Reuse slices about to be deleted for slices about to be created (an update instead of two writes).
  while (groupDeletes.length > 0 && plan.create.length > 0) {
    const old = groupDeletes.shift() as KubeObject;
    const fresh = plan.create.pop() as KubeObject;
    plan.update.push({
      ...old,
      metadata: { ...old.metadata, labels: fresh.metadata.labels ?? {} },
      endpoints: fresh.endpoints,
      ports: fresh.ports,
    });
  }
  plan.delete.push(...groupDeletes);
  if (service.metadata.deletionTimestamp !== undefined) plan.create = [];
  return plan;
}

function isPlaceholderFor(slice: KubeObject, service: KubeObject): boolean {
  return (
    readPorts(slice).length === 0 &&
    readEndpoints(slice).length === 0 &&
    jsonEqual(slice.metadata.labels ?? {}, sliceLabels(service))
  );
}
