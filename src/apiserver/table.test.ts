import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findByKind } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import { startTestServer, type TestServer } from '../testkit/api-server.js';
import { itemTable, objectTable, parseAccept, tableOptionsOf, type TableOptions } from './table.js';

const kubectlAccept =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const q = (s = ''): URLSearchParams => new URLSearchParams(s);
const v1: TableOptions = { version: 'v1', includeObject: 'Metadata' };
const podInfo = findByKind('v1', 'Pod')!;
const now = Date.parse('2026-01-01T00:10:00Z');

function pod(name: string, phase: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '7',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { app: 'web' },
      ...extra,
    },
    spec: { containers: [{ name: 'c', image: 'busybox' }], nodeName: 'n1' },
    status: { phase, podIP: '10.1.0.5' },
  };
}

describe('Accept negotiation', () => {
  it('splits media ranges with their parameters, in order', () => {
    expect(parseAccept('application/json;as=Table;v=v1;g=meta.k8s.io, application/json ;q=0.9')).toEqual([
      { type: 'application/json', params: { as: 'Table', v: 'v1', g: 'meta.k8s.io' } },
      { type: 'application/json', params: { q: '0.9' } },
    ]);
    expect(parseAccept(undefined)).toEqual([]);
  });

  it('serves a Table when the first producible range asks for one', () => {
    expect(tableOptionsOf(kubectlAccept, q())).toEqual({ version: 'v1', includeObject: 'Metadata' });
    expect(
      tableOptionsOf(
        'application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
        q('includeObject=None'),
      ),
    ).toEqual({ version: 'v1beta1', includeObject: 'None' });
    // Plain JSON first, protobuf (not produced) skipped, unknown Table versions skipped.
    expect(
      tableOptionsOf('application/json,application/json;as=Table;v=v1;g=meta.k8s.io', q()),
    ).toBeUndefined();
    expect(
      tableOptionsOf('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json', q()),
    ).toBeUndefined();
    expect(
      tableOptionsOf('application/json;as=Table;v=v2;g=meta.k8s.io,application/json', q()),
    ).toBeUndefined();
    expect(tableOptionsOf(undefined, q())).toBeUndefined();
    expect(tableOptionsOf(kubectlAccept, q('includeObject=Object'))?.includeObject).toBe('Object');
    expect(() => tableOptionsOf(kubectlAccept, q('includeObject=All'))).toThrow(/includeObject/);
  });
});

describe('objectTable', () => {
  it('has the upstream pod columns, cells computed at now, and PartialObjectMetadata rows', () => {
    const t = objectTable(podInfo, [pod('p1', 'Running')], v1, now, {
      resourceVersion: '9',
      continue: 'abc',
    });
    expect(t.kind).toBe('Table');
    expect(t.apiVersion).toBe('meta.k8s.io/v1');
    expect(t.metadata).toEqual({ resourceVersion: '9', continue: 'abc' });
    expect(t.columnDefinitions.map((c) => [c.name, c.priority])).toEqual([
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ]);
    expect(t.columnDefinitions[0]).toMatchObject({ format: 'name', type: 'string' });
    for (const c of t.columnDefinitions)
      expect(Object.keys(c).sort()).toEqual(['description', 'format', 'name', 'priority', 'type']);
    const row = t.rows[0]!;
    expect(row.cells).toEqual(['p1', '0/1', 'Running', '0', '10m', '10.1.0.5', 'n1', '<none>', '<none>']);
    expect(row.conditions).toBeUndefined();
    expect(row.object).toEqual({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: pod('p1', 'Running').metadata,
    });
  });

  it('marks finished pods Completed, as upstream printPod does', () => {
    const t = objectTable(podInfo, [pod('ok', 'Succeeded'), pod('bad', 'Failed')], v1, now);
    expect(t.rows[0]!.conditions).toEqual([
      {
        type: 'Completed',
        status: 'True',
        reason: 'Succeeded',
        message: 'The pod has completed successfully.',
      },
    ]);
    expect(t.rows[1]!.conditions).toMatchObject([{ type: 'Completed', status: 'True', reason: 'Failed' }]);
  });

  it('includes the whole object, or nothing, on request; v1beta1 tables for v1beta1 clients', () => {
    const p = pod('p1', 'Running');
    expect(objectTable(podInfo, [p], { version: 'v1', includeObject: 'Object' }, now).rows[0]!.object).toBe(
      p,
    );
    expect(
      'object' in objectTable(podInfo, [p], { version: 'v1', includeObject: 'None' }, now).rows[0]!,
    ).toBe(false);
    const beta = objectTable(podInfo, [p], { version: 'v1beta1', includeObject: 'Metadata' }, now);
    expect(beta.apiVersion).toBe('meta.k8s.io/v1beta1');
    expect((beta.rows[0]!.object as { apiVersion: string }).apiVersion).toBe('meta.k8s.io/v1beta1');
  });

  it('takes an item table resourceVersion from the object; leaves columns out on request', () => {
    expect(itemTable(podInfo, pod('p1', 'Running'), v1, now).metadata).toEqual({ resourceVersion: '7' });
    expect(objectTable(podInfo, [], v1, now, {}, false).columnDefinitions).toEqual([]);
  });
});

describe('Tables over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
    await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'one', labels: { app: 'a' } },
      data: { a: '1', b: '2' },
    });
    await s.request('POST', '/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
  });
  afterAll(async () => {
    await s.close();
  });

  const get = async (path: string, accept = kubectlAccept): Promise<any> => {
    const res = await fetch(`${s.url}${path}`, { headers: { Accept: accept } });
    expect(res.headers.get('content-type')).toBe('application/json');
    return res.json();
  };

  it('answers lists and items with Tables, plain JSON otherwise', async () => {
    const list = await get('/api/v1/namespaces/default/configmaps?limit=500');
    expect(list.kind).toBe('Table');
    expect(list.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(list.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'Data', 'Age']);
    expect(list.rows).toHaveLength(1);
    expect(list.rows[0].cells.slice(0, 2)).toEqual(['one', 2]);
    expect(list.rows[0].object.metadata).toMatchObject({
      name: 'one',
      namespace: 'default',
      labels: { app: 'a' },
      resourceVersion: expect.stringMatching(/^\d+$/),
      uid: expect.any(String),
      creationTimestamp: expect.any(String),
    });
    const item = await get('/apis/apps/v1/namespaces/default/deployments/web');
    expect(item.kind).toBe('Table');
    expect(item.metadata.resourceVersion).toBe(item.rows[0].object.metadata.resourceVersion);
    expect(item.rows[0].cells.slice(0, 4)).toEqual(['web', '0/3', 0, 0]);
    expect((await get('/api/v1/namespaces/default/configmaps/one', 'application/json')).kind).toBe(
      'ConfigMap',
    );
    expect((await get('/api/v1/configmaps', 'application/json')).kind).toBe('ConfigMapList');
  });

  it('pages tables with continue tokens', async () => {
    await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'two' },
    });
    const first = await get('/api/v1/namespaces/default/configmaps?limit=1');
    expect(first.rows).toHaveLength(1);
    expect(first.metadata.continue).toEqual(expect.any(String));
    const second = await get(
      `/api/v1/namespaces/default/configmaps?limit=1&continue=${encodeURIComponent(first.metadata.continue)}`,
    );
    expect(second.rows.map((r: any) => r.cells[0])).toEqual(['two']);
  });

  it('serves the scale subresource as a Table', async () => {
    const t = await get('/apis/apps/v1/namespaces/default/deployments/web/scale');
    expect(t.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Desired',
      'Available',
      'Age',
    ]);
    expect(t.rows[0].cells.slice(0, 3)).toEqual(['web', 3, 0]);
  });

  it('sends watch events as one-row Tables, column definitions on the first only', async () => {
    const list = await get('/api/v1/namespaces/default/configmaps');
    const controller = new AbortController();
    const res = await fetch(
      `${s.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
      { headers: { Accept: kubectlAccept }, signal: controller.signal },
    );
    const reader = res.body!.getReader();
    const events: any[] = [];
    let buf = '';
    const decoder = new TextDecoder();
    await s.request('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'three' },
      data: { x: 'y' },
    });
    await s.request('DELETE', '/api/v1/namespaces/default/configmaps/three');
    try {
      while (events.length < 2) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      }
    } finally {
      controller.abort();
    }
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
    expect(events[0].object.kind).toBe('Table');
    expect(events[0].object.columnDefinitions).toHaveLength(3);
    expect(events[0].object.rows[0].cells.slice(0, 2)).toEqual(['three', 1]);
    expect(events[0].object.rows[0].object.kind).toBe('PartialObjectMetadata');
    expect(events[1].object.columnDefinitions).toEqual([]);
    expect(events[1].object.rows[0].object.metadata.name).toBe('three');
  });

  it('rejects an unknown includeObject', async () => {
    const res = await fetch(`${s.url}/api/v1/configmaps?includeObject=Everything`, {
      headers: { Accept: kubectlAccept },
    });
    expect(res.status).toBe(400);
  });
});
