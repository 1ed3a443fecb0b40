// Pod start latency and monitor memory on a real node, side by side with `docker run` on a private
// Docker engine (the peer) when dockerd is on the machine.
//
//   node dist/bench/pod-start.js [--pods 50] [--dockerd PATH] [--no-peer] [--json FILE]
//
// Flotilla: `flotilla server` + `flotilla agent` (runc + conmon, CNI bridge, overlayfs), a busybox image
// pushed to a local registry and pulled once before measuring. Each pod is created alone and timed from
// the POST to the watch event that shows it Running (image cached). Then the RSS of every conmon
// monitor is read from /proc. The peer: the same busybox rootfs imported into dockerd, and for each
// container `POST /containers/create` + `/start` (what `docker run -d` does), network none; then the
// RSS of every containerd-shim.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/api/types.js';
import { buildBusyboxLayout, pushImage } from '../src/testkit/images.js';
import { startNodeCluster } from '../src/testkit/node.js';
import { startRegistry } from '../src/testkit/registry.js';
import { findDockerd, startSwarm } from './lib/swarm.js';
import { summarize, type Summary } from './lib/stats.js';
import { runAsScript } from './lib/main.js';

interface Options {
  pods: number;
  dockerd: string | undefined;
  peer: boolean;
  json: string | undefined;
}

const usage = 'usage: pod-start.js [--pods 50] [--dockerd PATH] [--no-peer] [--json FILE]';

function parseArgs(args: string[]): Options {
  const o: Options = { pods: 50, dockerd: undefined, peer: true, json: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--pods') o.pods = Number(value());
    else if (a === '--dockerd') o.dockerd = value();
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--json') o.json = value();
    else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  return o;
}

/** VmRSS in kB of every process whose command line matches. */
function rssOf(match: (cmdline: string) => boolean): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!match(cmd)) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m !== null) out.push(Number(m[1]));
    } catch {
      // gone
    }
  }
  return out;
}

function loads(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

interface Figures {
  start: Summary;
  monitorKiB: Summary;
  /** Every pod's start latency in order (ms), for the JSON file. */
  samples: number[];
}

async function benchFlotilla(
  o: Options,
  log: (l: string) => void,
): Promise<{ figures: Figures; rootfs: string }> {
  const registry = await startRegistry();
  const layout = mkdtempSync(join(tmpdir(), 'flotilla-bench-bb-'));
  const cluster = await startNodeCluster();
  try {
    await buildBusyboxLayout(layout, '1');
    await pushImage(layout, '1', registry, 'bench/busybox:1');
    const image = `${registry.host}/bench/busybox:1`;
    const podRef = { apiVersion: 'v1', kind: 'Pod' };
    const pod = (name: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels: { bench: 'start' } },
      spec: {
        nodeName: cluster.nodeName,
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
      },
    });
    const running = new Map<string, (t: number) => void>();
    const watch = await cluster.client.watch(
      podRef,
      'default',
      { labelSelector: 'bench=start' },
      (ev) => {
        const p = ev.object as { metadata: { name?: string }; status?: { phase?: string } };
        if (p.status?.phase === 'Running') {
          const done = running.get(p.metadata.name ?? '');
          if (done !== undefined) {
            running.delete(p.metadata.name ?? '');
            done(performance.now());
          }
        }
      },
      () => undefined,
      () => undefined,
    );
    const startOne = async (name: string): Promise<number> => {
      const t0 = performance.now();
      const seen = new Promise<number>((resolve) => running.set(name, resolve));
      await cluster.client.create(podRef, 'default', pod(name));
      const t1 = await Promise.race([
        seen,
        new Promise<number>((_, reject) =>
          setTimeout(() => reject(new Error(`${name} not Running in 60 s`)), 60_000),
        ),
      ]);
      return t1 - t0;
    };
    log(`flotilla: pulling the image once (warm-up pod); load ${loads()}`);
    await startOne('warm-up');
    const samples: number[] = [];
    for (let i = 0; i < o.pods; i++) samples.push(await startOne(`p-${i}`));
    const monitors = rssOf((c) => c.startsWith('conmon') || c.includes('/conmon ')).filter(() => true);
    const ours = rssOf((c) => /conmon/.test(c) && c.includes(cluster.dataDir));
    watch.close();
    log(
      `flotilla: ${samples.length} pods started; ${ours.length} conmon monitors (${monitors.length} on the machine)`,
    );
    await cluster.client.request('DELETE', '/api/v1/namespaces/default/pods?labelSelector=bench%3Dstart');
    const rootfs = mkdtempSync(join(tmpdir(), 'flotilla-bench-rootfs-'));
    // The same busybox for the peer: unpack the layout's image into a plain rootfs.
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:1`, join(rootfs, 'bundle')], {
      stdio: 'ignore',
    });
    return {
      figures: { start: summarize(samples), monitorKiB: summarize(ours), samples },
      rootfs: join(rootfs, 'bundle', 'rootfs'),
    };
  } finally {
    await cluster.close().catch((err: unknown) => log(`flotilla cleanup: ${(err as Error).message}`));
    await registry.stop();
    rmSync(layout, { recursive: true, force: true });
  }
}

async function benchDocker(o: Options, rootfs: string, log: (l: string) => void): Promise<Figures | string> {
  const dockerd = findDockerd(o.dockerd);
  if (dockerd === undefined)
    return 'peer: Docker not installed (apt-get install docker.io, or --dockerd PATH) — skipped';
  const engine = await startSwarm(dockerd, log);
  try {
    const pool = engine.pool(4);
    const call = async (
      method: 'GET' | 'POST' | 'DELETE',
      path: string,
      body?: unknown,
      raw?: Buffer,
    ): Promise<{ status: number; text: string }> => {
      const res = await pool.request({
        path,
        method,
        headers:
          raw !== undefined
            ? { 'content-type': 'application/x-tar' }
            : body === undefined
              ? {}
              : { 'content-type': 'application/json' },
        ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.statusCode, text: await res.body.text() };
    };
    const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 256 * 1024 * 1024 });
    const imp = await call('POST', '/images/create?fromSrc=-&repo=bb&tag=1', undefined, tar.stdout);
    if (imp.status !== 200) return `peer: docker import failed: HTTP ${imp.status} ${imp.text}`;
    const runOne = async (): Promise<{ ms: number; id: string }> => {
      const t0 = performance.now();
      const created = await call('POST', '/containers/create', {
        Image: 'bb:1',
        Cmd: ['sleep', '3600'],
        HostConfig: { NetworkMode: 'none' },
      });
      if (created.status !== 201) throw new Error(`docker create: HTTP ${created.status} ${created.text}`);
      const id = (JSON.parse(created.text) as { Id: string }).Id;
      const started = await call('POST', `/containers/${id}/start`);
      if (started.status !== 204) throw new Error(`docker start: HTTP ${started.status} ${started.text}`);
      return { ms: performance.now() - t0, id };
    };
    const warm = await runOne();
    const ids = [warm.id];
    const samples: number[] = [];
    for (let i = 0; i < o.pods; i++) {
      const r = await runOne();
      samples.push(r.ms);
      ids.push(r.id);
    }
    const shims = rssOf((c) => c.includes('containerd-shim'));
    for (const id of ids) await call('DELETE', `/containers/${id}?force=true`);
    return { start: summarize(samples), monitorKiB: summarize(shims), samples };
  } finally {
    const notes = await engine.stop();
    for (const n of notes) log(`peer cleanup: ${n}`);
  }
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  log(`pod start bench: ${o.pods} pods, load ${loads()}`);
  const { figures: fl, rootfs } = await benchFlotilla(o, log);
  let peer: Figures | string = 'peer: skipped (--no-peer)';
  try {
    if (o.peer) peer = await benchDocker(o, rootfs, log);
  } catch (err) {
    peer = `peer: failed — ${(err as Error).message}`;
  } finally {
    rmSync(join(rootfs, '..', '..'), { recursive: true, force: true });
  }
  const row = (label: string, f: (x: Figures) => number, unit: string, lowerIsBetter = true): string => {
    const a = f(fl);
    if (typeof peer === 'string') return `| ${label} | ${fmt(a)} ${unit} | | |`;
    const b = f(peer);
    return `| ${label} | ${fmt(a)} ${unit} | ${fmt(b)} ${unit} | ${(lowerIsBetter ? a / b : b / a).toFixed(2)} |`;
  };
  const lines = [
    '| figure | Flotilla (runc + conmon, CNI) | Docker (`docker run`, network none) | flotilla ÷ docker |',
    '|---|---|---|---|',
    row('start p50 (create → Running)', (x) => x.start.p50, 'ms'),
    row('start p99', (x) => x.start.p99, 'ms'),
    row('monitor RSS per container (mean)', (x) => x.monitorKiB.mean, 'KiB'),
    typeof peer === 'string' ? peer : '',
    `load average after: ${loads()}`,
  ].filter((l) => l !== '');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (o.json !== undefined) writeFileSync(o.json, JSON.stringify({ flotilla: fl, peer }, null, 2));
  return 0;
}

runAsScript(import.meta.url, main, usage);
