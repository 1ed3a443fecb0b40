// The EndpointSlice and Endpoints controllers on FakeApi with a virtual clock: what a user sees in the
// slices after each pod or Service change, and how many writes it took.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { EndpointsController } from '../endpoints/controller.js';
import { EndpointSliceController, type EndpointSliceExecutor } from './controller.js';
import { readEndpoints, type Endpoint } from './reconcile.js';
import { makeNode, makePod, makeService, manyPods } from './testing.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Pod = info('v1', 'Pod');
const Service = info('v1', 'Service');
const Node = info('v1', 'Node');
const Slice = info('discovery.k8s.io/v1', 'EndpointSlice');
const Endpoints = info('v1', 'Endpoints');

let api: FakeApi;
let clock: VirtualClock;
let logger: MemoryLogger;
let slices: EndpointSliceController;
let endpoints: EndpointsController;
let nameSeq = 0;

function sliceExecutor(a: FakeApi): EndpointSliceExecutor {
  return {
    // FakeApi has no generateName: name the slice as the API server would.
    createSlice: async (_ns, s) =>
      a.create(Slice, {
        ...s,
        metadata: { ...s.metadata, name: `${s.metadata.generateName ?? ''}${(++nameSeq).toString(36)}` },
      }),
    updateSlice: (s) =>
      a.patch(Slice, s.metadata.namespace, s.metadata.name ?? '', {
        metadata: { labels: s.metadata.labels, resourceVersion: s.metadata.resourceVersion },
        endpoints: s.endpoints,
        ports: s.ports,
      }),
    deleteSlice: (ns, name, uid) => a.delete(Slice, ns, name, 'Background', uid),
  };
}

function start(max?: number): void {
  slices = new EndpointSliceController({
    informers: api,
    executor: sliceExecutor(api),
    clock,
    logger,
    ...(max === undefined ? {} : { maxEndpointsPerSlice: max }),
  });
  endpoints = new EndpointsController({
    informers: api,
    executor: {
      createEndpoints: async (_ns, ep) => api.create(Endpoints, ep),
      updateEndpoints: (ep) =>
        api.patch(Endpoints, ep.metadata.namespace, ep.metadata.name ?? '', {
          metadata: { labels: ep.metadata.labels, resourceVersion: ep.metadata.resourceVersion },
          subsets: ep.subsets,
        }),
      deleteEndpoints: (ns, name) => api.delete(Endpoints, ns, name),
    },
    clock,
    logger,
  });
  slices.start();
  endpoints.start();
}

const sliceWrites = () => api.writes.filter((w) => w.resource === 'endpointslices').length;
const slicesOf = (svc: string): KubeObject[] =>
  api.list(Slice).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc);
const endpointOf = (svc: string, pod: string): Endpoint | undefined =>
  slicesOf(svc)
    .flatMap(readEndpoints)
    .find((e) => e.targetRef?.name === pod);

async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
  const p = api.find(Pod, 'default', name) as KubeObject;
  await api.updateStatus(Pod, { ...p, status: { ...(p.status as object), ...status } });
}

beforeEach(() => {
  api = new FakeApi();
  clock = new VirtualClock();
  logger = new MemoryLogger();
  api.create(Node, makeNode('n1', 'zone-a'));
});
afterEach(async () => {
  await slices.stop();
  await endpoints.stop();
  expect(logger.find('sync failed')).toEqual([]);
});

describe('EndpointSlice controller (FakeApi, virtual clock)', () => {
  it('pod becomes ready → its endpoint turns ready, in one slice write', async () => {
    api.create(Service, makeService('web'));
    api.create(Pod, makePod('a', { ip: '10.0.0.1', ready: false }));
    start();
    await clock.advance(0);
    expect(endpointOf('web', 'a')).toMatchObject({
      addresses: ['10.0.0.1'],
      conditions: { ready: false, serving: false, terminating: false },
      nodeName: 'n1',
      zone: 'zone-a',
    });
    const before = sliceWrites();
    await setStatus('a', { conditions: [{ type: 'Ready', status: 'True' }] });
    await clock.advance(0);
    expect(endpointOf('web', 'a')?.conditions).toEqual({ ready: true, serving: true, terminating: false });
    expect(sliceWrites() - before).toBe(1);
    // The legacy Endpoints follow: the address moves to `addresses`.
    const ep = api.find(Endpoints, 'default', 'web');
    expect(ep?.subsets).toEqual([
      {
        addresses: [
          {
            ip: '10.0.0.1',
            nodeName: 'n1',
            targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' },
          },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });

  it('graceful deletion: the pod still exists with a deletionTimestamp → ready:false, terminating:true within one reconcile', async () => {
    api.create(Service, makeService('web'));
    // A finalizer stands for the agent's graceful termination: the pod stays, with a deletionTimestamp.
    const a = makePod('a', { ip: '10.0.0.1' });
    api.create(Pod, { ...a, metadata: { ...a.metadata, finalizers: ['test.flotilla.io/hold'] } });
    api.create(Pod, makePod('b', { ip: '10.0.0.2' }));
    start();
    await clock.advance(0);
    const before = sliceWrites();
    await api.delete(Pod, 'default', 'a');
    expect(api.find(Pod, 'default', 'a')?.metadata.deletionTimestamp).toBeDefined();
    await clock.advance(0);
    expect(endpointOf('web', 'a')?.conditions).toEqual({ ready: false, serving: true, terminating: true });
    expect(endpointOf('web', 'b')?.conditions).toEqual({ ready: true, serving: true, terminating: false });
    expect(sliceWrites() - before).toBe(1);
    // Endpoints drop the terminating pod at once.
    const ep = api.find(Endpoints, 'default', 'web');
    expect(JSON.stringify(ep?.subsets)).not.toContain('10.0.0.1');
    // Once the pod is gone, so is its endpoint.
    await api.patch(Pod, 'default', 'a', { metadata: { finalizers: null } });
    expect(api.find(Pod, 'default', 'a')).toBeUndefined();
    await clock.advance(0);
    expect(endpointOf('web', 'a')).toBeUndefined();
    expect(slicesOf('web')).toHaveLength(1);
  });

  it('service deleted → its slices and Endpoints are deleted and not recreated', async () => {
    api.create(Service, makeService('web'));
    api.create(Pod, makePod('a', { ip: '10.0.0.1' }));
    start();
    await clock.advance(0);
    expect(slicesOf('web')).toHaveLength(1);
    expect(api.find(Endpoints, 'default', 'web')).toBeDefined();
    await api.delete(Service, 'default', 'web');
    await clock.advance(0);
    expect(slicesOf('web')).toEqual([]);
    expect(api.find(Endpoints, 'default', 'web')).toBeUndefined();
    // Pod changes afterwards bring nothing back.
    await setStatus('a', { conditions: [{ type: 'Ready', status: 'False' }] });
    await clock.advance(60_000);
    expect(slicesOf('web')).toEqual([]);
    expect(api.find(Endpoints, 'default', 'web')).toBeUndefined();
  });

  it('selector-less service: user-made slices and Endpoints are left alone', async () => {
    api.create(Service, makeService('ext', { selector: undefined }));
    api.create(Slice, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'ext-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'ext' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.0.2.1'] }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    });
    api.create(Endpoints, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'ext', namespace: 'default' },
      subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80, protocol: 'TCP' }] }],
    });
    api.create(Pod, makePod('a', { ip: '10.0.0.1' }));
    start();
    const before = api.writes.length;
    await clock.advance(1000);
    expect(api.writes.length).toBe(before);
  });

  it('Endpoints left over from a Service deleted while no controller ran are deleted at start', async () => {
    const ep = (name: string, annotations?: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: 'default', ...(annotations === undefined ? {} : { annotations }) },
      subsets: [],
    });
    api.create(Endpoints, ep('gone'));
    api.create(Endpoints, ep('lock', { 'control-plane.alpha.kubernetes.io/leader': '{}' }));
    start();
    await clock.advance(1000);
    expect(api.find(Endpoints, 'default', 'gone')).toBeUndefined();
    expect(api.find(Endpoints, 'default', 'lock')).toBeDefined();
  });

  it('node zone label change updates the endpoints of pods on that node', async () => {
    api.create(Service, makeService('web'));
    api.create(Pod, makePod('a', { ip: '10.0.0.1' }));
    start();
    await clock.advance(0);
    expect(endpointOf('web', 'a')?.zone).toBe('zone-a');
    await api.patch(Node, undefined, 'n1', {
      metadata: { labels: { 'topology.kubernetes.io/zone': 'zone-z' } },
    });
    await clock.advance(0);
    expect(endpointOf('web', 'a')?.zone).toBe('zone-z');
  });

  it('a burst of 25 pods on a 250-pod service, max 100: slices stay full, no duplicates, few writes', async () => {
    api.create(Service, makeService('web'));
    for (const p of manyPods(250)) api.create(Pod, p);
    start();
    await clock.advance(0);
    expect(
      slicesOf('web')
        .map((s) => readEndpoints(s).length)
        .sort((a, b) => b - a),
    ).toEqual([100, 100, 50]);
    const before = sliceWrites();
    for (let i = 0; i < 25; i++) api.create(Pod, makePod(`extra-${i}`, { ip: `10.9.0.${i + 1}` }));
    await clock.advance(0);
    const all = slicesOf('web').flatMap(readEndpoints);
    expect(all).toHaveLength(275);
    expect(new Set(all.map((e) => e.targetRef?.name)).size).toBe(275);
    expect(
      slicesOf('web')
        .map((s) => readEndpoints(s).length)
        .sort((a, b) => b - a),
    ).toEqual([100, 100, 75]);
    // Every write went to the one slice with room (one per sync at most; syncs dedupe in the queue).
    const touched = new Set(api.writes.slice(-(sliceWrites() - before)).map((w) => w.name));
    expect(touched.size).toBe(1);
  });

  it('someone edits a managed slice: the controller puts it back', async () => {
    api.create(Service, makeService('web'));
    api.create(Pod, makePod('a', { ip: '10.0.0.1' }));
    start();
    await clock.advance(0);
    const s = slicesOf('web')[0] as KubeObject;
    await api.patch(Slice, 'default', s.metadata.name ?? '', { endpoints: [] });
    await clock.advance(0);
    expect(endpointOf('web', 'a')?.addresses).toEqual(['10.0.0.1']);
  });

  it('a slice cache lagging behind our create does not make the controller create the slice twice', async () => {
    api.create(Service, makeService('web'));
    const base = sliceExecutor(api);
    slices = new EndpointSliceController({
      informers: api,
      executor: {
        ...base,
        // The informer never hears of the created slice (a watch that lags).
        createSlice: async (ns, s) => {
          const uid = `uid-lagging-${++nameSeq}`;
          api.informerFor(Slice).hidden.add(uid);
          return api.create(Slice, { ...s, metadata: { ...s.metadata, name: `web-lag${nameSeq}`, uid } });
        },
      },
      clock,
      logger,
    });
    endpoints = new EndpointsController({
      informers: api,
      executor: {
        createEndpoints: async () => undefined,
        updateEndpoints: async () => undefined,
        deleteEndpoints: async () => undefined,
      },
      clock,
      logger,
    });
    slices.start();
    endpoints.start();
    await clock.advance(0);
    expect(api.list(Slice)).toHaveLength(1);
    api.create(Pod, makePod('a', { ip: '10.0.0.1' }));
    await clock.advance(5_000);
    expect(api.list(Slice)).toHaveLength(1);
  });
});
