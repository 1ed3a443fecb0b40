// Namespace, Node, Event, Endpoints, EndpointSlice, Lease, Scale.
import { describe, expect, it } from 'vitest';
import { endpointsHandler } from './endpoints.js';
import { endpointSliceHandler } from './endpointslice.js';
import { eventHandler } from './event.js';
import { leaseHandler } from './lease.js';
import { namespaceHandler } from './namespace.js';
import { nodeHandler } from './node.js';
import { scaleHandler } from './scale.js';
import { create, obj, update } from './testing.js';

describe('Namespace', () => {
  it('defaults the kubernetes finalizer and phase Active', () => {
    const ns = obj('v1', 'Namespace', {}, { name: 'prod', namespace: undefined });
    expect(create(namespaceHandler, ns)).toEqual([]);
    expect(ns.spec).toEqual({ finalizers: ['kubernetes'] });
    expect(ns.status).toEqual({ phase: 'Active' });
  });

  it.each([
    ['prod.eu', 'metadata.name: Invalid value: "prod.eu": must not contain dots'],
    [
      'Prod',
      expect.stringMatching(
        /^metadata\.name: Invalid value: "Prod": a lowercase RFC 1123 label must consist of/,
      ) as unknown as string,
    ],
  ])('rejects the name %s', (name, message) => {
    expect(create(namespaceHandler, obj('v1', 'Namespace', {}, { name, namespace: undefined }))).toEqual([
      message,
    ]);
  });

  it('is cluster-scoped', () => {
    expect(create(namespaceHandler, obj('v1', 'Namespace', {}, { name: 'a', namespace: 'b' }))).toEqual([
      'metadata.namespace: Forbidden: not allowed on this type',
    ]);
  });
});

describe('Node', () => {
  const node = (spec: Record<string, unknown>, status: Record<string, unknown> = {}) =>
    obj('v1', 'Node', { spec, status }, { name: 'n1', namespace: undefined });

  it('defaults allocatable to capacity', () => {
    const n = node({}, { capacity: { cpu: '4', memory: '8Gi', pods: '110' } });
    expect(create(nodeHandler, n)).toEqual([]);
    expect((n.status as { allocatable: unknown }).allocatable).toEqual({
      cpu: '4',
      memory: '8Gi',
      pods: '110',
    });
  });

  it('validates taints and CIDRs', () => {
    expect(
      create(
        nodeHandler,
        node({
          podCIDR: '10.244.1.0/24',
          podCIDRs: ['10.244.1.0/24', '10.244.1.0/33'],
          taints: [
            { key: 'a', effect: 'NoSchedule' },
            { key: 'a', effect: 'NoSchedule' },
            { key: 'b', effect: 'Sometimes' },
            { key: '', value: '-x-' },
          ],
        }),
      ),
    ).toEqual([
      'spec.taints[2].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"',
      'spec.taints[1]: Duplicate value: "a:NoSchedule"',
      'spec.taints[3].key: Required value',
      expect.stringMatching(
        /^spec\.taints\[3\]\.value: Invalid value: "-x-": a valid label must be/,
      ) as unknown as string,
      'spec.taints[3].effect: Required value',
      'spec.podCIDRs[1]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]);
  });

  it('lets podCIDR and providerID be set once', () => {
    const n = node({});
    expect(
      update(
        nodeHandler,
        n,
        (x) =>
          (x.spec = { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'], providerID: 'flotilla://n1' }),
      ),
    ).toEqual([]);
    const set = node({ podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'], providerID: 'p' });
    expect(
      update(
        nodeHandler,
        set,
        (x) =>
          (x.spec = {
            podCIDR: '10.244.9.0/24',
            podCIDRs: ['10.244.9.0/24'],
            providerID: 'q',
            unschedulable: true,
          }),
      ),
    ).toEqual([
      'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
      'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
    ]);
    expect(
      update(nodeHandler, set, (x) => ((x.spec as Record<string, unknown>)['unschedulable'] = true)),
    ).toEqual([]);
  });
});

describe('Event', () => {
  it('checks the involved object namespace', () => {
    const ev = (involvedObject: Record<string, unknown>) =>
      obj('v1', 'Event', { involvedObject, reason: 'Started', type: 'Normal' }, { name: 'web.1' });
    expect(create(eventHandler, ev({ kind: 'Pod', name: 'web', namespace: 'default' }))).toEqual([]);
    expect(create(eventHandler, ev({ kind: 'Pod', name: 'web', namespace: 'other' }))).toEqual([
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
    expect(create(eventHandler, ev({ kind: 'Node', name: 'n1' }))).toEqual([]);
  });

  it('requires reporting fields on new-style events', () => {
    const ev = obj('v1', 'Event', {
      eventTime: '2024-01-01T00:00:00.000000Z',
      type: 'Info',
      involvedObject: {},
    });
    expect(create(eventHandler, ev)).toEqual([
      'type: Unsupported value: "Info": supported values: "Normal", "Warning"',
      'reportingComponent: Required value',
      'reportingInstance: Required value',
      'action: Required value',
      'reason: Required value',
    ]);
  });
});

describe('Endpoints', () => {
  it('defaults protocol and validates addresses and ports', () => {
    const ep = obj('v1', 'Endpoints', {
      subsets: [
        { addresses: [{ ip: '10.0.0.1' }, { ip: 'nope' }], ports: [{ port: 80 }, { port: 0, name: 'b' }] },
      ],
    });
    expect(create(endpointsHandler, ep)).toEqual([
      'subsets[0].addresses[1].ip: Invalid value: "nope": must be a valid IP address',
      'subsets[0].ports[0].name: Required value',
      'subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    ]);
    expect(ep['subsets']).toMatchObject([{ ports: [{ protocol: 'TCP' }, { protocol: 'TCP' }] }]);
  });
});

describe('EndpointSlice', () => {
  const slice = (fields: Record<string, unknown>) =>
    obj('discovery.k8s.io/v1', 'EndpointSlice', fields, { name: 'web-abc' });

  it('defaults ports and accepts a typical slice', () => {
    const s = slice({
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: ['10.244.1.5'],
          conditions: { ready: true },
          nodeName: 'n1',
          targetRef: { kind: 'Pod', name: 'web-1' },
        },
      ],
      ports: [{ port: 80 }],
    });
    expect(create(endpointSliceHandler, s)).toEqual([]);
    expect(s['ports']).toEqual([{ port: 80, protocol: 'TCP', name: '' }]);
  });

  it('validates addresses per address type', () => {
    expect(
      create(
        endpointSliceHandler,
        slice({
          addressType: 'IPv6',
          endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: [] }],
          ports: [
            { name: 'a', port: 1 },
            { name: 'a', port: 2 },
          ],
        }),
      ),
    ).toEqual([
      'endpoints[0].addresses[0]: Invalid value: "10.0.0.1": must be a valid IPv6 address',
      'endpoints[1].addresses: Required value: must contain at least 1 address',
      'ports[1].name: Duplicate value: "a"',
    ]);
    expect(create(endpointSliceHandler, slice({ addressType: 'IPX' }))).toEqual([
      'addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"',
    ]);
  });

  it('keeps addressType immutable', () => {
    expect(
      update(endpointSliceHandler, slice({ addressType: 'IPv4' }), (s) => (s['addressType'] = 'IPv6')),
    ).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });
});

describe('Lease and Scale', () => {
  it('validates lease durations', () => {
    expect(
      create(
        leaseHandler,
        obj('coordination.k8s.io/v1', 'Lease', { spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 } }),
      ),
    ).toEqual([]);
    expect(
      create(
        leaseHandler,
        obj('coordination.k8s.io/v1', 'Lease', { spec: { leaseDurationSeconds: 0, leaseTransitions: -1 } }),
      ),
    ).toEqual([
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
      'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });

  it('validates scale replicas', () => {
    expect(create(scaleHandler, obj('autoscaling/v1', 'Scale', { spec: { replicas: -2 } }))).toEqual([
      'spec.replicas: Invalid value: -2: must be greater than or equal to 0',
    ]);
  });
});
