// Issue 6, acceptance 2: real kubectl 1.35 and 1.31 drive rollouts of a 10-replica Deployment on a real
// node (runc pods of a busybox image pushed to a test registry under two tags, a readiness probe, so
// "available" means an httpd answered): set image → rollout status returns when done, history with
// change-cause, undo --to-revision=1, restart, pause (a template change does not roll) and resume. Then
// the same verbs through `flotilla rollout`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const REPLICAS = 10;
let cluster: NodeCluster;
let registry: TestRegistry;
const layouts: string[] = [];
let image1 = '';
let image2 = '';

beforeAll(async () => {
  registry = await startRegistry();
  // Two tags of the image, so `set image` changes what the pods run.
  for (const tag of ['1', '2']) {
    const dir = mkdtempSync(join(tmpdir(), `flotilla-rollout-bb${tag}-`));
    layouts.push(dir);
    await buildBusyboxLayout(dir, tag);
    await pushImage(dir, tag, registry, `tools/busybox:${tag}`);
  }
  image1 = `${registry.host}/tools/busybox:1`;
  image2 = `${registry.host}/tools/busybox:2`;
  cluster = await startNodeCluster();
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  for (const dir of layouts) rmSync(dir, { recursive: true, force: true });
}, 240_000);

function manifest(name: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'default',
      labels: { app: name },
      annotations: { 'kubernetes.io/change-cause': 'create on image 1' },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image: image1,
              command: ['sh', '-c', 'echo ok > /index.html; exec httpd -f -p 8080 -h /'],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  });
}

interface PodView {
  uid: string;
  image: string;
  ready: boolean;
}

/** The live (not terminating) pods of the app. */
async function livePods(app: string): Promise<PodView[]> {
  const list = await cluster.client.list(podRef, 'default', { labelSelector: `app=${app}` });
  return list.items
    .filter((p) => p.metadata.deletionTimestamp === undefined || p.metadata.deletionTimestamp === null)
    .map((p) => {
      const spec = p.spec as { containers: { image: string }[] };
      const conditions = ((p.status as { conditions?: { type: string; status: string }[] } | undefined)
        ?.conditions ?? []) as { type: string; status: string }[];
      return {
        uid: p.metadata.uid ?? '',
        image: spec.containers[0]?.image ?? '',
        ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
      };
    });
}

/** After `rollout status` said done: exactly `replicas` live pods, all ready, all on `image`. */
async function allOn(app: string, image: string, replicas: number): Promise<PodView[]> {
  // Pods the controller just scaled away may still be on their way out for a moment.
  return eventually(async () => {
    const pods = await livePods(app);
    if (pods.length !== replicas || !pods.every((p) => p.ready && p.image === image))
      throw new Error(`pods of ${app}: ${JSON.stringify(pods)}`);
    return pods;
  }, 20_000);
}

async function rsCount(app: string): Promise<number> {
  return (await cluster.client.list(rsRef, 'default', { labelSelector: `app=${app}` })).items.length;
}

describe.each<KubectlVersion>(['1.35', '1.31'])('kubectl %s rollout verbs on a real node', (version) => {
  const name = `web-${version.replace('.', '')}`;
  let k: Kubectl;
  /** `rollout status` may run for the length of a rollout. */
  const status = async (): Promise<string> => {
    const r = await k.run(['rollout', 'status', `deployment/${name}`, '--timeout=150s'], undefined, 160_000);
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    return r.stdout;
  };

  beforeAll(() => {
    k = new Kubectl(version, cluster.kubeconfig);
  });

  it('set image rolls out and rollout status returns when all 10 run the new image', async () => {
    await k.ok(['apply', '-f', '-'], manifest(name, REPLICAS));
    expect(await status()).toContain(`deployment "${name}" successfully rolled out`);
    await allOn(name, image1, REPLICAS);

    await k.ok(['set', 'image', `deployment/${name}`, `web=${image2}`]);
    await k.ok(['annotate', '--overwrite', `deployment/${name}`, 'kubernetes.io/change-cause=set image 2']);
    const out = await status();
    expect(out).toMatch(new RegExp(`Waiting for deployment "${name}" rollout to finish: `));
    expect(out.trim().split('\n').at(-1)).toBe(`deployment "${name}" successfully rolled out`);
    await allOn(name, image2, REPLICAS);
  }, 180_000);

  it('rollout history lists the revisions with their change-cause', async () => {
    const history = await eventually(async () => {
      const out = await k.ok(['rollout', 'history', `deployment/${name}`]);
      expect(out).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+create on image 1\n2\s+set image 2\n/);
      return out;
    }, 10_000);
    expect(history.startsWith(`deployment.apps/${name}`)).toBe(true);
    const two = await k.ok(['rollout', 'history', `deployment/${name}`, '--revision=2']);
    expect(two).toContain(`deployment.apps/${name} with revision #2`);
    expect(two).toContain(image2);
  }, 30_000);

  it('rollout undo --to-revision=1 goes back to the first image', async () => {
    expect(await k.ok(['rollout', 'undo', `deployment/${name}`, '--to-revision=1'])).toContain(
      `deployment.apps/${name} rolled back`,
    );
    await status();
    await allOn(name, image1, REPLICAS);
    // The first ReplicaSet came back as revision 3 (no new ReplicaSet), with its change-cause.
    expect(await rsCount(name)).toBe(2);
    const history = await k.ok(['rollout', 'history', `deployment/${name}`]);
    expect(history).toMatch(/2\s+set image 2\n3\s+create on image 1\n/);
  }, 180_000);

  it('rollout restart replaces every pod', async () => {
    const before = new Set((await livePods(name)).map((p) => p.uid));
    expect(await k.ok(['rollout', 'restart', `deployment/${name}`])).toContain(
      `deployment.apps/${name} restarted`,
    );
    await status();
    const after = await allOn(name, image1, REPLICAS);
    expect(after.filter((p) => before.has(p.uid))).toEqual([]);
  }, 180_000);

  it('rollout pause holds a new image back; rollout resume rolls it out', async () => {
    expect(await k.ok(['rollout', 'pause', `deployment/${name}`])).toContain(
      `deployment.apps/${name} paused`,
    );
    const before = (await livePods(name)).map((p) => p.uid).sort();
    const sets = await rsCount(name);
    await k.ok(['set', 'image', `deployment/${name}`, `web=${image2}`]);
    // The controller sees the change (observedGeneration) but starts nothing while paused.
    await eventually(async () => {
      const out = await k.ok([
        'get',
        `deployment/${name}`,
        '-o',
        'jsonpath={.metadata.generation}/{.status.observedGeneration}',
      ]);
      const [gen, observed] = out.split('/');
      expect(observed).toBe(gen);
    }, 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await rsCount(name)).toBe(sets);
    expect((await livePods(name)).map((p) => p.uid).sort()).toEqual(before);
    expect((await allOn(name, image1, REPLICAS)).length).toBe(REPLICAS);

    expect(await k.ok(['rollout', 'resume', `deployment/${name}`])).toContain(
      `deployment.apps/${name} resumed`,
    );
    await status();
    await allOn(name, image2, REPLICAS);
    await k.ok(['delete', `deployment/${name}`]);
  }, 180_000);
});

describe('the same verbs through flotilla rollout', () => {
  const name = 'cli';
  async function flotilla(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = memoryIO();
    const code = await run(['--kubeconfig', cluster.kubeconfig, ...args], io);
    return { code, out: io.out(), err: io.err() };
  }
  async function ok(args: string[]): Promise<string> {
    const r = await flotilla(args);
    expect(r.code, `flotilla ${args.join(' ')}: ${r.err}${r.out}`).toBe(0);
    return r.out;
  }
  const status = (): Promise<string> => ok(['rollout', 'status', `deploy/${name}`, '--timeout=120s']);

  it('status, history, undo, restart, pause and resume', async () => {
    const k = new Kubectl('1.35', cluster.kubeconfig);
    await k.ok(['apply', '-f', '-'], manifest(name, 4));
    expect(await status()).toContain(`deployment "${name}" successfully rolled out`);
    await k.ok(['set', 'image', `deployment/${name}`, `web=${image2}`]);
    expect((await status()).trim().split('\n').at(-1)).toBe(`deployment "${name}" successfully rolled out`);
    await allOn(name, image2, 4);
    expect(await ok(['rollout', 'history', `deploy/${name}`])).toMatch(
      /^deployment\.apps\/cli \nREVISION {2}CHANGE-CAUSE\n1 {9}create on image 1\n2 {9}create on image 1\n/,
    );

    expect(await ok(['rollout', 'undo', `deploy/${name}`, '--to-revision=1'])).toBe(
      `deployment.apps/${name} rolled back\n`,
    );
    await status();
    await allOn(name, image1, 4);

    const before = new Set((await livePods(name)).map((p) => p.uid));
    expect(await ok(['rollout', 'restart', 'deployment', name])).toBe(`deployment.apps/${name} restarted\n`);
    await status();
    expect((await allOn(name, image1, 4)).filter((p) => before.has(p.uid))).toEqual([]);

    expect(await ok(['rollout', 'pause', `deploy/${name}`])).toBe(`deployment.apps/${name} paused\n`);
    await k.ok(['set', 'image', `deployment/${name}`, `web=${image2}`]);
    await new Promise((r) => setTimeout(r, 2000));
    await allOn(name, image1, 4);
    expect(await ok(['rollout', 'resume', `deploy/${name}`])).toBe(`deployment.apps/${name} resumed\n`);
    await status();
    await allOn(name, image2, 4);
    await k.ok(['delete', `deployment/${name}`]);
  }, 240_000);
});
