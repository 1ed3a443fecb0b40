// After compaction, lists and watches from a compacted resourceVersion answer 410 Expired (SQLite, etcd),
// while current state is intact — what clients' informers rely on to relist.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdInstance } from '../../src/testkit/etcd.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { callerFor } from '../../src/testkit/http.js';

async function compactedResume(cluster: TestCluster): Promise<void> {
  const api = callerFor(cluster, { connections: 8 });
  try {
    const cm = (name: string, v: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data: { v },
    });
    const first = await api.call('POST', '/api/v1/namespaces/default/configmaps', cm('compact-me', '1'));
    const oldRv = first.body.metadata.resourceVersion;
    for (let i = 2; i <= 5; i++) {
      const cur = await api.call('GET', '/api/v1/namespaces/default/configmaps/compact-me');
      expect(
        (
          await api.call('PUT', '/api/v1/namespaces/default/configmaps/compact-me', {
            ...cur.body,
            data: { v: String(i) },
          })
        ).status,
      ).toBe(200);
    }
    // A paginated list started before compaction.
    const page = await api.call('GET', '/api/v1/namespaces?limit=1');
    expect(page.body.metadata.continue).toBeDefined();
    // One more write, so the page's revision is strictly older than the compaction point.
    expect((await api.call('POST', '/api/v1/namespaces/default/configmaps', cm('later', 'x'))).status).toBe(
      201,
    );

    await cluster.store.compact(await cluster.store.currentRevision());

    const watch = await api.call(
      'GET',
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${oldRv}`,
    );
    expect(watch.status, JSON.stringify(watch.body)).toBe(410);
    expect(watch.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    const exact = await api.call(
      'GET',
      `/api/v1/namespaces/default/configmaps?resourceVersion=${oldRv}&resourceVersionMatch=Exact`,
    );
    expect(exact.status, JSON.stringify(exact.body)).toBe(410);
    const cont = await api.call('GET', `/api/v1/namespaces?limit=1&continue=${page.body.metadata.continue}`);
    expect(cont.status, JSON.stringify(cont.body)).toBe(410);
    expect(cont.body.message).toContain('continue');
    // Current state survives compaction.
    const now = await api.call('GET', '/api/v1/namespaces/default/configmaps/compact-me');
    expect(now.body.data.v).toBe('5');
    // A watch from the current revision works.
    const rv = (await api.call('GET', '/api/v1/namespaces/default/configmaps')).body.metadata.resourceVersion;
    const fresh = await api.call(
      'GET',
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`,
    );
    expect(fresh.status).toBe(200);
  } finally {
    await api.close();
  }
}

describe('compaction', () => {
  it('SQLite: a resume from a compacted revision gets 410', async () => {
    const cluster = await startTestCluster({ store: 'sqlite' });
    try {
      await compactedResume(cluster);
    } finally {
      await cluster.destroy();
    }
  });

  describe('etcd', () => {
    let etcd: EtcdInstance;
    beforeAll(async () => {
      etcd = await startEtcd();
    });
    afterAll(async () => {
      await etcd.stop();
    });
    it('etcd: a resume from a compacted revision gets 410', async () => {
      const cluster = await startTestCluster({ store: 'etcd', etcdEndpoints: [etcd.endpoint] });
      try {
        await compactedResume(cluster);
      } finally {
        await cluster.destroy();
      }
    });
  });
});
