// Rollouts on a real node: a rolling update and its undo lose no request through the Service; a new image
// that cannot start stalls at ProgressDeadlineExceeded with the old pods serving, or, with
// flotilla.dev/rollback-on-failure, is rolled back by the controller itself; a canary of one pod pauses
// the rollout until it is promoted, or is aborted back to the old revision.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { clientLoop, httpGet } from '../../src/testkit/client-loop.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage, writeOciLayout } from '../../src/testkit/images.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { flotillaBin } from '../../src/testkit/process.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const eventRef = { apiVersion: 'v1', kind: 'Event' };
let cluster: NodeCluster;
let registry: TestRegistry;
let work = '';
/** Good images by tag ('1', '2', '3'), and one whose command cannot start (no shell in it). */
const images: Record<string, string> = {};

beforeAll(async () => {
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'flotilla-rollout-'));
  for (const tag of ['1', '2', '3']) {
    const dir = join(work, `bb-${tag}`);
    await buildBusyboxLayout(dir, tag);
    images[tag] = await pushImage(dir, tag, registry, `tools/busybox:${tag}`);
  }
  const empty = join(work, 'broken-layer');
  mkdirSync(join(empty, 'etc'), { recursive: true });
  writeFileSync(join(empty, 'etc', 'motd'), 'this image has no shell\n');
  const brokenDir = join(work, 'broken');
  await writeOciLayout(brokenDir, 'broken', [empty]);
  images['broken'] = await pushImage(brokenDir, 'broken', registry, 'tools/busybox:broken');
  cluster = await startNodeCluster();
}, 300_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
}, 240_000);

function deployment(
  name: string,
  replicas: number,
  annotations: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): KubeObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', annotations },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '30%', maxUnavailable: 0 } },
      ...extra,
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'web',
              image: images['1'],
              command: [
                'sh',
                '-c',
                'mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 8080 -h /www',
              ],
              ports: [{ name: 'http', containerPort: 8080 }],
              // A generous probe timeout: on a loaded 2-core machine a 1 s probe can fail on every pod at once,
              // which would empty the Service for reasons that have nothing to do with the datapath.
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 1, timeoutSeconds: 5 },
            },
          ],
        },
      },
    },
  };
}

interface PodView {
  name: string;
  image: string;
  ready: boolean;
  terminating: boolean;
}

async function pods(app: string): Promise<PodView[]> {
  const list = await cluster.client.list(podRef, 'default', { labelSelector: `app=${app}` });
  return list.items.map((p) => {
    const spec = p.spec as { containers: { image: string }[] };
    const conds = ((p.status as Record<string, unknown> | undefined)?.['conditions'] ?? []) as {
      type: string;
      status: string;
    }[];
    return {
      name: p.metadata.name ?? '',
      image: spec.containers[0]?.image ?? '',
      ready: conds.some((c) => c.type === 'Ready' && c.status === 'True'),
      terminating: p.metadata.deletionTimestamp !== undefined && p.metadata.deletionTimestamp !== null,
    };
  });
}

type DeploymentView = KubeObject & { spec: any; status: any };

async function getDeployment(name: string): Promise<DeploymentView> {
  return cluster.client.get<DeploymentView>(deployRef, 'default', name);
}

function condition(
  d: { status: any },
  type: string,
): { status: string; reason?: string; message?: string } | undefined {
  return (
    (d.status?.conditions ?? []) as { type: string; status: string; reason?: string; message?: string }[]
  ).find((c) => c.type === type);
}

/** The Deployment is complete on `image`: every replica updated, available, and no other pod left. */
async function completeOn(name: string, image: string, replicas: number, timeoutMs = 180_000): Promise<void> {
  await eventually(async () => {
    const d = await getDeployment(name);
    const st = d.status ?? {};
    expect(d.spec.template.spec.containers[0].image).toBe(image);
    expect(st.observedGeneration).toBe(d.metadata.generation);
    expect([st.replicas, st.updatedReplicas, st.availableReplicas]).toEqual([replicas, replicas, replicas]);
    const ps = await pods(name);
    expect(ps.filter((p) => !p.terminating && p.image === image && p.ready)).toHaveLength(replicas);
    expect(ps.filter((p) => p.image !== image)).toEqual([]);
  }, timeoutMs);
}

async function setImage(name: string, image: string): Promise<void> {
  for (;;) {
    const d = await getDeployment(name);
    d.spec.template.spec.containers[0].image = image;
    try {
      await cluster.client.update(deployRef, 'default', d);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

/** Runs the flotilla CLI against the cluster. */
function flotilla(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [flotillaBin, '--kubeconfig', cluster.kubeconfig, ...args]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('rollouts on a real node', () => {
  it('a rolling update of 10 replicas and its undo lose no request through the Service', async () => {
    await cluster.client.create(deployRef, 'default', deployment('web', 10));
    const svc = await cluster.client.create(svcRef, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
    });
    const vip = String((svc.spec as Record<string, unknown>)['clusterIP']);
    await completeOn('web', images['1'] ?? '', 10);
    await eventually(() => httpGet(vip, 80), 30_000);
    const loop = clientLoop(vip, 80);
    await setImage('web', images['2'] ?? '');
    await completeOn('web', images['2'] ?? '', 10);
    const undo = await flotilla(['rollout', 'undo', 'deployment/web']);
    expect(undo.code, undo.out).toBe(0);
    await completeOn('web', images['1'] ?? '', 10);
    const result = await loop.stop();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
  }, 420_000);

  it('canary of 1: exactly one new pod and a paused rollout until promoted; abort returns to the old revision', async () => {
    const d = await getDeployment('web');
    d.metadata.annotations = { ...(d.metadata.annotations ?? {}), 'flotilla.dev/canary': '1' };
    await cluster.client.update(deployRef, 'default', d);
    const waitCanary = async (image: string): Promise<void> => {
      await eventually(async () => {
        const now = await getDeployment('web');
        expect(now.spec.paused).toBe(true);
        expect(condition(now, 'Canary')).toMatchObject({ status: 'True', reason: 'CanaryPaused' });
        const ps = (await pods('web')).filter((p) => !p.terminating);
        expect(ps.filter((p) => p.image === image && p.ready)).toHaveLength(1);
        expect(ps.filter((p) => p.image === image)).toHaveLength(1);
      }, 120_000);
      // It stays there: still one canary pod a few seconds later.
      await new Promise((r) => setTimeout(r, 3_000));
      expect((await pods('web')).filter((p) => !p.terminating && p.image === image)).toHaveLength(1);
    };
    // Tag 3 never ran: a new revision, so the canary step applies (a return to a revision that was fully
    // available before, like tag 2 here, does not stop at a canary).
    await setImage('web', images['3'] ?? '');
    await waitCanary(images['3'] ?? '');
    const promote = await flotilla(['rollout', 'promote', 'deployment/web']);
    expect(promote.code, promote.out).toBe(0);
    await completeOn('web', images['3'] ?? '', 10);

    // Abort: a canary of tag 2 (a new template: it also sets an env var) and then undo.
    const next = await getDeployment('web');
    next.spec.template.spec.containers[0].image = images['2'];
    next.spec.template.spec.containers[0].env = [{ name: 'TRACK', value: 'canary' }];
    await cluster.client.update(deployRef, 'default', next);
    await waitCanary(images['2'] ?? '');
    const abort = await flotilla(['rollout', 'undo', 'deployment/web']);
    expect(abort.code, abort.out).toBe(0);
    await completeOn('web', images['3'] ?? '', 10);
    expect((await getDeployment('web')).spec.paused ?? false).toBe(false);
  }, 480_000);

  it('a new image that cannot start stalls at ProgressDeadlineExceeded while the old pods keep serving', async () => {
    await cluster.client.create(
      deployRef,
      'default',
      deployment('stall', 3, {}, { progressDeadlineSeconds: 10 }),
    );
    await completeOn('stall', images['1'] ?? '', 3);
    await setImage('stall', images['broken'] ?? '');
    await eventually(async () => {
      const d = await getDeployment('stall');
      expect(condition(d, 'Progressing')).toMatchObject({
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
      });
    }, 120_000);
    const d = await getDeployment('stall');
    expect(d.spec.template.spec.containers[0].image).toBe(images['broken']);
    const ps = (await pods('stall')).filter((p) => !p.terminating);
    expect(ps.filter((p) => p.image === images['1'] && p.ready)).toHaveLength(3);
    const status = await flotilla(['rollout', 'status', 'deployment/stall', '--timeout=20s']);
    expect(status.code).not.toBe(0);
    expect(status.out).toContain('exceeded its progress deadline');
  }, 240_000);

  it('with flotilla.dev/rollback-on-failure the controller rolls a crashing revision back by itself', async () => {
    await cluster.client.create(
      deployRef,
      'default',
      deployment('auto', 3, { 'flotilla.dev/rollback-on-failure': 'true' }, { progressDeadlineSeconds: 30 }),
    );
    await completeOn('auto', images['1'] ?? '', 3);
    await setImage('auto', images['broken'] ?? '');
    await completeOn('auto', images['1'] ?? '', 3, 180_000);
    const d = await getDeployment('auto');
    expect(condition(d, 'RolledBack')).toMatchObject({ status: 'True', reason: 'AutomaticRollback' });
    const events = await cluster.client.list(eventRef, 'default', {
      fieldSelector: 'involvedObject.name=auto,reason=RolledBack',
    });
    expect(events.items.length).toBeGreaterThan(0);
    expect(String((events.items[0] as Record<string, unknown>)['message'])).toMatch(/revision/);
  }, 300_000);
});
