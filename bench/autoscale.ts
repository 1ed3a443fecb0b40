// Autoscaling on a real node: how fast the HPA reacts to load, and how fast a Deployment comes back from zero.
//
//   node dist/bench/autoscale.js [--rounds 3] [--cold 10] [--json FILE]
//
// Flotilla: `flotilla server` + `flotilla agent` with the defaults a user gets (HPA sync every 15 s, metrics
// every 10 s). A Deployment of busybox httpd behind a Service with an HPA on the request-rate metric
// (`requests-per-second`, AverageValue 2 per pod, 1–4 replicas); one client sends ~18 requests/s through
// the Service. Per round: time from load start to the first scale-up decision (the Deployment's
// spec.replicas rises) and to the new replicas being ready; then the load stops and the round waits for the
// count to return to 1 (scale-down window 15 s).
//
// Cold start: a second Deployment with a scale-to-zero HPA is set to 0 replicas; once its pod is gone the
// first request to its Service is timed until its answer (activator holds it, scales the Deployment to 1,
// forwards it to the ready pod). `--cold` rounds, p50/p99.
//
// Reference: Kubernetes documents a 15 s HPA sync period (--horizontal-pod-autoscaler-sync-period) and
// metrics-server scrapes every 15 s (--metric-resolution), so a first decision comes 0–30 s after the load
// starts (a scrape that saw it, then a sync), 15 s on average; request-rate scaling there needs a Prometheus adapter (scrape + query intervals on
// top) and scale to zero needs Knative. Docker Swarm has no autoscaling at all, so there is no peer run.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { KubeObject } from '../src/api/types.js';
import { clientLoop, httpGet } from '../src/testkit/client-loop.js';
import { eventually } from '../src/testkit/eventually.js';
import { startBusyboxCluster } from '../src/testkit/busybox-cluster.js';
import { httpdDeployment, httpService } from '../src/testkit/workloads.js';
import { runAsScript } from './lib/main.js';
import { fmt, summarize } from './lib/stats.js';

interface Options {
  rounds: number;
  cold: number;
  json: string | undefined;
}

const usage = 'usage: autoscale.js [--rounds 3] [--cold 10] [--json FILE]';

function parseArgs(args: string[]): Options {
  const o: Options = { rounds: 3, cold: 10, json: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (max: number): number => {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v <= 0 || v > max)
        throw new Error(`${a} needs a whole number from 1 to ${max}; ${usage}`);
      return v;
    };
    if (a === '--rounds') o.rounds = value(10);
    else if (a === '--cold') o.cold = value(50);
    else if (a === '--json') {
      const v = args[++i];
      if (v === undefined) throw new Error(`--json needs a file; ${usage}`);
      o.json = v;
    } else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  return o;
}

const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const hpaRef = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };

function hpa(name: string, metric: Record<string, unknown>, min: number, max: number): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace: 'default',
      ...(min === 0 ? { annotations: { 'flotilla.dev/scale-to-zero': 'true' } } : {}),
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: min,
      maxReplicas: max,
      metrics: [metric],
      behavior: { scaleDown: { stabilizationWindowSeconds: 15 } },
    },
  };
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const env = await startBusyboxCluster({ repository: 'bench/busybox' });
  try {
    const { image, cluster: c } = env;
    const spec = async (name: string): Promise<number> =>
      Number(
        ((await c.client.get(deployRef, 'default', name)).spec as Record<string, unknown>)['replicas'] ?? 0,
      );
    const ready = async (name: string): Promise<number> =>
      Number(
        ((await c.client.get(deployRef, 'default', name)).status as Record<string, unknown> | undefined)?.[
          'readyReplicas'
        ] ?? 0,
      );
    const service = async (name: string): Promise<string> => {
      const s = await c.client.create(svcRef, 'default', httpService(name));
      return String((s.spec as Record<string, unknown>)['clusterIP']);
    };

    // ---- Reaction to load ----
    await c.client.create(deployRef, 'default', httpdDeployment('hits', image));
    const vip = await service('hits');
    await c.client.create(
      hpaRef,
      'default',
      hpa(
        'hits',
        {
          type: 'Pods',
          pods: {
            metric: { name: 'requests-per-second' },
            target: { type: 'AverageValue', averageValue: '2' },
          },
        },
        1,
        4,
      ),
    );
    const decisions: number[] = [];
    const readies: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      await eventually(
        async () => {
          if ((await spec('hits')) !== 1 || (await ready('hits')) !== 1) throw new Error('not back at 1');
        },
        180_000,
        1_000,
      );
      await eventually(() => httpGet(vip, 80), 30_000);
      // Let the metric settle at zero, then start at a random point of the HPA's 15 s sync cycle (the
      // previous round's scale-down was itself a sync: a fixed pause would always land on the same phase).
      await new Promise((res) => setTimeout(res, 20_000 + Math.floor(Math.random() * 15_000)));
      const t0 = Date.now();
      const load = clientLoop(vip, 80, { gapMs: 50, maxMs: 180_000 });
      let target = 1;
      await eventually(
        async () => {
          target = await spec('hits');
          if (target <= 1) throw new Error('no decision yet');
        },
        120_000,
        200,
      );
      const decision = Date.now() - t0;
      await eventually(
        async () => {
          if ((await ready('hits')) < target) throw new Error('not ready yet');
        },
        120_000,
        200,
      );
      const readyMs = Date.now() - t0;
      const result = await load.stop();
      decisions.push(decision);
      readies.push(readyMs);
      log(
        `round ${r + 1}/${o.rounds}: first scale-up decision (1 → ${target}) ${fmt(decision / 1000)} s after load start, ` +
          `ready ${fmt(readyMs / 1000)} s (${result.ok} requests, ${result.failed.length} failed)`,
      );
    }

    // ---- Cold start from zero ----
    await c.client.create(deployRef, 'default', httpdDeployment('nap', image));
    const napVip = await service('nap');
    await c.client.create(
      hpaRef,
      'default',
      hpa(
        'nap',
        {
          type: 'Object',
          object: {
            describedObject: { apiVersion: 'v1', kind: 'Service', name: 'nap' },
            metric: { name: 'requests-per-second' },
            target: { type: 'AverageValue', averageValue: '5' },
          },
        },
        0,
        2,
      ),
    );
    const cold: number[] = [];
    for (let r = 0; r < o.cold; r++) {
      // To zero by hand (the HPA leaves a target at zero alone while its Service is idle).
      await eventually(
        async () => {
          const scale = await c.client.getScale(deployRef, 'default', 'nap');
          await c.client.updateScale(deployRef, 'default', 'nap', { ...scale, spec: { replicas: 0 } });
        },
        30_000,
        500,
      );
      await eventually(
        async () => {
          const pods = await c.client.list(podRef, 'default', { labelSelector: 'app=nap' });
          if (pods.items.length > 0) throw new Error('pods remain');
        },
        120_000,
        200,
      );
      // The endpoint is gone from the proxy's rules well within this.
      await new Promise((res) => setTimeout(res, 2_000));
      const t0 = Date.now();
      const body = await httpGet(napVip, 80, { timeoutMs: 90_000 });
      const ms = Date.now() - t0;
      if (!body.startsWith('nap-')) throw new Error(`unexpected answer ${body}`);
      cold.push(ms);
      log(`cold start ${r + 1}/${o.cold}: ${fmt(ms)} ms`);
    }

    const d = summarize(decisions.map((x) => x / 1000));
    const rd = summarize(readies.map((x) => x / 1000));
    const cs = summarize(cold);
    const load = loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
    log('');
    log(
      `conditions: HPA sync 15 s, metrics every 10 s, requests-per-second target 2/pod, ~18 req/s, load ${load}`,
    );
    log(`load start → first scale-up decision: p50 ${fmt(d.p50)} s, max ${fmt(d.max)} s (${d.count} rounds)`);
    log(`load start → new replicas ready:     p50 ${fmt(rd.p50)} s, max ${fmt(rd.max)} s`);
    log(
      'Kubernetes defaults as documented: a sync every 15 s after a metrics-server scrape every 15 s that saw the load → 0–30 s, 15 s on average',
    );
    log(`ratio (p50 decision / 15 s): ${(d.p50 / 15).toFixed(2)}`);
    log(
      `cold start from zero (request → answer): p50 ${fmt(cs.p50)} ms, p99 ${fmt(cs.p99)} ms (${cs.count} starts)`,
    );
    log('peer: Docker Swarm has no autoscaling and no scale to zero — no peer figure');
    if (o.json !== undefined)
      writeFileSync(o.json, JSON.stringify({ decisions, readies, cold, load, options: o }, null, 2));
    return 0;
  } finally {
    await env.close();
  }
}

runAsScript(import.meta.url, main, usage);
