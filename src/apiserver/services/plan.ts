// Pure decisions of Service allocation: which Services get a ClusterIP, node ports and a health check
// node port, and the IP family fields (ipFamilies, ipFamilyPolicy) as upstream's allocator defaults them on
// a single-stack IPv4 cluster. No I/O: service-allocator.ts does the store work.

import type { StatusCause } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, objItems, type Obj } from '../../api/validation/access.js';
import { field, index } from '../../api/validation/field.js';
import { isIPv4 } from '../../api/validation/names.js';

export function specOf(svc: KubeObject): Obj {
  return asObj(svc.spec) ?? {};
}

export function typeOf(svc: KubeObject): string {
  return asStr(specOf(svc)['type']) ?? 'ClusterIP';
}

export function isHeadless(svc: KubeObject): boolean {
  const spec = specOf(svc);
  return spec['clusterIP'] === 'None' || asArr(spec['clusterIPs'])[0] === 'None';
}

/** ClusterIP, NodePort and LoadBalancer Services get a virtual IP unless headless. */
export function needsClusterIP(svc: KubeObject): boolean {
  return typeOf(svc) !== 'ExternalName' && !isHeadless(svc);
}

export function exposesNodePorts(svc: KubeObject): boolean {
  const t = typeOf(svc);
  return t === 'NodePort' || t === 'LoadBalancer';
}

/** Ports without a nodePort get one, except LoadBalancers with allocateLoadBalancerNodePorts: false. */
export function allocatesNodePorts(svc: KubeObject): boolean {
  const t = typeOf(svc);
  if (t === 'NodePort') return true;
  return t === 'LoadBalancer' && specOf(svc)['allocateLoadBalancerNodePorts'] !== false;
}

/** A LoadBalancer with externalTrafficPolicy Local needs a health check node port. */
export function needsHealthCheck(svc: KubeObject): boolean {
  const spec = specOf(svc);
  return typeOf(svc) === 'LoadBalancer' && spec['externalTrafficPolicy'] === 'Local';
}

export function nodePortOf(p: Obj): number {
  const n = asNum(p['nodePort']);
  return n !== undefined && Number.isInteger(n) ? n : 0;
}

/** Every node port the Service holds: its ports' nodePorts and its healthCheckNodePort. */
export function heldNodePorts(svc: KubeObject): number[] {
  const out = new Set<number>();
  for (const [p] of objItems(specOf(svc)['ports'])) if (nodePortOf(p) > 0) out.add(nodePortOf(p));
  const hc = asNum(specOf(svc)['healthCheckNodePort']) ?? 0;
  if (hc > 0) out.add(hc);
  return [...out];
}

/** The ClusterIPs a Service holds (none for headless and ExternalName). */
export function heldClusterIPs(svc: KubeObject): string[] {
  if (typeOf(svc) === 'ExternalName') return [];
  const spec = specOf(svc);
  const ips = asArr(spec['clusterIPs']).filter((x): x is string => typeof x === 'string');
  const first = asStr(spec['clusterIP']);
  const all = ips.length > 0 ? ips : first === undefined ? [] : [first];
  return all.filter((ip) => ip !== '' && ip !== 'None');
}

/** Set clusterIP and clusterIPs together (clusterIPs[0] is always clusterIP). */
export function setClusterIP(svc: KubeObject, ip: string): void {
  const spec = specOf(svc);
  spec['clusterIP'] = ip;
  spec['clusterIPs'] = [ip];
  svc.spec = spec;
}

/**
 * ipFamilyPolicy and ipFamilies as upstream's allocator sets them, on a cluster whose only family is IPv4:
 * policy from the old object on update, else SingleStack (RequireDualStack for a headless Service without
 * selector, which may list both families); families from the cluster IPs, else [IPv4]. Returns the causes
 * of requests this cluster cannot serve (IPv6, dual-stack). Mutates `svc`; ExternalName is left alone.
 */
export function initIPFamilyFields(svc: KubeObject, old: KubeObject | undefined): StatusCause[] {
  if (typeOf(svc) === 'ExternalName') return [];
  const spec = specOf(svc);
  svc.spec = spec;
  const headless = isHeadless(svc);
  const selectorless = Object.keys(asObj(spec['selector']) ?? {}).length === 0;
  if (spec['ipFamilyPolicy'] === undefined || spec['ipFamilyPolicy'] === null) {
    const oldPolicy = old === undefined ? undefined : asStr(specOf(old)['ipFamilyPolicy']);
    spec['ipFamilyPolicy'] = oldPolicy ?? (headless && selectorless ? 'RequireDualStack' : 'SingleStack');
  }
  const policy = asStr(spec['ipFamilyPolicy']) ?? 'SingleStack';
  const causes: StatusCause[] = [];
  const families = asArr(spec['ipFamilies']).filter((f): f is string => typeof f === 'string');
  const ips = asArr(spec['clusterIPs']).filter((x): x is string => typeof x === 'string');
  if (policy === 'SingleStack') {
    if (ips.length === 2)
      causes.push(
        field.invalid(
          'spec.ipFamilyPolicy',
          policy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        ),
      );
    if (families.length === 2)
      causes.push(
        field.invalid(
          'spec.ipFamilyPolicy',
          policy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
        ),
      );
  }
  // Families follow the IPs the user gave.
  ips.forEach((ip, i) => {
    if (ip === 'None' || ip === '') return;
    const fam = isIPv4(ip) ? 'IPv4' : 'IPv6';
    if (fam !== 'IPv4') {
      causes.push(
        field.invalid(index('spec.clusterIPs', i), ips, `${fam} is not configured on this cluster`),
      );
    } else if (i >= families.length) {
      families.push(fam);
    }
  });
  if (causes.length > 0) return causes;
  if (headless && selectorless) {
    // Headless without selector: families are only a hint for DNS; both are allowed, as upstream.
    if (families.length === 0) families.push('IPv4');
    if (families.length < 2 && policy !== 'SingleStack')
      families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    spec['ipFamilies'] = families;
    return [];
  }
  if (policy === 'RequireDualStack')
    causes.push(
      field.invalid('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'),
    );
  families.forEach((f, i) => {
    if (f !== 'IPv4')
      causes.push(field.invalid(index('spec.ipFamilies', i), f, 'not configured on this cluster'));
  });
  if (families.length === 0) families.push('IPv4');
  spec['ipFamilies'] = families;
  return causes;
}

/** One service port's node port request: `nodePort` 0 asks for any. */
export interface NodePortRequest {
  /** Index in spec.ports (for field paths). */
  index: number;
  nodePort: number;
}

/**
 * The node ports a NodePort/LoadBalancer Service asks for, in port order. Ports sharing a port number
 * (TCP and UDP of one service port, e.g. DNS) share one node port, as upstream: only the first of them is
 * listed unless the user gave each its own value. Ports without a nodePort are skipped when the Service
 * does not allocate them (LoadBalancer with allocateLoadBalancerNodePorts: false).
 */
export function nodePortRequests(svc: KubeObject): NodePortRequest[] {
  const out: NodePortRequest[] = [];
  /** Service port number → the node port its first entry asks for (0: any). */
  const byPort = new Map<unknown, number>();
  const ports = objItems(specOf(svc)['ports']);
  const allocate = allocatesNodePorts(svc);
  for (const [p, i] of ports) {
    const np = nodePortOf(p);
    if (np === 0 && !allocate) continue;
    const prior = byPort.get(p['port']);
    if (prior === undefined) {
      // The first entry of a port number; a later entry of the same number may carry the user's value.
      const later = ports.find(([q, j]) => j > i && q['port'] === p['port'] && nodePortOf(q) > 0);
      const want = np !== 0 ? np : later === undefined ? 0 : nodePortOf(later[0]);
      out.push({ index: i, nodePort: want });
      byPort.set(p['port'], want);
    } else if (np !== 0 && np !== prior) {
      out.push({ index: i, nodePort: np });
    }
  }
  return out;
}

/** After allocation: every port of the same number as `portIndex` without a nodePort gets `nodePort`. */
export function assignNodePort(svc: KubeObject, portIndex: number, nodePort: number): void {
  const ports = objItems(specOf(svc)['ports']);
  const target = ports.find(([, i]) => i === portIndex)?.[0];
  if (target === undefined) return;
  target['nodePort'] = nodePort;
  if (!allocatesNodePorts(svc)) return;
  for (const [p] of ports) if (p['port'] === target['port'] && nodePortOf(p) === 0) p['nodePort'] = nodePort;
}
