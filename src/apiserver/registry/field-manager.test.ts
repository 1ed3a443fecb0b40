// managedFields over HTTP: who is recorded for each verb, what requests may set, and apply's answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const cms = '/api/v1/namespaces/default/configmaps';
const deps = '/apis/apps/v1/namespaces/default/deployments';
const applyType = 'application/apply-patch+yaml';

const deployment = (name: string, replicas?: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    ...(replicas === undefined ? {} : { replicas }),
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
    },
  },
});

async function withAgent(method: string, path: string, body: unknown, userAgent: string) {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const managers = (obj: any): string[][] =>
  (obj.metadata.managedFields ?? []).map((m: any) => [m.manager, m.operation, m.subresource ?? '']);

describe('ordinary writes', () => {
  it('record the fieldManager, else the User-Agent up to its first slash', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ua' }, data: { a: '1' } };
    const created = await withAgent('POST', cms, cm, 'kubectl/v1.35.2 (linux/amd64) kubernetes/abcdef');
    expect(created.status).toBe(201);
    expect(created.body.metadata.managedFields).toEqual([
      {
        manager: 'kubectl',
        operation: 'Update',
        apiVersion: 'v1',
        time: created.body.metadata.creationTimestamp,
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { '.': {}, 'f:a': {} } },
      },
    ]);
    const patched = await s.request(
      'PATCH',
      `${cms}/ua?fieldManager=kubectl-edit`,
      { data: { a: '2', b: '1' } },
      'application/merge-patch+json',
    );
    expect(managers(patched.body)).toEqual([
      ['kubectl', 'Update', ''],
      ['kubectl-edit', 'Update', ''],
    ]);
    expect(patched.body.metadata.managedFields[1].fieldsV1).toEqual({ 'f:data': { 'f:a': {}, 'f:b': {} } });
    // A write that changes nothing stores nothing.
    const again = await s.request(
      'PATCH',
      `${cms}/ua?fieldManager=someone`,
      { data: { a: '2' } },
      'application/merge-patch+json',
    );
    expect(again.body.metadata.resourceVersion).toBe(patched.body.metadata.resourceVersion);
  });

  it('refuses a fieldManager longer than 128 characters', async () => {
    const r = await s.request('POST', `${cms}?fieldManager=${'x'.repeat(129)}`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'long' },
    });
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'CreateOptions.meta.k8s.io "" is invalid: [fieldManager: Too long: may not be more than 128 bytes]',
    );
  });

  it('take managedFields from the request when readable, reset them with [{}], refuse bad entries', async () => {
    const created = await s.request('POST', `${cms}?fieldManager=creator`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'mf' },
      data: { a: '1' },
    });
    const live = created.body;
    const replaced = await s.request('PUT', `${cms}/mf`, {
      ...live,
      metadata: {
        ...live.metadata,
        managedFields: [
          {
            manager: 'migrated',
            operation: 'Apply',
            apiVersion: 'v1',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:data': { 'f:a': {} } },
          },
        ],
      },
    });
    expect(replaced.status).toBe(200);
    expect(managers(replaced.body)).toEqual([['migrated', 'Apply', '']]);
    const bad = await s.request('PUT', `${cms}/mf`, {
      ...replaced.body,
      metadata: { ...replaced.body.metadata, managedFields: [{ manager: 'm', operation: 'Delete' }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes[0]).toMatchObject({ field: 'metadata.managedFields[0].operation' });
    // Unreadable fieldsV1: the stored entries stay.
    const garbage = await s.request('PUT', `${cms}/mf`, {
      ...replaced.body,
      metadata: {
        ...replaced.body.metadata,
        managedFields: [{ manager: 'm', operation: 'Update', fieldsV1: { nonsense: {} } }],
      },
      data: { a: '1', z: '1' },
    });
    expect(garbage.status).toBe(200);
    expect(managers(garbage.body)).toEqual([
      ['migrated', 'Apply', ''],
      ['node', 'Update', ''],
    ]);
    const reset = await s.request('PUT', `${cms}/mf`, {
      ...garbage.body,
      metadata: { ...garbage.body.metadata, managedFields: [{}] },
    });
    expect(reset.body.metadata.managedFields).toBeUndefined();
  });

  it('record status and scale writes with their subresource', async () => {
    await s.request('POST', deps, deployment('sub', 2));
    const status = await s.request(
      'PATCH',
      `${deps}/sub/status?fieldManager=controller`,
      { status: { replicas: 2 } },
      'application/merge-patch+json',
    );
    expect(managers(status.body)).toContainEqual(['controller', 'Update', 'status']);
    await s.request(
      'PATCH',
      `${deps}/sub/scale?fieldManager=kubectl`,
      { spec: { replicas: 4 } },
      'application/merge-patch+json',
    );
    const dep = (await s.request('GET', `${deps}/sub`)).body;
    const scale = dep.metadata.managedFields.find((m: any) => m.subresource === 'scale');
    expect(scale).toMatchObject({ manager: 'kubectl', operation: 'Update', apiVersion: 'apps/v1' });
    expect(scale.fieldsV1).toEqual({ 'f:spec': { 'f:replicas': {} } });
    const conflict = await s.request(
      'PATCH',
      `${deps}/sub?fieldManager=gitops`,
      deployment('sub', 6),
      applyType,
    );
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
    );
  });
});

describe('server-side apply', () => {
  it('creates with 201, then answers 200 and stores nothing for the same configuration', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: "1"\n';
    const created = await s.request('PATCH', `${cms}/applied?fieldManager=me`, yaml, applyType);
    expect(created.status).toBe(201);
    expect(managers(created.body)).toEqual([['me', 'Apply', '']]);
    const again = await s.request('PATCH', `${cms}/applied?fieldManager=me`, yaml, applyType);
    expect(again.status).toBe(200);
    expect(again.body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);
    expect(again.body.metadata.managedFields).toEqual(created.body.metadata.managedFields);
  });

  it('answers a conflict as kube-apiserver does', async () => {
    await s.request('PATCH', `${deps}/owned?fieldManager=first`, deployment('owned', 3), applyType);
    const r = await s.request(
      'PATCH',
      `${deps}/owned?fieldManager=second`,
      deployment('owned', 5),
      applyType,
    );
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Conflict',
      code: 409,
      message: 'Apply failed with 1 conflict: conflict with "first": .spec.replicas',
      details: {
        causes: [
          { reason: 'FieldManagerConflict', message: 'conflict with "first"', field: '.spec.replicas' },
        ],
      },
    });
    const forced = await s.request(
      'PATCH',
      `${deps}/owned?fieldManager=second&force=true`,
      deployment('owned', 5),
      applyType,
    );
    expect(forced.status).toBe(200);
    expect(forced.body.spec.replicas).toBe(5);
  });

  it('refuses configurations kube-apiserver refuses', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } };
    const cases: [string, unknown, number, string][] = [
      [`${cms}/x`, cm, 400, 'fieldManager'],
      [
        `${cms}/x?fieldManager=m`,
        { ...cm, apiVersion: 'v2' },
        400,
        'Incorrect version specified in apply patch',
      ],
      [`${cms}/x?fieldManager=m`, { ...cm, kind: 'Secret' }, 400, 'Incorrect kind specified in apply patch'],
      [
        `${cms}/x?fieldManager=m`,
        { ...cm, metadata: { name: 'x', managedFields: [{ manager: 'a' }] } },
        400,
        'metadata.managedFields must be nil',
      ],
      [
        `${cms}/x?fieldManager=m`,
        { ...cm, metadata: { name: 'y' } },
        400,
        'does not match the name on the URL',
      ],
      [`${cms}/x?fieldManager=m&fieldValidation=Strict`, { ...cm, bogus: 1 }, 400, 'unknown field "bogus"'],
      [
        `${cms}/x?fieldManager=m`,
        { ...cm, metadata: { name: 'x', resourceVersion: '1' } },
        409,
        'Operation cannot',
      ],
      [`${cms}/x?fieldManager=m`, '- a\n- b\n', 400, 'must be a YAML or JSON object'],
    ];
    for (const [path, body, code, text] of cases) {
      const before = await s.store.currentRevision();
      const r = await s.request('PATCH', path, body, applyType);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(code);
      expect(r.body.message).toContain(text);
      expect(await s.store.currentRevision()).toBe(before);
    }
  });

  it('applies status through /status only, as a manager of that subresource', async () => {
    await s.request('PATCH', `${deps}/st?fieldManager=me`, deployment('st', 2), applyType);
    const config = {
      ...deployment('st', 9),
      metadata: { name: 'st', labels: { x: 'y' } },
      status: { replicas: 2 },
    };
    const r = await s.request('PATCH', `${deps}/st/status?fieldManager=ctrl`, config, applyType);
    expect(r.status).toBe(200);
    expect(r.body.status.replicas).toBe(2);
    expect(r.body.spec.replicas).toBe(2);
    expect(r.body.metadata.labels).toBeUndefined();
    const mine = r.body.metadata.managedFields.find((m: any) => m.manager === 'ctrl');
    expect(mine).toMatchObject({ operation: 'Apply', subresource: 'status' });
    expect(mine.fieldsV1).toEqual({ 'f:status': { 'f:replicas': {} } });
    const missing = await s.request(
      'PATCH',
      `${deps}/absent/status?fieldManager=ctrl`,
      { ...config, metadata: { name: 'absent' } },
      applyType,
    );
    expect(missing.status).toBe(404);
  });

  it('removes what the applier dropped, after defaults', async () => {
    await s.request('PATCH', `${deps}/shrink?fieldManager=me`, deployment('shrink', 3), applyType);
    const r = await s.request('PATCH', `${deps}/shrink?fieldManager=me`, deployment('shrink'), applyType);
    expect(r.status).toBe(200);
    // replicas was only ours: it is removed, and defaulting brings back 1.
    expect(r.body.spec.replicas).toBe(1);
    expect(r.body.metadata.managedFields[0].fieldsV1['f:spec']['f:replicas']).toBeUndefined();
  });
});
