// Builders of Services and EndpointSlices for proxy tests (unit, nft -c, netns).
import type { KubeObject } from '../../api/types.js';

export interface SvcOpts {
  ns?: string;
  clusterIP?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  ports?: Array<{ name?: string; port: number; protocol?: 'TCP' | 'UDP'; nodePort?: number }>;
  affinitySeconds?: number;
  externalLocal?: boolean;
  internalLocal?: boolean;
}

export function svc(name: string, o: SvcOpts = {}): KubeObject {
  const spec: Record<string, unknown> = {
    type: o.type ?? 'ClusterIP',
    clusterIP: o.clusterIP ?? '10.96.0.10',
    ports: (o.ports ?? [{ name: 'http', port: 80 }]).map((p) => ({ protocol: 'TCP', ...p })),
  };
  if (o.affinitySeconds !== undefined) {
    spec['sessionAffinity'] = 'ClientIP';
    spec['sessionAffinityConfig'] = { clientIP: { timeoutSeconds: o.affinitySeconds } };
  }
  if (o.externalLocal === true) spec['externalTrafficPolicy'] = 'Local';
  if (o.internalLocal === true) spec['internalTrafficPolicy'] = 'Local';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.ns ?? 'default' },
    spec,
  };
}

export interface Ep {
  ip: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  node?: string;
  /** The Pod the endpoint names in its targetRef. */
  pod?: string;
}

export function slice(
  service: string,
  eps: Ep[],
  o: {
    ns?: string;
    name?: string;
    ports?: Array<{ name?: string; port: number; protocol?: 'TCP' | 'UDP' }>;
  } = {},
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: o.name ?? `${service}-abc`,
      namespace: o.ns ?? 'default',
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    ports: (o.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      },
      nodeName: e.node ?? 'node-a',
      ...(e.pod === undefined
        ? {}
        : { targetRef: { kind: 'Pod', namespace: o.ns ?? 'default', name: e.pod } }),
    })),
  };
}
