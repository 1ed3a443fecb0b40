// The peer: Docker Swarm's raft store, driven through the Docker Engine API on a private unix socket.
//
// We never install Docker. If `dockerd` is on this machine we start a private engine (own data-root,
// exec-root, pidfile and socket in a temp dir; no iptables, no bridge, no ip_forward change), make it a
// one-node swarm listening on loopback only, and tear all of it down afterwards.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { cgroupDirs, detectCgroupLayout, removeCgroup } from '../../src/agent/runtime/cgroups.js';
import { onInterrupt } from './cleanup.js';
import { configData } from './fixtures.js';
import { closedLoop, type LoadResult } from './load.js';
import { freePort } from './net.js';

export interface SwarmEngine {
  version: string;
  pool(connections: number): Pool;
  stop(): Promise<string[]>;
}

/** `dockerd` on PATH, /usr/sbin or /usr/bin (or the given path), or undefined. */
export function findDockerd(explicit?: string): string | undefined {
  const candidates =
    explicit !== undefined
      ? [explicit]
      : [
          ...(process.env.PATH ?? '')
            .split(delimiter)
            .filter((d) => d !== '')
            .map((d) => join(d, 'dockerd')),
          '/usr/sbin/dockerd',
          '/usr/bin/dockerd',
        ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Paths outside our temp dir that dockerd 20.10 creates whatever its flags say (the trust key in
 * /etc/docker, libnetwork's netns folder under /run/docker): removed afterwards if they were not there.
 */
const systemPaths = ['/etc/docker', '/run/docker', '/run/containerd'];

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** One Docker Engine API request: a JSON body, or a raw tar (`docker import`). */
export type EngineCall = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  raw?: Buffer,
) => Promise<{ status: number; text: string }>;

export function engineCaller(pool: Pool): EngineCall {
  return async (method, path, body, raw) => {
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
}

async function engineRequest(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return engineCaller(pool)(method, path, body);
}

/** `tar -C rootfs -c . | docker import - repo:tag`; undefined on success, else why it failed. */
export async function importRootfs(
  call: EngineCall,
  rootfs: string,
  repo: string,
  tag: string,
): Promise<string | undefined> {
  const tar = spawnSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 256 * 1024 * 1024 });
  if (tar.status !== 0) return `tar of ${rootfs} failed: ${tar.stderr.toString().trim()}`;
  const imp = await call('POST', `/images/create?fromSrc=-&repo=${repo}&tag=${tag}`, undefined, tar.stdout);
  return imp.status === 200 ? undefined : `docker import failed: HTTP ${imp.status} ${imp.text}`;
}

/** Start a private dockerd and `swarm init` it. Throws (after cleaning up) with the reason when it cannot. */
export async function startSwarm(dockerd: string, log: (line: string) => void): Promise<SwarmEngine> {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-swarm-peer-'));
  const socket = join(root, 'docker.sock');
  const gwbridgeBefore = linkExists('docker_gwbridge');
  const systemPathsBefore = new Set(systemPaths.filter((p) => existsSync(p)));
  // dockerd's `docker` cgroup, in every hierarchy: removed afterwards if it was not there.
  const cgroupLayout = await detectCgroupLayout();
  const dockerCgroupBefore = cgroupDirs(cgroupLayout, 'docker').some((d) => existsSync(d));
  const binDir = dirname(dockerd);
  const env = {
    ...process.env,
    PATH: [binDir, join(binDir, '..', 'bin'), process.env.PATH ?? ''].join(delimiter),
  };
  const child: ChildProcess = spawn(
    dockerd,
    [
      `--data-root=${join(root, 'data')}`,
      `--exec-root=${join(root, 'exec')}`,
      `--pidfile=${join(root, 'dockerd.pid')}`,
      `--host=unix://${socket}`,
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-16_384);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`spawn: ${err.message}\n`)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pools: Pool[] = [];
  const control = new Pool('http://localhost', { socketPath: socket, connections: 2 });
  pools.push(control);

  let swarmJoined = false;
  let forget = (): void => undefined;
  const stop = async (): Promise<string[]> => {
    forget();
    const notes: string[] = [];
    if (swarmJoined) {
      try {
        const left = await engineRequest(control, 'POST', '/swarm/leave?force=true');
        if (left.status !== 200) notes.push(`swarm leave: HTTP ${left.status} ${left.text.trim()}`);
      } catch (err) {
        notes.push(`swarm leave: ${(err as Error).message}`);
      }
    }
    for (const p of pools) await p.destroy().catch(() => undefined);
    // The engine's own containerd, if it started one, writes its pid here.
    const containerdPidFile = join(root, 'exec', 'containerd', 'containerd.pid');
    const containerdPid = existsSync(containerdPidFile)
      ? Number(readFileSync(containerdPidFile, 'utf8').trim())
      : Number.NaN;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (Number.isInteger(containerdPid) && containerdPid > 0) {
      try {
        process.kill(containerdPid, 0);
        process.kill(containerdPid, 'SIGTERM');
        notes.push(`containerd ${containerdPid} outlived dockerd: sent SIGTERM`);
      } catch {
        // already gone, as it should be
      }
    }
    if (!gwbridgeBefore && linkExists('docker_gwbridge')) {
      const del = spawnSync('ip', ['link', 'del', 'docker_gwbridge'], { encoding: 'utf8' });
      notes.push(
        del.status === 0
          ? 'removed the docker_gwbridge link'
          : `ip link del docker_gwbridge: ${del.stderr.trim()}`,
      );
    }
    // Network namespaces and other mounts the engine may have left under its roots and the system paths
    // it created; then those folders.
    const created = systemPaths.filter((p) => !systemPathsBefore.has(p) && existsSync(p));
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${root}/`) || created.some((c) => m.startsWith(`${c}/`)))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) {
      const um = spawnSync('umount', ['-l', m], { encoding: 'utf8' });
      if (um.status !== 0) notes.push(`umount ${m}: ${um.stderr.trim()}`);
    }
    for (const c of created) {
      rmSync(c, { recursive: true, force: true });
      notes.push(`removed ${c} (created by dockerd)`);
    }
    if (!dockerCgroupBefore && cgroupDirs(cgroupLayout, 'docker').some((d) => existsSync(d))) {
      try {
        await removeCgroup(cgroupLayout, 'docker');
        notes.push('removed the docker cgroup (created by dockerd)');
      } catch (err) {
        notes.push((err as Error).message);
      }
    }
    rmSync(root, { recursive: true, force: true });
    return notes;
  };

  forget = onInterrupt(stop);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}):\n${out.trim()}`);
      if (Date.now() > deadline) throw new Error(`dockerd did not answer /_ping within 60 s:\n${out.trim()}`);
      if (existsSync(socket)) {
        try {
          const ping = await engineRequest(control, 'GET', '/_ping');
          if (ping.status === 200) break;
        } catch {
          // not yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const version = JSON.parse((await engineRequest(control, 'GET', '/version')).text) as {
      Version?: string;
      ApiVersion?: string;
    };
    const port = await freePort();
    const init = await engineRequest(control, 'POST', '/swarm/init', {
      ListenAddr: `127.0.0.1:${port}`,
      AdvertiseAddr: `127.0.0.1:${port}`,
      ForceNewCluster: false,
    });
    if (init.status !== 200) throw new Error(`swarm init: HTTP ${init.status} ${init.text.trim()}`);
    swarmJoined = true;
    log(
      `peer: dockerd ${version.Version ?? '?'} (API ${version.ApiVersion ?? '?'}) from ${dockerd}, swarm initialised on 127.0.0.1:${port}`,
    );
    return {
      version: version.Version ?? '?',
      pool: (connections) => {
        const p = new Pool('http://localhost', {
          socketPath: socket,
          connections,
          pipelining: 1,
          headersTimeout: 120_000,
          bodyTimeout: 120_000,
        });
        pools.push(p);
        return p;
      },
      stop,
    };
  } catch (err) {
    const notes = await stop();
    throw new Error(`${(err as Error).message}${notes.length > 0 ? `\n(cleanup: ${notes.join('; ')})` : ''}`);
  }
}

export interface SwarmFigures {
  version: string;
  creates: LoadResult;
  /** GET /configs of all of them, ms per run. */
  listMs: number[];
  listBytes: number;
  listCount: number;
}

/** `docker config create` × count with `clients` concurrent clients, then list them `listRuns` times. */
export async function swarmConfigBench(
  engine: SwarmEngine,
  opts: { count: number; clients: number; listRuns: number },
): Promise<SwarmFigures> {
  const pool = engine.pool(opts.clients);
  const creates = await closedLoop(opts.count, opts.clients, async (i) => {
    const data = Buffer.from(
      Object.entries(configData(i))
        .map(([k, v]) => `# ${k}\n${v}`)
        .join(''),
    ).toString('base64');
    const res = await pool.request({
      path: '/configs/create',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        Name: `bench-cm-${String(i).padStart(6, '0')}`,
        Labels: { app: 'shop', bench: 'control-plane' },
        Data: data,
      }),
    });
    const text = await res.body.text();
    return res.statusCode === 201 ? undefined : `HTTP ${res.statusCode} ${text.slice(0, 200)}`;
  });
  const listMs: number[] = [];
  let listBytes = 0;
  let listCount = 0;
  for (let r = 0; r < opts.listRuns; r++) {
    const t0 = performance.now();
    const res = await pool.request({ path: '/configs', method: 'GET' });
    const buf = Buffer.from(await res.body.arrayBuffer());
    listMs.push(performance.now() - t0);
    if (res.statusCode !== 200)
      throw new Error(`GET /configs: HTTP ${res.statusCode} ${buf.toString().slice(0, 200)}`);
    if (r === 0) {
      listBytes = buf.length;
      listCount = (JSON.parse(buf.toString()) as unknown[]).length;
    }
  }
  return { version: engine.version, creates, listMs, listBytes, listCount };
}
