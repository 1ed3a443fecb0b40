// Open the configured Store adapter.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Store } from '../store/store.js';

export type StoreKind = 'sqlite' | 'etcd' | 'memory';

export async function openStore(
  kind: StoreKind,
  opts: { dataDir: string; etcdEndpoints: string[] },
): Promise<Store> {
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await import('../store/memory-store.js');
      return new MemoryStore();
    }
    case 'sqlite': {
      const path = join(opts.dataDir, 'db', 'state.db');
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const mod = await import('../store/sqlite-store.js');
      return mod.openSqliteStore({ path });
    }
    case 'etcd': {
      if (opts.etcdEndpoints.length === 0)
        throw new Error('--store etcd needs --etcd-endpoints (e.g. http://127.0.0.1:2379)');
      const mod = await import('../store/etcd-store.js');
      return mod.openEtcdStore({ endpoints: opts.etcdEndpoints });
    }
  }
}
