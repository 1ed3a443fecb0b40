// Bad input gets a 4xx Status that names the problem, and nothing is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const deployment = (spec: Record<string, unknown> = {}, name = 'web') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'busybox:1' }] },
    },
    ...spec,
  },
});

async function rejected(method: string, path: string, body: unknown, contentType?: string) {
  const before = await s.store.currentRevision();
  const res = await s.request(method, path, body, contentType);
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.body).toMatchObject({ kind: 'Status', status: 'Failure', code: res.status });
  expect(await s.store.currentRevision()).toBe(before);
  return res;
}

describe('bad input', () => {
  it('malformed YAML', async () => {
    const res = await rejected(
      'POST',
      '/api/v1/namespaces/default/configmaps',
      'metadata: {name: [unclosed',
      'application/yaml',
    );
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('not valid YAML');
  });

  it('unknown kinds and resources', async () => {
    const res = await rejected('POST', '/apis/apps/v1/namespaces/default/widgets', {
      apiVersion: 'apps/v1',
      kind: 'Widget',
      metadata: { name: 'w' },
    });
    expect(res.status).toBe(404);
    expect(res.body.message).toContain('widgets');
    const mismatch = await rejected('POST', '/apis/apps/v1/namespaces/default/deployments', {
      ...deployment(),
      kind: 'Widget',
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.message).toContain('Widget');
  });

  it('unknown fields: rejected under Strict, dropped with a warning by default', async () => {
    const strict = await rejected(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict',
      deployment({ replicaz: 3 }),
    );
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.replicaz"');
    const warn = await s.request(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      deployment({ replicaz: 3 }, 'warned'),
    );
    expect(warn.status).toBe(201);
    expect(warn.headers.get('warning')).toContain('unknown field \\"spec.replicaz\\"');
    expect(warn.body.spec.replicaz).toBeUndefined();
  });

  it('invalid names', async () => {
    const res = await rejected('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'Not_Valid' },
    });
    expect(res.status).toBe(422);
    expect(res.body.reason).toBe('Invalid');
    expect(res.body.details.causes[0].field).toBe('metadata.name');
    expect(res.body.message).toContain('RFC 1123');
  });

  it('wrong types, and every invalid field listed with its path', async () => {
    const res = await rejected(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      deployment({
        replicas: 'three',
        template: {
          metadata: { labels: { app: 'other' } },
          spec: { containers: [{ name: 'Bad Name', image: '' }], restartPolicy: 'Sometimes' },
        },
      }),
    );
    expect(res.status).toBe(422);
    const fields = res.body.details.causes.map((c: any) => c.field);
    expect(fields).toContain('spec.replicas');
    expect(res.body.message).toContain('spec.replicas');
    const valid = await rejected(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      deployment({
        template: {
          metadata: { labels: { app: 'other' } },
          spec: { containers: [{ name: 'Bad Name', image: '' }], restartPolicy: 'Sometimes' },
        },
      }),
    );
    const fields2 = valid.body.details.causes.map((c: any) => c.field);
    expect(fields2).toEqual(
      expect.arrayContaining([
        'spec.template.metadata.labels',
        'spec.template.spec.containers[0].name',
        'spec.template.spec.containers[0].image',
        'spec.template.spec.restartPolicy',
      ]),
    );
  });

  it('a 4 MiB body', async () => {
    const res = await rejected('POST', '/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'big' },
      data: { a: 'x'.repeat(4 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
    expect(res.body.message).toContain('limit is 3145728');
  });

  it('a JSON patch on a missing path', async () => {
    expect(
      (
        await s.request('POST', '/api/v1/namespaces/default/configmaps', {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'p' },
          data: { a: '1' },
        })
      ).status,
    ).toBe(201);
    const res = await rejected(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/p',
      [{ op: 'remove', path: '/data/missing' }],
      'application/json-patch+json',
    );
    expect(res.status).toBe(422);
    expect(res.body.message).toContain('/data/missing');
    const notArray = await rejected(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/p',
      { op: 'remove' },
      'application/json-patch+json',
    );
    expect(notArray.status).toBe(400);
  });

  it('immutable fields on update', async () => {
    const created = await s.request(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      deployment({}, 'imm'),
    );
    expect(created.status).toBe(201);
    const res = await rejected('PUT', '/apis/apps/v1/namespaces/default/deployments/imm', {
      ...created.body,
      spec: {
        ...created.body.spec,
        selector: { matchLabels: { app: 'web', v: '2' } },
        template: { ...created.body.spec.template, metadata: { labels: { app: 'web', v: '2' } } },
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.details.causes.map((c: any) => c.field)).toContain('spec.selector');
  });

  it('server defaults are applied as Kubernetes applies them', async () => {
    const created = await s.request(
      'POST',
      '/apis/apps/v1/namespaces/default/deployments',
      deployment({}, 'defaults'),
    );
    expect(created.body.spec.strategy).toMatchObject({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
    });
    expect(created.body.spec.revisionHistoryLimit).toBe(10);
    expect(created.body.spec.progressDeadlineSeconds).toBe(600);
    expect(created.body.spec.template.spec.restartPolicy).toBe('Always');
    expect(created.body.spec.template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });
});
