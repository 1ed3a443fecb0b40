// Autoscaling on a real node, with the defaults a user gets (HPA sync every 15 s, metrics every 10 s):
//  - a CPU-bound web workload (a busybox CGI that spins) behind a Service with an HPA at 50 % of its cpu
//    request, 1–8 replicas: under a bounded load it scales up within 45 s of the load starting; after the
//    load stops it scales down only once the scale-down stabilization window has passed; no flapping;
//  - the same with the request-rate metric (Pods metric `requests-per-second` from the proxy's counters);
//  - scale to zero: an idle Deployment goes to 0; the first request after that is held by the activator,
//    succeeds (cold start reported) and leaves the Deployment at 1; a Deployment that cannot become ready
//    gets a 503 that says why once the activator's bound passes, not a hang.
// The three run side by side on one cluster to keep the suite short.
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { quantityToMillis, tryParseQuantity } from '../../src/api/quantity.js';
import type { KubeObject } from '../../src/api/types.js';
import { clientLoop, httpGet } from '../../src/testkit/client-loop.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Kubectl } from '../../src/testkit/kubectl.js';
import type { NodeCluster } from '../../src/testkit/node.js';
import type { TestRegistry } from '../../src/testkit/registry.js';
import { startBusyboxCluster, type BusyboxCluster } from '../../src/testkit/busybox-cluster.js';
import { httpdDeployment, httpService } from '../../src/testkit/workloads.js';

const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const hpaRef = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
/** The scale-down stabilization window the HPAs here use (upstream's default is 300 s). */
const windowSeconds = 20;
const activatorTimeoutSeconds = 20;

let env: BusyboxCluster;
let cluster: NodeCluster;
let registry: TestRegistry;
let kubectl: Kubectl;
let image = '';

beforeAll(async () => {
  env = await startBusyboxCluster({ agentArgs: ['--activator-timeout', String(activatorTimeoutSeconds)] });
  ({ cluster, registry, image } = env);
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
}, 240_000);

afterAll(async () => {
  await env?.close();
}, 240_000);

// busybox httpd; /cgi-bin/burn spins the shell for a while (CPU-bound), / answers at once.
const burnCgi = [
  'mkdir -p /www/cgi-bin',
  // CGI headers must end in CRLF: the outer printf writes `\\r` as `\r`, which the inner one turns into CR.
  `printf '#!/bin/sh\\ni=0; while [ $i -lt 20000 ]; do i=$((i+1)); done\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n"\\nhostname\\n' > /www/cgi-bin/burn`,
  'chmod +x /www/cgi-bin/burn',
];

function deployment(name: string, replicas: number, img = image): KubeObject {
  return httpdDeployment(name, img, {
    replicas,
    setup: burnCgi,
    resources: { requests: { cpu: '100m' }, limits: { cpu: '300m' } },
  });
}

async function service(name: string): Promise<string> {
  const s = await cluster.client.create(svcRef, 'default', httpService(name));
  return String((s.spec as Record<string, unknown>)['clusterIP']);
}

function hpa(
  name: string,
  metrics: Record<string, unknown>[],
  o: { min?: number; max?: number; window?: number } = {},
): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace: 'default',
      ...(o.min === 0 ? { annotations: { 'flotilla.dev/scale-to-zero': 'true' } } : {}),
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: o.min ?? 1,
      maxReplicas: o.max ?? 8,
      metrics,
      behavior: { scaleDown: { stabilizationWindowSeconds: o.window ?? windowSeconds } },
    },
  };
}

async function replicas(name: string): Promise<number> {
  const d = await cluster.client.get(deployRef, 'default', name);
  return Number((d.spec as Record<string, unknown>)['replicas'] ?? 0);
}

async function readyReplicas(name: string): Promise<number> {
  const d = await cluster.client.get(deployRef, 'default', name);
  return Number((d.status as Record<string, unknown> | undefined)?.['readyReplicas'] ?? 0);
}

interface Sample {
  t: number;
  since: number;
  status: string;
  replicas: number;
  above: boolean;
}

/** Samples the Deployment's replicas and whether the HPA sees its metric above target, every second. */
function watchScale(name: string, above: (hpa: KubeObject) => boolean): { stop(): Promise<Sample[]> } {
  const out: Sample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const h = await cluster.client.get(hpaRef, 'default', name);
        const status = JSON.stringify(currentMetric(h));
        const prev = out.at(-1);
        const t = Date.now();
        // `since`: when this status was first seen, close to when the HPA decided on it.
        const since = prev !== undefined && prev.status === status ? prev.since : t;
        out.push({ t, since, status, replicas: await replicas(name), above: above(h) });
      } catch {
        // a failed sample is skipped
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return out;
    },
  };
}

/** A quantity as the HPA writes it ("1500m", "2") as a number; 0 when absent. */
function quantity(v: unknown): number {
  const q = tryParseQuantity(v);
  return q === undefined ? 0 : quantityToMillis(q) / 1000;
}

function currentMetric(h: KubeObject): Record<string, any> | undefined {
  const st = h.status as Record<string, any> | undefined;
  return (st?.['currentMetrics'] as Record<string, any>[] | undefined)?.[0];
}

/**
 * The scaling story of one HPA under a bounded load, checked as a user would see it: the first scale-up
 * within 45 s of the load starting, a stable count under load, the first scale-down no sooner than the
 * stabilization window after the HPA last saw the metric above target, and no rise after a fall.
 */
async function loadAndObserve(
  expect: ExpectStatic,
  name: string,
  vip: string,
  path: string,
  clients: number,
  above: (h: KubeObject) => boolean,
): Promise<void> {
  await eventually(async () => expect(await readyReplicas(name)).toBe(1), 120_000);
  await eventually(() => httpGet(vip, 80, { path }), 30_000);
  const samples = watchScale(name, above);
  const loadStart = Date.now();
  const loops = Array.from({ length: clients }, () => loopOn(vip, path));
  let scaledUpAt = 0;
  await eventually(
    async () => {
      expect(await replicas(name)).toBeGreaterThan(1);
      scaledUpAt = Date.now();
    },
    60_000,
    500,
  );
  // Keep the load on long enough for a stable count.
  await new Promise((r) => setTimeout(r, Math.max(0, loadStart + 50_000 - Date.now())));
  const results = await Promise.all(loops.map((l) => l.stop()));
  const loadStop = Date.now();
  await eventually(async () => expect(await replicas(name)).toBe(1), 150_000, 1_000);
  // One more sample after the last change (the sampler runs every second).
  await new Promise((r) => setTimeout(r, 2_500));
  const seen = await samples.stop();
  const up = Math.round((scaledUpAt - loadStart) / 1000);
  const peak = Math.max(...seen.map((s) => s.replicas));
  const firstDown = seen.find((s, i) => i > 0 && s.replicas < (seen[i - 1]?.replicas ?? 0));
  const lastAbove = seen.filter((s) => s.above).at(-1);
  process.stderr.write(
    `autoscaling ${name}: scale-up ${up} s after load start, peak ${peak} replicas, ` +
      `${results.reduce((n, r) => n + r.ok, 0)} requests; first scale-down ` +
      `${firstDown === undefined ? '-' : Math.round((firstDown.t - loadStop) / 1000)} s after load stop\n`,
  );
  expect(scaledUpAt - loadStart).toBeLessThanOrEqual(45_000);
  expect(peak).toBeGreaterThan(1);
  expect(peak).toBeLessThanOrEqual(8);
  expect(firstDown).toBeDefined();
  expect(lastAbove).toBeDefined();
  // Counted from when the HPA last wrote an above-target figure (its decision), with 2 s of sampling slack.
  expect((firstDown?.t ?? 0) - (lastAbove?.since ?? 0)).toBeGreaterThanOrEqual((windowSeconds - 2) * 1000);
  // No flapping: once the count went down it never went back up.
  const i = seen.indexOf(firstDown as (typeof seen)[number]);
  for (let k = i + 1; k < seen.length; k++)
    expect(seen[k]?.replicas ?? 0).toBeLessThanOrEqual(seen[k - 1]?.replicas ?? 0);
}

/** A client that requests `path` back to back with a 50 ms gap (bounded: 5 minutes at most). */
function loopOn(vip: string, path: string): ReturnType<typeof clientLoop> {
  return clientLoop(vip, 80, { gapMs: 50, path, maxMs: 300_000 });
}

describe('autoscaling on a real node', () => {
  it.concurrent(
    'cpu: scales up within 45 s of a bounded load, down only after the stabilization window, without flapping',
    async ({ expect }) => {
      await cluster.client.create(deployRef, 'default', deployment('burn', 1));
      const vip = await service('burn');
      await cluster.client.create(
        hpaRef,
        'default',
        hpa('burn', [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
          },
        ]),
      );
      await loadAndObserve(
        expect,
        'burn',
        vip,
        '/cgi-bin/burn',
        1,
        (h) => Number(currentMetric(h)?.['resource']?.['current']?.['averageUtilization'] ?? 0) > 50,
      );
      // `kubectl get hpa` shows the target and, after the next sync, the count it settled on.
      await eventually(
        async () =>
          expect(await kubectl.ok(['get', 'hpa', 'burn'])).toMatch(
            /Deployment\/burn\s+cpu: \d+%\/50%\s+1\s+8\s+1\s/,
          ),
        40_000,
        1_000,
      );
    },
    600_000,
  );

  it.concurrent(
    'requests per second (Pods metric from the datapath): the same story',
    async ({ expect }) => {
      await cluster.client.create(deployRef, 'default', deployment('hits', 1));
      const vip = await service('hits');
      await cluster.client.create(
        hpaRef,
        'default',
        hpa('hits', [
          {
            type: 'Pods',
            pods: {
              metric: { name: 'requests-per-second' },
              target: { type: 'AverageValue', averageValue: '2' },
            },
          },
        ]),
      );
      // The custom metrics API answers for the pods before any load (0, not "missing").
      await eventually(async () => {
        const raw = JSON.parse(
          await kubectl.ok([
            'get',
            '--raw',
            '/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/requests-per-second?labelSelector=app%3Dhits',
          ]),
        ) as { items: { value: string }[] };
        expect(raw.items).toHaveLength(1);
      }, 60_000);
      await loadAndObserve(
        expect,
        'hits',
        vip,
        '/',
        1,
        (h) => quantity(currentMetric(h)?.['pods']?.['current']?.['averageValue']) > 2,
      );
    },
    600_000,
  );

  it.concurrent(
    'scale to zero: idle goes to 0; the first request wakes it (cold start) and succeeds; an unstartable one gets a clear 503',
    async ({ expect }) => {
      const objectMetric = (svc: string) => ({
        type: 'Object',
        object: {
          describedObject: { apiVersion: 'v1', kind: 'Service', name: svc },
          metric: { name: 'requests-per-second' },
          target: { type: 'AverageValue', averageValue: '5' },
        },
      });
      await cluster.client.create(deployRef, 'default', deployment('nap', 1));
      const vip = await service('nap');
      await cluster.client.create(
        hpaRef,
        'default',
        hpa('nap', [objectMetric('nap')], { min: 0, max: 2, window: 20 }),
      );
      // One that never becomes ready: its image does not exist.
      await cluster.client.create(
        deployRef,
        'default',
        deployment('broken', 0, `${registry.host}/tools/missing:1`),
      );
      const brokenVip = await service('broken');
      await cluster.client.create(
        hpaRef,
        'default',
        hpa('broken', [objectMetric('broken')], { min: 0, max: 1, window: 20 }),
      );
      await eventually(async () => expect(await readyReplicas('nap')).toBe(1), 120_000);
      // Idle: to zero once the window passed, and its pod goes away.
      await eventually(
        async () => {
          expect(await replicas('nap')).toBe(0);
          const pods = await cluster.client.list(podRef, 'default', { labelSelector: 'app=nap' });
          expect(pods.items).toHaveLength(0);
        },
        120_000,
        1_000,
      );
      // The broken one: held, woken, and refused with a reason after the activator's bound.
      const brokenStart = Date.now();
      const brokenAnswer = eventually(
        async () => {
          const r = await httpGet(brokenVip, 80, { timeoutMs: (activatorTimeoutSeconds + 20) * 1000 }).then(
            (body) => ({ ok: true, body }),
            (err: NodeJS.ErrnoException) => ({ ok: false, body: `${err.code ?? ''} ${err.message}` }),
          );
          // Before the activator's rules are in, the Service refuses at once: try again.
          if (r.body.startsWith('ECONNREFUSED')) throw new Error(r.body);
          return r;
        },
        60_000,
        500,
      );
      // The first request after zero: held until a pod is ready, then answered by it.
      const t0 = Date.now();
      const body = await eventually(
        async () => {
          try {
            return await httpGet(vip, 80, { timeoutMs: 90_000 });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') throw err;
            throw new Error(`the first request after zero failed: ${(err as Error).message}`);
          }
        },
        30_000,
        200,
      );
      const coldStartMs = Date.now() - t0;
      process.stderr.write(`autoscaling nap: cold start from zero ${coldStartMs} ms\n`);
      expect(body).toMatch(/^nap-/);
      expect(await replicas('nap')).toBe(1);
      // Woken, it stays up for a window even though the HPA saw almost no traffic.
      await new Promise((r) => setTimeout(r, 10_000));
      expect(await replicas('nap')).toBe(1);

      const broken = await brokenAnswer;
      const waited = Date.now() - brokenStart;
      expect(broken.ok).toBe(false);
      expect(broken.body).toMatch(
        /HTTP 503 flotilla: default\/broken has no ready pod 20 s after being woken from zero/,
      );
      expect(waited).toBeLessThan((activatorTimeoutSeconds + 30) * 1000);
    },
    600_000,
  );
});
