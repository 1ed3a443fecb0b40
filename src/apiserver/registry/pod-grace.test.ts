import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
  await server.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
});
afterEach(() => server.close());

const pods = '/api/v1/namespaces/default/pods';

describe('graceful pod deletion', () => {
  it('keeps a terminating pod through status updates until its agent deletes it with grace 0', async () => {
    const created = await server.request('POST', pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
    });
    expect(created.status).toBe(201);
    const del = await server.request('DELETE', `${pods}/p`);
    expect(del.status).toBe(202);
    expect(del.body.metadata.deletionTimestamp).toBeDefined();
    expect(del.body.metadata.deletionGracePeriodSeconds).toBe(30);

    // The agent reports the containers stopping: the pod must still be there afterwards.
    const pod = (await server.request('GET', `${pods}/p`)).body;
    const put = await server.request('PUT', `${pods}/p/status`, {
      ...pod,
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] },
    });
    expect(put.status).toBe(200);
    expect((await server.request('GET', `${pods}/p`)).status).toBe(200);

    const final = await server.request('DELETE', `${pods}/p`, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      gracePeriodSeconds: 0,
      preconditions: { uid: pod.metadata.uid },
    });
    expect(final.status).toBe(200);
    expect((await server.request('GET', `${pods}/p`)).status).toBe(404);
  });
});
