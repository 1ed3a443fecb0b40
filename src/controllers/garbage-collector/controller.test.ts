import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject, OwnerReference } from '../../api/types.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { GarbageCollector } from './controller.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Deployment = info('apps/v1', 'Deployment');
const ReplicaSet = info('apps/v1', 'ReplicaSet');
const Pod = info('v1', 'Pod');
const Node = info('v1', 'Node');

function ref(owner: KubeObject, block = true): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: block,
  };
}
function obj(i: ResourceInfo, name: string, owners: OwnerReference[] = []): KubeObject {
  return {
    apiVersion: i.group === '' ? i.version : `${i.group}/${i.version}`,
    kind: i.kind,
    metadata: {
      name,
      ...(i.namespaced ? { namespace: 'shop' } : {}),
      ...(owners.length > 0 ? { ownerReferences: owners } : {}),
    },
  };
}

describe('GarbageCollector (wired to an in-memory API)', () => {
  let api: FakeApi;
  let clock: VirtualClock;
  let logger: MemoryLogger;
  let recorder: MemoryEventRecorder;
  let gc: GarbageCollector;
  let deploy: KubeObject;
  let rs: KubeObject;

  beforeEach(() => {
    api = new FakeApi();
    clock = new VirtualClock();
    logger = new MemoryLogger();
    recorder = new MemoryEventRecorder();
    gc = new GarbageCollector({ informers: api, executor: api, clock, logger, recorder });
    deploy = api.create(Deployment, obj(Deployment, 'web'));
    rs = api.create(ReplicaSet, obj(ReplicaSet, 'web-1', [ref(deploy)]));
    api.create(Pod, obj(Pod, 'web-1-a', [ref(rs)]));
    api.create(Pod, obj(Pod, 'web-1-b', [ref(rs)]));
  });

  const names = (i: ResourceInfo): string[] =>
    api
      .list(i)
      .map((o) => o.metadata.name ?? '')
      .sort();

  it('background: deleting the Deployment takes its ReplicaSet, then its Pods', async () => {
    gc.start();
    await clock.advance(1000);
    expect(names(ReplicaSet)).toEqual(['web-1']); // nothing to collect yet
    await api.delete(Deployment, 'shop', 'web', 'Background');
    await clock.advance(1000);
    expect(names(ReplicaSet)).toEqual([]);
    expect(names(Pod)).toEqual([]);
    expect(api.writes.filter((w) => w.verb === 'delete').map((w) => `${w.name}:${String(w.detail)}`)).toEqual(
      ['web:Background', 'web-1:Background', 'web-1-a:Background', 'web-1-b:Background'],
    );
    await gc.stop();
  });

  it('foreground: the Deployment disappears only after its ReplicaSet and Pods are gone', async () => {
    gc.start();
    await api.delete(Deployment, 'shop', 'web', 'Foreground');
    expect(api.find(Deployment, 'shop', 'web')?.metadata.deletionTimestamp).toBeDefined();
    const seenOrder: string[] = [];
    for (let i = 0; i < 20 && api.find(Deployment, 'shop', 'web') !== undefined; i++) {
      await clock.advance(100);
      seenOrder.push(`${names(Deployment).length}${names(ReplicaSet).length}${names(Pod).length}`);
    }
    expect(api.find(Deployment, 'shop', 'web')).toBeUndefined();
    expect(names(ReplicaSet)).toEqual([]);
    expect(names(Pod)).toEqual([]);
    // The ReplicaSet was deleted in the foreground too (it had dependents).
    expect(api.writes).toContainEqual(
      expect.objectContaining({ verb: 'delete', name: 'web-1', detail: 'Foreground' }),
    );
    // While the deployment existed, children were removed first.
    expect(seenOrder.at(-1)).toBe('000');
    await gc.stop();
  });

  it('orphan: the Deployment goes, the ReplicaSet stays without the owner reference', async () => {
    gc.start();
    await api.delete(Deployment, 'shop', 'web', 'Orphan');
    await clock.advance(1000);
    expect(api.find(Deployment, 'shop', 'web')).toBeUndefined();
    expect(api.find(ReplicaSet, 'shop', 'web-1')?.metadata.ownerReferences).toBeUndefined();
    expect(names(Pod)).toEqual(['web-1-a', 'web-1-b']);
    await gc.stop();
  });

  it('waits for every informer to sync before deciding anything', async () => {
    const source = api.informerFor(Deployment);
    source.synced = false;
    await api.delete(Deployment, 'shop', 'web');
    gc.start();
    await clock.advance(5000);
    expect(names(ReplicaSet)).toEqual(['web-1']);
    source.synced = true;
    await clock.advance(1000);
    expect(names(ReplicaSet)).toEqual([]);
    await gc.stop();
  });

  it('does not delete a dependent whose owner the cache has not seen yet (confirms with a live GET)', async () => {
    const lagging = api.create(Deployment, obj(Deployment, 'new'));
    api.informerFor(Deployment).hidden.add(lagging.metadata.uid ?? '');
    api.create(ReplicaSet, obj(ReplicaSet, 'new-1', [ref(lagging)]));
    gc.start();
    await clock.advance(1000);
    expect(names(ReplicaSet)).toEqual(['new-1', 'web-1']);
    expect(logger.find('owner exists after all', 'debug').length).toBeGreaterThan(0);
    await gc.stop();
  });

  it('never deletes an object recreated under the same name (uid precondition)', async () => {
    // The GC decides from a snapshot where web-1's owner is gone; meanwhile web-1 is recreated.
    await api.delete(Deployment, 'shop', 'web');
    let open = (): void => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const executor = {
      delete: api.delete.bind(api),
      patch: api.patch.bind(api),
      get: async (i: ResourceInfo, ns: string | undefined, name: string) => {
        await gate; // the owner check happens after the snapshot: recreate web-1 in between
        return api.get(i, ns, name);
      },
    };
    gc = new GarbageCollector({ informers: api, executor, clock });
    const planned = gc.runOnce();
    const oldUid = api.find(ReplicaSet, 'shop', 'web-1')?.metadata.uid;
    await api.delete(ReplicaSet, 'shop', 'web-1');
    const recreated = api.create(ReplicaSet, obj(ReplicaSet, 'web-1'));
    open();
    const result = await planned;
    expect(result).toMatchObject({ planned: 1, executed: 0, skipped: 1 });
    expect(recreated.metadata.uid).not.toBe(oldUid);
    expect(api.find(ReplicaSet, 'shop', 'web-1')?.metadata.uid).toBe(recreated.metadata.uid);
  });

  it('retries a pass whose writes failed, with back-off', async () => {
    await api.delete(Deployment, 'shop', 'web');
    api.failures.push({ verb: 'delete', error: new ApiError('ServiceUnavailable', 'etcd is down') });
    gc.start();
    await clock.advance(1);
    expect(names(ReplicaSet)).toEqual(['web-1']);
    expect(logger.find('sync failed, will retry', 'warn')).toHaveLength(1);
    await clock.advance(4); // first back-off step: 5 ms
    expect(names(ReplicaSet)).toEqual([]);
    await clock.advance(1000);
    expect(names(ReplicaSet)).toEqual([]);
    await gc.stop();
  });

  it('runs a periodic pass even without informer events', async () => {
    gc = new GarbageCollector({ informers: api, executor: api, clock, resyncPeriodMs: 10_000 });
    const source = api.informerFor(ReplicaSet);
    gc.start();
    await clock.advance(1000);
    // Hide the event stream: remove the owner without telling anyone.
    source.handlers.clear();
    api.informerFor(Deployment).handlers.clear();
    await api.delete(Deployment, 'shop', 'web');
    await clock.advance(5000);
    expect(names(ReplicaSet)).toEqual(['web-1']);
    await clock.advance(5000);
    expect(names(ReplicaSet)).toEqual([]);
    await gc.stop();
  });

  it('records an OwnerRefInvalidNamespace warning once per object, not on every pass', async () => {
    const elsewhere: KubeObject = { ...obj(ReplicaSet, 'stray', [ref(deploy)]) };
    elsewhere.metadata.namespace = 'other';
    api.create(ReplicaSet, elsewhere);
    api.create(Node, obj(Node, 'n1', [ref(deploy)])); // cluster-scoped dependent, namespaced owner kind
    gc.start();
    await clock.advance(1000);
    expect(api.find(ReplicaSet, 'other', 'stray')).toBeUndefined(); // its owner is not in its namespace
    expect(api.find(Node, undefined, 'n1')).toBeDefined(); // unresolvable: never collected
    await clock.advance(200_000);
    expect(recorder.reasons().sort()).toEqual(['OwnerRefInvalidNamespace', 'OwnerRefUnresolvable']);
    await gc.stop();
  });

  it('stop() ends the workers and timers', async () => {
    gc.start();
    await clock.advance(100);
    await gc.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});
