import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import {
  CONTROLLER_NAME,
  desiredEndpoints,
  readEndpoints,
  readPorts,
  reconcileSlices,
  type Endpoint,
  type SlicePlan,
} from './reconcile.js';
import { selectsPods } from './service-pods.js';
import { makePod, makeService, manyPods, type PodOptions } from './testing.js';

const zones: Record<string, string> = { n1: 'zone-a', n2: 'zone-b' };
const zoneOf = (n: string): string | undefined => zones[n];

function endpointsOf(svc: KubeObject, pods: KubeObject[]): Endpoint[] {
  return [...desiredEndpoints({ service: svc, pods, zoneOf }).values()].flatMap((g) => g.endpoints);
}

let seq = 0;
/** What the API server would hold after the plan: created slices get a name, uid and resourceVersion. */
function applyPlan(existing: KubeObject[], plan: SlicePlan): KubeObject[] {
  const gone = new Set(plan.delete.map((s) => s.metadata.name));
  const updated = new Map(plan.update.map((s) => [s.metadata.name, s]));
  const out = existing
    .filter((s) => !gone.has(s.metadata.name))
    .map((s) => {
      const u = updated.get(s.metadata.name);
      return u === undefined ? s : { ...u, metadata: { ...u.metadata, resourceVersion: String(++seq) } };
    });
  for (const c of plan.create) {
    const name = `${c.metadata.generateName ?? ''}${(++seq).toString(36).padStart(5, 'x')}`;
    out.push({ ...c, metadata: { ...c.metadata, name, uid: `uid-${name}`, resourceVersion: String(seq) } });
  }
  return out;
}

function sync(svc: KubeObject, pods: KubeObject[], existing: KubeObject[], max?: number) {
  const plan = reconcileSlices({
    service: svc,
    desired: desiredEndpoints({ service: svc, pods, zoneOf }),
    existing,
    ...(max === undefined ? {} : { maxEndpointsPerSlice: max }),
  });
  return { plan, slices: applyPlan(existing, plan) };
}

const counts = (p: SlicePlan) => ({
  create: p.create.length,
  update: p.update.length,
  delete: p.delete.length,
});
const sizes = (slices: KubeObject[]) => slices.map((s) => readEndpoints(s).length).sort((a, b) => b - a);
const allPodNames = (slices: KubeObject[]) =>
  slices.flatMap((s) => readEndpoints(s).map((e) => e.targetRef?.name ?? '')).sort();

describe('desiredEndpoints: one endpoint per pod', () => {
  const svc = makeService('web');
  const cases: {
    name: string;
    pod: PodOptions;
    service?: KubeObject;
    want: Partial<Endpoint> | undefined;
  }[] = [
    {
      name: 'ready pod: ready and serving',
      pod: {},
      want: { conditions: { ready: true, serving: true, terminating: false } },
    },
    {
      name: 'not-ready pod: listed, neither ready nor serving',
      pod: { ready: false },
      want: { conditions: { ready: false, serving: false, terminating: false } },
    },
    {
      name: 'terminating ready pod: not ready, still serving, terminating',
      pod: { terminating: true },
      want: { conditions: { ready: false, serving: true, terminating: true } },
    },
    {
      name: 'terminating not-ready pod',
      pod: { terminating: true, ready: false },
      want: { conditions: { ready: false, serving: false, terminating: true } },
    },
    {
      name: 'publishNotReadyAddresses: a not-ready pod is ready',
      pod: { ready: false },
      service: makeService('web', { publishNotReadyAddresses: true }),
      want: { conditions: { ready: true, serving: false, terminating: false } },
    },
    {
      name: 'publishNotReadyAddresses: even a terminating pod stays ready (upstream)',
      pod: { terminating: true },
      service: makeService('web', { publishNotReadyAddresses: true }),
      want: { conditions: { ready: true, serving: true, terminating: true } },
    },
    { name: 'no IP yet: left out', pod: { ip: undefined }, want: undefined },
    { name: 'Succeeded: left out', pod: { phase: 'Succeeded' }, want: undefined },
    { name: 'Failed: left out', pod: { phase: 'Failed' }, want: undefined },
    { name: 'IPv6 only: left out of IPv4 slices', pod: { ip: 'fd00::5' }, want: undefined },
    {
      name: 'node name and the node zone',
      pod: { node: 'n2' },
      want: { nodeName: 'n2', zone: 'zone-b' },
    },
    { name: 'node without zone label: no zone', pod: { node: 'n3' }, want: { nodeName: 'n3' } },
    {
      name: 'hostname when the subdomain is the service',
      pod: { hostname: 'db-0', subdomain: 'web' },
      want: { hostname: 'db-0' },
    },
    { name: 'no hostname for another subdomain', pod: { hostname: 'db-0', subdomain: 'other' }, want: {} },
  ];
  it.each(cases)('$name', ({ pod, service, want }) => {
    const eps = endpointsOf(service ?? svc, [makePod('p', { ip: '10.0.0.7', ...pod })]);
    if (want === undefined) {
      expect(eps).toEqual([]);
      return;
    }
    expect(eps).toHaveLength(1);
    const ep = eps[0] as Endpoint;
    expect(ep).toMatchObject({
      addresses: [pod.ip ?? '10.0.0.7'],
      targetRef: { kind: 'Pod', namespace: 'default', name: 'p', uid: 'uid-p' },
      ...want,
    });
    if (want.hostname === undefined) expect(ep.hostname).toBeUndefined();
    if (pod.node === 'n3') expect(ep.zone).toBeUndefined();
  });

  it('resolves a named targetPort per pod; pods where it does not resolve go to a slice without that port', () => {
    const svc = makeService('web', {
      ports: [
        { name: 'http', port: 80, targetPort: 'web' },
        { name: 'metrics', port: 9090, targetPort: 9100 },
      ],
    });
    const pods = [
      makePod('a', { ports: [{ name: 'web', containerPort: 8080 }] }),
      makePod('b', { ports: [{ name: 'web', containerPort: 8081 }] }),
      makePod('c', { ports: [{ name: 'web', containerPort: 8080, protocol: 'UDP' }] }),
    ];
    const groups = [...desiredEndpoints({ service: svc, pods, zoneOf }).values()].map((g) => ({
      ports: g.ports,
      pods: g.endpoints.map((e) => e.targetRef?.name),
    }));
    expect(groups).toEqual([
      {
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP' },
          { name: 'metrics', port: 9100, protocol: 'TCP' },
        ],
        pods: ['a'],
      },
      {
        ports: [
          { name: 'http', port: 8081, protocol: 'TCP' },
          { name: 'metrics', port: 9100, protocol: 'TCP' },
        ],
        pods: ['b'],
      },
      // UDP container port does not serve a TCP service port.
      { ports: [{ name: 'metrics', port: 9100, protocol: 'TCP' }], pods: ['c'] },
    ]);
  });
});

describe('reconcileSlices', () => {
  it('creates one slice with the service labels, owner and ports', () => {
    const svc = makeService('web', { labels: { team: 'x', 'kubernetes.io/service-name': 'spoof' } });
    const { plan } = sync(svc, [makePod('a', { ip: '10.0.0.1' }), makePod('b', { ip: '10.0.0.2' })], []);
    expect(counts(plan)).toEqual({ create: 1, update: 0, delete: 0 });
    const slice = plan.create[0] as KubeObject;
    expect(slice.metadata).toEqual({
      generateName: 'web-',
      namespace: 'default',
      labels: {
        team: 'x',
        'kubernetes.io/service-name': 'web',
        'endpointslice.kubernetes.io/managed-by': CONTROLLER_NAME,
      },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: 'web',
          uid: 'uid-svc-web',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(readEndpoints(slice).map((e) => e.addresses[0])).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('headless service (clusterIP None) gets slices, marked headless', () => {
    const svc = makeService('db', { clusterIP: 'None' });
    const { plan } = sync(svc, [makePod('a')], []);
    expect(counts(plan)).toEqual({ create: 1, update: 0, delete: 0 });
    expect(plan.create[0]?.metadata.labels?.['service.kubernetes.io/headless']).toBe('');
  });

  it('two port sets make two slices', () => {
    const svc = makeService('web', { ports: [{ name: 'http', port: 80, targetPort: 'web' }] });
    const pods = [
      makePod('a', { ports: [{ name: 'web', containerPort: 8080 }] }),
      makePod('b', { ports: [{ name: 'web', containerPort: 9090 }] }),
    ];
    const { plan } = sync(svc, pods, []);
    expect(
      plan.create.map((s) => [readPorts(s)[0]?.port, readEndpoints(s).map((e) => e.targetRef?.name)]),
    ).toEqual([
      [8080, ['a']],
      [9090, ['b']],
    ]);
  });

  it('no pods: one placeholder slice, kept on the next sync', () => {
    const svc = makeService('web');
    const first = sync(svc, [], []);
    expect(counts(first.plan)).toEqual({ create: 1, update: 0, delete: 0 });
    expect(first.plan.create[0]).toMatchObject({ endpoints: [], ports: [] });
    const second = sync(svc, [], first.slices);
    expect(counts(second.plan)).toEqual({ create: 0, update: 0, delete: 0 });
    // The first pod reuses the placeholder: one update, nothing created or deleted.
    const third = sync(svc, [makePod('a')], second.slices);
    expect(counts(third.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    expect(third.slices).toHaveLength(1);
    expect(readPorts(third.slices[0] as KubeObject)).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  it('250 pods make 3 slices of at most 100; a resync writes nothing', () => {
    const svc = makeService('web');
    const { plan, slices } = sync(svc, manyPods(250), []);
    expect(counts(plan)).toEqual({ create: 3, update: 0, delete: 0 });
    expect(sizes(slices)).toEqual([100, 100, 50]);
    expect(counts(sync(svc, manyPods(250), slices).plan)).toEqual({ create: 0, update: 0, delete: 0 });
  });

  it('adding one pod to a 250-pod service updates exactly one slice (the one with room)', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(250), []);
    const pods = [...manyPods(250), makePod('web-new', { ip: '10.2.0.1' })];
    const next = sync(svc, pods, slices);
    expect(counts(next.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    expect(readEndpoints(next.plan.update[0] as KubeObject).map((e) => e.targetRef?.name)).toContain(
      'web-new',
    );
    expect(sizes(next.slices)).toEqual([100, 100, 51]);
    expect(allPodNames(next.slices)).toEqual(pods.map((p) => p.metadata.name).sort());
  });

  it('removing a pod updates the one slice that held it, others untouched', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(250), []);
    const holder = slices.find((s) => readEndpoints(s).some((e) => e.targetRef?.name === 'web-042'));
    const pods = manyPods(250).filter((p) => p.metadata.name !== 'web-042');
    const next = sync(svc, pods, slices);
    expect(counts(next.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    expect(next.plan.update[0]?.metadata.name).toBe(holder?.metadata.name);
    // Order of the remaining endpoints is kept.
    const before = readEndpoints(holder as KubeObject).filter((e) => e.targetRef?.name !== 'web-042');
    expect(readEndpoints(next.plan.update[0] as KubeObject)).toEqual(before);
  });

  it('a readiness change rewrites only the slice holding that pod, in place', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(250), []);
    const pods = manyPods(250).map((p) =>
      p.metadata.name === 'web-180' ? makePod('web-180', { ip: '10.1.0.181', terminating: true }) : p,
    );
    const next = sync(svc, pods, slices);
    expect(counts(next.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    const ep = readEndpoints(next.plan.update[0] as KubeObject).find((e) => e.targetRef?.name === 'web-180');
    expect(ep?.conditions).toEqual({ ready: false, serving: true, terminating: true });
  });

  it('scaling 250 → 30 deletes emptied slices and updates the rest; back to 250 fills before creating', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(250), []);
    const down = sync(svc, manyPods(30), slices);
    expect(down.plan.create).toHaveLength(0);
    expect(sizes(down.slices)).toEqual([30]);
    const up = sync(svc, manyPods(250), down.slices);
    expect(counts(up.plan)).toEqual({ create: 2, update: 1, delete: 0 });
    expect(sizes(up.slices)).toEqual([100, 100, 50]);
  });

  it('a slice too full for the rest is not touched; new endpoints go to the best-fitting one', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(250), [], 100);
    // Three new pods: only the 50-slice fits them.
    const pods = [
      ...manyPods(250),
      ...manyPods(3, 'extra').map((p, i) => makePod(p.metadata.name ?? '', { ip: `10.3.0.${i + 1}` })),
    ];
    const next = sync(svc, pods, slices, 100);
    expect(counts(next.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    expect(sizes(next.slices)).toEqual([100, 100, 53]);
  });

  it('service labels change: every slice is relabelled, endpoints kept', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(150), []);
    const relabelled = makeService('web', { labels: { tier: 'front' } });
    const next = sync(relabelled, manyPods(150), slices);
    expect(counts(next.plan)).toEqual({ create: 0, update: 2, delete: 0 });
    for (const s of next.slices) expect(s.metadata.labels?.tier).toBe('front');
  });

  it('port change moves endpoints: the old slice is reused, not deleted and recreated', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(10), []);
    const moved = makeService('web', { ports: [{ name: 'http', port: 80, targetPort: 9000 }] });
    const next = sync(moved, manyPods(10), slices);
    expect(counts(next.plan)).toEqual({ create: 0, update: 1, delete: 0 });
    expect(readPorts(next.slices[0] as KubeObject)[0]?.port).toBe(9000);
  });

  it('slices of an earlier service of the same name are deleted', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, manyPods(3), []);
    const reborn = { ...svc, metadata: { ...svc.metadata, uid: 'uid-svc-web-2' } };
    const next = sync(reborn, manyPods(3), slices);
    expect(next.plan.delete.map((s) => s.metadata.name)).toEqual(slices.map((s) => s.metadata.name));
    expect(next.plan.create).toHaveLength(1);
    expect(next.plan.create[0]?.metadata.ownerReferences?.[0]?.uid).toBe('uid-svc-web-2');
  });

  it('a service being deleted gets no new slices', () => {
    const svc = makeService('web');
    const deleting = { ...svc, metadata: { ...svc.metadata, deletionTimestamp: '2024-01-01T00:00:00Z' } };
    expect(counts(sync(deleting, manyPods(3), []).plan)).toEqual({ create: 0, update: 0, delete: 0 });
  });

  it('reads stored slices with API defaults as equal (no rewrite)', () => {
    const svc = makeService('web');
    const { slices } = sync(svc, [makePod('a', { ready: false })], []);
    // As stored: port name defaulted, an extra hints field the controller does not manage.
    const stored = slices.map((s) => ({
      ...s,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: (s.endpoints as Record<string, unknown>[]).map((e) => ({ ...e, hints: {} })),
    }));
    expect(counts(sync(svc, [makePod('a', { ready: false })], stored).plan)).toEqual({
      create: 0,
      update: 0,
      delete: 0,
    });
  });
});

describe('selectsPods: which Services get slices from this controller', () => {
  it.each([
    { name: 'selector', svc: makeService('web'), want: true },
    { name: 'headless with selector', svc: makeService('web', { clusterIP: 'None' }), want: true },
    {
      name: 'no selector (user-managed endpoints)',
      svc: makeService('ext', { selector: undefined }),
      want: false,
    },
    { name: 'empty selector', svc: makeService('ext', { selector: {} }), want: false },
    { name: 'ExternalName', svc: makeService('ext', { type: 'ExternalName' }), want: false },
  ])('$name → $want', ({ svc, want }) => {
    expect(selectsPods(svc)).toBe(want);
  });
});
