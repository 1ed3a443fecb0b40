// The API server's local socket: plain HTTP on a unix socket in the data dir, which the controllers and the
// scheduler of the server's own process use instead of HTTPS. Requests on it authenticate like any other,
// and the socket goes away with the server.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client/client.js';
import type { KubeObject, WatchEvent } from '../api/types.js';
import { httpdDeployment } from '../testkit/workloads.js';
import { startServer, type RunningServer } from './bootstrap.js';

const cmRef = { apiVersion: 'v1', kind: 'ConfigMap' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };

let server: RunningServer;
let dataDir: string;
let socketPath: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'flotilla-local-'));
  server = await startServer({
    dataDir,
    listen: '127.0.0.1:0',
    store: 'sqlite',
    etcdEndpoints: [],
    log: () => undefined,
  });
  socketPath = join(dataDir, 'apiserver.sock');
});

afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function local(token: string | undefined, timeoutMs?: number): ApiClient {
  return new ApiClient({
    server: 'local',
    socketPath,
    ...(token === undefined ? {} : { token }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

describe('the local socket', () => {
  it('is only for its owner, and asks for a token like the HTTPS port', async () => {
    expect((statSync(socketPath).mode & 0o777).toString(8)).toBe('600');
    const anonymous = local(undefined);
    await expect(anonymous.list(cmRef, 'default')).rejects.toMatchObject({ reason: 'Unauthorized' });
    await anonymous.close();
  });

  it('serves reads, writes and watches to an ApiClient', async () => {
    const client = local(server.adminToken);
    const seen: WatchEvent[] = [];
    const list = await client.list(cmRef, 'default');
    const watch = await client.watch(
      cmRef,
      'default',
      { resourceVersion: list.metadata.resourceVersion },
      (e) => seen.push(e),
      (err) => {
        throw err;
      },
    );
    const created = await client.create(cmRef, 'default', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'over-the-socket' },
      data: { a: '1' },
    });
    expect(created.metadata.uid).toBeTruthy();
    await client.patch(cmRef, 'default', 'over-the-socket', 'merge', { data: { a: '2' } });
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
    watch.close();
    await client.close();
  });

  it('carries the built-in controllers: a Deployment gets its ReplicaSet', async () => {
    const client = local(server.adminToken);
    await client.create(deployRef, 'default', httpdDeployment('web', 'busybox'));
    let owned: KubeObject[] = [];
    for (let i = 0; i < 100 && owned.length === 0; i++) {
      owned = (await client.list(rsRef, 'default')).items;
      if (owned.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(owned[0]?.metadata.ownerReferences?.[0]?.name).toBe('web');
    await client.close();
  });

  it('reports a server that does not answer in time as a timeout', async () => {
    const silentPath = join(dataDir, 'silent.sock');
    const held: Socket[] = [];
    const silent = createNetServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
    const client = new ApiClient({ server: 'silent', socketPath: silentPath, timeoutMs: 200 });
    await expect(client.list(cmRef, undefined)).rejects.toMatchObject({ reason: 'Timeout' });
    await client.close();
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});

describe('shutdown', () => {
  it('removes the socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-local-'));
    const s = await startServer({
      dataDir: dir,
      listen: '127.0.0.1:0',
      store: 'memory',
      etcdEndpoints: [],
      log: () => undefined,
    });
    expect(existsSync(join(dir, 'apiserver.sock'))).toBe(true);
    await s.stop();
    expect(existsSync(join(dir, 'apiserver.sock'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
