// Run the real `flotilla server` binary as a child process (for crash tests: kill -9 and restart).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { parse } from 'yaml';
import { callerFor, type Caller } from './http.js';

// The project root: two levels up from src/testkit, three from dist/src/testkit (benches run compiled).
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const root = projectRoot();
export const flotillaBin = join(root, 'bin', 'flotilla.js');

export function ensureBuilt(): void {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (scripts/test.sh builds before testing)');
  }
}

export { freePort } from './etcd.js';

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
  call: Caller['call'];
}

export async function startFlotillaProcess(opts: {
  dataDir: string;
  port: number;
  store?: 'sqlite' | 'etcd';
  etcdEndpoints?: string;
  extraArgs?: string[];
}): Promise<FlotillaProcess> {
  ensureBuilt();
  // FLOTILLA_SERVER_CPU_PROF=<dir>: a V8 CPU profile of the server, written there when it stops.
  const profDir = process.env['FLOTILLA_SERVER_CPU_PROF'];
  const args = [
    ...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]),
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
  const caller = callerFor({ url, caPem: ca, adminToken: token }, { agent });

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
    call: caller.call,
  };
}
