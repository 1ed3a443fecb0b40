// Optimistic concurrency: 20 workers x 100 read-modify-write increments of one ConfigMap field, retrying on
// 409, end at exactly 2,000 — on SQLite and on a real etcd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdInstance } from '../../src/testkit/etcd.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { callerFor } from '../../src/testkit/http.js';

async function incrementRace(cluster: TestCluster): Promise<{ conflicts: number }> {
  const api = callerFor(cluster, { connections: 32 });
  const path = '/api/v1/namespaces/default/configmaps/counter';
  try {
    const created = await api.call('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'counter' },
      data: { count: '0' },
    });
    expect(created.status).toBe(201);
    let conflicts = 0;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        for (;;) {
          const cur = await api.call('GET', path);
          expect(cur.status).toBe(200);
          const next = { ...cur.body, data: { count: String(Number(cur.body.data.count) + 1) } };
          const put = await api.call('PUT', path, next);
          if (put.status === 200) break;
          expect(put.status).toBe(409);
          expect(put.body.reason).toBe('Conflict');
          conflicts++;
          // Back off with jitter before retrying, as client-go's RetryOnConflict does.
          await new Promise((r) => setTimeout(r, 1 + Math.random() * 10));
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
    const final = await api.call('GET', path);
    expect(final.body.data.count).toBe('2000');
    return { conflicts };
  } finally {
    await api.close();
  }
}

describe('optimistic concurrency', () => {
  it('SQLite: 20 x 100 increments end at exactly 2,000', async () => {
    const cluster = await startTestCluster({ store: 'sqlite' });
    try {
      const { conflicts } = await incrementRace(cluster);
      // With 20 racing workers some writes must have lost the race and been retried.
      expect(conflicts).toBeGreaterThan(0);
    } finally {
      await cluster.destroy();
    }
  }, 300_000);

  describe('etcd', () => {
    let etcd: EtcdInstance;
    beforeAll(async () => {
      etcd = await startEtcd();
    });
    afterAll(async () => {
      await etcd.stop();
    });
    it('etcd: 20 x 100 increments end at exactly 2,000', async () => {
      const cluster = await startTestCluster({ store: 'etcd', etcdEndpoints: [etcd.endpoint] });
      try {
        const { conflicts } = await incrementRace(cluster);
        expect(conflicts).toBeGreaterThan(0);
      } finally {
        await cluster.destroy();
      }
    }, 300_000);
  });
});
