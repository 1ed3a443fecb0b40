// Simulated nodes for e2e tests: the real `flotilla agent --simulate N` binary as a child process, so a test
// can kill -9 it (the leases stop and the node-lifecycle controller marks the nodes Unknown) and start it
// again (the same nodes resume; running pods are not restarted).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { ensureBuilt, flotillaBin } from './process.js';

export interface SimNodesOptions {
  /** API server URL and a token allowed to write nodes, leases and pod status (a node or admin token). */
  url: string;
  token: string;
  caPem: string;
  count: number;
  /** Node names are `<prefix>-<i>` (default `sim`). */
  prefix?: string;
  zones?: number;
  /** Durations as the CLI takes them: `1s`, `500ms`. */
  leaseInterval?: string;
  statusInterval?: string;
  podStartDelay?: string;
  nodeCpu?: string;
  nodeMemory?: string;
  nodePods?: number;
  labels?: Record<string, string>;
  /** Per-node pod ranges are carved from this (default 10.128.0.0/9). */
  podCidr?: string;
  extraArgs?: string[];
  /** How long to wait for "are running" (default 60 s). */
  startTimeoutMs?: number;
}

export interface SimNodes {
  /** `<prefix>-0` … `<prefix>-<count-1>`. */
  nodeNames: string[];
  child: ChildProcess;
  /** Everything the current process printed. */
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Starts the same command again (after kill9 or stop). */
  restart(): Promise<void>;
  /** `flotilla agent --simulate N --remove`: deletes the Nodes, their Leases and pods; returns its output. */
  remove(): Promise<string>;
  /** Stops the process if it runs, removes the nodes, deletes the temporary CA file. */
  close(): Promise<void>;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function spawnSim(args: string[], timeoutMs: number): Promise<Proc> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('are running')) {
    if (!running(child))
      throw new Error(`flotilla agent --simulate exited ${child.exitCode ?? child.signalCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`flotilla agent --simulate did not start in ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => out, exited };
}

export async function startSimNodes(opts: SimNodesOptions): Promise<SimNodes> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-sim-'));
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, opts.caPem);
  const prefix = opts.prefix ?? 'sim';
  const base = [
    flotillaBin,
    'agent',
    '--server',
    opts.url,
    '--token',
    opts.token,
    '--certificate-authority',
    caFile,
    '--simulate',
    String(opts.count),
    '--name-prefix',
    prefix,
  ];
  const flags: [string, string | number | undefined][] = [
    ['--zones', opts.zones],
    ['--lease-interval', opts.leaseInterval],
    ['--status-interval', opts.statusInterval],
    ['--pod-start-delay', opts.podStartDelay],
    ['--node-cpu', opts.nodeCpu],
    ['--node-memory', opts.nodeMemory],
    ['--node-pods', opts.nodePods],
    ['--pod-cidr', opts.podCidr],
  ];
  const args = [...base];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value));
  const labels = Object.entries(opts.labels ?? {}).map(([k, v]) => `${k}=${v}`);
  if (labels.length > 0) args.push('--labels', labels.join(','));
  args.push(...(opts.extraArgs ?? []));
  const timeout = opts.startTimeoutMs ?? 60_000;

  let proc: Proc;
  try {
    proc = await spawnSim(args, timeout);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const sim: SimNodes = {
    nodeNames: Array.from({ length: opts.count }, (_, i) => `${prefix}-${i}`),
    get child() {
      return proc.child;
    },
    output: () => proc.output(),
    async kill9() {
      if (running(proc.child)) proc.child.kill('SIGKILL');
      await proc.exited;
    },
    async stop() {
      if (running(proc.child)) proc.child.kill('SIGTERM');
      return proc.exited;
    },
    async restart() {
      if (running(proc.child))
        throw new Error('the simulated nodes are still running: kill9() or stop() first');
      proc = await spawnSim(args, timeout);
    },
    async remove() {
      const r = await runCommand(process.execPath, [...base, '--remove'], { timeoutMs: 120_000 });
      if (r.code !== 0)
        throw new Error(`flotilla agent --simulate --remove exited ${r.code}:\n${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async close() {
      await sim.stop();
      try {
        await sim.remove();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return sim;
}
