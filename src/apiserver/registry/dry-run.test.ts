// dryRun=All on every write verb: the answer is the would-be object and the store does not move.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const created = await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', finalizers: ['example.com/hold'] },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
      },
    },
  });
  expect(created.status).toBe(201);
  for (const name of ['a', 'b']) {
    const cm = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, labels: { set: 'x' } },
      data: { k: 'v' },
    });
    expect(cm.status).toBe(201);
  }
});
afterAll(async () => {
  await s.close();
});

const dep = '/apis/apps/v1/namespaces/default/deployments/web';

async function unchanged<T>(what: () => Promise<T>): Promise<T> {
  const before = await s.store.currentRevision();
  const result = await what();
  expect(await s.store.currentRevision()).toBe(before);
  return result;
}

describe('dryRun=All', () => {
  it('create answers the would-be object, and AlreadyExists for a taken name', async () => {
    const body = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'new' }, data: { x: '1' } };
    const r = await unchanged(() =>
      s.request('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', body),
    );
    expect(r.status).toBe(201);
    expect(r.body.metadata.uid).toBeDefined();
    expect(r.body.metadata.managedFields?.[0]).toMatchObject({ operation: 'Update' });
    expect((await s.request('GET', '/api/v1/namespaces/default/configmaps/new')).status).toBe(404);
    const taken = await unchanged(() =>
      s.request('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', {
        ...body,
        metadata: { name: 'a' },
      }),
    );
    expect(taken.status).toBe(409);
    expect(taken.body.reason).toBe('AlreadyExists');
  });

  it('update, every patch type and apply answer the change without storing it', async () => {
    const live = (await s.request('GET', dep)).body;
    const put = await unchanged(() =>
      s.request('PUT', `${dep}?dryRun=All`, { ...live, spec: { ...live.spec, replicas: 7 } }),
    );
    expect(put.status).toBe(200);
    expect(put.body.spec.replicas).toBe(7);
    const patches: [string, unknown][] = [
      ['application/merge-patch+json', { spec: { replicas: 7 } }],
      ['application/json-patch+json', [{ op: 'replace', path: '/spec/replicas', value: 7 }]],
      ['application/strategic-merge-patch+json', { spec: { replicas: 7 } }],
    ];
    for (const [type, body] of patches) {
      const r = await unchanged(() => s.request('PATCH', `${dep}?dryRun=All`, body, type));
      expect(r.status, type).toBe(200);
      expect(r.body.spec.replicas, type).toBe(7);
      expect(r.body.metadata.generation, type).toBe(2);
    }
    const applied = await unchanged(() =>
      s.request(
        'PATCH',
        `${dep}?dryRun=All&fieldManager=tester&force=true`,
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 7\n',
        'application/apply-patch+yaml',
      ),
    );
    expect(applied.status).toBe(200);
    expect(applied.body.spec.replicas).toBe(7);
    expect(applied.body.metadata.managedFields.map((m: any) => m.manager)).toContain('tester');
    const createdByApply = await unchanged(() =>
      s.request(
        'PATCH',
        '/api/v1/namespaces/default/configmaps/fresh?dryRun=All&fieldManager=tester',
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fresh' }, data: { a: '1' } },
        'application/apply-patch+yaml',
      ),
    );
    expect(createdByApply.status).toBe(201);
    expect((await s.request('GET', '/api/v1/namespaces/default/configmaps/fresh')).status).toBe(404);
    expect((await s.request('GET', dep)).body.spec.replicas).toBe(2);
  });

  it('status, scale and namespace finalize answer the change without storing it', async () => {
    const status = await unchanged(() =>
      s.request(
        'PATCH',
        `${dep}/status?dryRun=All`,
        { status: { replicas: 5 } },
        'application/merge-patch+json',
      ),
    );
    expect(status.status).toBe(200);
    expect(status.body.status.replicas).toBe(5);
    const scale = await unchanged(() =>
      s.request(
        'PATCH',
        `${dep}/scale?dryRun=All`,
        { spec: { replicas: 9 } },
        'application/merge-patch+json',
      ),
    );
    expect(scale.body.spec.replicas).toBe(9);
    const scalePut = await unchanged(() =>
      s.request('PUT', `${dep}/scale?dryRun=All`, { kind: 'Scale', spec: { replicas: 8 } }),
    );
    expect(scalePut.body.spec.replicas).toBe(8);
    const fin = await unchanged(() =>
      s.request('PUT', '/api/v1/namespaces/kube-system/finalize?dryRun=All', { spec: { finalizers: [] } }),
    );
    expect(fin.status).toBe(200);
    expect(fin.body.spec.finalizers ?? []).toEqual([]);
    expect((await s.request('GET', '/api/v1/namespaces/kube-system')).body.spec.finalizers).toEqual([
      'kubernetes',
    ]);
  });

  it('delete and deletecollection, asked in the query or in DeleteOptions, delete nothing', async () => {
    const q = await unchanged(() =>
      s.request('DELETE', '/api/v1/namespaces/default/configmaps/a?dryRun=All'),
    );
    expect(q.status).toBe(200);
    const body = await unchanged(() =>
      s.request('DELETE', '/api/v1/namespaces/default/configmaps/a', {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Background',
        dryRun: ['All'],
      }),
    );
    expect(body.status).toBe(200);
    const finalizing = await unchanged(() => s.request('DELETE', `${dep}?dryRun=All`));
    expect(finalizing.status).toBe(202);
    expect(finalizing.body.metadata.deletionTimestamp).toBeDefined();
    const all = await unchanged(() =>
      s.request('DELETE', '/api/v1/namespaces/default/configmaps?labelSelector=set%3Dx', {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        dryRun: ['All'],
      }),
    );
    expect(all.status).toBe(200);
    expect(all.body.items.map((i: any) => i.metadata.name).sort()).toEqual(['a', 'b']);
    const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    expect(list.body.items.map((i: any) => i.metadata.name).sort()).toEqual(['a', 'b']);
    expect((await s.request('GET', dep)).body.metadata.deletionTimestamp).toBeUndefined();
    const bad = await unchanged(() =>
      s.request('DELETE', '/api/v1/namespaces/default/configmaps/a', {
        kind: 'DeleteOptions',
        dryRun: ['Some'],
      }),
    );
    expect(bad.status).toBe(400);
  });
});
