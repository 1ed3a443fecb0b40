// GET /metrics on the API server: authentication, request and store metrics, controller workqueues.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.js';
import { eventually } from '../testkit/eventually.js';
import { parseSamples, sampleValue } from '../testkit/prometheus.js';
import { startControllers, type ControllerSet } from './controllers.js';
import { startApiServer, type ApiServer, type RunningApiServer } from './server.js';

const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
const nobodyToken = `nobody-${Math.random().toString(36).slice(2)}`;
const tokens = [
  { token: adminToken, name: 'admin', uid: 'admin', groups: ['system:masters'] },
  { token: nobodyToken, name: 'nobody', uid: 'nobody', groups: [] },
];

type Running = RunningApiServer & { api: ApiServer };
let server: Running;
let other: Running;
let controllers: ControllerSet | undefined;

async function start(): Promise<Running> {
  return startApiServer({ store: new MemoryStore(), listen: '127.0.0.1:0', tokens, log: () => undefined });
}

function call(
  s: Running,
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Response> {
  const token = init.token === undefined ? adminToken : init.token;
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  return fetch(`${s.url}${path}`, { ...init, headers });
}

async function scrape(s: Running): Promise<string> {
  const res = await call(s, '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

beforeAll(async () => {
  server = await start();
  other = await start();
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
  const res = await call(server, '/api/v1/namespaces', {
    method: 'POST',
    body: JSON.stringify(ns),
    headers: { 'Content-Type': 'application/json' },
  });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await controllers?.stop();
  await server.close();
  await other.close();
  await server.api.store.close();
  await other.api.store.close();
});

describe('GET /metrics on the API server', () => {
  it('needs a token (401) and a user allowed to read (403), like upstream', async () => {
    const anonymous = await call(server, '/metrics', { token: null });
    expect(anonymous.status).toBe(401);
    const nobody = await call(server, '/metrics', { token: nobodyToken });
    expect(nobody.status).toBe(403);
    expect(((await nobody.json()) as { message: string }).message).toBe(
      'User "nobody" cannot get path "/metrics"',
    );
    // Health and version stay anonymous.
    expect((await call(server, '/healthz', { token: null })).status).toBe(200);
    expect((await call(server, '/version', { token: null })).status).toBe(200);
  });

  it('counts requests by verb, resource and code, with a latency histogram, per server', async () => {
    for (let i = 0; i < 3; i++) expect((await call(server, '/api/v1/pods')).status).toBe(200);
    expect((await call(server, '/api/v1/namespaces/default/configmaps/missing')).status).toBe(404);
    const text = await scrape(server);
    expect(text).toMatch(/^apiserver_request_total\{[^}]*verb="LIST"[^}]*resource="pods"[^}]*\} 3$/m);
    const listPods = { verb: 'LIST', group: '', resource: 'pods', subresource: '' };
    expect(sampleValue(text, 'apiserver_request_total', { ...listPods, code: '200' })).toBe(3);
    expect(
      sampleValue(text, 'apiserver_request_total', { verb: 'GET', resource: 'configmaps', code: '404' }),
    ).toBe(1);
    expect(sampleValue(text, 'apiserver_request_duration_seconds_bucket', { ...listPods, le: '+Inf' })).toBe(
      3,
    );
    expect(sampleValue(text, 'apiserver_request_duration_seconds_count', listPods)).toBe(3);
    expect(text).toMatch(
      /^apiserver_request_duration_seconds_bucket\{le="\+Inf",verb="LIST",group="",resource="pods",subresource=""\} 3$/m,
    );
    // The failed anonymous scrape counts too, with its code.
    expect(sampleValue(text, 'apiserver_request_total', { verb: 'GET', resource: '', code: '401' })).toBe(1);
    // This scrape is itself in flight while the text is rendered.
    expect(sampleValue(text, 'apiserver_current_inflight_requests', { request_kind: 'readOnly' })).toBe(1);
    expect(text).toContain('process_resident_memory_bytes');
    // Another server in the same process has figures of its own.
    expect(
      sampleValue(await scrape(other), 'apiserver_request_total', { ...listPods, code: '200' }),
    ).toBeUndefined();
  });

  it('counts a watch when it ends but keeps it out of the latency histogram', async () => {
    const res = await call(server, '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1');
    expect(res.status).toBe(200);
    await res.text(); // the server ends the watch after a second
    const text = await eventually(async () => {
      const t = await scrape(server);
      expect(sampleValue(t, 'apiserver_request_total', { verb: 'WATCH', resource: 'configmaps' })).toBe(1);
      return t;
    });
    expect(
      parseSamples(text).filter(
        (s) => s.name.startsWith('apiserver_request_duration_seconds') && s.labels.verb === 'WATCH',
      ),
    ).toEqual([]);
    expect(
      sampleValue(text, 'apiserver_longrunning_requests', { verb: 'WATCH', resource: 'configmaps' }),
    ).toBe(0);
  });

  it('times store operations', async () => {
    const creates = (text: string) =>
      sampleValue(text, 'flotilla_store_operation_duration_seconds_count', { operation: 'create' }) ?? 0;
    const before = creates(await scrape(server));
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'timed' }, data: { a: '1' } };
    const created = await call(server, '/api/v1/namespaces/default/configmaps', {
      method: 'POST',
      body: JSON.stringify(cm),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(created.status).toBe(201);
    const text = await scrape(server);
    for (const operation of ['create', 'list', 'get', 'watch-start'])
      expect(
        sampleValue(text, 'flotilla_store_operation_duration_seconds_count', { operation }),
        operation,
      ).toBeGreaterThan(0);
    expect(creates(text)).toBe(before + 1);
    expect(
      sampleValue(text, 'flotilla_store_operation_duration_seconds_bucket', {
        operation: 'create',
        le: '+Inf',
      }),
    ).toBe(before + 1);
  });

  it("shows the workqueues of the controllers started with the server's registry", async () => {
    controllers = await startControllers({
      url: server.url,
      caPem: undefined,
      token: adminToken,
      log: () => undefined,
      metrics: server.api.prometheus,
    });
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
        },
      },
    };
    const created = await call(server, '/apis/apps/v1/namespaces/default/deployments', {
      method: 'POST',
      body: JSON.stringify(deployment),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(created.status).toBe(201);
    const text = await eventually(async () => {
      const t = await scrape(server);
      // The deployment controller synced it, and the ReplicaSet it made was synced in turn.
      for (const name of ['deployment', 'replicaset']) {
        expect(sampleValue(t, 'workqueue_adds_total', { name }), name).toBeGreaterThan(0);
        expect(sampleValue(t, 'workqueue_work_duration_seconds_count', { name }), name).toBeGreaterThan(0);
        expect(sampleValue(t, 'workqueue_queue_duration_seconds_count', { name }), name).toBeGreaterThan(0);
      }
      return t;
    });
    for (const name of ['namespace', 'garbage-collector', 'endpointslice', 'endpoints', 'node-lifecycle'])
      expect(sampleValue(text, 'workqueue_depth', { name }), name).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE workqueue_queue_duration_seconds histogram');
    expect(text).toContain('# TYPE workqueue_retries_total counter');
    // The other server's registry got none of them.
    expect(await scrape(other)).not.toMatch(/^workqueue_adds_total\{/m);
  });
});
