// Start the real `flotilla server` binary (bin/flotilla.js → dist/) as a child process for benchmarks.
//
// Unlike src/testkit/process.ts (which runs from source under vitest), this resolves the repository root
// from the compiled file, can pass Node flags to the server (--cpu-prof), and exposes the child's pid for
// RSS and CPU readings.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { parse } from 'yaml';

/** The repository root: the nearest folder above this file holding bin/flotilla.js. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'bin', 'flotilla.js')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (bin/flotilla.js) above the bench');
    dir = up;
  }
}

export interface BenchServer {
  child: ChildProcess;
  pid: number;
  url: string;
  token: string;
  ca: string;
  /** A fresh undici Agent trusting the server's CA, with up to `connections` sockets to it. */
  newAgent(connections: number): Agent;
  output(): string;
  /** SIGTERM, wait for the exit (SIGKILL after `timeoutMs`). Resolves to the exit code or signal. */
  stop(timeoutMs?: number): Promise<string>;
}

export interface StartOptions {
  dataDir: string;
  port: number;
  store: 'sqlite' | 'etcd';
  etcdEndpoints?: string;
  /** Write a V8 CPU profile of the server into this folder on exit (node --cpu-prof). */
  cpuProfDir?: string;
}

export async function startServer(opts: StartOptions): Promise<BenchServer> {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build`');
  const nodeFlags = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`];
  const args = [
    ...nodeFlags,
    join(root, 'bin', 'flotilla.js'),
    'server',
    '--data-dir',
    opts.dataDir,
    '--listen',
    `127.0.0.1:${opts.port}`,
    '--store',
    opts.store,
    ...(opts.etcdEndpoints === undefined ? [] : ['--etcd-endpoints', opts.etcdEndpoints]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-65_536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
  });
  child.once('error', () => undefined); // a spawn failure also fires 'exit'

  const stop = async (timeoutMs = 15_000): Promise<string> => {
    if (child.exitCode !== null || child.signalCode !== null)
      return child.signalCode ?? String(child.exitCode);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };

  const kubeconfigFile = join(opts.dataDir, 'kubeconfig.yaml');
  const deadline = Date.now() + 30_000;
  while (!out.includes('kubeconfig:')) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`flotilla server exited (${child.exitCode ?? child.signalCode}) during start:\n${out}`);
    }
    if (Date.now() > deadline) {
      await stop(1_000);
      throw new Error(`flotilla server did not start within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const cfg = parse(readFileSync(kubeconfigFile, 'utf8'));
  const ca = Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
  const token: string = cfg.users[0].user.token;
  const url: string = cfg.clusters[0].cluster.server;
  const pid = child.pid;
  if (pid === undefined) throw new Error('flotilla server has no pid');
  return {
    child,
    pid,
    url,
    token,
    ca,
    newAgent: (connections) =>
      new Agent({
        connect: { ca },
        connections,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: 120_000,
        bodyTimeout: 0,
      }),
    output: () => out,
    stop,
  };
}

export interface Reply {
  status: number;
  text: string;
}

/** One authenticated request; the body is a JSON string (already serialised, to keep client CPU low). */
export async function call(
  server: Pick<BenchServer, 'url' | 'token'>,
  agent: Agent,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: string,
): Promise<Reply> {
  const res = await request(`${server.url}${path}`, {
    method,
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${server.token}`,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}
