// `flotilla rollout` against the in-memory fake API server, for what a real controller does rarely or
// another helper's controller decides: an automatic rollback while status watches, a canary waiting
// for promotion and its abort by undo, a Deployment deleted mid-watch; and the requests each verb sends.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { memoryIO } from '../io.js';
import { run } from '../main.js';
import { FakeApi } from '../testing.js';

const deployPath = '/apis/apps/v1/namespaces/default/deployments/web';
const rsPath = (rev: string): string => `/apis/apps/v1/namespaces/default/replicasets/web-${rev}`;
let api: FakeApi;
let dir: string;
let kubeconfig: string;

function template(image: string, hash?: string): Record<string, unknown> {
  return {
    metadata: { labels: { app: 'web', ...(hash === undefined ? {} : { 'pod-template-hash': hash }) } },
    spec: { containers: [{ name: 'c', image }] },
  };
}

function deployment(status: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'd-uid',
      generation: 2,
      labels: { app: 'web' },
      annotations: { 'deployment.kubernetes.io/revision': '2', 'flotilla.dev/canary': '1' },
    },
    spec: { replicas: 10, selector: { matchLabels: { app: 'web' } }, template: template('img:2'), ...spec },
    status: { observedGeneration: 2, replicas: 10, updatedReplicas: 10, availableReplicas: 10, ...status },
  };
}

function replicaSet(rev: string, image: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${rev}`,
      namespace: 'default',
      labels: { app: 'web', 'pod-template-hash': `h${rev}` },
      annotations: { 'deployment.kubernetes.io/revision': rev },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd-uid', controller: true },
      ],
    },
    spec: { replicas: 0, template: template(image, `h${rev}`) },
  };
}

async function flotilla(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO();
  const code = await run(['--kubeconfig', kubeconfig, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

/** Run `status` and, once it watches, apply `change` to the stored Deployment. */
async function statusWhile(
  change: (d: KubeObject) => void,
): Promise<{ code: number; out: string; err: string }> {
  const pending = flotilla(['rollout', 'status', 'deploy/web', '--timeout=10s']);
  const deadline = Date.now() + 5000;
  while (!api.requests.some((r) => r.query.get('watch') === 'true') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  api.mutate(deployPath, change);
  return pending;
}

beforeEach(async () => {
  api = new FakeApi();
  await api.start();
  dir = mkdtempSync(join(tmpdir(), 'flotilla-rollout-'));
  kubeconfig = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${api.url}"}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`,
  );
  api.seed(rsPath('1'), replicaSet('1', 'img:1'));
  api.seed(rsPath('2'), replicaSet('2', 'img:2'));
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('rollout status', () => {
  it('fails with the controller message when it rolls back automatically while watching', async () => {
    api.seed(deployPath, deployment({ updatedReplicas: 3 }));
    const r = await statusWhile((d) => {
      (d.status as { conditions: unknown[] }).conditions = [
        {
          type: 'RolledBack',
          status: 'True',
          reason: 'AutomaticRollback',
          message: 'rolled back to revision 1: revision 2 exceeded its progress deadline',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ];
    });
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      'Waiting for deployment "web" rollout to finish: 3 out of 10 new replicas have been updated...\n',
    );
    expect(r.err).toBe(
      'error: deployment "web" was rolled back automatically: rolled back to revision 1: revision 2 exceeded its progress deadline\n',
    );
  });

  it('succeeds once the watched Deployment is complete, printing each message once', async () => {
    api.seed(deployPath, deployment({ availableReplicas: 4 }));
    const r = await statusWhile((d) => {
      (d.status as Record<string, unknown>)['availableReplicas'] = 10;
    });
    expect(r).toEqual({
      code: 0,
      out:
        'Waiting for deployment "web" rollout to finish: 4 of 10 updated replicas are available...\n' +
        'deployment "web" successfully rolled out\n',
      err: '',
    });
  });

  it('stops when the Deployment is deleted', async () => {
    api.seed(deployPath, deployment({ availableReplicas: 4 }));
    const pending = flotilla(['rollout', 'status', 'deploy/web', '--timeout=10s']);
    const deadline = Date.now() + 5000;
    while (!api.requests.some((r) => r.query.get('watch') === 'true') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    api.remove(deployPath);
    expect(await pending).toMatchObject({ code: 1, err: 'error: object has been deleted\n' });
  });
});

describe('canary', () => {
  const canary = {
    type: 'Canary',
    status: 'True',
    reason: 'CanaryPaused',
    message:
      'canary of 1 pods on revision 2; promote with `flotilla rollout promote` or `kubectl rollout resume`',
  };

  it('promote unpauses a Deployment waiting at its canary step', async () => {
    api.seed(deployPath, deployment({ updatedReplicas: 1, conditions: [canary] }, { paused: true }));
    const r = await flotilla(['rollout', 'promote', 'deploy/web']);
    expect(r).toEqual({ code: 0, out: 'deployment.apps/web promoted\n', err: '' });
    const patch = api.requests.find((q) => q.method === 'PATCH');
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch?.query.get('fieldManager')).toBe('flotilla-rollout');
    expect(patch?.body).toEqual({ spec: { paused: false } });
    expect((api.get(deployPath)?.spec as { paused: boolean }).paused).toBe(false);
  });

  it('status shows the canary message while it waits', async () => {
    api.seed(deployPath, deployment({ updatedReplicas: 1, conditions: [canary] }, { paused: true }));
    const r = await flotilla(['rollout', 'status', 'deploy/web', '--watch=false']);
    expect(r.out).toBe(`Waiting for deployment "web" rollout to finish: ${canary.message}\n`);
  });

  it('undo aborts it: the old template back and resumed in one JSON patch', async () => {
    api.seed(deployPath, deployment({ updatedReplicas: 1, conditions: [canary] }, { paused: true }));
    const r = await flotilla(['rollout', 'undo', 'deploy/web']);
    expect(r).toEqual({ code: 0, out: 'deployment.apps/web rolled back (canary aborted)\n', err: '' });
    const patches = api.requests.filter((q) => q.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]?.contentType).toBe('application/json-patch+json');
    expect(patches[0]?.body).toEqual([
      { op: 'replace', path: '/spec/template', value: template('img:1') },
      {
        op: 'replace',
        path: '/metadata/annotations',
        value: { 'deployment.kubernetes.io/revision': '2', 'flotilla.dev/canary': '1' },
      },
      { op: 'add', path: '/spec/paused', value: false },
    ]);
    const d = api.get(deployPath);
    expect((d?.spec as { paused: boolean }).paused).toBe(false);
    expect(d?.spec).toMatchObject({ template: template('img:1') });
  });
});
