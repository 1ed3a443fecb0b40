// Rolling update of N replicas (100 by default) with a readiness check and 10 % surge, on a real node, side
// by side with Docker Swarm in the same run (same busybox rootfs, same workload):
//
//   node dist/bench/rollout.js [--replicas 100] [--dockerd PATH] [--no-peer] [--json FILE] [--timeline]
//                              [--trace FILE]
//
// --trace FILE: the update's timeline as JSON (each new pod created/bound/running/ready, each old pod's
// deletion and end, every ReplicaSet change; ms after the image change) and the server's /metrics at the end
// in FILE.metrics, for finding where a slow round went.
//
// Workload: busybox `httpd` serving /index.html on 8080 in every replica.
// Flotilla: `flotilla server` + `flotilla agent` (startNodeCluster; --max-pods 2N + surge, see nodeCapacity),
// the image pushed as two tags to a local registry and pulled once each before timing. Deployment with
// readinessProbe httpGet / :8080 periodSeconds 1, strategy RollingUpdate maxSurge 10% maxUnavailable 0 (10 %
// surge and never below N available: the closest match to Swarm's start-first batches of 10),
// terminationGracePeriodSeconds 1. Timed: the image
// patch → status replicas = updatedReplicas = availableReplicas = N with observedGeneration current; then
// → the last old pod gone from the API.
// Swarm: a private dockerd, the rootfs imported as bb:1 and bb:2, a service with HEALTHCHECK
// `CMD-SHELL true` every 1 s (as `--health-cmd true --health-interval 1s`), update parallelism
// ceil(10 % of N), order start-first, delay 0, default monitor (5 s), stop grace period 1 s. Timed: the image
// update → N desired-running tasks running bb:2 (a task with a health check is `running` only once healthy;
// checked again on the containers) and none on bb:1; then → no bb:1 container running.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/api/types.js';
import { buildBusyboxLayout, pushImage } from '../src/testkit/images.js';
import { startNodeCluster } from '../src/testkit/node.js';
import { startRegistry } from '../src/testkit/registry.js';
import { parsePeerBenchArgs, type PeerBenchOptions } from './lib/args.js';
import { onInterrupt } from './lib/cleanup.js';
import { pullOnce, removeRootfs, unpackRootfs } from './lib/node-images.js';
import { loadAverage } from './lib/proc.js';
import { fmt } from './lib/stats.js';
import { engineCaller, findDockerd, importRootfs, startSwarm, type EngineCall } from './lib/swarm.js';
import { waitUntil } from './lib/wait.js';
import { runAsScript } from './lib/main.js';
import { watchPodTimeline } from './lib/timeline.js';

const usage =
  'usage: rollout.js [--replicas 100] [--dockerd PATH] [--no-peer] [--json FILE] [--timeline] [--trace FILE]';

/** Both sides run the same thing: a static file server, so a readiness check has something real to ask. */
const httpdCommand = ['sh', '-c', 'echo ok > /index.html; exec httpd -f -p 8080 -h /'];

const upTimeoutMs = 300_000;
const rolloutTimeoutMs = 600_000;

interface Figures {
  /** create → N available (first revision) */
  upMs: number;
  /** image change → N available on the new revision, no old replica counted */
  rolloutMs: number;
  /** image change → the last old pod (Flotilla) / running old container (Swarm) gone */
  oldGoneMs: number;
  /** Largest total and smallest available seen while rolling (surge and unavailability check). */
  maxTotal: number;
  minAvailable: number;
  /** Swarm only: image change → UpdateStatus.State completed (after its monitor period). */
  updateCompletedMs?: number;
  /** Flotilla only: where the time of one surge round goes, and failed readiness probes. */
  phases?: Phases;
}

/** Medians over the new pods, as seen by the bench's own watch (ms). */
interface Phases {
  /** pod created → its container running */
  startP50: number;
  /** pod created → bound to the node (waits for room while old pods terminate) */
  boundP50: number;
  /** an old pod marked for deletion → gone from the API (its teardown on the node) */
  teardownP50: number;
  /** container running → Ready */
  readyP50: number;
  /** a new pod Ready → the next new pod created (the controllers' reaction) */
  reactP50: number;
  /** `Unhealthy` events during the run (readiness probes that failed, e.g. timed out under load). */
  unhealthy: number;
  /** Fewest Ready pods not terminating, from the bench's own pod watch during the update. */
  minReadyPods: number;
  /** `NodeNotReady` events: the node missed its heartbeat grace period and its pods were marked unready. */
  nodeNotReady: number;
}

interface PodTimes {
  created: number;
  bound?: number;
  running?: number;
  ready?: number;
}

/** Medians of the three phases from per-pod times (relative to any common origin). */
export function phasesOf(
  pods: PodTimes[],
  teardowns: number[],
): Omit<Phases, 'unhealthy' | 'minReadyPods' | 'nodeNotReady'> {
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] ?? Number.NaN);
  };
  const readies = pods.flatMap((p) => (p.ready === undefined ? [] : [p.ready]));
  const react: number[] = [];
  for (const p of pods) {
    const before = readies.filter((r) => r <= p.created);
    if (before.length > 0) react.push(p.created - Math.max(...before));
  }
  return {
    startP50: median(pods.flatMap((p) => (p.running === undefined ? [] : [p.running - p.created]))),
    boundP50: median(pods.flatMap((p) => (p.bound === undefined ? [] : [p.bound - p.created]))),
    teardownP50: median(teardowns),
    readyP50: median(
      pods.flatMap((p) => (p.running === undefined || p.ready === undefined ? [] : [p.ready - p.running])),
    ),
    reactP50: median(react),
  };
}

/**
 * The bench node's `--max-pods`: room for every old pod still terminating beside the new ones and the surge
 * (a terminating pod holds its place on the node until it is gone, as in Kubernetes; the Swarm node has no
 * such cap). With only a few spare places, new pods would wait for old ones to finish tearing down, and the
 * figure would measure that limit instead of the rollout.
 */
export function nodeCapacity(replicas: number): number {
  return Math.max(110, 2 * replicas + surgeOf(replicas));
}

/** `--trace FILE` (this bench's own option) apart from the shared ones. */
export function takeTrace(args: string[]): { trace: string | undefined; rest: string[] } {
  const i = args.indexOf('--trace');
  if (i === -1) return { trace: undefined, rest: args };
  const file = args[i + 1];
  if (file === undefined || file.startsWith('--')) throw new Error(`--trace needs a file; ${usage}`);
  return { trace: file, rest: [...args.slice(0, i), ...args.slice(i + 2)] };
}

/** One ReplicaSet as the bench's watch saw it, `t` ms after the image change (for --trace). */
export interface ReplicaSetTrace {
  t: number;
  name: string;
  replicas: number;
  generation: number;
  readyReplicas: number;
  availableReplicas: number;
  observedGeneration: number;
}

export function replicaSetTrace(rs: KubeObject, t: number): ReplicaSetTrace {
  const spec = (rs.spec ?? {}) as { replicas?: number };
  const status = (rs.status ?? {}) as {
    readyReplicas?: number;
    availableReplicas?: number;
    observedGeneration?: number;
  };
  return {
    t: Math.round(t),
    name: rs.metadata.name ?? '',
    replicas: spec.replicas ?? 0,
    generation: rs.metadata.generation ?? 0,
    readyReplicas: status.readyReplicas ?? 0,
    availableReplicas: status.availableReplicas ?? 0,
    observedGeneration: status.observedGeneration ?? 0,
  };
}

/** 10 % of the replicas, rounded up as upstream rounds maxSurge, at least 1. */
export function surgeOf(replicas: number): number {
  return Math.max(1, Math.ceil(replicas / 10));
}

async function benchFlotilla(
  o: PeerBenchOptions,
  log: (l: string) => void,
  trace: string | undefined,
): Promise<{ figures: Figures; rootfs: string }> {
  const registry = await startRegistry();
  const layout = mkdtempSync(join(tmpdir(), 'flotilla-bench-bb-'));
  const forgetRegistry = onInterrupt(async () => {
    await registry.stop();
    rmSync(layout, { recursive: true, force: true });
  });
  const cluster = await startNodeCluster({
    agentArgs: ['--max-pods', String(nodeCapacity(o.replicas))],
  });
  const forgetCluster = onInterrupt(() => cluster.close());
  try {
    await buildBusyboxLayout(layout, '1');
    const images = [1, 2].map((t) => `${registry.host}/bench/busybox:${t}`);
    for (const t of [1, 2]) await pushImage(layout, '1', registry, `bench/busybox:${t}`);
    const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
    const podRef = { apiVersion: 'v1', kind: 'Pod' };
    const deployment: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench', namespace: 'default' },
      spec: {
        replicas: o.replicas,
        selector: { matchLabels: { app: 'bench' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '10%', maxUnavailable: 0 } },
        template: {
          metadata: { labels: { app: 'bench' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'main',
                image: images[0],
                command: httpdCommand,
                readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    };
    const state = async (): Promise<{ generation: number; status: Record<string, number> }> => {
      const d = await cluster.client.get(deployRef, 'default', 'bench');
      return {
        generation: d.metadata.generation ?? 0,
        status: (d.status ?? {}) as Record<string, number>,
      };
    };
    const line = (s: Record<string, number>): string =>
      `${s['replicas'] ?? 0} pods, ${s['updatedReplicas'] ?? 0} updated, ${s['readyReplicas'] ?? 0} ready, ${s['availableReplicas'] ?? 0} available`;
    const complete = (g: number, s: Record<string, number>): boolean =>
      (s['observedGeneration'] ?? 0) >= g &&
      s['replicas'] === o.replicas &&
      s['updatedReplicas'] === o.replicas &&
      s['availableReplicas'] === o.replicas;

    log(`flotilla: pulling both tags once (warm-up pods); load ${loadAverage()}`);
    await pullOnce(cluster.client, images[0]!, 'warm-up-1');
    await pullOnce(cluster.client, images[1]!, 'warm-up-2');

    log(`flotilla: create → ${o.replicas} available`);
    let t0 = performance.now();
    await cluster.client.create(deployRef, 'default', deployment);
    const upMs = await waitUntil(
      'flotilla up',
      async () => {
        const { generation, status } = await state();
        return { done: complete(generation, status), progress: line(status) };
      },
      { timeoutMs: upTimeoutMs, intervalMs: 100, log, since: t0 },
    );

    log(`flotilla: rolling update to ${images[1]} (maxSurge 10%, maxUnavailable 0); load ${loadAverage()}`);
    let maxTotal = 0;
    let minAvailable = Number.POSITIVE_INFINITY;
    // Our own watch on the pods: when each new pod appears, runs and turns Ready, and how many pods
    // (not terminating) are Ready at any moment, whatever the status of the Deployment says.
    const times = new Map<string, PodTimes>();
    /** Old pods: when the deletion was seen, then how long until the pod left the API. */
    const deleting = new Map<string, number>();
    const teardowns: number[] = [];
    /** Old pods for --trace: deletion seen and gone, ms after the image change. */
    const oldTrace: { name: string; deleting: number; gone: number }[] = [];
    const isReady = (p: KubeObject): boolean =>
      p.metadata.deletionTimestamp === undefined &&
      ((p.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );
    const before = await cluster.client.list(podRef, 'default', { labelSelector: 'app=bench' });
    const readyPods = new Set(before.items.filter(isReady).map((p) => p.metadata.name ?? ''));
    let minReadyPods = readyPods.size;
    const watch = await cluster.client.watch(
      podRef,
      'default',
      { labelSelector: 'app=bench', resourceVersion: before.metadata.resourceVersion },
      (ev) => {
        const p = ev.object;
        if (ev.type !== 'DELETED' && isReady(p)) readyPods.add(p.metadata.name ?? '');
        else readyPods.delete(p.metadata.name ?? '');
        minReadyPods = Math.min(minReadyPods, readyPods.size);
        const image = (p.spec as { containers?: { image?: string }[] } | undefined)?.containers?.[0]?.image;
        const now = performance.now();
        const name = p.metadata.name ?? '';
        if (image !== images[1]) {
          if (ev.type === 'DELETED') {
            const since = deleting.get(name);
            if (since !== undefined) {
              teardowns.push(now - since);
              oldTrace.push({ name, deleting: Math.round(since - t0), gone: Math.round(now - t0) });
            }
          } else if (p.metadata.deletionTimestamp !== undefined && !deleting.has(name))
            deleting.set(name, now);
          return;
        }
        if (ev.type === 'DELETED') return;
        const t = times.get(name) ?? { created: now };
        times.set(name, t);
        const st = p.status as
          | {
              conditions?: { type: string; status: string }[];
              containerStatuses?: { state?: { running?: unknown } }[];
            }
          | undefined;
        if (t.bound === undefined && (p.spec as { nodeName?: string } | undefined)?.nodeName !== undefined)
          t.bound = now;
        if (t.running === undefined && st?.containerStatuses?.[0]?.state?.running !== undefined)
          t.running = now;
        if (t.ready === undefined && st?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          t.ready = now;
      },
      (err) => log(`flotilla: pod watch ended: ${err.message}`),
    );
    const rsTrace: ReplicaSetTrace[] = [];
    const rsWatch =
      trace === undefined
        ? undefined
        : await cluster.client.watch(
            { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
            'default',
            {},
            (ev) => rsTrace.push(replicaSetTrace(ev.object, performance.now() - t0)),
            (err) => log(`flotilla: ReplicaSet watch ended: ${err.message}`),
          );
    const timeline = o.timeline ? await watchPodTimeline(cluster.client, 'default', 'app=bench') : undefined;
    t0 = performance.now();
    // On the clock of V8's CPU profiles (CLOCK_MONOTONIC, µs), to cut a --cpu-prof down to the update.
    const monoStartUs = Number(process.hrtime.bigint() / 1000n);
    await cluster.client.patch(deployRef, 'default', 'bench', 'strategic', {
      spec: { template: { spec: { containers: [{ name: 'main', image: images[1] }] } } },
    });
    const rolloutMs = await waitUntil(
      'flotilla rollout',
      async () => {
        const { generation, status } = await state();
        if ((status['observedGeneration'] ?? 0) >= generation) {
          maxTotal = Math.max(maxTotal, status['replicas'] ?? 0);
          minAvailable = Math.min(minAvailable, status['availableReplicas'] ?? 0);
        }
        return { done: complete(generation, status), progress: line(status) };
      },
      { timeoutMs: rolloutTimeoutMs, intervalMs: 100, log, since: t0 },
    );
    const oldGoneMs = await waitUntil(
      'flotilla old pods',
      async () => {
        const pods = await cluster.client.list(podRef, 'default', { labelSelector: 'app=bench' });
        const old = pods.items.filter(
          (p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image !== images[1],
        ).length;
        return { done: old === 0, progress: `${old} old pods left` };
      },
      { timeoutMs: rolloutTimeoutMs, intervalMs: 100, log, since: t0 },
    );
    watch.close();
    rsWatch?.close();
    if (trace !== undefined) {
      const pods = [...times].map(([name, t]) => ({
        name,
        ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v - t0)])),
      }));
      writeFileSync(
        trace,
        JSON.stringify({
          monotonicUs: { start: monoStartUs, end: Number(process.hrtime.bigint() / 1000n) },
          newPods: pods,
          oldPods: oldTrace,
          replicaSets: rsTrace,
        }),
      );
      writeFileSync(`${trace}.metrics`, String(await cluster.client.request('GET', '/metrics')));
      log(`flotilla: trace written to ${trace} and ${trace}.metrics`);
    }
    for (const l of timeline?.stop() ?? []) log(`flotilla: new pods: ${l}`);
    log(`flotilla: done in ${fmt(rolloutMs)} ms, last old pod gone at ${fmt(oldGoneMs)} ms`);
    // Event reasons of the whole run (all namespaces: node events live in `default` or none), to tell a
    // slow node from a node the control plane stopped trusting (NodeNotReady marks every pod unready).
    const reasons = new Map<string, number>();
    for (const e of (await cluster.client.list({ apiVersion: 'v1', kind: 'Event' }, undefined)).items) {
      const ev = e as { reason?: string; count?: number };
      reasons.set(ev.reason ?? '?', (reasons.get(ev.reason ?? '?') ?? 0) + (ev.count ?? 1));
    }
    log(
      `flotilla: event reasons: ${[...reasons]
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${r} ${n}`)
        .join(', ')}`,
    );
    const unhealthy = reasons.get('Unhealthy') ?? 0;
    const nodeNotReady = reasons.get('NodeNotReady') ?? 0;
    const phases = { ...phasesOf([...times.values()], teardowns), unhealthy, minReadyPods, nodeNotReady };
    await cluster.client.delete(deployRef, 'default', 'bench');
    return {
      figures: { upMs, rolloutMs, oldGoneMs, maxTotal, minAvailable, phases },
      rootfs: unpackRootfs(layout, '1'),
    };
  } finally {
    forgetCluster();
    await cluster.close().catch((err: unknown) => log(`flotilla cleanup: ${(err as Error).message}`));
    forgetRegistry();
    await registry.stop();
    rmSync(layout, { recursive: true, force: true });
  }
}

interface Task {
  ID: string;
  Spec: { ContainerSpec: { Image: string } };
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

async function swarmTasks(call: EngineCall): Promise<Task[]> {
  const filters = encodeURIComponent(JSON.stringify({ service: ['bench'], 'desired-state': ['running'] }));
  const r = await call('GET', `/tasks?filters=${filters}`);
  if (r.status !== 200) throw new Error(`GET /tasks: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as Task[];
}

/** Running containers of the service by image, with how many of them Docker reports healthy. */
async function swarmContainers(call: EngineCall): Promise<Map<string, { running: number; healthy: number }>> {
  const filters = encodeURIComponent(
    JSON.stringify({ label: ['com.docker.swarm.service.name=bench'], status: ['running'] }),
  );
  const r = await call('GET', `/containers/json?filters=${filters}`);
  if (r.status !== 200) throw new Error(`GET /containers/json: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  const by = new Map<string, { running: number; healthy: number }>();
  for (const c of JSON.parse(r.text) as { Image: string; Status: string }[]) {
    const e = by.get(c.Image) ?? { running: 0, healthy: 0 };
    e.running++;
    if (c.Status.includes('(healthy)')) e.healthy++;
    by.set(c.Image, e);
  }
  return by;
}

async function benchSwarm(
  o: PeerBenchOptions,
  rootfs: string,
  log: (l: string) => void,
): Promise<Figures | string> {
  const dockerd = findDockerd(o.dockerd);
  if (dockerd === undefined)
    return 'peer: Docker not installed (apt-get install docker.io, or --dockerd PATH) — skipped';
  const engine = await startSwarm(dockerd, log);
  try {
    const call = engineCaller(engine.pool(4));
    for (const tag of ['1', '2']) {
      const failed = await importRootfs(call, rootfs, 'bb', tag);
      if (failed !== undefined) return `peer: ${failed}`;
    }
    const parallelism = surgeOf(o.replicas);
    // Counts desired-running tasks on `image` (running, and not yet running) and on any other image.
    const tally = async (image: string): Promise<{ ready: number; pending: number; other: number }> => {
      let ready = 0;
      let pending = 0;
      let other = 0;
      for (const t of await swarmTasks(call)) {
        if (t.Spec.ContainerSpec.Image !== image) other++;
        else if (t.Status.State === 'running') ready++;
        else pending++;
      }
      return { ready, pending, other };
    };
    // Done when N tasks run `image` healthy and no desired-running task is on another image.
    const converged = async (image: string): Promise<{ done: boolean; progress: string }> => {
      const t = await tally(image);
      let done = t.ready === o.replicas && t.other === 0;
      let progress = `${t.ready} running on ${image}, ${t.pending} starting, ${t.other} on the old image`;
      if (done) {
        const healthy = (await swarmContainers(call)).get(image)?.healthy ?? 0;
        done = healthy >= o.replicas;
        progress += `, ${healthy} healthy containers`;
      }
      return { done, progress };
    };

    log(`swarm: create → ${o.replicas} healthy`);
    let t0 = performance.now();
    const created = await call('POST', '/services/create', {
      Name: 'bench',
      TaskTemplate: {
        ContainerSpec: {
          Image: 'bb:1',
          Command: httpdCommand,
          StopGracePeriod: 1e9,
          Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 1e9 },
        },
      },
      Mode: { Replicated: { Replicas: o.replicas } },
      UpdateConfig: { Parallelism: parallelism, Delay: 0, Order: 'start-first', FailureAction: 'pause' },
    });
    if (created.status !== 201) return `peer: service create failed: HTTP ${created.status} ${created.text}`;
    const upMs = await waitUntil('swarm up', () => converged('bb:1'), {
      timeoutMs: upTimeoutMs,
      intervalMs: 250,
      log,
      since: t0,
    });

    log(`swarm: rolling update to bb:2 (parallelism ${parallelism}, start-first); load ${loadAverage()}`);
    const svc = JSON.parse((await call('GET', '/services/bench')).text) as {
      Version: { Index: number };
      Spec: { TaskTemplate: { ContainerSpec: { Image: string } } };
    };
    svc.Spec.TaskTemplate.ContainerSpec.Image = 'bb:2';
    let maxTotal = 0;
    let minAvailable = Number.POSITIVE_INFINITY;
    t0 = performance.now();
    const upd = await call('POST', `/services/bench/update?version=${svc.Version.Index}`, svc.Spec);
    if (upd.status !== 200) return `peer: service update failed: HTTP ${upd.status} ${upd.text}`;
    const rolloutMs = await waitUntil(
      'swarm rollout',
      async () => {
        const c = await swarmContainers(call);
        let total = 0;
        let healthy = 0;
        for (const e of c.values()) {
          total += e.running;
          healthy += e.healthy;
        }
        maxTotal = Math.max(maxTotal, total);
        minAvailable = Math.min(minAvailable, healthy);
        return converged('bb:2');
      },
      { timeoutMs: rolloutTimeoutMs, intervalMs: 250, log, since: t0 },
    );
    const oldGoneMs = await waitUntil(
      'swarm old containers',
      async () => {
        const old = (await swarmContainers(call)).get('bb:1')?.running ?? 0;
        return { done: old === 0, progress: `${old} old containers running` };
      },
      { timeoutMs: rolloutTimeoutMs, intervalMs: 250, log, since: t0 },
    );
    const updateCompletedMs = await waitUntil(
      'swarm update status',
      async () => {
        const s = JSON.parse((await call('GET', '/services/bench')).text) as {
          UpdateStatus?: { State?: string; Message?: string };
        };
        const st = s.UpdateStatus?.State ?? 'none';
        if (st === 'paused' || st === 'rollback_completed')
          throw new Error(`update ${st}: ${s.UpdateStatus?.Message ?? ''}`);
        return { done: st === 'completed', progress: `UpdateStatus ${st}` };
      },
      { timeoutMs: rolloutTimeoutMs, intervalMs: 250, log, since: t0 },
    );
    log(`swarm: done in ${fmt(rolloutMs)} ms, last old container gone at ${fmt(oldGoneMs)} ms`);
    await call('DELETE', '/services/bench');
    return { upMs, rolloutMs, oldGoneMs, maxTotal, minAvailable, updateCompletedMs };
  } finally {
    const notes = await engine.stop();
    for (const n of notes) log(`peer cleanup: ${n}`);
  }
}

export async function main(args: string[]): Promise<number> {
  const { trace, rest } = takeTrace(args);
  const o = parsePeerBenchArgs(rest, usage);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const loadBefore = loadAverage();
  log(`rollout bench: ${o.replicas} replicas, surge ${surgeOf(o.replicas)}, load ${loadBefore}`);
  const { figures: fl, rootfs } = await benchFlotilla(o, log, trace);
  const loadBetween = loadAverage();
  let peer: Figures | string = 'peer: skipped (--no-peer)';
  try {
    if (o.peer) peer = await benchSwarm(o, rootfs, log);
  } catch (err) {
    peer = `peer: failed — ${(err as Error).message}`;
  } finally {
    removeRootfs(rootfs);
  }
  const n = o.replicas;
  const ms = (x: number | undefined): string => (x === undefined ? '' : `${fmt(x)} ms`);
  const row = (label: string, f: (x: Figures) => number | undefined): string => {
    const a = f(fl);
    if (typeof peer === 'string') return `| ${label} | ${ms(a)} | | |`;
    const b = f(peer);
    const ratio = a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : '';
    return `| ${label} | ${ms(a)} | ${ms(b)} | ${ratio} |`;
  };
  const bounds = (x: Figures): string =>
    `at most ${x.maxTotal} running, at least ${x.minAvailable} available`;
  const lines = [
    '| figure | Flotilla | Docker Swarm | flotilla ÷ swarm |',
    '|---|---|---|---|',
    row(`create → ${n} available`, (x) => x.upMs),
    row(`**rolling update → ${n} available on the new revision**`, (x) => x.rolloutMs),
    row(`rolling update → last old replica gone`, (x) => x.oldGoneMs),
    row(`Swarm UpdateStatus completed (after its 5 s monitor)`, (x) => x.updateCompletedMs),
    `during the update, flotilla: ${bounds(fl)}` +
      (typeof peer === 'string' ? '' : `; swarm: ${bounds(peer)}`) +
      ` (bounds: ${n + surgeOf(n)} and ${n})`,
    fl.phases === undefined
      ? ''
      : `flotilla, new pods (p50): created → running ${fmt(fl.phases.startP50)} ms (created → bound ${fmt(fl.phases.boundP50)} ms), running → ready ${fmt(fl.phases.readyP50)} ms, ` +
        `old pods (p50): deletion → gone ${fmt(fl.phases.teardownP50)} ms, ` +
        `a new pod ready → the next one created ${fmt(fl.phases.reactP50)} ms; ` +
        `${fl.phases.unhealthy} Unhealthy events (failed readiness probes); fewest Ready pods seen by a pod watch: ${fl.phases.minReadyPods}; ` +
        `${fl.phases.nodeNotReady} NodeNotReady events (node and per pod)`,
    typeof peer === 'string' ? peer : '',
    `load average: before ${loadBefore}, between the two ${loadBetween}, after ${loadAverage()}`,
  ].filter((l) => l !== '');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (o.json !== undefined)
    writeFileSync(o.json, JSON.stringify({ replicas: n, flotilla: fl, peer }, null, 2));
  return 0;
}

runAsScript(import.meta.url, main, usage);
