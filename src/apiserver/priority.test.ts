// PriorityClass over HTTP, and the admission pods get on create: priority from the class, default
// NoExecute tolerations for not-ready and unreachable nodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installKindHooks } from './hooks.js';
import { startApiServer } from './server.js';
import { MemoryStore } from '../store/memory-store.js';
import { eventually } from '../testkit/eventually.js';
import { PriorityClassCache } from './priority-class-cache.js';
import { startTestServer, type TestServer } from '../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const classesPath = '/apis/scheduling.k8s.io/v1/priorityclasses';
const podsPath = '/api/v1/namespaces/default/pods';
const tableAccept = 'application/json;as=Table;v=v1;g=meta.k8s.io';

const pc = (name: string, fields: Record<string, unknown>) => ({
  apiVersion: 'scheduling.k8s.io/v1',
  kind: 'PriorityClass',
  metadata: { name },
  ...fields,
});

const pod = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'busybox:1' }], ...spec },
});

describe('PriorityClass', () => {
  it('has the built-in system classes from the start', async () => {
    const node = (await s.request('GET', `${classesPath}/system-node-critical`)).body;
    expect(node).toMatchObject({ value: 2000001000, preemptionPolicy: 'PreemptLowerPriority' });
    const cluster = (await s.request('GET', `${classesPath}/system-cluster-critical`)).body;
    expect(cluster.value).toBe(2000000000);
  });

  it('is created, listed as a table and kept immutable where upstream keeps it', async () => {
    const created = await s.request('POST', classesPath, pc('high', { value: 1000, description: 'web' }));
    expect(created.status).toBe(201);
    expect(created.body.preemptionPolicy).toBe('PreemptLowerPriority');
    const res = await fetch(`${s.url}${classesPath}`, { headers: { Accept: tableAccept } });
    const table = (await res.json()) as any;
    expect(table.columnDefinitions.map((c: any) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Value', 0],
      ['Global-Default', 0],
      ['Age', 0],
      ['PreemptionPolicy', 1],
    ]);
    const row = table.rows.find((r: any) => r.cells[0] === 'high');
    expect(row.cells.slice(0, 3)).toEqual(['high', 1000, 'false']);
    expect(row.cells[4]).toBe('PreemptLowerPriority');
    const changed = await s.request(
      'PATCH',
      `${classesPath}/high`,
      { value: 5 },
      'application/merge-patch+json',
    );
    expect(changed.status).toBe(422);
    expect(changed.body.details.causes).toContainEqual(expect.objectContaining({ field: 'value' }));
    const described = await s.request(
      'PATCH',
      `${classesPath}/high`,
      { description: 'web tier' },
      'application/merge-patch+json',
    );
    expect(described.status).toBe(200);
  });

  it.each([
    ['a value above one billion', pc('huge', { value: 2_000_000_000 }), 422, 'value'],
    ['a reserved name', pc('system-mine', { value: 1 }), 422, 'metadata.name'],
    ['no value', pc('empty', {}), 422, 'value'],
    ['a bad preemptionPolicy', pc('odd', { value: 1, preemptionPolicy: 'Maybe' }), 422, 'preemptionPolicy'],
    ['a value of the wrong type', pc('typed', { value: 'ten' }), 422, 'value'],
  ])('refuses %s naming the field', async (_what, body, code, fieldPath) => {
    const res = await s.request('POST', classesPath, body);
    expect(res.status, JSON.stringify(res.body)).toBe(code);
    expect(res.body.details.causes.map((c: any) => c.field)).toContain(fieldPath);
  });

  it('allows one global default only', async () => {
    expect(
      (await s.request('POST', classesPath, pc('first', { value: 10, globalDefault: true }))).status,
    ).toBe(201);
    const second = await s.request('POST', classesPath, pc('second', { value: 20, globalDefault: true }));
    expect(second.status).toBe(403);
    expect(second.body.message).toContain('PriorityClass first is already marked as default');
    expect((await s.request('POST', classesPath, pc('second', { value: 20 }))).status).toBe(201);
    const promote = await s.request(
      'PATCH',
      `${classesPath}/second`,
      { globalDefault: true },
      'application/merge-patch+json',
    );
    expect(promote.status).toBe(403);
    expect((await s.request('DELETE', `${classesPath}/first`)).status).toBe(200);
    expect(
      (
        await s.request(
          'PATCH',
          `${classesPath}/second`,
          { globalDefault: true },
          'application/merge-patch+json',
        )
      ).status,
    ).toBe(200);
    // Leave no default behind for the pod tests.
    expect((await s.request('DELETE', `${classesPath}/second`)).status).toBe(200);
  });

  it('is in discovery as priorityclasses (pc), cluster-scoped', async () => {
    const list = (await s.request('GET', '/apis/scheduling.k8s.io/v1')).body;
    expect(list.resources).toContainEqual(
      expect.objectContaining({
        name: 'priorityclasses',
        kind: 'PriorityClass',
        namespaced: false,
        shortNames: ['pc'],
      }),
    );
  });
});

describe('pod admission', () => {
  it('gives a pod its class priority and preemptionPolicy, and priority 0 without a class', async () => {
    await s.request('POST', classesPath, pc('batch', { value: -5, preemptionPolicy: 'Never' }));
    const classed = await s.request('POST', podsPath, pod('classed', { priorityClassName: 'batch' }));
    expect(classed.status).toBe(201);
    expect(classed.body.spec).toMatchObject({ priority: -5, preemptionPolicy: 'Never' });
    const critical = await s.request(
      'POST',
      podsPath,
      pod('critical', { priorityClassName: 'system-node-critical' }),
    );
    expect(critical.body.spec.priority).toBe(2000001000);
    const plain = await s.request('POST', podsPath, pod('plain'));
    expect(plain.body.spec.priority).toBe(0);
    expect(plain.body.spec.priorityClassName).toBeUndefined();
  });

  it('refuses an unknown class or a priority the class does not give, with 403', async () => {
    const unknown = await s.request('POST', podsPath, pod('x', { priorityClassName: 'foo' }));
    expect(unknown.status).toBe(403);
    expect(unknown.body.reason).toBe('Forbidden');
    expect(unknown.body.message).toBe('pods "x" is forbidden: no PriorityClass with name foo was found');
    const mismatch = await s.request('POST', podsPath, pod('y', { priorityClassName: 'batch', priority: 3 }));
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.message).toContain('the integer value of priority (3) must not be provided');
    // Nothing was stored.
    expect((await s.request('GET', `${podsPath}/x`)).status).toBe(404);
  });

  it('gives pods without a class the global default class', async () => {
    await s.request('POST', classesPath, pc('everyone', { value: 7, globalDefault: true }));
    try {
      const p = await s.request('POST', podsPath, pod('defaulted'));
      expect(p.body.spec).toMatchObject({ priorityClassName: 'everyone', priority: 7 });
      // Pods created through a controller get it too (a Deployment's pod template carries no priority).
      const viaApply = await s.request(
        'PATCH',
        `${podsPath}/applied?fieldManager=test`,
        pod('applied'),
        'application/apply-patch+yaml',
      );
      expect(viaApply.status).toBe(201);
      expect(viaApply.body.spec.priority).toBe(7);
    } finally {
      await s.request('DELETE', `${classesPath}/everyone`);
    }
  });

  it('adds not-ready and unreachable NoExecute tolerations of 10 s unless the pod has its own', async () => {
    const p = (await s.request('POST', podsPath, pod('tol'))).body;
    expect(p.spec.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 10,
      },
    ]);
    const own = (
      await s.request(
        'POST',
        podsPath,
        pod('own', {
          tolerations: [
            {
              key: 'node.kubernetes.io/unreachable',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 600,
            },
          ],
        }),
      )
    ).body;
    expect(own.spec.tolerations.map((t: any) => `${t.key}=${t.tolerationSeconds}`)).toEqual([
      'node.kubernetes.io/unreachable=600',
      'node.kubernetes.io/not-ready=10',
    ]);
  });

  it('lets a pod be replaced with its original manifest (admission-set fields are kept)', async () => {
    const created = (await s.request('POST', podsPath, pod('replace', { priorityClassName: 'batch' }))).body;
    const res = await s.request('PUT', `${podsPath}/replace`, {
      ...pod('replace', { priorityClassName: 'batch' }),
      metadata: { name: 'replace', labels: { a: 'b' }, resourceVersion: created.metadata.resourceVersion },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.metadata.labels).toEqual({ a: 'b' });
    expect(res.body.spec.tolerations).toHaveLength(2);
    expect(res.body.spec.priority).toBe(-5);
  });
});

describe('classes written through another server', () => {
  const key = (name: string) => `/registry/scheduling.k8s.io/priorityclasses/${name}`;
  const stored = (name: string, fields: Record<string, unknown>) =>
    JSON.stringify({ ...pc(name, fields), metadata: { name, uid: name } });

  it('are found by name at once, and as the default once the store watch brings them', async () => {
    await s.store.create(key('remote'), stored('remote', { value: 42, preemptionPolicy: 'Never' }));
    const named = await s.request('POST', podsPath, pod('remote-1', { priorityClassName: 'remote' }));
    expect(named.body.spec).toMatchObject({ priority: 42, preemptionPolicy: 'Never' });
    await s.store.create(key('remote-default'), stored('remote-default', { value: 43, globalDefault: true }));
    try {
      await eventually(async () => {
        const p = await s.request('POST', podsPath, { ...pod(''), metadata: { generateName: 'remote-' } });
        expect(p.body.spec.priority).toBe(43);
      });
    } finally {
      await s.store.delete(key('remote-default'));
    }
    await eventually(async () => {
      const p = await s.request('POST', podsPath, { ...pod(''), metadata: { generateName: 'after-' } });
      expect(p.body.spec.priority).toBe(0);
    });
  });
});

describe('PriorityClassCache', () => {
  it('never moves a class back to an older write', () => {
    const cache = new PriorityClassCache();
    const obj = (value: number) => ({ ...pc('c', { value }), metadata: { name: 'c' } });
    cache.apply(obj(2), false, 20);
    cache.apply(obj(1), false, 10);
    // Not started: it cannot be trusted yet, so lookups go to the store.
    expect(cache.get('c')).toBeUndefined();
    expect(cache.all()).toBeUndefined();
  });

  it('follows the store once started', async () => {
    const store = new MemoryStore();
    const cache = new PriorityClassCache();
    await store.create(
      '/registry/scheduling.k8s.io/priorityclasses/a',
      JSON.stringify(pc('a', { value: 1 })),
    );
    await cache.start(store);
    try {
      expect(cache.get('a')?.value).toBe(1);
      const b = { ...pc('b', { value: 2, globalDefault: true }), metadata: { name: 'b' } };
      cache.apply(b, false, 100);
      expect(
        cache
          .all()
          ?.map((c) => c.name)
          .sort(),
      ).toEqual(['a', 'b']);
      // A stale watch event for b (older revision) does not undo the newer write.
      cache.apply(b, true, 50);
      expect(cache.get('b')?.globalDefault).toBe(true);
      cache.apply(b, true, 101);
      expect(cache.get('b')).toBeUndefined();
    } finally {
      cache.close();
      await store.close();
    }
  });
});

describe('toleration seconds options', () => {
  it('are taken from the server options', async () => {
    installKindHooks();
    const store = new MemoryStore();
    const running = await startApiServer({
      store,
      listen: '127.0.0.1:0',
      log: () => undefined,
      defaultNotReadyTolerationSeconds: 30,
      defaultUnreachableTolerationSeconds: 45,
    });
    try {
      const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
      const headers = { 'Content-Type': 'application/json' };
      await fetch(`${running.url}/api/v1/namespaces`, { method: 'POST', headers, body: JSON.stringify(ns) });
      const res = await fetch(`${running.url}${podsPath}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(pod('p')),
      });
      const body = (await res.json()) as any;
      expect(body.spec.tolerations.map((t: any) => t.tolerationSeconds)).toEqual([30, 45]);
    } finally {
      await running.close();
      await store.close();
    }
  });

  it('refuse a negative number', async () => {
    installKindHooks();
    const store = new MemoryStore();
    await expect(
      startApiServer({
        store,
        listen: '127.0.0.1:0',
        log: () => undefined,
        defaultNotReadyTolerationSeconds: -1,
      }),
    ).rejects.toThrow(/defaultNotReadyTolerationSeconds must be a whole number/);
    await store.close();
  });
});
