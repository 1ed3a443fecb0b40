import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testkit/api-server.js';
import { readWatchEvents } from '../testkit/http.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const cm = (name: string, data: Record<string, string> = { a: '1' }, labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
  data,
});

const deployment = (name: string, replicas = 2) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
    },
  },
});

describe('discovery and version', () => {
  it('serves /version, /api, /apis and per-group resource lists with short names and categories', async () => {
    const v = await s.request('GET', '/version');
    expect(v.body.major).toBe('1');
    expect((await s.request('GET', '/api')).body.versions).toEqual(['v1']);
    const groups = (await s.request('GET', '/apis')).body.groups.map((g: any) => g.name);
    expect(groups).toEqual(
      expect.arrayContaining(['apps', 'autoscaling', 'discovery.k8s.io', 'coordination.k8s.io']),
    );
    const core = (await s.request('GET', '/api/v1')).body.resources;
    const pods = core.find((r: any) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'] });
    const apps = (await s.request('GET', '/apis/apps/v1')).body.resources;
    expect(apps.find((r: any) => r.name === 'deployments/scale')).toMatchObject({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
  });
});

describe('CRUD', () => {
  it('creates, reads, lists, updates and deletes with resourceVersions, uid and timestamps', async () => {
    const created = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('crud'));
    expect(created.status).toBe(201);
    expect(created.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body.metadata.creationTimestamp).toMatch(/Z$/);
    const rv1 = Number(created.body.metadata.resourceVersion);
    expect(rv1).toBeGreaterThan(0);

    const got = await s.request('GET', '/api/v1/namespaces/default/configmaps/crud');
    expect(got.body).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1', data: { a: '1' } });

    const updated = await s.request('PUT', '/api/v1/namespaces/default/configmaps/crud', {
      ...got.body,
      data: { a: '2' },
    });
    expect(updated.status).toBe(200);
    expect(Number(updated.body.metadata.resourceVersion)).toBeGreaterThan(rv1);

    // A stale resourceVersion is a conflict.
    const stale = await s.request('PUT', '/api/v1/namespaces/default/configmaps/crud', {
      ...got.body,
      data: { a: '3' },
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });

    const list = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    expect(list.body.kind).toBe('ConfigMapList');
    expect(list.body.items.map((i: any) => i.metadata.name)).toContain('crud');

    const del = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/crud');
    expect(del.status).toBe(200);
    const gone = await s.request('GET', '/api/v1/namespaces/default/configmaps/crud');
    expect(gone.status).toBe(404);
    expect(gone.body.message).toBe('configmaps "crud" not found');
  });

  it('rejects duplicates, missing namespaces and a namespace mismatch', async () => {
    await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('dup'));
    const again = await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('dup'));
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe('AlreadyExists');
    const nons = await s.request('POST', '/api/v1/namespaces/nope/configmaps', cm('x'));
    expect(nons.status).toBe(404);
    expect(nons.body.message).toContain('namespaces "nope" not found');
    const mismatch = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      ...cm('y'),
      metadata: { name: 'y', namespace: 'kube-system' },
    });
    expect(mismatch.status).toBe(400);
  });

  it('supports generateName', async () => {
    const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'gen-' },
    });
    expect(r.status).toBe(201);
    expect(r.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
  });

  it('lists across namespaces, by label and by field selector, with pagination', async () => {
    await s.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'sel' },
    });
    for (let i = 0; i < 7; i++) {
      await s.request(
        'POST',
        '/api/v1/namespaces/sel/configmaps',
        cm(`c${i}`, {}, { tier: i % 2 === 0 ? 'even' : 'odd' }),
      );
    }
    const even = await s.request('GET', '/api/v1/namespaces/sel/configmaps?labelSelector=tier%3Deven');
    expect(even.body.items).toHaveLength(4);
    const notin = await s.request(
      'GET',
      '/api/v1/namespaces/sel/configmaps?labelSelector=' + encodeURIComponent('tier notin (even)'),
    );
    expect(notin.body.items).toHaveLength(3);
    const byName = await s.request('GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dc3');
    expect(byName.body.items.map((i: any) => i.metadata.namespace)).toEqual(['sel']);
    const bad = await s.request('GET', '/api/v1/configmaps?fieldSelector=spec.foo%3D1');
    expect(bad.status).toBe(400);
    const badLabel = await s.request(
      'GET',
      '/api/v1/configmaps?labelSelector=' + encodeURIComponent('a in (b'),
    );
    expect(badLabel.status).toBe(400);

    const names: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await s.request(
        'GET',
        `/api/v1/namespaces/sel/configmaps?limit=3${token === '' ? '' : `&continue=${token}`}`,
      );
      expect(page.status).toBe(200);
      names.push(...page.body.items.map((i: any) => i.metadata.name));
      token = page.body.metadata.continue ?? '';
      pages++;
    } while (token !== '');
    expect(pages).toBe(3);
    expect(names).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  });
});

describe('errors', () => {
  it('gives Status objects for unknown resources, bad bodies, huge bodies and bad media types', async () => {
    const unknown = await s.request('GET', '/api/v1/namespaces/default/widgets');
    expect(unknown.status).toBe(404);
    expect(unknown.body.kind).toBe('Status');
    const badJson = await s.request('POST', '/api/v1/namespaces/default/configmaps', '{"kind":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.message).toContain('not valid JSON');
    const huge = await s.request(
      'POST',
      '/api/v1/namespaces/default/configmaps',
      cm('huge', { a: 'x'.repeat(4 * 1024 * 1024) }),
    );
    expect(huge.status).toBe(413);
    expect(huge.body.reason).toBe('RequestEntityTooLarge');
    const proto = await s.request(
      'POST',
      '/api/v1/namespaces/default/configmaps',
      'k8s\u0000',
      'application/vnd.kubernetes.protobuf',
    );
    expect(proto.status).toBe(415);
    const wrongKind = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      ...cm('w'),
      kind: 'Secret',
    });
    expect(wrongKind.status).toBe(400);
    const methodNo = await s.request('POST', '/api/v1/namespaces/default/configmaps/x', cm('x'));
    expect(methodNo.status).toBe(405);
  });
});

describe('status, generation and scale', () => {
  it('bumps generation on spec changes only and keeps status out of main-resource writes', async () => {
    const c = await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', {
      ...deployment('gen'),
      status: { replicas: 9 },
    });
    expect(c.status).toBe(201);
    expect(c.body.metadata.generation).toBe(1);
    expect(c.body.status?.replicas).toBeUndefined();

    const labelled = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/gen', {
      ...c.body,
      metadata: { ...c.body.metadata, labels: { app: 'gen', extra: 'yes' } },
    });
    expect(labelled.body.metadata.generation).toBe(1);

    const status = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/gen/status', {
      ...labelled.body,
      spec: { ...labelled.body.spec, replicas: 50 },
      status: { replicas: 2, observedGeneration: 1 },
    });
    expect(status.status).toBe(200);
    expect(status.body.status.replicas).toBe(2);
    expect(status.body.spec.replicas).toBe(2);

    const spec = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/gen', {
      ...status.body,
      spec: { ...status.body.spec, replicas: 3 },
      status: {},
    });
    expect(spec.body.metadata.generation).toBe(2);
    expect(spec.body.status.replicas).toBe(2);
  });

  it('serves the scale subresource', async () => {
    await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('sc', 2));
    const scale = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/sc/scale');
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 2 },
      status: { selector: 'app=sc' },
    });
    const put = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/sc/scale', {
      ...scale.body,
      spec: { replicas: 5 },
    });
    expect(put.body.spec.replicas).toBe(5);
    const dep = await s.request('GET', '/apis/apps/v1/namespaces/default/deployments/sc');
    expect(dep.body.spec.replicas).toBe(5);
    const stale = await s.request('PUT', '/apis/apps/v1/namespaces/default/deployments/sc/scale', {
      ...scale.body,
      spec: { replicas: 1 },
    });
    expect(stale.status).toBe(409);
  });
});

describe('deletion', () => {
  it('keeps an object with finalizers until they are removed, and honours foreground/orphan policies', async () => {
    const c = await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      ...cm('fin'),
      metadata: { name: 'fin', finalizers: ['example.com/hold'] },
    });
    expect(c.status).toBe(201);
    const d = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/fin');
    expect(d.status).toBe(202);
    const held = await s.request('GET', '/api/v1/namespaces/default/configmaps/fin');
    expect(held.body.metadata.deletionTimestamp).toBeDefined();
    const released = await s.request('PUT', '/api/v1/namespaces/default/configmaps/fin', {
      ...held.body,
      metadata: { ...held.body.metadata, finalizers: [] },
    });
    expect(released.status).toBe(200);
    expect((await s.request('GET', '/api/v1/namespaces/default/configmaps/fin')).status).toBe(404);

    await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('fg'));
    const fg = await s.request('DELETE', '/apis/apps/v1/namespaces/default/deployments/fg', {
      propagationPolicy: 'Foreground',
    });
    expect(fg.body.metadata.finalizers).toContain('foregroundDeletion');
    await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('orph'));
    const or = await s.request(
      'DELETE',
      '/apis/apps/v1/namespaces/default/deployments/orph?propagationPolicy=Orphan',
    );
    expect(or.body.metadata.finalizers).toContain('orphan');
  });

  it('checks delete preconditions', async () => {
    await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('pre'));
    const r = await s.request('DELETE', '/api/v1/namespaces/default/configmaps/pre', {
      preconditions: { uid: 'not-it' },
    });
    expect(r.status).toBe(409);
  });
});

describe('watch', () => {
  it('replays from a resourceVersion, filters by selector and reports deletions', async () => {
    const base = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    const rv = base.body.metadata.resourceVersion;
    const pending = readWatchEvents(
      `${s.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&labelSelector=w%3Dyes`,
      3,
    );
    await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('w1', {}, { w: 'yes' }));
    await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('w2', {}, { w: 'no' }));
    const w1 = await s.request('GET', '/api/v1/namespaces/default/configmaps/w1');
    await s.request('PUT', '/api/v1/namespaces/default/configmaps/w1', { ...w1.body, data: { b: '2' } });
    await s.request('DELETE', '/api/v1/namespaces/default/configmaps/w1');
    const events = await pending;
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED w1',
      'MODIFIED w1',
      'DELETED w1',
    ]);
    const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
  });

  it('sends initial events and the initial-events-end bookmark for sendInitialEvents', async () => {
    await s.request('POST', '/api/v1/namespaces/default/configmaps', cm('init1'));
    const events = await readWatchEvents(
      `${s.url}/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dinit1`,
      2,
    );
    expect(events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'init1' } } });
    expect(events[1]).toMatchObject({
      type: 'BOOKMARK',
      object: { kind: 'ConfigMap', metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } },
    });
  });

  it('answers 410 Expired for a compacted resourceVersion', async () => {
    const current = await s.store.currentRevision();
    await s.store.compact(current);
    const res = await fetch(`${s.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1`);
    expect(res.status).toBe(410);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
  });
});
