// Run the real `flotilla server` binary as a child process (for crash tests: kill -9 and restart).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const flotillaBin = join(root, 'bin', 'flotilla.js');

export function ensureBuilt(): void {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (scripts/test.sh builds before testing)');
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface FlotillaProcess {
  child: ChildProcess;
  url: string;
  token: string;
  ca: string;
  agent: Agent;
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** An authenticated JSON request. */
  call(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: any }>;
}

export async function startFlotillaProcess(opts: {
  dataDir: string;
  port: number;
  store?: 'sqlite' | 'etcd';
  etcdEndpoints?: string;
  extraArgs?: string[];
}): Promise<FlotillaProcess> {
  ensureBuilt();
  const args = [
    flotillaBin,
    'server',
    '--data-dir',
    opts.dataDir,
    '--listen',
    `127.0.0.1:${opts.port}`,
    '--store',
    opts.store ?? 'sqlite',
    ...(opts.etcdEndpoints === undefined ? [] : ['--etcd-endpoints', opts.etcdEndpoints]),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const kubeconfigFile = join(opts.dataDir, 'kubeconfig.yaml');
  const deadline = Date.now() + 30_000;
  while (!out.includes('kubeconfig:')) {
    if (child.exitCode !== null) throw new Error(`flotilla server exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`flotilla server did not start in 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const cfg = parse(readFileSync(kubeconfigFile, 'utf8'));
  const ca = Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
  const token: string = cfg.users[0].user.token;
  const url: string = cfg.clusters[0].cluster.server;
  const agent = new Agent({ connect: { ca }, connections: 128, pipelining: 1 });

  return {
    child,
    url,
    token,
    ca,
    agent,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
      await agent.close().catch(() => undefined);
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      await agent.close().catch(() => undefined);
      return code;
    },
    async call(method, path, body, contentType = 'application/json') {
      const res = await request(`${url}${path}`, {
        method: method as 'GET',
        dispatcher: agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.statusCode, body: parsed };
    },
  };
}
