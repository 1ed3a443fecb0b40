// `flotilla rollout` against a real control plane (the Deployment controller in-process) with simulated
// nodes that run pods and report them ready: status to completion, the terminal progress line, history,
// undo, restart, pause/resume, promote without a canary, and the failures users see (progress deadline,
// timeout, not found, wrong kind, usage).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { eventually } from '../../testkit/eventually.js';
import { startSimNodes, type SimNodes } from '../../testkit/sim.js';
import { memoryIO } from '../io.js';
import { run } from '../main.js';

const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
let cluster: TestCluster;
let client: ApiClient;
let sim: SimNodes;

async function flotilla(
  args: string[],
  opts: { tty?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO();
  if (opts.tty === true) Object.assign(io.stdout, { isTTY: true });
  const code = await run(['--kubeconfig', cluster.kubeconfig, ...args], io);
  return { code, out: io.out(), err: io.err() };
}

function deployment(
  name: string,
  replicas: number,
  image: string,
  spec: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image }], ...((spec['podSpec'] as object | undefined) ?? {}) },
      },
      ...Object.fromEntries(Object.entries(spec).filter(([k]) => k !== 'podSpec')),
    },
  };
}

async function imageOf(name: string): Promise<string> {
  const d = await client.get(deployRef, 'default', name);
  const spec = d.spec as { template: { spec: { containers: { image: string }[] } } };
  return spec.template.spec.containers[0]?.image ?? '';
}

beforeAll(async () => {
  cluster = await startTestCluster({ store: 'memory' });
  client = new ApiClient({
    server: cluster.url,
    ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    token: cluster.adminToken,
  });
  sim = await startSimNodes({
    url: cluster.url,
    token: cluster.adminToken,
    caPem: cluster.caPem ?? '',
    count: 2,
    prefix: 'rollout-cli',
    podStartDelay: '100ms',
    leaseInterval: '1s',
    labels: { pool: 'sim' },
  });
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await client?.close();
  await cluster?.destroy();
}, 120_000);

describe('flotilla rollout', () => {
  it('status waits for a rollout to finish and prints kubectl messages', async () => {
    await client.create(deployRef, 'default', deployment('web', 4, 'busybox:1'));
    const r = await flotilla(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').at(-1)).toBe('deployment "web" successfully rolled out');
    // every line is one of kubectl's
    for (const line of r.out.trim().split('\n'))
      expect(line).toMatch(/^(Waiting for deployment|deployment "web" successfully rolled out)/);
  });

  it('on a terminal, rewrites one progress line with the counts, then prints the result', async () => {
    await client.patch(deployRef, 'default', 'web', 'merge', {
      spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } },
    });
    const r = await flotilla(['rollout', 'status', 'deploy', 'web', '--timeout=60s'], { tty: true });
    expect(r.code).toBe(0);
    expect(r.out).toContain('\r\x1b[2K');
    expect(r.out).toMatch(
      /Waiting for deployment "web" rollout to finish: .* \[\d+ updated, \d+ ready, \d+ available of 4\]/,
    );
    expect(r.out.endsWith('\r\x1b[2Kdeployment "web" successfully rolled out\n')).toBe(true);
  });

  it('history lists the revisions; --revision shows that pod template', async () => {
    const r = await flotilla(['rollout', 'history', 'deployment/web']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n',
    );
    const one = await flotilla(['rollout', 'history', 'deploy/web', '--revision=1']);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(
      /^deployment\.apps\/web with revision #1\nPod Template:\n {2}Labels:\s+app=web\n/,
    );
    expect(one.out).toMatch(/Image:\s+busybox:1\n/);
    const missing = await flotilla(['rollout', 'history', 'deploy/web', '--revision=9']);
    expect(missing).toMatchObject({ code: 1, err: 'error: unable to find the specified revision\n' });
  });

  it('undo --to-revision puts the old template back and the rollout completes', async () => {
    const r = await flotilla(['rollout', 'undo', 'deployment/web', '--to-revision=1']);
    expect(r).toMatchObject({ code: 0, out: 'deployment.apps/web rolled back\n' });
    expect(await imageOf('web')).toBe('busybox:1');
    expect((await flotilla(['rollout', 'status', 'deployment/web', '--timeout=60s'])).code).toBe(0);
    const again = await flotilla(['rollout', 'undo', 'deployment/web', '--to-revision=3']);
    expect(again.out).toBe(
      'deployment.apps/web skipped rollback (current template already matches revision 3)\n',
    );
    const history = await flotilla(['rollout', 'history', 'deployment/web']);
    expect(history.out).toContain('2         <none>\n3         <none>\n');
  });

  it('restart rolls out a new revision; pause and resume as kubectl', async () => {
    expect((await flotilla(['rollout', 'restart', 'deployment/web'])).out).toBe(
      'deployment.apps/web restarted\n',
    );
    const d = await client.get(deployRef, 'default', 'web');
    const tmpl = (d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    expect(tmpl.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect((await flotilla(['rollout', 'status', 'deployment/web', '--timeout=60s'])).code).toBe(0);

    expect((await flotilla(['rollout', 'pause', 'deployment/web'])).out).toBe('deployment.apps/web paused\n');
    expect(await flotilla(['rollout', 'pause', 'deployment/web'])).toMatchObject({
      code: 1,
      err: 'error: deployments.apps "web" is already paused\n',
    });
    expect(await flotilla(['rollout', 'restart', 'deployment/web'])).toMatchObject({
      code: 1,
      err: `error: deployments.apps "web" can't restart paused deployment (run rollout resume first)\n`,
    });
    expect(await flotilla(['rollout', 'promote', 'deployment/web'])).toMatchObject({ code: 1 });
    expect((await flotilla(['rollout', 'promote', 'deployment/web'])).err).toContain(
      'is paused but not at a canary step',
    );
    expect((await flotilla(['rollout', 'resume', 'deployment/web'])).out).toBe(
      'deployment.apps/web resumed\n',
    );
    expect(await flotilla(['rollout', 'resume', 'deployment/web'])).toMatchObject({
      code: 1,
      err: 'error: deployments.apps "web" is not paused\n',
    });
    const promote = await flotilla(['rollout', 'promote', 'deployment/web']);
    expect(promote.code).toBe(1);
    expect(promote.err).toContain('deployment "web" has no canary waiting for promotion');
  });

  it('undo of a paused Deployment resumes it in the same update', async () => {
    await flotilla(['rollout', 'pause', 'deployment/web']);
    await client.patch(deployRef, 'default', 'web', 'merge', {
      spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:3' }] } } },
    });
    const r = await flotilla(['rollout', 'undo', 'deployment/web']);
    expect(r).toMatchObject({ code: 0, out: 'deployment.apps/web rolled back (and resumed)\n' });
    const d = await client.get(deployRef, 'default', 'web');
    expect((d.spec as { paused?: boolean }).paused).not.toBe(true);
    expect(await imageOf('web')).toBe('busybox:1');
    expect((await flotilla(['rollout', 'status', 'deployment/web', '--timeout=60s'])).code).toBe(0);
  });

  it('-l selects Deployments; --watch=false looks once', async () => {
    const r = await flotilla(['rollout', 'status', 'deployment', '-l', 'app=web', '--watch=false']);
    expect(r).toMatchObject({ code: 0, out: 'deployment "web" successfully rolled out\n' });
    const none = await flotilla(['rollout', 'status', 'deployment', '-l', 'app=none']);
    expect(none).toMatchObject({ code: 0, out: '', err: 'No resources found in default namespace.\n' });
  });

  it('--watch=false looks once; --timeout ends the wait with kubectl message', async () => {
    // No node matches: the pods stay Pending.
    await client.create(
      deployRef,
      'default',
      deployment('pending', 2, 'busybox:1', { podSpec: { nodeSelector: { pool: 'none' } } }),
    );
    const once = await flotilla(['rollout', 'status', 'deploy/pending', '--watch=false']);
    expect(once.code).toBe(0);
    expect(once.out).toMatch(
      /^Waiting for deployment (spec update to be observed|"pending" rollout to finish: )/,
    );
    const timeout = await flotilla(['rollout', 'status', 'deploy/pending', '--timeout=300ms']);
    expect(timeout).toMatchObject({ code: 1, err: 'error: timed out waiting for the condition\n' });
  });

  it('fails with kubectl message when the progress deadline passes', async () => {
    await client.create(
      deployRef,
      'default',
      deployment('stuck', 2, 'busybox:1', {
        progressDeadlineSeconds: 1,
        podSpec: { nodeSelector: { pool: 'none' } },
      }),
    );
    const r = await flotilla(['rollout', 'status', 'deploy/stuck', '--timeout=30s']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: deployment "stuck" exceeded its progress deadline\n');
  });

  it('status fails with the reason when the controller rolls back by itself', async () => {
    const d = deployment('auto', 2, 'busybox:1', { progressDeadlineSeconds: 2 });
    d.metadata.annotations = { 'flotilla.dev/rollback-on-failure': 'true' };
    await client.create(deployRef, 'default', d);
    expect((await flotilla(['rollout', 'status', 'deploy/auto', '--timeout=60s'])).code).toBe(0);
    // A template no node can run: the progress deadline passes and the controller reverts.
    await client.patch(deployRef, 'default', 'auto', 'merge', {
      spec: {
        template: {
          spec: { containers: [{ name: 'c', image: 'busybox:2' }], nodeSelector: { pool: 'none' } },
        },
      },
    });
    const r = await flotilla(['rollout', 'status', 'deploy/auto', '--timeout=60s']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: deployment "auto" was rolled back automatically: .+\n$/);
    expect(await imageOf('auto')).toBe('busybox:1');
  });

  it('a canary waits for promote; undo aborts the next one', async () => {
    const d = deployment('canary', 4, 'busybox:1');
    d.metadata.annotations = { 'flotilla.dev/canary': '1' };
    await client.create(deployRef, 'default', d);
    expect((await flotilla(['rollout', 'status', 'deploy/canary', '--timeout=60s'])).code).toBe(0);
    expect((await flotilla(['rollout', 'promote', 'deploy/canary'])).err).toContain('has no canary waiting');

    await client.patch(deployRef, 'default', 'canary', 'merge', {
      spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:2' }] } } },
    });
    await eventually(async () => {
      const r = await flotilla(['rollout', 'status', 'deploy/canary', '--watch=false']);
      expect(r.out).toMatch(
        /^Waiting for deployment "canary" rollout to finish: canary of 1 pods? on revision 2/,
      );
    }, 30_000);
    expect(await flotilla(['rollout', 'promote', 'deploy/canary'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/canary promoted\n',
    });
    expect((await flotilla(['rollout', 'status', 'deploy/canary', '--timeout=60s'])).code).toBe(0);
    expect(await imageOf('canary')).toBe('busybox:2');

    await client.patch(deployRef, 'default', 'canary', 'merge', {
      spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox:3' }] } } },
    });
    await eventually(async () => {
      const r = await flotilla(['rollout', 'status', 'deploy/canary', '--watch=false']);
      expect(r.out).toContain('canary of 1');
    }, 30_000);
    expect(await flotilla(['rollout', 'undo', 'deploy/canary'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/canary rolled back (canary aborted)\n',
    });
    expect((await flotilla(['rollout', 'status', 'deploy/canary', '--timeout=60s'])).code).toBe(0);
    expect(await imageOf('canary')).toBe('busybox:2');
  });

  it.each<[string, string[], number, string]>([
    [
      'a missing Deployment',
      ['rollout', 'status', 'deploy/nope'],
      1,
      'Error from server (NotFound): deployments.apps "nope" not found\n',
    ],
    [
      'a Deployment in another namespace (-n after the verb)',
      ['rollout', 'status', 'deploy/web', '-n', 'kube-system'],
      1,
      'Error from server (NotFound): deployments.apps "web" not found\n',
    ],
    [
      'another kind',
      ['rollout', 'history', 'configmap/x'],
      1,
      'error: no history viewer has been implemented for "ConfigMap"\n',
    ],
    ['no resource', ['rollout', 'undo'], 2, ''],
    ['a bad revision', ['rollout', 'undo', 'deploy/web', '--to-revision=x'], 2, ''],
    [
      'an undo to a revision not in history',
      ['rollout', 'undo', 'deploy/web', '--to-revision=42'],
      1,
      'error: unable to find specified revision 42 in history\n',
    ],
  ])('%s: exit code and message', async (_name, args, code, err) => {
    const r = await flotilla(args);
    expect(r.code).toBe(code);
    if (err !== '') expect(r.err).toBe(err);
    else expect(r.err).toMatch(/^error: /);
  });

  it('every verb has help with examples', async () => {
    for (const verb of ['status', 'history', 'undo', 'restart', 'pause', 'resume', 'promote']) {
      const r = await flotilla(['rollout', verb, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`flotilla rollout ${verb} deploy`);
    }
  });
});
