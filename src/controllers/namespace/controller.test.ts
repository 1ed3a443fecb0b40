import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { GarbageCollector } from '../garbage-collector/controller.js';
import { NamespaceController, type NamespaceExecutor } from './controller.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Namespace = info('v1', 'Namespace');
const Pod = info('v1', 'Pod');
const ConfigMap = info('v1', 'ConfigMap');
const Deployment = info('apps/v1', 'Deployment');
const ReplicaSet = info('apps/v1', 'ReplicaSet');

function obj(
  i: ResourceInfo,
  namespace: string,
  name: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject {
  return {
    apiVersion: i.group === '' ? i.version : `${i.group}/${i.version}`,
    kind: i.kind,
    metadata: { name, namespace, ...extra },
  };
}

function executorFor(api: FakeApi): NamespaceExecutor & { lists: number } {
  const ex = {
    lists: 0,
    delete: api.delete.bind(api),
    updateStatus: (ns: KubeObject) => api.updateStatus(Namespace, ns),
    finalize: (ns: KubeObject) => api.finalize(Namespace, ns),
    list: async (i: ResourceInfo, ns: string) => {
      ex.lists++;
      return api.list(i).filter((o) => o.metadata.namespace === ns);
    },
  };
  return ex;
}

describe('NamespaceController (wired to an in-memory API)', () => {
  let api: FakeApi;
  let clock: VirtualClock;
  let logger: MemoryLogger;
  let executor: ReturnType<typeof executorFor>;
  let controller: NamespaceController;

  beforeEach(() => {
    api = new FakeApi();
    clock = new VirtualClock();
    logger = new MemoryLogger();
    executor = executorFor(api);
    controller = new NamespaceController({ informers: api, executor, clock, logger });
    api.create(Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
    api.create(Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'keep' } });
    api.create(Pod, obj(Pod, 'shop', 'a'));
    api.create(ConfigMap, obj(ConfigMap, 'shop', 'settings'));
    api.create(Deployment, obj(Deployment, 'shop', 'web'));
    api.create(Pod, obj(Pod, 'keep', 'b'));
  });

  it('empties a deleted namespace, then finalizes it so the API server removes it; other namespaces untouched', async () => {
    controller.start();
    await clock.advance(1000);
    expect(api.writes.filter((w) => w.verb === 'delete')).toEqual([]); // nothing while active
    await api.delete(Namespace, undefined, 'shop');
    expect(api.find(Namespace, undefined, 'shop')?.status).toEqual({ phase: 'Terminating' });
    await clock.advance(1000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    expect(api.list(Pod).map((p) => p.metadata.name)).toEqual(['b']);
    expect(api.list(ConfigMap)).toEqual([]);
    expect(api.list(Deployment)).toEqual([]);
    expect(api.writes.filter((w) => w.verb === 'finalize')).toEqual([
      expect.objectContaining({ name: 'shop', detail: [] }),
    ]);
    expect(logger.find('namespace finalized', 'info')).toHaveLength(1);
    await controller.stop();
  });

  it('waits for content with finalizers, showing why in the conditions', async () => {
    api.create(ConfigMap, obj(ConfigMap, 'shop', 'guarded', { finalizers: ['example.com/protect'] }));
    controller.start();
    await api.delete(Namespace, undefined, 'shop');
    await clock.advance(10_000);
    const ns = api.find(Namespace, undefined, 'shop');
    expect(ns).toBeDefined();
    expect(api.list(ConfigMap).map((c) => c.metadata.name)).toEqual(['guarded']);
    const conditions = (ns?.status as { conditions: { type: string; status: string; message: string }[] })
      .conditions;
    expect(conditions).toContainEqual(
      expect.objectContaining({
        type: 'NamespaceContentRemaining',
        status: 'True',
        message: 'Some resources are remaining: configmaps has 1 resource instances',
      }),
    );
    expect(conditions).toContainEqual(
      expect.objectContaining({
        type: 'NamespaceFinalizersRemaining',
        status: 'True',
        message:
          'Some content in the namespace has finalizers remaining: example.com/protect in 1 resource instances',
      }),
    );
    // The finalizer's owner finishes: the namespace goes.
    await api.patch(ConfigMap, 'shop', 'guarded', { metadata: { finalizers: null } });
    await clock.advance(1000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    await controller.stop();
  });

  it('never finalizes while a live list still finds content the cache missed', async () => {
    const hidden = api.create(ConfigMap, obj(ConfigMap, 'shop', 'unseen'));
    const source = api.informerFor(ConfigMap);
    source.hidden.add(hidden.metadata.uid ?? '');
    controller.start();
    await api.delete(Namespace, undefined, 'shop');
    await clock.advance(10_000);
    expect(api.find(Namespace, undefined, 'shop')).toBeDefined();
    expect(api.writes.filter((w) => w.verb === 'finalize')).toEqual([]);
    expect(logger.find('cache behind', 'debug').length).toBeGreaterThan(0);
    source.hidden.clear(); // the cache catches up
    await clock.advance(5000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    await controller.stop();
  });

  it('retries failed deletes with back-off', async () => {
    controller.start();
    api.failures.push({
      verb: 'delete',
      resource: 'pods',
      error: new ApiError('InternalError', 'disk full'),
    });
    await api.delete(Namespace, undefined, 'shop');
    await clock.advance(1);
    expect(logger.find('could not delete namespace content', 'warn')).toHaveLength(1);
    await clock.advance(5000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    await controller.stop();
  });

  it('picks up namespaces already terminating when it starts', async () => {
    await api.delete(Namespace, undefined, 'shop');
    controller.start();
    await clock.advance(1000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    await controller.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('works with the garbage collector: ReplicaSets and Pods owned by deleted objects go too', async () => {
    const gc = new GarbageCollector({ informers: api, executor: api, clock });
    const deploy = api.find(Deployment, 'shop', 'web') as KubeObject;
    const owner = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      uid: deploy.metadata.uid ?? '',
      blockOwnerDeletion: true,
      controller: true,
    };
    api.create(ReplicaSet, obj(ReplicaSet, 'shop', 'web-1', { ownerReferences: [owner] }));
    controller.start();
    gc.start();
    await api.delete(Namespace, undefined, 'shop');
    await clock.advance(10_000);
    expect(api.find(Namespace, undefined, 'shop')).toBeUndefined();
    expect(api.list(ReplicaSet)).toEqual([]);
    await Promise.all([controller.stop(), gc.stop()]);
  });
});
