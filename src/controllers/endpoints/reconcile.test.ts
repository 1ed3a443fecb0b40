import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { makePod, makeService } from '../endpointslice/testing.js';
import { desiredSubsets, OVER_CAPACITY_ANNOTATION, reconcileEndpoints } from './reconcile.js';

const ref = (name: string) => ({ kind: 'Pod', namespace: 'default', name, uid: `uid-${name}` });

describe('desiredSubsets', () => {
  it('ready pods in addresses, not-ready in notReadyAddresses, sorted by IP; terminating and finished pods left out', () => {
    const svc = makeService('web');
    const pods = [
      makePod('b', { ip: '10.0.0.2' }),
      makePod('a', { ip: '10.0.0.1' }),
      makePod('slow', { ip: '10.0.0.3', ready: false }),
      makePod('going', { ip: '10.0.0.4', terminating: true }),
      makePod('done', { ip: '10.0.0.5', phase: 'Succeeded' }),
      makePod('new', { ip: undefined }),
    ];
    expect(desiredSubsets(svc, pods)).toEqual([
      {
        addresses: [
          { ip: '10.0.0.1', nodeName: 'n1', targetRef: ref('a') },
          { ip: '10.0.0.2', nodeName: 'n1', targetRef: ref('b') },
        ],
        notReadyAddresses: [{ ip: '10.0.0.3', nodeName: 'n1', targetRef: ref('slow') }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('publishNotReadyAddresses: every pod ready, terminating ones included', () => {
    const svc = makeService('web', { publishNotReadyAddresses: true });
    const pods = [
      makePod('slow', { ip: '10.0.0.3', ready: false }),
      makePod('going', { ip: '10.0.0.4', terminating: true }),
    ];
    expect(desiredSubsets(svc, pods)).toEqual([
      {
        addresses: [
          { ip: '10.0.0.3', nodeName: 'n1', targetRef: ref('slow') },
          { ip: '10.0.0.4', nodeName: 'n1', targetRef: ref('going') },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('pods resolving a named port differently go to different subsets; hostname when in the subdomain', () => {
    const svc = makeService('web', { ports: [{ port: 80, targetPort: 'web' }] });
    const pods = [
      makePod('a', {
        ip: '10.0.0.1',
        ports: [{ name: 'web', containerPort: 8080 }],
        hostname: 'a',
        subdomain: 'web',
      }),
      makePod('b', { ip: '10.0.0.2', ports: [{ name: 'web', containerPort: 9090 }] }),
      makePod('c', { ip: '10.0.0.3' }),
    ];
    expect(desiredSubsets(svc, pods)).toEqual([
      {
        addresses: [{ ip: '10.0.0.1', hostname: 'a', nodeName: 'n1', targetRef: ref('a') }],
        ports: [{ port: 8080, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: '10.0.0.2', nodeName: 'n1', targetRef: ref('b') }],
        ports: [{ port: 9090, protocol: 'TCP' }],
      },
    ]);
  });

  it('headless service without ports lists addresses without ports', () => {
    const svc = makeService('db', { clusterIP: 'None', ports: [] });
    expect(desiredSubsets(svc, [makePod('a', { ip: '10.0.0.1' })])).toEqual([
      { addresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: ref('a') }] },
    ]);
  });
});

describe('reconcileEndpoints', () => {
  const svc = makeService('web', { labels: { team: 'x' } });
  const pods = [makePod('a', { ip: '10.0.0.1' })];

  it('creates the Endpoints named after the Service with its labels', () => {
    const plan = reconcileEndpoints({ service: svc, pods, current: undefined });
    expect(plan.action).toBe('create');
    if (plan.action !== 'create') return;
    expect(plan.endpoints.metadata).toEqual({ name: 'web', namespace: 'default', labels: { team: 'x' } });
  });

  it('writes nothing when the stored Endpoints already match', () => {
    const first = reconcileEndpoints({ service: svc, pods, current: undefined });
    if (first.action !== 'create') throw new Error('expected create');
    const stored: KubeObject = {
      ...first.endpoints,
      metadata: { ...first.endpoints.metadata, uid: 'u', resourceVersion: '7' },
    };
    expect(reconcileEndpoints({ service: svc, pods, current: stored })).toEqual({ action: 'none' });
    const changed = reconcileEndpoints({
      service: svc,
      pods: [...pods, makePod('b', { ip: '10.0.0.2' })],
      current: stored,
    });
    expect(changed.action).toBe('update');
    if (changed.action === 'update') expect(changed.endpoints.metadata.resourceVersion).toBe('7');
  });

  it('headless service gets the headless label', () => {
    const plan = reconcileEndpoints({
      service: makeService('db', { clusterIP: 'None' }),
      pods,
      current: undefined,
    });
    if (plan.action !== 'create') throw new Error('expected create');
    expect(plan.endpoints.metadata.labels).toEqual({ 'service.kubernetes.io/headless': '' });
  });

  it('over capacity: keeps the first addresses, ready ones first, and says it truncated', () => {
    const many = Array.from({ length: 6 }, (_, i) =>
      makePod(`p${i}`, { ip: `10.0.0.${i + 1}`, ready: i % 2 === 0 }),
    );
    const plan = reconcileEndpoints({ service: svc, pods: many, current: undefined, maxCapacity: 4 });
    if (plan.action !== 'create') throw new Error('expected create');
    expect(plan.endpoints.metadata.annotations).toEqual({ [OVER_CAPACITY_ANNOTATION]: 'truncated' });
    const subsets = plan.endpoints.subsets as {
      addresses?: { ip: string }[];
      notReadyAddresses?: { ip: string }[];
    }[];
    expect(subsets[0]?.addresses?.map((a) => a.ip)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.5']);
    expect(subsets[0]?.notReadyAddresses?.map((a) => a.ip)).toEqual(['10.0.0.2']);
  });
});
