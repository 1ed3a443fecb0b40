import { describe, expect, it } from 'vitest';
import { storeContract } from './contract.js';
import { MemoryStore } from './memory-store.js';
import type { StoreEvent } from './store.js';

storeContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryStore', () => {
  it('delivers watch events outside the write, so a handler may write to the store', async () => {
    const store = new MemoryStore();
    const seen: StoreEvent[] = [];
    const watcher = await store.watch({
      prefix: '/chain/',
      afterRevision: 0,
      onEvents: (events) => {
        for (const event of events) {
          seen.push(event);
          const n = Number(event.key.slice('/chain/'.length));
          if (n < 5) void store.create(`/chain/${n + 1}`, 'v');
        }
      },
      onError: () => undefined,
    });
    const created = store.create('/chain/0', 'v');
    expect(seen).toEqual([]); // not delivered synchronously inside create()
    const first = await created;
    while (seen.length < 6) await new Promise((resolve) => setTimeout(resolve, 1));
    expect(seen.map((e) => [e.key, e.revision])).toEqual(
      [0, 1, 2, 3, 4, 5].map((n) => [`/chain/${n}`, first + n]),
    );
    watcher.close();
    await store.close();
  });

  it('compaction drops superseded versions and tombstones from memory', async () => {
    const store = new MemoryStore();
    let rev = await store.create('/m/a', '1');
    for (let i = 0; i < 100; i++) rev = await store.update('/m/a', String(i), rev);
    await store.create('/m/b', 'x');
    const { revision } = await store.delete('/m/b');
    await store.compact(revision);
    const internals = store as unknown as { history: Map<string, unknown[]>; log: unknown[] };
    expect([...internals.history.keys()]).toEqual(['/m/a']);
    expect(internals.history.get('/m/a')).toHaveLength(1);
    expect(internals.log).toHaveLength(0);
    await store.close();
  });
});
