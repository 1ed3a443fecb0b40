// Describers: layouts as kubectl prints them (the e2e test compares every kind with kubectl itself).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client/client.js';
import { findByKind } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import {
  describeEvents,
  describeObject,
  formatEndpointSlices,
  probeText,
  smartLabelFor,
} from './describe.js';
import { FakeApi } from './testing.js';

let api: FakeApi;
let client: ApiClient;
const now = Date.parse('2024-05-01T12:00:00Z');

beforeEach(async () => {
  api = new FakeApi();
  await api.start();
  client = new ApiClient({ server: api.url });
});
afterEach(async () => {
  await client.close();
  await api.stop();
});

async function describeIt(obj: KubeObject): Promise<string> {
  const info = findByKind(obj.apiVersion, obj.kind)!;
  return describeObject(obj, info, { client, now });
}

describe('helpers', () => {
  it('smartLabelFor turns field names into kubectl labels', () => {
    expect(smartLabelFor('apiVersion')).toBe('API Version');
    expect(smartLabelFor('uid')).toBe('UID');
    expect(smartLabelFor('leaseDurationSeconds')).toBe('Lease Duration Seconds');
    expect(smartLabelFor('involvedObject')).toBe('Involved Object');
    expect(smartLabelFor('podIPs')).toBe('Pod I Ps');
    expect(smartLabelFor('ipv4')).toBe('ipv4');
  });

  it('probes as kubectl prints them (values as stored)', () => {
    expect(probeText({ httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, periodSeconds: 10 })).toBe(
      'http-get http://:8080/healthz delay=0s timeout=0s period=10s #success=0 #failure=0',
    );
    expect(probeText({ exec: { command: ['cat', '/tmp/ok'] } })).toBe(
      'exec [cat /tmp/ok] delay=0s timeout=0s period=0s #success=0 #failure=0',
    );
    expect(probeText({ tcpSocket: { port: 'db' }, timeoutSeconds: 1 })).toBe(
      'tcp-socket :db delay=0s timeout=1s period=0s #success=0 #failure=0',
    );
  });

  it('endpoint slices: ready addresses of the port, three at most', () => {
    const slice = (ready: boolean[]): KubeObject => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 's' },
      ports: [{ name: 'http', port: 8080 }],
      endpoints: ready.map((r, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: r } })),
    });
    expect(formatEndpointSlices([], 'http')).toBe('<none>');
    expect(formatEndpointSlices([slice([true, false, true])], 'http')).toBe('10.0.0.1:8080,10.0.0.3:8080');
    expect(formatEndpointSlices([slice([true, true, true, true, true])], 'http')).toBe(
      '10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 2 more...',
    );
    expect(formatEndpointSlices([slice([true])], 'other')).toBe('');
  });

  it('events: sorted by last time, repeated ones as "(xN over ...)", field path in the message', () => {
    const ev = (reason: string, last: string, count: number, fieldPath?: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: reason },
      type: 'Normal',
      reason,
      message: ' hello ',
      source: { component: 'kubelet' },
      firstTimestamp: '2024-05-01T11:00:00Z',
      lastTimestamp: last,
      count,
      involvedObject: fieldPath === undefined ? {} : { fieldPath },
    });
    expect(
      describeEvents(
        [
          ev('Second', '2024-05-01T11:59:00Z', 3, 'spec.containers{web}'),
          ev('First', '2024-05-01T11:30:00Z', 1),
        ],
        now,
      ),
    ).toBe(
      [
        'Events:',
        '  Type    Reason  Age                From     Message',
        '  ----    ------  ----               ----     -------',
        '  Normal  First   60m                kubelet  hello',
        '  Normal  Second  60s (x3 over 60m)  kubelet  spec.containers{web}: hello',
        '',
      ].join('\n'),
    );
  });
});

describe('describers', () => {
  it('Deployment: kubectl sections, the new and old ReplicaSets it controls', async () => {
    const dep: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', uid: 'd-1', creationTimestamp: '2024-05-01T10:00:00Z' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx:2' }] },
        },
      },
      status: { replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    };
    const rs = (name: string, image: string, replicas: number, created: string): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: 'default',
        creationTimestamp: created,
        labels: { app: 'web', 'pod-template-hash': name },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-1', controller: true },
        ],
      },
      spec: {
        replicas,
        template: {
          metadata: { labels: { app: 'web', 'pod-template-hash': name } },
          spec: { containers: [{ name: 'web', image }] },
        },
      },
      status: { replicas },
    });
    api.seed(
      '/apis/apps/v1/namespaces/default/replicasets/web-a',
      rs('web-a', 'nginx:1', 0, '2024-05-01T10:00:00Z'),
    );
    api.seed(
      '/apis/apps/v1/namespaces/default/replicasets/web-b',
      rs('web-b', 'nginx:2', 2, '2024-05-01T11:00:00Z'),
    );
    const text = await describeIt(dep);
    expect(text).toBe(
      [
        'Name:                   web',
        'Namespace:              default',
        'CreationTimestamp:      Wed, 01 May 2024 10:00:00 +0000',
        'Labels:                 <none>',
        'Annotations:            <none>',
        'Selector:               app=web',
        'Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable',
        'StrategyType:           RollingUpdate',
        'MinReadySeconds:        0',
        'RollingUpdateStrategy:  1 max unavailable, 25% max surge',
        'Pod Template:',
        '  Labels:  app=web',
        '  Containers:',
        '   web:',
        '    Image:         nginx:2',
        '    Port:          <none>',
        '    Host Port:     <none>',
        '    Environment:   <none>',
        '    Mounts:        <none>',
        '  Volumes:         <none>',
        '  Node-Selectors:  <none>',
        '  Tolerations:     <none>',
        'OldReplicaSets:    web-a (0/0 replicas created)',
        'NewReplicaSet:     web-b (2/2 replicas created)',
        'Events:            <none>',
        '',
      ].join('\n'),
    );
    const events = api.requests.find((r) => r.path === '/api/v1/namespaces/default/events')!;
    expect(events.query.get('fieldSelector')).toBe(
      'involvedObject.kind=Deployment,involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=d-1',
    );
  });

  it('Secret and Namespace list no events; Lease and Event get the generic describer', async () => {
    const secret = await describeIt({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'default' },
      type: 'Opaque',
      data: { b: 'YWJj', a: 'eA==' },
    });
    expect(secret).toBe(
      'Name:         s\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\nData\n====\na:  1 bytes\nb:  3 bytes\n',
    );
    const lease = await describeIt({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'n1', namespace: 'kube-node-lease', uid: 'u', resourceVersion: '7' },
      spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 },
    });
    expect(lease).toBe(
      [
        'Name:         n1',
        'Namespace:    kube-node-lease',
        'Labels:       <none>',
        'Annotations:  <none>',
        'API Version:  coordination.k8s.io/v1',
        'Kind:         Lease',
        'Metadata:',
        '  Resource Version:  7',
        '  UID:               u',
        'Spec:',
        '  Holder Identity:         n1',
        '  Lease Duration Seconds:  40',
        'Events:                    <none>',
        '',
      ].join('\n'),
    );
  });

  it('long and multi-line annotations go on their own lines', async () => {
    const text = await describeIt({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'c',
        namespace: 'default',
        annotations: { long: 'x'.repeat(150), multi: 'a\nb\n', short: 'v' },
      },
    });
    expect(text).toContain(
      `Annotations:  long:\n                ${'x'.repeat(138)}...\n              multi:\n                a\n                b\n              short: v\n`,
    );
  });
});
