// Start a throwaway etcd (Debian's /usr/bin/etcd, package `etcd-server`) for integration tests.
//
// Each call gets free loopback ports, its own temp data dir, and waits until /health answers. stop()
// sends SIGTERM (SIGKILL after a timeout), waits for the exit and removes the data dir. Any etcd still
// running when the test process exits is killed, so none is ever left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const etcdBinary = '/usr/bin/etcd';

export interface EtcdInstance {
  /** Client URL, e.g. `http://127.0.0.1:34567`. */
  endpoint: string;
  /** Stop etcd (SIGTERM, then SIGKILL after `timeoutMs`), wait for it to exit, remove its data dir. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartEtcdOptions {
  /** How long to wait for /health. Default 20 s. */
  readyTimeoutMs?: number;
}

const running = new Set<{ child: ChildProcess; dataDir: string }>();
let exitHookInstalled = false;

function killAll(): void {
  for (const { child, dataDir } of running) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
  running.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killAll);
  // A signal ends the process without 'exit': clean up, then let the signal do what it would have done.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** A port nobody listens on right now (bind port 0 on loopback, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the bound port'))));
    });
  });
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdInstance> {
  if (!existsSync(etcdBinary)) {
    throw new Error(
      `${etcdBinary} not found: install etcd with \`apt-get install etcd-server\` (the etcd integration tests need it)`,
    );
  }
  // Free ports can be taken between probing and etcd's bind: retry a few times on a failed start.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options.readyTimeoutMs ?? 20_000);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function startOnce(readyTimeoutMs: number): Promise<EtcdInstance> {
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-etcd-'));
  const child = spawn(
    etcdBinary,
    [
      '--name=default',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const entry = { child, dataDir };
  running.add(entry);
  installExitHook();

  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  child.once('error', () => undefined); // a spawn failure also fires 'exit'

  const stop = async (timeoutMs = 5_000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
    running.delete(entry);
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  for (;;) {
    if (exitedEarly) {
      await stop();
      throw new Error(`etcd exited during startup (code ${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    if (await healthy(clientUrl)) return { endpoint: clientUrl, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not become healthy within ${readyTimeoutMs} ms:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}
