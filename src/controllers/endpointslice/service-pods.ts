// Pure helpers shared by the EndpointSlice and the legacy Endpoints controllers: which Services the
// controllers manage, which pods belong in a Service's endpoints, and how a Service port's targetPort
// resolves against one pod (upstream k8s.io/endpointslice/util and podutil.FindPort).

import { mapSelectorMatches, type Labels } from '../../api/selectors.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { isPodReady, podPhase } from '../replicaset/pods.js';

export { isPodReady };

/** Node label whose value becomes an endpoint's `zone`. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** Set (to "") on a Service's EndpointSlices and Endpoints when it has no cluster IP. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

export interface ServicePort {
  name: string;
  port: number;
  protocol: string;
  /** A container port number or the name of a container port. */
  targetPort: number | string;
  appProtocol?: string;
}

function obj(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function specOf(o: KubeObject): Record<string, unknown> {
  return obj(o.spec);
}

/** `spec.selector` as a label map; undefined when absent or empty (both mean "no selector", as upstream). */
export function serviceSelector(svc: KubeObject): Record<string, string> | undefined {
  const sel = specOf(svc).selector;
  if (!isObject(sel)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) if (typeof v === 'string') out[k] = v;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * True when the controllers compute this Service's endpoints from pods: it has a selector and is not
 * of type ExternalName. Other Services' endpoints are the user's to write.
 */
export function selectsPods(svc: KubeObject): boolean {
  return specOf(svc).type !== 'ExternalName' && serviceSelector(svc) !== undefined;
}

/** The pod's labels match the Service's selector (false for a Service without one). */
export function serviceSelects(svc: KubeObject, labels: Labels): boolean {
  const sel = serviceSelector(svc);
  return sel !== undefined && mapSelectorMatches(sel, labels);
}

/** Upstream `IsServiceIPSet`: a cluster IP other than "None" is set. */
export function isServiceIPSet(svc: KubeObject): boolean {
  const ip = str(specOf(svc).clusterIP);
  return ip !== '' && ip !== 'None';
}

export function publishNotReadyAddresses(svc: KubeObject): boolean {
  return specOf(svc).publishNotReadyAddresses === true;
}

/** The Service's ports with defaults filled (protocol TCP, targetPort = port), in spec order. */
export function servicePorts(svc: KubeObject): ServicePort[] {
  const ports = specOf(svc).ports;
  if (!Array.isArray(ports)) return [];
  const out: ServicePort[] = [];
  for (const raw of ports) {
    if (!isObject(raw) || typeof raw.port !== 'number') continue;
    const tp = raw.targetPort;
    const targetPort =
      typeof tp === 'number' && tp > 0
        ? tp
        : typeof tp === 'string' && tp !== ''
          ? /^\d+$/.test(tp)
            ? Number(tp)
            : tp
          : raw.port;
    const appProtocol = str(raw.appProtocol);
    out.push({
      name: str(raw.name),
      port: raw.port,
      protocol: str(raw.protocol) || 'TCP',
      targetPort,
      ...(appProtocol === '' ? {} : { appProtocol }),
    });
  }
  return out;
}

/** Labels the controllers copy from a Service: its own, plus the headless marker when it has no IP. */
export function labelsFromService(svc: KubeObject, reserved: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) {
    if (!reserved.includes(k)) out[k] = v;
  }
  if (isServiceIPSet(svc)) delete out[HEADLESS_LABEL];
  else out[HEADLESS_LABEL] = '';
  return out;
}

/** The pod's IPv4 address: the first IPv4 of `status.podIPs`, else `status.podIP` when it is IPv4. */
export function podIPv4(pod: KubeObject): string | undefined {
  const status = obj(pod.status);
  const ips: string[] = [];
  if (Array.isArray(status.podIPs)) for (const p of status.podIPs) ips.push(str(obj(p).ip));
  ips.push(str(status.podIP));
  return ips.find((ip) => /^\d{1,3}(\.\d{1,3}){3}$/.test(ip));
}

/** The pod finished: phase Succeeded or Failed. */
export function isPodTerminal(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isPodTerminating(pod: KubeObject): boolean {
  return pod.metadata.deletionTimestamp !== undefined;
}

/**
 * Upstream `ShouldPodBeInEndpoints`: not finished, has an (IPv4) address, and, unless
 * `includeTerminating`, not being deleted.
 */
export function shouldPodBeInEndpoints(pod: KubeObject, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (podIPv4(pod) === undefined) return false;
  return includeTerminating || !isPodTerminating(pod);
}

/** Upstream `ShouldSetHostname`: the pod names a hostname and sits in the Service's subdomain. */
export function endpointHostname(pod: KubeObject, svc: KubeObject): string | undefined {
  const spec = specOf(pod);
  const hostname = str(spec.hostname);
  if (hostname === '') return undefined;
  if (str(spec.subdomain) !== svc.metadata.name) return undefined;
  if ((pod.metadata.namespace ?? '') !== (svc.metadata.namespace ?? '')) return undefined;
  return hostname;
}

/** Containers whose ports a Service can target: regular ones and restartable init containers (sidecars). */
function portContainers(pod: KubeObject): Record<string, unknown>[] {
  const spec = specOf(pod);
  const out: Record<string, unknown>[] = [];
  if (Array.isArray(spec.containers)) for (const c of spec.containers) out.push(obj(c));
  if (Array.isArray(spec.initContainers)) {
    for (const c of spec.initContainers) if (obj(c).restartPolicy === 'Always') out.push(obj(c));
  }
  return out;
}

/**
 * The container port a Service port reaches on this pod (upstream `FindPort`): a number as is; a
 * name through the pod's container port of that name and protocol. Undefined when a name does not
 * resolve: the pod then offers no endpoint for that Service port.
 */
export function resolveTargetPort(pod: KubeObject, port: ServicePort): number | undefined {
  if (typeof port.targetPort === 'number') return port.targetPort;
  for (const c of portContainers(pod)) {
    if (!Array.isArray(c.ports)) continue;
    for (const raw of c.ports) {
      const p = obj(raw);
      if (p.name === port.targetPort && (str(p.protocol) || 'TCP') === port.protocol) {
        return typeof p.containerPort === 'number' ? p.containerPort : undefined;
      }
    }
  }
  return undefined;
}

/**
 * What about a pod the endpoints depend on, as one comparable string: pod events that leave it
 * unchanged (a new annotation, a container restart count) need no sync.
 */
export function podEndpointFingerprint(pod: KubeObject): string {
  const spec = specOf(pod);
  return JSON.stringify([
    pod.metadata.uid ?? '',
    pod.metadata.labels ?? {},
    pod.metadata.deletionTimestamp ?? '',
    podIPv4(pod) ?? '',
    isPodReady(pod),
    isPodTerminal(pod),
    str(spec.nodeName),
    str(spec.hostname),
    str(spec.subdomain),
    portContainers(pod).map((c) => c.ports ?? []),
  ]);
}
