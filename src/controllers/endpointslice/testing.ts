// Builders for Services, pods and nodes in the EndpointSlice and Endpoints controller tests.
import type { KubeObject } from '../../api/types.js';

export interface PodOptions {
  ns?: string;
  labels?: Record<string, string>;
  ip?: string | undefined;
  ready?: boolean;
  phase?: string;
  node?: string;
  terminating?: boolean;
  hostname?: string;
  subdomain?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  uid?: string;
}

export function makePod(name: string, o: PodOptions = {}): KubeObject {
  const ip = 'ip' in o ? o.ip : `10.0.${Math.floor(hashOf(name) / 250) % 250}.${(hashOf(name) % 250) + 1}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      uid: o.uid ?? `uid-${name}`,
      labels: o.labels ?? { app: 'web' },
      ...(o.terminating === true ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
    },
    spec: {
      ...(o.node === undefined ? { nodeName: 'n1' } : o.node === '' ? {} : { nodeName: o.node }),
      ...(o.hostname === undefined ? {} : { hostname: o.hostname }),
      ...(o.subdomain === undefined ? {} : { subdomain: o.subdomain }),
      containers: [{ name: 'c', image: 'x', ...(o.ports === undefined ? {} : { ports: o.ports }) }],
    },
    status: {
      phase: o.phase ?? 'Running',
      ...(ip === undefined ? {} : { podIP: ip, podIPs: [{ ip }] }),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

function hashOf(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

export interface ServiceOptions {
  ns?: string;
  selector?: Record<string, string> | undefined;
  ports?: {
    name?: string;
    port: number;
    targetPort?: number | string;
    protocol?: string;
    appProtocol?: string;
  }[];
  clusterIP?: string;
  type?: string;
  publishNotReadyAddresses?: boolean;
  labels?: Record<string, string>;
}

export function makeService(name: string, o: ServiceOptions = {}): KubeObject {
  const selector = 'selector' in o ? o.selector : { app: 'web' };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      uid: `uid-svc-${name}`,
      ...(o.labels === undefined ? {} : { labels: o.labels }),
    },
    spec: {
      type: o.type ?? 'ClusterIP',
      clusterIP: o.clusterIP ?? '10.43.0.10',
      ...(selector === undefined ? {} : { selector }),
      ports: (o.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }]).map((p) => ({
        protocol: 'TCP',
        ...p,
      })),
      ...(o.publishNotReadyAddresses === undefined
        ? {}
        : { publishNotReadyAddresses: o.publishNotReadyAddresses }),
    },
  };
}

export function makeNode(name: string, zone?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      ...(zone === undefined ? {} : { labels: { 'topology.kubernetes.io/zone': zone } }),
    },
    spec: {},
  };
}

/** `web-000` ... : `n` ready pods labelled app=web. */
export function manyPods(n: number, prefix = 'web'): KubeObject[] {
  return Array.from({ length: n }, (_, i) =>
    makePod(`${prefix}-${String(i).padStart(3, '0')}`, {
      ip: `10.1.${Math.floor(i / 200)}.${(i % 200) + 1}`,
    }),
  );
}
