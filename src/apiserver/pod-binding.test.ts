// POST pods/{name}/binding: how a scheduler assigns a pod to a node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
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

const binding = (name: string, node: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Binding',
  metadata: { name, namespace: 'default', ...extra },
  target: { apiVersion: 'v1', kind: 'Node', name: node },
});

describe('pods/binding', () => {
  it('sets spec.nodeName and PodScheduled=True, answering 201 with a Success Status', async () => {
    await makePod('b1');
    const before = Date.now() - 1000;
    const res = await s.request('POST', `${podsPath}/b1/binding`, binding('b1', 'node-a'));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Success', code: 201 });
    const pod = (await s.request('GET', `${podsPath}/b1`)).body;
    expect(pod.spec.nodeName).toBe('node-a');
    const cond = pod.status.conditions.find((c: any) => c.type === 'PodScheduled');
    expect(cond.status).toBe('True');
    expect(Date.parse(cond.lastTransitionTime)).toBeGreaterThanOrEqual(before);
  });

  it('replaces an Unschedulable PodScheduled=False condition and copies the annotations', async () => {
    await makePod('b2');
    const status = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'b2' },
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available',
            lastTransitionTime: '2020-01-01T00:00:00Z',
          },
        ],
      },
    };
    expect((await s.request('PUT', `${podsPath}/b2/status`, status)).status).toBe(200);
    const res = await s.request(
      'POST',
      `${podsPath}/b2/binding`,
      binding('b2', 'node-b', { annotations: { 'example.com/why': 'spread' } }),
    );
    expect(res.status).toBe(201);
    const pod = (await s.request('GET', `${podsPath}/b2`)).body;
    expect(pod.metadata.annotations['example.com/why']).toBe('spread');
    const conds = pod.status.conditions.filter((c: any) => c.type === 'PodScheduled');
    expect(conds).toHaveLength(1);
    expect(conds[0].status).toBe('True');
    expect(conds[0].reason).toBeUndefined();
    expect(conds[0].lastTransitionTime).not.toBe('2020-01-01T00:00:00Z');
  });

  it('refuses a second binding with 409 naming the node it is on', async () => {
    await makePod('b3');
    expect((await s.request('POST', `${podsPath}/b3/binding`, binding('b3', 'node-a'))).status).toBe(201);
    const again = await s.request('POST', `${podsPath}/b3/binding`, binding('b3', 'node-b'));
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe('Conflict');
    expect(again.body.message).toContain('pod b3 is already assigned to node "node-a"');
    expect((await s.request('GET', `${podsPath}/b3`)).body.spec.nodeName).toBe('node-a');
  });

  it('binds each pod once when many binders race', async () => {
    await makePod('race');
    const results = await Promise.all(
      ['n1', 'n2', 'n3', 'n4'].map((n) => s.request('POST', `${podsPath}/race/binding`, binding('race', n))),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
  });

  it('honours uid and resourceVersion preconditions', async () => {
    const pod = await makePod('b4');
    const staleRv = await s.request(
      'POST',
      `${podsPath}/b4/binding`,
      binding('b4', 'n', { resourceVersion: '1' }),
    );
    expect(staleRv.status).toBe(409);
    expect(staleRv.body.message).toContain('Precondition failed: ResourceVersion in precondition: 1');
    const wrongUid = await s.request('POST', `${podsPath}/b4/binding`, binding('b4', 'n', { uid: 'nope' }));
    expect(wrongUid.status).toBe(409);
    expect(wrongUid.body.message).toContain('UID in precondition: nope');
    const ok = await s.request(
      'POST',
      `${podsPath}/b4/binding`,
      binding('b4', 'n', { uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion }),
    );
    expect(ok.status).toBe(201);
  });

  it('does not bind a pod that is being deleted or is still gated', async () => {
    await makePod('gated', { schedulingGates: [{ name: 'example.com/wait' }] });
    const gated = await s.request('POST', `${podsPath}/gated/binding`, binding('gated', 'n'));
    expect(gated.status).toBe(409);
    expect(gated.body.message).toContain('schedulingGates');
    await makePod('doomed');
    // A finalizer keeps the pod around with a deletionTimestamp.
    await s.request(
      'PATCH',
      `${podsPath}/doomed`,
      { metadata: { finalizers: ['example.com/hold'] } },
      'application/merge-patch+json',
    );
    expect((await s.request('DELETE', `${podsPath}/doomed`)).status).toBeLessThan(300);
    const doomed = await s.request('POST', `${podsPath}/doomed/binding`, binding('doomed', 'n'));
    expect(doomed.status).toBe(409);
    expect(doomed.body.message).toContain('is being deleted');
    await s.request(
      'PATCH',
      `${podsPath}/doomed`,
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
  });

  it('changes nothing on a dry run', async () => {
    await makePod('dry');
    const res = await s.request('POST', `${podsPath}/dry/binding?dryRun=All`, binding('dry', 'n'));
    expect(res.status).toBe(201);
    expect((await s.request('GET', `${podsPath}/dry`)).body.spec.nodeName).toBeUndefined();
  });

  it.each([
    ['a missing pod', 'ghost', binding('ghost', 'n'), 404, 'pods "ghost" not found'],
    ['an empty target name', 'bad', binding('bad', ''), 422, 'target.name: Required value'],
    [
      'a target that is not a node',
      'bad',
      { ...binding('bad', 'n'), target: { kind: 'Pod', name: 'n' } },
      422,
      'target.kind: Unsupported value: "Pod"',
    ],
    [
      'no target',
      'bad',
      { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bad' } },
      422,
      'target.name',
    ],
    ['a name that is not the URL one', 'bad', binding('other', 'n'), 400, 'name in URL does not match'],
    ['another kind', 'bad', { ...binding('bad', 'n'), kind: 'Eviction' }, 400, 'must be a Binding'],
    ['a target of the wrong type', 'bad', { ...binding('bad', 'n'), target: 'n' }, 422, 'target'],
    ['a body that is not an object', 'bad', '[1]', 400, ''],
  ])('answers %s with a 4xx naming the problem', async (_what, pod, body, code, text) => {
    if ((await s.request('GET', `${podsPath}/bad`)).status === 404) await makePod('bad');
    const res = await s.request('POST', `${podsPath}/${pod}/binding`, body);
    expect(res.status, JSON.stringify(res.body)).toBe(code);
    expect(res.body.message).toContain(text);
    expect((await s.request('GET', `${podsPath}/bad`)).body.spec.nodeName).toBeUndefined();
  });

  it('is POST only and listed in discovery with the create verb', async () => {
    await makePod('m');
    expect((await s.request('GET', `${podsPath}/m/binding`)).status).toBe(405);
    const core = (await s.request('GET', '/api/v1')).body.resources;
    expect(core.find((r: any) => r.name === 'pods/binding')).toMatchObject({
      kind: 'Binding',
      verbs: ['create'],
      namespaced: true,
    });
  });
});
