import { describe, expect, it } from 'vitest';
import { apiVersionOf, resources } from '../resources.js';
import { checkAgainstSchema } from '../schema/check.js';
import { schemaFor } from '../schema/index.js';
import type { KubeObject } from '../types.js';
import { kindHandlerFor, kindHandlers } from './index.js';
import { clone } from './testing.js';

const podSpec = {
  containers: [
    {
      name: 'web',
      image: 'nginx:1.27',
      ports: [{ name: 'http', containerPort: 80 }],
      env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
      resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } },
      readinessProbe: { httpGet: { path: '/healthz', port: 'http' } },
      volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
    },
  ],
  volumes: [{ name: 'cache', emptyDir: {} }],
  tolerations: [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  ],
};
const meta = (name: string, namespaced = true) => ({
  name,
  ...(namespaced ? { namespace: 'default' } : {}),
  labels: { app: 'web' },
});

/** One realistic manifest per kind. */
const samples: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: meta('prod', false) },
  { apiVersion: 'v1', kind: 'Pod', metadata: meta('web-1'), spec: clone(podSpec) },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web'),
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('cfg'), data: { 'nginx.conf': 'events {}' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: meta('creds'), stringData: { password: 's3cret' } },
  {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] },
    status: {
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-01T10:00:00Z' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
      nodeInfo: { kubeletVersion: 'v1.30.0-flotilla', architecture: 'amd64', operatingSystem: 'linux' },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('web-1.17c'),
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default' },
    reason: 'Scheduled',
    message: 'Successfully assigned default/web-1 to n1',
    source: { component: 'default-scheduler' },
    type: 'Normal',
    count: 1,
    firstTimestamp: '2024-05-01T10:00:00Z',
  },
  {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta('web'),
    subsets: [
      { addresses: [{ ip: '10.244.1.5', targetRef: { kind: 'Pod', name: 'web-1' } }], ports: [{ port: 80 }] },
    ],
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web'),
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: clone(podSpec) },
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta('web-5d8f'),
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: clone(podSpec) },
    },
  },
  {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta('web'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      maxReplicas: 10,
      behavior: {},
    },
  },
  { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: meta('web'), spec: { replicas: 4 } },
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta('web-x7k2'),
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.244.1.5'], conditions: { ready: true, serving: true, terminating: false } },
    ],
    ports: [{ name: 'http', port: 80 }],
  },
  {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'n1', namespace: 'kube-node-lease' },
    spec: { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2024-05-01T10:00:00.000000Z' },
  },
  {
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: { name: 'high' },
    value: 1000,
    description: 'for the web tier',
  },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'ServiceCIDR',
    metadata: { name: 'kubernetes' },
    spec: { cidrs: ['10.43.0.0/16', 'fd00:10:43::/108'] },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'ServiceClusterIPRange',
          lastTransitionTime: '2024-05-01T10:00:00Z',
        },
      ],
    },
  },
];

describe('kindHandlers', () => {
  it('has a handler for every served resource', () => {
    for (const r of resources) expect(kindHandlerFor(apiVersionOf(r), r.kind), r.kind).toBeDefined();
    expect(Object.keys(kindHandlers).sort()).toEqual(samples.map((s) => `${s.apiVersion}/${s.kind}`).sort());
  });

  describe.each(samples.map((s) => [`${s.apiVersion}/${s.kind}`, s] as const))('%s', (_key, sample) => {
    const handler = kindHandlerFor(sample.apiVersion, sample.kind)!;
    const schema = schemaFor(sample.apiVersion, sample.kind)!;

    it('passes the structural check, before and after defaults', () => {
      const o = clone(sample);
      expect(checkAgainstSchema(o, schema, { unknownFields: 'Strict' }).causes).toEqual([]);
      handler.defaults(o);
      const after = checkAgainstSchema(o, schema, { unknownFields: 'Strict' });
      expect(after.causes).toEqual([]);
      expect(after.pruned).toEqual(o);
    });

    it('is valid once defaulted, and defaults are idempotent', () => {
      const o = clone(sample);
      handler.defaults(o);
      expect(handler.validate(o)).toEqual([]);
      const once = JSON.stringify(o);
      handler.defaults(o);
      expect(JSON.stringify(o)).toBe(once);
    });

    it('accepts a no-op update', () => {
      const o = clone(sample);
      handler.defaults(o);
      const next = clone(o);
      handler.prepareUpdate?.(next, o);
      expect(handler.validateUpdate(next, o)).toEqual([]);
    });

    it('requires a name', () => {
      const o = clone(sample);
      handler.defaults(o);
      delete o.metadata.name;
      expect(handler.validate(o).map((c) => `${c.field}: ${c.message}`)).toContain(
        'metadata.name: Required value: name or generateName is required',
      );
    });
  });
});
