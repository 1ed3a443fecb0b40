import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors.js';
import type { KubeList, KubeObject, WatchEvent } from '../types.js';
import type { WatchHandle } from './client.js';
import { Informer, objectKey, type ListerWatcher } from './informer.js';

function obj(name: string, rv: string, ns = 'default'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, resourceVersion: rv, uid: `uid-${name}` },
  };
}

interface ActiveWatch {
  rv: string;
  onEvent: (e: WatchEvent) => void;
  onError: (err: ApiError) => void;
  onClose: () => void;
  closed: boolean;
}

/** A scripted ListerWatcher: tests set what lists return and push events into open watches. */
class FakeLW implements ListerWatcher {
  items: KubeObject[] = [];
  rv = '1';
  lists: { limit?: number; continue?: string }[] = [];
  watches: ActiveWatch[] = [];
  listError: ApiError | undefined;
  watchError: ApiError | undefined;
  pageSize = Infinity;

  list(opts: { limit?: number; continue?: string }): Promise<KubeList> {
    this.lists.push(opts);
    if (this.listError !== undefined) {
      const e = this.listError;
      return Promise.reject(e);
    }
    const start = opts.continue === undefined ? 0 : Number(opts.continue);
    const end = Math.min(this.items.length, start + this.pageSize);
    const metadata: KubeList['metadata'] = { resourceVersion: this.rv };
    if (end < this.items.length) metadata.continue = String(end);
    return Promise.resolve({
      apiVersion: 'v1',
      kind: 'ConfigMapList',
      metadata,
      items: this.items.slice(start, end),
    });
  }

  watch(
    rv: string,
    onEvent: (e: WatchEvent) => void,
    onError: (err: ApiError) => void,
    onClose: () => void,
  ): Promise<WatchHandle> {
    if (this.watchError !== undefined) return Promise.reject(this.watchError);
    const w: ActiveWatch = { rv, onEvent, onError, onClose, closed: false };
    this.watches.push(w);
    return Promise.resolve({ close: () => (w.closed = true) });
  }

  get current(): ActiveWatch {
    const w = this.watches.at(-1);
    if (w === undefined || w.closed) throw new Error('no open watch');
    return w;
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function recorder(inf: Informer): string[] {
  const log: string[] = [];
  inf.addEventHandler({
    onAdd: (o) => log.push(`add ${objectKey(o)}@${o.metadata.resourceVersion ?? ''}`),
    onUpdate: (a, b) =>
      log.push(
        `update ${objectKey(b)}@${a.metadata.resourceVersion ?? ''}->${b.metadata.resourceVersion ?? ''}`,
      ),
    onDelete: (o) => log.push(`delete ${objectKey(o)}`),
  });
  return log;
}

describe('Informer', () => {
  it('lists (all pages), syncs, then watches from the list resourceVersion', async () => {
    const lw = new FakeLW();
    lw.items = [obj('a', '1'), obj('b', '2'), obj('c', '3')];
    lw.rv = '10';
    lw.pageSize = 2;
    const inf = new Informer(lw, { pageSize: 2 });
    const log = recorder(inf);
    expect(inf.hasSynced()).toBe(false);
    inf.start();
    await inf.waitForSync();
    expect(inf.hasSynced()).toBe(true);
    expect(lw.lists).toEqual([{ limit: 2 }, { limit: 2, continue: '2' }]);
    expect(log).toEqual(['add default/a@1', 'add default/b@2', 'add default/c@3']);
    await until(() => lw.watches.length === 1, 'watch');
    expect(lw.current.rv).toBe('10');
    expect(inf.keys().sort()).toEqual(['default/a', 'default/b', 'default/c']);
    inf.stop();
    expect(lw.watches[0]!.closed).toBe(true);
  });

  it('applies watch events to the cache and handlers; bookmarks advance the resourceVersion', async () => {
    const lw = new FakeLW();
    lw.items = [obj('a', '1')];
    const inf = new Informer(lw);
    const log = recorder(inf);
    inf.start();
    await until(() => lw.watches.length === 1, 'watch');
    lw.current.onEvent({ type: 'ADDED', object: obj('b', '2') });
    lw.current.onEvent({ type: 'MODIFIED', object: obj('a', '3') });
    lw.current.onEvent({ type: 'DELETED', object: obj('b', '4') });
    lw.current.onEvent({ type: 'DELETED', object: obj('never-seen', '5') });
    lw.current.onEvent({
      type: 'BOOKMARK',
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { resourceVersion: '7' } },
    });
    expect(log).toEqual(['add default/a@1', 'add default/b@2', 'update default/a@1->3', 'delete default/b']);
    expect(inf.get('default', 'a')?.metadata.resourceVersion).toBe('3');
    expect(inf.get('default', 'b')).toBeUndefined();
    expect(inf.lastSyncResourceVersion()).toBe('7');
    inf.stop();
  });

  it('relists on 410 Expired and emits deletes for objects that vanished meanwhile', async () => {
    const lw = new FakeLW();
    lw.items = [obj('a', '1'), obj('b', '2'), obj('c', '3')];
    lw.rv = '3';
    const inf = new Informer(lw, { backoffInitialMs: 1 });
    const log = recorder(inf);
    inf.start();
    await until(() => lw.watches.length === 1, 'first watch');
    // While we were not looking: b was deleted, c changed, d was created; history compacted.
    lw.items = [obj('a', '1'), obj('c', '8'), obj('d', '9')];
    lw.rv = '9';
    lw.current.onError(new ApiError('Expired', 'too old resource version'));
    await until(() => lw.watches.length === 2, 'second watch');
    expect(lw.lists).toHaveLength(2);
    expect(lw.watches[1]!.rv).toBe('9');
    expect(log.slice(3)).toEqual(['update default/c@3->8', 'add default/d@9', 'delete default/b']);
    expect(inf.keys().sort()).toEqual(['default/a', 'default/c', 'default/d']);
    inf.stop();
  });

  it('an ERROR event in the stream also relists', async () => {
    const lw = new FakeLW();
    const inf = new Informer(lw, { backoffInitialMs: 1 });
    inf.start();
    await until(() => lw.watches.length === 1, 'watch');
    lw.current.onEvent({
      type: 'ERROR',
      object: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        code: 410,
        reason: 'Expired',
        message: 'gone',
      },
    });
    await until(() => lw.lists.length === 2, 'relist');
    inf.stop();
  });

  it('a watch that cannot start (410) relists', async () => {
    const lw = new FakeLW();
    lw.watchError = new ApiError('Expired', 'too old');
    const errors: unknown[] = [];
    const inf = new Informer(lw, { backoffInitialMs: 1, onError: (e) => errors.push(e) });
    inf.start();
    await until(() => lw.lists.length >= 2, 'relist');
    lw.watchError = undefined;
    await until(() => lw.watches.length === 1, 'watch');
    expect((errors[0] as ApiError).reason).toBe('Expired');
    inf.stop();
  });

  it('retries a failing list with back-off and syncs once the server answers', async () => {
    const lw = new FakeLW();
    lw.listError = new ApiError('ServiceUnavailable', 'the server at x is unreachable');
    lw.items = [obj('a', '1')];
    const errors: unknown[] = [];
    const inf = new Informer(lw, { backoffInitialMs: 1, backoffMaxMs: 4, onError: (e) => errors.push(e) });
    inf.start();
    await until(() => lw.lists.length >= 3, 'retries');
    expect(inf.hasSynced()).toBe(false);
    lw.listError = undefined;
    await inf.waitForSync();
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['a']);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    inf.stop();
  });

  it('re-watches from the last resourceVersion when the server ends the watch normally', async () => {
    let t = 0;
    const lw = new FakeLW();
    lw.rv = '5';
    const inf = new Informer(lw, { backoffInitialMs: 1, now: () => t });
    inf.start();
    await until(() => lw.watches.length === 1, 'watch');
    lw.current.onEvent({ type: 'ADDED', object: obj('x', '6') });
    t = 60_000;
    lw.current.onClose();
    await until(() => lw.watches.length === 2, 're-watch');
    expect(lw.watches[1]!.rv).toBe('6');
    expect(lw.lists).toHaveLength(1);
    inf.stop();
  });

  it('replays the cache to handlers added after sync, and survives a throwing handler', async () => {
    const lw = new FakeLW();
    lw.items = [obj('a', '1'), obj('b', '2')];
    const errors: unknown[] = [];
    const inf = new Informer(lw, { onError: (e) => errors.push(e) });
    inf.onAdd(() => {
      throw new Error('handler bug');
    });
    inf.start();
    await inf.waitForSync();
    const late: string[] = [];
    inf.onAdd((o) => late.push(o.metadata.name ?? ''));
    expect(late.sort()).toEqual(['a', 'b']);
    expect(errors).toHaveLength(2);
    await until(() => lw.watches.length === 1, 'watch');
    lw.current.onEvent({ type: 'ADDED', object: obj('c', '3') });
    expect(late).toContain('c');
    inf.stop();
  });

  it('ignores callbacks of a watch it has replaced, and stop() rejects pending waitForSync', async () => {
    const lw = new FakeLW();
    const inf = new Informer(lw, { backoffInitialMs: 1 });
    const log = recorder(inf);
    inf.start();
    await until(() => lw.watches.length === 1, 'watch');
    const old = lw.current;
    old.onError(new ApiError('Expired', 'x'));
    await until(() => lw.watches.length === 2, 'second watch');
    old.onEvent({ type: 'ADDED', object: obj('stale', '1') });
    expect(log).toEqual([]);
    inf.stop();

    const never = new FakeLW();
    never.listError = new ApiError('ServiceUnavailable', 'down');
    const inf2 = new Informer(never, { backoffInitialMs: 1000 });
    inf2.start();
    const wait = inf2.waitForSync();
    inf2.stop();
    await expect(wait).rejects.toThrow('informer stopped before it synced');
  });
});
