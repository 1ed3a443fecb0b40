// POST pods/{name}/eviction: the graceful delete `kubectl drain` asks for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
  expect((await s.request('POST', '/api/v1/nodes', node)).status).toBe(201);
});
afterAll(async () => {
  await s.close();
});

const podsPath = '/api/v1/namespaces/default/pods';

async function makePod(name: string, spec: Record<string, unknown> = {}): Promise<any> {
  const res = await s.request('POST', podsPath, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'busybox:1' }], ...spec },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const eviction = (name: string, extra: Record<string, unknown> = {}, apiVersion = 'policy/v1') => ({
  apiVersion,
  kind: 'Eviction',
  metadata: { name, namespace: 'default' },
  ...extra,
});

async function evict(name: string, body: unknown = eviction(name)) {
  return s.request('POST', `${podsPath}/${name}/eviction`, body);
}

describe('pods/eviction', () => {
  it('deletes an unscheduled pod at once and answers 201 with a Success Status', async () => {
    await makePod('e1');
    const res = await evict('e1');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: 'Status', status: 'Success', code: 201 });
    expect((await s.request('GET', `${podsPath}/e1`)).status).toBe(404);
  });

  it('deletes a pod on a node gracefully, marking it DisruptionTarget=True', async () => {
    await makePod('e2', { nodeName: 'n1', terminationGracePeriodSeconds: 20 });
    expect((await evict('e2')).status).toBe(201);
    const pod = (await s.request('GET', `${podsPath}/e2`)).body;
    expect(pod.metadata.deletionTimestamp).toBeDefined();
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(20);
    expect(pod.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI' }),
    );
    // Evicting a pod that is already going away changes nothing and still succeeds.
    expect((await evict('e2')).status).toBe(201);
    const again = (await s.request('GET', `${podsPath}/e2`)).body;
    expect(again.metadata.resourceVersion).toBe(pod.metadata.resourceVersion);
  });

  it('honours deleteOptions.gracePeriodSeconds, also from a policy/v1beta1 Eviction', async () => {
    await makePod('e3', { nodeName: 'n1' });
    expect((await evict('e3', eviction('e3', { deleteOptions: { gracePeriodSeconds: 5 } }))).status).toBe(
      201,
    );
    expect((await s.request('GET', `${podsPath}/e3`)).body.metadata.deletionGracePeriodSeconds).toBe(5);
    await makePod('e4', { nodeName: 'n1' });
    const now = eviction('e4', { deleteOptions: { gracePeriodSeconds: 0 } }, 'policy/v1beta1');
    expect((await evict('e4', now)).status).toBe(201);
    expect((await s.request('GET', `${podsPath}/e4`)).status).toBe(404);
  });

  it('honours uid and resourceVersion preconditions', async () => {
    const pod = await makePod('e5');
    const wrongUid = await evict('e5', eviction('e5', { deleteOptions: { preconditions: { uid: 'x' } } }));
    expect(wrongUid.status).toBe(409);
    expect(wrongUid.body.message).toContain('UID in precondition: x');
    const staleRv = await evict(
      'e5',
      eviction('e5', { deleteOptions: { preconditions: { resourceVersion: '1' } } }),
    );
    expect(staleRv.status).toBe(409);
    expect(staleRv.body.message).toContain('ResourceVersion in precondition: 1');
    expect((await s.request('GET', `${podsPath}/e5`)).status).toBe(200);
    const pre = { uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion };
    expect((await evict('e5', eviction('e5', { deleteOptions: { preconditions: pre } }))).status).toBe(201);
    expect((await s.request('GET', `${podsPath}/e5`)).status).toBe(404);
  });

  it('changes nothing on a dry run (query or deleteOptions)', async () => {
    const pod = await makePod('dry', { nodeName: 'n1' });
    const q = await s.request('POST', `${podsPath}/dry/eviction?dryRun=All`, eviction('dry'));
    expect(q.status).toBe(201);
    expect((await evict('dry', eviction('dry', { deleteOptions: { dryRun: ['All'] } }))).status).toBe(201);
    const after = (await s.request('GET', `${podsPath}/dry`)).body;
    expect(after.metadata.resourceVersion).toBe(pod.metadata.resourceVersion);
    expect(after.metadata.deletionTimestamp).toBeUndefined();
  });

  it.each([
    ['a missing pod', 'ghost', eviction('ghost'), 404, 'pods "ghost" not found'],
    ['a name that is not the URL one', 'bad', eviction('other'), 400, 'name in URL does not match'],
    [
      'another namespace',
      'bad',
      { ...eviction('bad'), metadata: { name: 'bad', namespace: 'kube-system' } },
      400,
      'does not match the namespace',
    ],
    ['another kind', 'bad', { ...eviction('bad'), kind: 'Binding' }, 400, 'must be an Eviction'],
    ['an unknown apiVersion', 'bad', eviction('bad', {}, 'policy/v2'), 400, 'policy/v1 or policy/v1beta1'],
    [
      'a bad propagationPolicy',
      'bad',
      eviction('bad', { deleteOptions: { propagationPolicy: 'Later' } }),
      400,
      'deleteOptions.propagationPolicy',
    ],
    [
      'a grace period of the wrong type',
      'bad',
      eviction('bad', { deleteOptions: { gracePeriodSeconds: 'soon' } }),
      422,
      'deleteOptions.gracePeriodSeconds',
    ],
    [
      'a bad dryRun',
      'bad',
      eviction('bad', { deleteOptions: { dryRun: ['Some'] } }),
      400,
      'deleteOptions.dryRun',
    ],
  ])('answers %s with a 4xx naming the problem', async (_what, pod, body, code, text) => {
    if ((await s.request('GET', `${podsPath}/bad`)).status === 404) await makePod('bad');
    const res = await evict(pod, body);
    expect(res.status, JSON.stringify(res.body)).toBe(code);
    expect(res.body.message).toContain(text);
    expect((await s.request('GET', `${podsPath}/bad`)).status).toBe(200);
  });

  it('rejects unknown fields under fieldValidation=Strict', async () => {
    await makePod('strict');
    const res = await s.request(
      'POST',
      `${podsPath}/strict/eviction?fieldValidation=Strict`,
      eviction('strict', { deleteOptions: { gracePeriod: 3 } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('unknown field "deleteOptions.gracePeriod"');
  });

  it('is listed in discovery as policy/v1 Eviction, which kubectl drain looks for', async () => {
    const core = (await s.request('GET', '/api/v1')).body.resources;
    expect(core.find((r: any) => r.name === 'pods/eviction')).toMatchObject({
      group: 'policy',
      version: 'v1',
      kind: 'Eviction',
      verbs: ['create'],
    });
    await makePod('m');
    expect((await s.request('GET', `${podsPath}/m/eviction`)).status).toBe(405);
  });
});
