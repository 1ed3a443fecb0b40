import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type EtcdInstance } from '../testkit/etcd.js';
import { expectStoreError, record, storeContract } from './contract.js';
import { EtcdStore, openEtcdStore } from './etcd-store.js';

// One etcd for the file; every store gets its own key prefix. Tests in a file run one at a time, so
// revisions seen by a test are its own (etcd numbers revisions for the whole cluster).
let etcd: EtcdInstance | undefined;
beforeAll(async () => {
  etcd = await startEtcd(); // fails with "apt-get install etcd-server" when /usr/bin/etcd is missing
});
afterAll(async () => {
  await etcd?.stop();
});

function endpoint(): string {
  if (etcd === undefined) throw new Error('etcd did not start');
  return etcd.endpoint;
}

let stores = 0;
function keyPrefix(): string {
  return `/flotilla-test/${process.pid}-${stores++}`;
}

storeContract(
  'EtcdStore',
  async () => {
    const prefix = keyPrefix();
    let store = new EtcdStore({ endpoints: [endpoint()], keyPrefix: prefix });
    return {
      store,
      cleanup: () => store.close(),
      reopen: async () => {
        await store.close();
        store = await openEtcdStore({ endpoints: endpoint(), keyPrefix: prefix });
        return store;
      },
    };
  },
  { propertyRuns: 8 },
);

describe('EtcdStore', () => {
  it('lists more data than one gRPC message holds (10,000 pods are about 10 MB), in pages at one revision', async () => {
    const store = await openEtcdStore({ endpoints: [endpoint()], keyPrefix: keyPrefix() });
    try {
      const value = 'x'.repeat(4096);
      const keys = Array.from({ length: 1200 }, (_, i) => `/big/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 100)
        await Promise.all(keys.slice(i, i + 100).map((k) => store.create(k, value)));
      const all = await store.list({ prefix: '/big/' });
      expect(all.items.map((kv) => kv.key)).toEqual(keys);
      expect(all.more).toBe(false);
      const limited = await store.list({ prefix: '/big/', limit: 1100 });
      expect(limited.items).toHaveLength(1100);
      expect(limited.more).toBe(true);
      const rest = await store.list({
        prefix: '/big/',
        startAfter: limited.items[1099]!.key,
        revision: limited.revision,
      });
      expect(rest.items).toHaveLength(100);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('stores keys under its key prefix, with etcd revisions', async () => {
    const prefix = keyPrefix();
    const store = await openEtcdStore({ endpoints: [endpoint()], keyPrefix: prefix });
    const revision = await store.create('/registry/pods/default/p', '{"kind":"Pod"}');
    const raw = new Etcd3({ hosts: endpoint() });
    try {
      const res = await raw.kv.range({ key: Buffer.from(`${prefix}/registry/pods/default/p`) });
      expect(res.kvs[0]?.value.toString()).toBe('{"kind":"Pod"}');
      expect(Number(res.kvs[0]?.mod_revision)).toBe(revision);
      // Another prefix sees nothing of it.
      const other = new EtcdStore({ endpoints: [endpoint()], keyPrefix: keyPrefix() });
      expect(await other.count('/')).toBe(0);
      await other.close();
    } finally {
      raw.close();
      await store.close();
    }
  });

  it("detects another client's compaction when asked for compactedRevision, and refuses reads below it", async () => {
    const a = await openEtcdStore({ endpoints: [endpoint()], keyPrefix: keyPrefix() });
    const b = await openEtcdStore({ endpoints: [endpoint()], keyPrefix: keyPrefix() });
    try {
      const r1 = await b.create('/k', 'v1');
      const r2 = await b.update('/k', 'v2', r1);
      await b.update('/k', 'v3', r2);
      const before = await b.compactedRevision();
      expect(before).toBeLessThan(r2);
      await a.compact(r2);
      expect(await b.compactedRevision()).toBe(r2);
      const err = await expectStoreError(b.list({ prefix: '/', revision: r1 }), 'Compacted');
      expect(err.revision).toBe(r2);
      await expectStoreError(
        b.watch({ prefix: '/', afterRevision: r1, onEvents: () => undefined, onError: () => undefined }),
        'Compacted',
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports Unavailable (transient) when etcd goes away, and ends watches with it', async () => {
    const own = await startEtcd();
    const store = await openEtcdStore({ endpoints: [own.endpoint], requestTimeoutMs: 2_000 });
    try {
      await store.create('/a', '1');
      const recorder = await record(store, '/', await store.currentRevision());
      await own.stop();
      const watchErr = await recorder.waitForError();
      expect(watchErr.code).toBe('Unavailable');
      const err = await expectStoreError(store.get('/a'), 'Unavailable');
      expect(err.transient).toBe(true);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('openEtcdStore fails with Unavailable when nothing answers', async () => {
    const port = await freePort();
    await expectStoreError(
      openEtcdStore({ endpoints: [`http://127.0.0.1:${port}`], requestTimeoutMs: 1_000 }),
      'Unavailable',
    );
  });
});
