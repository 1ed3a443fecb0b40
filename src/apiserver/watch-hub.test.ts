import { describe, expect, it } from 'vitest';
import { findByResource } from '../api/resources.js';
import { MemoryStore } from '../store/memory-store.js';
import type { StoreEvent, WatchOptions } from '../store/store.js';
import { WatchHub } from './watch-hub.js';

const configmaps = findByResource('', 'v1', 'configmaps')!;
const key = (ns: string, name: string) => `/registry/core/configmaps/${ns}/${name}`;

class CountingStore extends MemoryStore {
  watches = 0;
  override watch(options: WatchOptions) {
    this.watches++;
    return super.watch(options);
  }
}

function collector() {
  const events: StoreEvent[] = [];
  const errors: string[] = [];
  return {
    events,
    errors,
    opts: (prefix: string, afterRevision: number): WatchOptions => ({
      prefix,
      afterRevision,
      onEvents: (evs) => events.push(...evs),
      onError: (err) => errors.push(err.code),
    }),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('WatchHub', () => {
  it('serves many watchers of a resource from one store watch, each from its own revision and namespace', async () => {
    const store = new CountingStore();
    const hub = new WatchHub(store);
    const r1 = await store.create(key('a', 'x'), '{}');
    const all = collector();
    const onlyB = collector();
    const late = collector();
    await hub.watch(all.opts('/registry/core/configmaps/', 0), configmaps);
    await hub.watch(onlyB.opts('/registry/core/configmaps/b/', 0), configmaps);
    const r2 = await store.create(key('b', 'y'), '{}');
    await settle();
    // A watcher from r2 gets nothing already delivered, then later events.
    await hub.watch(late.opts('/registry/core/configmaps/', r2), configmaps);
    const r3 = await store.update(key('a', 'x'), '{"v":2}', r1);
    await settle();
    expect(store.watches).toBe(1);
    expect(all.events.map((e) => e.revision)).toEqual([r1, r2, r3]);
    expect(onlyB.events.map((e) => e.revision)).toEqual([r2]);
    expect(late.events.map((e) => e.revision)).toEqual([r3]);
    hub.close();
  });

  it('replays from its buffer, and goes to the store for revisions older than the buffer', async () => {
    const store = new CountingStore();
    const r1 = await store.create(key('a', '1'), '{}');
    const r2 = await store.create(key('a', '2'), '{}');
    const hub = new WatchHub(store, 2);
    const first = collector();
    await hub.watch(first.opts('/registry/core/configmaps/', r1), configmaps);
    await store.create(key('a', '3'), '{}');
    await store.create(key('a', '4'), '{}');
    await settle();
    // The buffer (capacity 2) no longer holds r2; a watch from r1 needs the store's own replay.
    const old = collector();
    await hub.watch(old.opts('/registry/core/configmaps/', r1), configmaps);
    await settle();
    expect(store.watches).toBe(2);
    expect(old.events.map((e) => e.revision)).toEqual([r2, r2 + 1, r2 + 2]);
    hub.close();
  });

  it('refuses compacted and future revisions like the store does', async () => {
    const store = new MemoryStore();
    const hub = new WatchHub(store);
    const r1 = await store.create(key('a', '1'), '{}');
    const w = collector();
    await hub.watch(w.opts('/registry/core/configmaps/', 0), configmaps);
    await store.create(key('a', '2'), '{}');
    await store.compact(await store.currentRevision());
    await expect(
      hub.watch(collector().opts('/registry/core/configmaps/', r1 - 1), configmaps),
    ).rejects.toMatchObject({
      code: 'Compacted',
    });
    await expect(
      hub.watch(collector().opts('/registry/core/configmaps/', 999), configmaps),
    ).rejects.toMatchObject({
      code: 'FutureRevision',
    });
    hub.close();
    await settle();
    expect(w.errors).toEqual(['Closed']);
  });
});
