// Bad input on a real node: each mistake ends as a clear container state reason and event, never a
// crashed agent, and the agent keeps serving other pods.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { freePort } from '../../src/testkit/process.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
let cluster: NodeCluster;
let registry: TestRegistry;
let authRegistry: TestRegistry;
let image = '';
let layoutDir = '';
let blocker: Server;
let takenPort = 0;

beforeAll(async () => {
  registry = await startRegistry();
  authRegistry = await startRegistry({ auth: { username: 'alice', password: 'right-password' } });
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'busybox:1');
  await pushImage(layoutDir, '1', authRegistry, 'private/busybox:1', {
    username: 'alice',
    password: 'right-password',
  });
  image = `${registry.host}/busybox:1`;
  takenPort = await freePort();
  blocker = createServer().listen(takenPort, '0.0.0.0');
  cluster = await startNodeCluster();
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  await authRegistry?.stop();
  blocker?.close();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

function pod(
  name: string,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: cluster.nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', ...container }],
      ...spec,
    },
  };
}

async function waitingReason(name: string, reasons: string[]): Promise<{ reason: string; message: string }> {
  return eventually(
    async () => {
      const p: any = await cluster.client.get(podRef, 'default', name);
      const cs = p.status?.containerStatuses?.[0];
      const w = cs?.state?.waiting ?? cs?.lastState?.terminated ?? cs?.state?.terminated;
      if (w === undefined || !reasons.includes(w.reason))
        throw new Error(`${name}: ${JSON.stringify(p.status?.containerStatuses ?? p.status)}`);
      return { reason: w.reason, message: String(w.message ?? '') };
    },
    60_000,
    250,
  );
}

async function eventMessages(name: string): Promise<string> {
  const events = await cluster.client.list({ apiVersion: 'v1', kind: 'Event' }, 'default', {
    fieldSelector: `involvedObject.name=${name}`,
  });
  return events.items.map((e: any) => `${e.type} ${e.reason}: ${e.message}`).join('\n');
}

describe('bad input on a real node', () => {
  it('reports a missing image as ErrImagePull / ImagePullBackOff with the registry message', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('missing', { image: `${registry.host}/busybox:no-such-tag` }),
    );
    await waitingReason('missing', ['ErrImagePull', 'ImagePullBackOff']);
    await eventually(
      async () =>
        expect(await eventMessages('missing')).toMatch(
          /Warning Failed: Failed to pull image .*(not found|manifest unknown)/i,
        ),
      30_000,
      250,
    );
    await eventually(
      async () => expect(await eventMessages('missing')).toMatch(/Warning Failed: .*no-such-tag/),
      30_000,
      250,
    );
  });

  it('reports an unreachable registry', async () => {
    const port = await freePort();
    await cluster.client.create(
      podRef,
      'default',
      pod('unreachable', { image: `127.0.0.1:${port}/busybox:1` }),
    );
    await waitingReason('unreachable', ['ErrImagePull', 'ImagePullBackOff']);
    await eventually(
      async () =>
        expect(await eventMessages('unreachable')).toMatch(
          new RegExp(`Warning Failed: Failed to pull image .*127\\.0\\.0\\.1:${port}`),
        ),
      30_000,
      250,
    );
  });

  it('reports a digest the registry does not have', async () => {
    const ref = `${registry.host}/busybox@sha256:${'0'.repeat(64)}`;
    await cluster.client.create(podRef, 'default', pod('bad-digest', { image: ref }));
    await waitingReason('bad-digest', ['ErrImagePull', 'ImagePullBackOff']);
    await eventually(
      async () =>
        expect(await eventMessages('bad-digest')).toMatch(
          /Warning Failed: Failed to pull image .*sha256:0000/,
        ),
      30_000,
      250,
    );
  });

  it('reports bad registry credentials as an authorization failure', async () => {
    const dockerconfig = {
      auths: {
        [authRegistry.host]: {
          username: 'alice',
          password: 'wrong',
          auth: Buffer.from('alice:wrong').toString('base64'),
        },
      },
    };
    await cluster.client.create({ apiVersion: 'v1', kind: 'Secret' }, 'default', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'wrong-creds', namespace: 'default' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerconfig)).toString('base64') },
    });
    await cluster.client.create(
      podRef,
      'default',
      pod(
        'bad-creds',
        { image: `${authRegistry.host}/private/busybox:1` },
        { imagePullSecrets: [{ name: 'wrong-creds' }] },
      ),
    );
    await waitingReason('bad-creds', ['ErrImagePull', 'ImagePullBackOff']);
    await eventually(
      async () =>
        expect(await eventMessages('bad-creds')).toMatch(
          /Warning Failed: Failed to pull image .*(unauthorized|authentication|credentials)/i,
        ),
      30_000,
      250,
    );
  });

  it('reports a command that does not exist', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('bad-cmd', { image, command: ['/no/such/program'] }, { restartPolicy: 'Never' }),
    );
    const w = await waitingReason('bad-cmd', [
      'RunContainerError',
      'CreateContainerError',
      'StartError',
      'ContainerCannotRun',
    ]);
    expect(w.message).toMatch(/no such file|not found/i);
  });

  it('reports a hostPort that is already taken on the node', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('port-taken', {
        image,
        command: ['httpd', '-f', '-p', '8080'],
        ports: [{ containerPort: 8080, hostPort: takenPort }],
      }),
    );
    await eventually(
      async () =>
        expect(await eventMessages('port-taken')).toMatch(new RegExp(`Warning \\w+: .*${takenPort}`)),
      60_000,
      250,
    );
    const p: any = await cluster.client.get(podRef, 'default', 'port-taken');
    expect(p.status?.phase).toBe('Pending');
  });

  it('keeps serving other pods after all of that', async () => {
    await cluster.client.create(podRef, 'default', pod('fine', { image, command: ['sleep', '3600'] }));
    await eventually(
      async () => {
        const p: any = await cluster.client.get(podRef, 'default', 'fine');
        if (p.status?.phase !== 'Running') throw new Error(`fine is ${p.status?.phase}`);
      },
      90_000,
      250,
    );
    expect(cluster.agent.child.exitCode).toBeNull();
    await cluster.client.request('DELETE', '/api/v1/namespaces/default/pods');
    await eventually(
      async () => {
        const list = await cluster.client.list(podRef, 'default');
        if (list.items.length > 0) throw new Error(`${list.items.length} pods left`);
      },
      90_000,
      500,
    );
  });
});
