// The `kubernetes` ServiceCIDR: it mirrors --service-cluster-ip-range, clients may only read it, and a
// restart with another range replaces it (a MODIFIED event for watchers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.js';
import { installKindHooks } from './hooks.js';
import { startApiServer } from './server.js';
import { readWatchEvents } from '../testkit/http.js';

const collection = '/apis/networking.k8s.io/v1/servicecidrs';
const item = `${collection}/kubernetes`;

type Running = Awaited<ReturnType<typeof startApiServer>>;

async function start(store: MemoryStore, range: string | undefined): Promise<Running> {
  installKindHooks();
  return startApiServer({
    store,
    listen: '127.0.0.1:0',
    log: () => undefined,
    ...(range === undefined ? {} : { serviceClusterIPRange: range }),
  });
}

async function request(
  server: Running,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  accept?: string,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = contentType;
  if (accept !== undefined) headers['Accept'] = accept;
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('the kubernetes ServiceCIDR', () => {
  const store = new MemoryStore();
  let server: Running;
  beforeAll(async () => {
    server = await start(store, '10.96.0.0/12');
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('holds the --service-cluster-ip-range the server was started with, Ready', async () => {
    const res = await request(server, 'GET', item);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'ServiceCIDR',
      metadata: { name: 'kubernetes' },
      spec: { cidrs: ['10.96.0.0/12'] },
    });
    expect(res.body.metadata.namespace).toBeUndefined();
    expect(res.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.status.conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'ServiceClusterIPRange',
        message: 'The Service ClusterIP range set by the API server flag --service-cluster-ip-range',
        lastTransitionTime: res.body.metadata.creationTimestamp,
      },
    ]);
    const list = await request(server, 'GET', collection);
    expect(list.body.kind).toBe('ServiceCIDRList');
    expect(list.body.items.map((i: any) => [i.metadata.name, i.spec.cidrs])).toEqual([
      ['kubernetes', ['10.96.0.0/12']],
    ]);
  });

  it('prints NAME, CIDRS and AGE as a table', async () => {
    const res = await request(
      server,
      'GET',
      collection,
      undefined,
      undefined,
      'application/json;as=Table;v=v1;g=meta.k8s.io',
    );
    expect(res.body.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'CIDRs', 'Age']);
    expect(res.body.rows.map((r: any) => r.cells.slice(0, 2))).toEqual([['kubernetes', '10.96.0.0/12']]);
  });

  const writes: [string, string, string, unknown, string?][] = [
    [
      'create',
      'POST',
      collection,
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'ServiceCIDR',
        metadata: { name: 'extra' },
        spec: { cidrs: ['10.200.0.0/16'] },
      },
    ],
    [
      'update',
      'PUT',
      item,
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'ServiceCIDR',
        metadata: { name: 'kubernetes' },
        spec: { cidrs: ['10.200.0.0/16'] },
      },
    ],
    ['patch', 'PATCH', item, { spec: { cidrs: ['10.200.0.0/16'] } }, 'application/merge-patch+json'],
    [
      'patch',
      'PATCH',
      `${item}?fieldManager=me`,
      'apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: kubernetes}\nspec: {cidrs: [10.200.0.0/16]}\n',
      'application/apply-patch+yaml',
    ],
    ['patch', 'PATCH', `${collection}/extra?fieldManager=me`, '{}', 'application/apply-patch+yaml'],
    ['delete', 'DELETE', item, undefined],
    ['delete', 'DELETE', `${item}?dryRun=All`, undefined],
    ['deletecollection', 'DELETE', collection, undefined],
  ];

  it.each(writes)(
    'refuses %s (%s %s) with 405 and stores nothing',
    async (verb, method, path, body, type) => {
      const before = (await request(server, 'GET', item)).body;
      const res = await request(server, method, path, body, type);
      expect(res.status).toBe(405);
      expect(res.body).toMatchObject({
        kind: 'Status',
        status: 'Failure',
        reason: 'MethodNotAllowed',
        code: 405,
      });
      expect(res.body.message).toBe(
        `${verb} is not allowed on servicecidrs.networking.k8s.io: servicecidrs are read-only; the Service ClusterIP range is set by the API server flag --service-cluster-ip-range`,
      );
      expect((await request(server, 'GET', item)).body).toEqual(before);
      expect((await request(server, 'GET', `${collection}/extra`)).status).toBe(404);
      expect((await request(server, 'GET', collection)).body.items).toHaveLength(1);
    },
  );

  it('still serves the other resources all their verbs; a verb one does not list is a 405', async () => {
    const ns = await request(server, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'other' },
    });
    expect(ns.status).toBe(201);
    const all = await request(server, 'DELETE', '/api/v1/namespaces');
    expect(all.status).toBe(405);
    expect(all.body.message).toBe(
      'deletecollection is not allowed on namespaces: the supported verbs are create, delete, get, list, patch, update, watch',
    );
    expect((await request(server, 'GET', '/api/v1/namespaces/other')).status).toBe(200);
  });
});

describe('a restart', () => {
  it('with another range replaces the object (watchers see MODIFIED); with the same one leaves it', async () => {
    const store = new MemoryStore();
    try {
      const first = await start(store, undefined);
      const created = (await request(first, 'GET', item)).body;
      expect(created.spec.cidrs).toEqual(['10.43.0.0/16']);
      await first.close();

      // Host bits in the flag are cleared, as the allocator reads it.
      const second = await start(store, '10.44.7.0/16');
      const replaced = (await request(second, 'GET', item)).body;
      expect(replaced.spec.cidrs).toEqual(['10.44.0.0/16']);
      expect(replaced.metadata.uid).toBe(created.metadata.uid);
      expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(
        Number(created.metadata.resourceVersion),
      );
      // Still Ready since it was created: the condition did not transition.
      expect(replaced.status.conditions[0].lastTransitionTime).toBe(
        created.status.conditions[0].lastTransitionTime,
      );
      const events = await readWatchEvents(
        `${second.url}${collection}?watch=true&resourceVersion=${created.metadata.resourceVersion}`,
        1,
      );
      expect(events.map((e) => [e.type, e.object.metadata.name, e.object.spec.cidrs])).toEqual([
        ['MODIFIED', 'kubernetes', ['10.44.0.0/16']],
      ]);
      await second.close();

      const third = await start(store, '10.44.0.0/16');
      const kept = (await request(third, 'GET', item)).body;
      expect(kept.metadata.resourceVersion).toBe(replaced.metadata.resourceVersion);
      await third.close();
    } finally {
      await store.close();
    }
  });
});
