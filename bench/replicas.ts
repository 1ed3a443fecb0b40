// Replicas on a real node, side by side with Docker Swarm in the same run (same busybox rootfs):
//   1. apply → N ready replicas (N = 100 by default);
//   2. N → 0 (every container gone);
//   3. a killed container → full readiness again (10 replicas, SIGKILL to one container's process).
//
//   node dist/bench/replicas.js [--replicas 100] [--dockerd PATH] [--no-peer] [--json FILE] [--timeline]
//
// Flotilla: `flotilla server` + `flotilla agent` as processes (scheduler, Deployment and ReplicaSet
// controllers, runc + conmon, CNI bridge). Each replica is `sleep 3600` without probes, so "ready" means
// its container runs. The image is pulled once by a warm-up pod first. Swarm: a private dockerd
// (`--bridge=none --iptables=false`), `swarm init` on loopback, the busybox rootfs imported as bb:1, a
// service of `sleep 3600` replicas; "ready" is a task in state running.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/api/types.js';
import { eventually } from '../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../src/testkit/images.js';
import { startNodeCluster } from '../src/testkit/node.js';
import { startRegistry } from '../src/testkit/registry.js';
import { parsePeerBenchArgs, type PeerBenchOptions } from './lib/args.js';
import { pullOnce, removeRootfs, unpackRootfs } from './lib/node-images.js';
import { loadAverage as loads } from './lib/proc.js';
import { engineCaller, findDockerd, importRootfs, startSwarm } from './lib/swarm.js';
import { runAsScript } from './lib/main.js';
import { watchPodTimeline } from './lib/timeline.js';

type Options = PeerBenchOptions;

const usage = 'usage: replicas.js [--replicas 100] [--dockerd PATH] [--no-peer] [--json FILE] [--timeline]';

interface Figures {
  /** apply → all replicas ready */
  upMs: number;
  /** all → 0, every container gone */
  downMs: number;
  /** SIGKILL of one container → all 10 ready again */
  healMs: number;
}

const healReplicas = 10;

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

async function benchFlotilla(
  o: Options,
  log: (l: string) => void,
): Promise<{ figures: Figures; rootfs: string }> {
  const registry = await startRegistry();
  const layout = mkdtempSync(join(tmpdir(), 'flotilla-bench-bb-'));
  const cluster = await startNodeCluster({
    agentArgs: ['--max-pods', String(Math.max(110, o.replicas + 10))],
  });
  try {
    await buildBusyboxLayout(layout, '1');
    await pushImage(layout, '1', registry, 'bench/busybox:1');
    const image = `${registry.host}/bench/busybox:1`;
    const podRef = { apiVersion: 'v1', kind: 'Pod' };
    const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
    const template = {
      metadata: { labels: { app: 'bench' } },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
      },
    };
    const deployment = (replicas: number): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench', namespace: 'default' },
      spec: { replicas, selector: { matchLabels: { app: 'bench' } }, template },
    });
    const status = async (): Promise<Record<string, number>> =>
      ((await cluster.client.get(deployRef, 'default', 'bench')).status ?? {}) as Record<string, number>;

    log(`flotilla: pulling the image once (warm-up pod); load ${loads()}`);
    await pullOnce(cluster.client, image);

    log(`flotilla: apply → ${o.replicas} ready`);
    const timeline = o.timeline ? await watchPodTimeline(cluster.client, 'default', 'app=bench') : undefined;
    let t0 = performance.now();
    await cluster.client.create(deployRef, 'default', deployment(o.replicas));
    await eventually(
      async () => {
        const s = await status();
        if (s['readyReplicas'] !== o.replicas) throw new Error(`${s['readyReplicas'] ?? 0} ready`);
      },
      300_000,
      50,
    );
    const upMs = performance.now() - t0;
    for (const line of timeline?.stop() ?? []) log(`flotilla: ${line}`);

    log(`flotilla: ${o.replicas} → 0`);
    t0 = performance.now();
    await cluster.client.patch(deployRef, 'default', 'bench', 'merge', { spec: { replicas: 0 } });
    await eventually(
      async () => {
        const pods = await cluster.client.list(podRef, 'default', { labelSelector: 'app=bench' });
        if (pods.items.length > 0) throw new Error(`${pods.items.length} pods left`);
      },
      300_000,
      50,
    );
    const downMs = performance.now() - t0;

    log(`flotilla: kill one of ${healReplicas} containers`);
    await cluster.client.patch(deployRef, 'default', 'bench', 'merge', { spec: { replicas: healReplicas } });
    await eventually(async () => {
      const s = await status();
      if (s['readyReplicas'] !== healReplicas) throw new Error(`${s['readyReplicas'] ?? 0} ready`);
    }, 120_000);
    const pods = await cluster.client.list(podRef, 'default', { labelSelector: 'app=bench' });
    const victim = pods.items[0]!;
    const cs = ((victim.status as { containerStatuses?: { containerID?: string; restartCount?: number }[] })
      .containerStatuses ?? [])[0];
    const id = (cs?.containerID ?? '').replace(/^[a-z]+:\/\//, '');
    const state = JSON.parse(
      execFileSync('runc', ['--root', cluster.runcRoot, 'state', id], { encoding: 'utf8' }),
    ) as { pid: number };
    t0 = performance.now();
    process.kill(state.pid, 'SIGKILL');
    await eventually(
      async () => {
        const p = await cluster.client.get(podRef, 'default', victim.metadata.name ?? '');
        const c = ((p.status as { containerStatuses?: { restartCount?: number; ready?: boolean }[] })
          .containerStatuses ?? [])[0];
        if ((c?.restartCount ?? 0) <= (cs?.restartCount ?? 0) || c?.ready !== true)
          throw new Error('not back yet');
        const s = await status();
        if (s['readyReplicas'] !== healReplicas) throw new Error(`${s['readyReplicas'] ?? 0} ready`);
      },
      120_000,
      25,
    );
    const healMs = performance.now() - t0;
    await cluster.client.delete(deployRef, 'default', 'bench');

    return { figures: { upMs, downMs, healMs }, rootfs: unpackRootfs(layout, '1') };
  } finally {
    await cluster.close().catch((err: unknown) => log(`flotilla cleanup: ${(err as Error).message}`));
    await registry.stop();
    rmSync(layout, { recursive: true, force: true });
  }
}

async function benchSwarm(o: Options, rootfs: string, log: (l: string) => void): Promise<Figures | string> {
  const dockerd = findDockerd(o.dockerd);
  if (dockerd === undefined)
    return 'peer: Docker not installed (apt-get install docker.io, or --dockerd PATH) — skipped';
  const engine = await startSwarm(dockerd, log);
  try {
    const pool = engine.pool(4);
    const call = engineCaller(pool);
    const failed = await importRootfs(call, rootfs, 'bb', '1');
    if (failed !== undefined) return `peer: ${failed}`;

    const running = async (): Promise<{ id: string; containerId: string }[]> => {
      const filters = encodeURIComponent(
        JSON.stringify({ service: ['bench'], 'desired-state': ['running'] }),
      );
      const r = await call('GET', `/tasks?filters=${filters}`);
      const tasks = JSON.parse(r.text) as {
        ID: string;
        Status: { State: string; ContainerStatus?: { ContainerID?: string } };
      }[];
      return tasks
        .filter((t) => t.Status.State === 'running')
        .map((t) => ({ id: t.ID, containerId: t.Status.ContainerStatus?.ContainerID ?? '' }));
    };
    const containers = async (): Promise<number> => {
      const filters = encodeURIComponent(JSON.stringify({ label: ['com.docker.swarm.service.name=bench'] }));
      const r = await call('GET', `/containers/json?all=true&filters=${filters}`);
      return (JSON.parse(r.text) as unknown[]).length;
    };
    const scale = async (replicas: number): Promise<void> => {
      const s = JSON.parse((await call('GET', '/services/bench')).text) as {
        Version: { Index: number };
        Spec: { Mode: { Replicated: { Replicas: number } } };
      };
      s.Spec.Mode.Replicated.Replicas = replicas;
      const r = await call('POST', `/services/bench/update?version=${s.Version.Index}`, s.Spec);
      if (r.status !== 200) throw new Error(`service update: HTTP ${r.status} ${r.text}`);
    };

    log(`swarm: apply → ${o.replicas} running`);
    let t0 = performance.now();
    const created = await call('POST', '/services/create', {
      Name: 'bench',
      TaskTemplate: { ContainerSpec: { Image: 'bb:1', Command: ['sleep', '3600'], StopGracePeriod: 0 } },
      Mode: { Replicated: { Replicas: o.replicas } },
    });
    if (created.status !== 201) return `peer: service create failed: HTTP ${created.status} ${created.text}`;
    await eventually(
      async () => {
        const n = (await running()).length;
        if (n !== o.replicas) throw new Error(`${n} running`);
      },
      300_000,
      50,
    );
    const upMs = performance.now() - t0;

    log(`swarm: ${o.replicas} → 0`);
    t0 = performance.now();
    await scale(0);
    await eventually(
      async () => {
        const n = await containers();
        if (n > 0) throw new Error(`${n} containers left`);
      },
      300_000,
      50,
    );
    const downMs = performance.now() - t0;

    log(`swarm: kill one of ${healReplicas} containers`);
    await scale(healReplicas);
    const before = await eventually(async () => {
      const r = await running();
      if (r.length !== healReplicas) throw new Error(`${r.length} running`);
      return r;
    }, 120_000);
    const victim = before[0]!;
    const inspect = JSON.parse((await call('GET', `/containers/${victim.containerId}/json`)).text) as {
      State: { Pid: number };
    };
    t0 = performance.now();
    process.kill(inspect.State.Pid, 'SIGKILL');
    await eventually(
      async () => {
        const r = await running();
        if (r.length !== healReplicas || r.some((t) => t.id === victim.id))
          throw new Error(`${r.length} running`);
      },
      120_000,
      25,
    );
    const healMs = performance.now() - t0;
    await call('DELETE', '/services/bench');
    await eventually(async () => {
      const n = await containers();
      if (n > 0) throw new Error(`${n} containers left`);
    }, 120_000);
    return { upMs, downMs, healMs };
  } finally {
    const notes = await engine.stop();
    for (const n of notes) log(`peer cleanup: ${n}`);
  }
}

export async function main(args: string[]): Promise<number> {
  const o = parsePeerBenchArgs(args, usage);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  log(`replicas bench: ${o.replicas} replicas, load ${loads()}`);
  const { figures: fl, rootfs } = await benchFlotilla(o, log);
  let peer: Figures | string = 'peer: skipped (--no-peer)';
  try {
    if (o.peer) peer = await benchSwarm(o, rootfs, log);
  } catch (err) {
    peer = `peer: failed — ${(err as Error).message}`;
  } finally {
    removeRootfs(rootfs);
  }
  const row = (label: string, f: (x: Figures) => number): string => {
    const a = f(fl);
    if (typeof peer === 'string') return `| ${label} | ${fmt(a)} ms | | |`;
    const b = f(peer);
    return `| ${label} | ${fmt(a)} ms | ${fmt(b)} ms | ${(a / b).toFixed(2)} |`;
  };
  const lines = [
    '| figure | Flotilla | Docker Swarm | flotilla ÷ swarm |',
    '|---|---|---|---|',
    row(`apply → ${o.replicas} ready`, (x) => x.upMs),
    row(`${o.replicas} → 0`, (x) => x.downMs),
    row(`killed container → ${healReplicas}/${healReplicas} ready`, (x) => x.healMs),
    typeof peer === 'string' ? peer : '',
    `load average after: ${loads()}`,
  ].filter((l) => l !== '');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (o.json !== undefined) writeFileSync(o.json, JSON.stringify({ flotilla: fl, peer }, null, 2));
  return 0;
}

runAsScript(import.meta.url, main, usage);
