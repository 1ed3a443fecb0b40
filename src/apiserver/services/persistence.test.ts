// Allocation records live in the store: they survive a server restart on SQLite, and the repair pass at
// start fixes records lost or leaked by a crash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import type { Store } from '../../store/store.js';
import { clusterIPRecordPrefix, nodePortRecordPrefix } from './service-allocator.js';

const servicesInfo = { group: '', version: 'v1', resource: 'services' };
const dirs: string[] = [];
let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function svc(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

async function create(c: TestCluster, obj: KubeObject): Promise<KubeObject> {
  const r = await c.api
    .registry(servicesInfo)
    .create('default', obj, { dryRun: false, fieldValidation: 'Strict' });
  return r.object;
}

async function createError(c: TestCluster, obj: KubeObject): Promise<string> {
  try {
    await create(c, obj);
  } catch (err) {
    if (isApiError(err)) return err.message;
    throw err;
  }
  throw new Error('create succeeded');
}

async function records(store: Store, prefix: string): Promise<string[]> {
  return (await store.list({ prefix })).items.map((kv) => kv.key.slice(prefix.length)).sort();
}

async function restart(dataDir: string): Promise<TestCluster> {
  await cluster?.destroy();
  cluster = await startTestCluster({ store: 'sqlite', dataDir });
  return cluster;
}

describe('allocation records on SQLite', () => {
  it('survive a restart: a taken address and node port stay taken, a deleted one is free', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-svc-'));
    dirs.push(dataDir);
    let c = await restart(dataDir);
    const a = await create(c, svc('a', {}));
    const ip = (a.spec as { clusterIP: string }).clusterIP;
    expect(ip).toMatch(/^10\.43\./);
    await create(c, svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));

    c = await restart(dataDir);
    expect(await createError(c, svc('c', { clusterIP: ip }))).toContain('provided IP is already allocated');
    expect(
      await createError(c, svc('d', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })),
    ).toContain('spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    await c.api.registry(servicesInfo).delete('default', 'a', {}, false);
    const again = await create(c, svc('c', { clusterIP: ip }));
    expect((again.spec as { clusterIP: string }).clusterIP).toBe(ip);
  });

  it('the repair pass at start re-records lost records and releases old orphans', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-svc-'));
    dirs.push(dataDir);
    let c = await restart(dataDir);
    const a = await create(c, svc('a', { type: 'NodePort' }));
    const spec = a.spec as { clusterIP: string; ports: Array<{ nodePort: number }> };
    const np = String(spec.ports[0]?.nodePort);
    // A crash lost a's records and leaked records of a Service that never got stored.
    await c.store.delete(`${clusterIPRecordPrefix}${spec.clusterIP}`);
    await c.store.delete(`${nodePortRecordPrefix}${np}`);
    const leaked = (name: string): string =>
      JSON.stringify({ namespace: 'default', name, uid: `uid-${name}`, at: '2020-01-01T00:00:00.000Z' });
    await c.store.create(`${clusterIPRecordPrefix}10.43.9.9`, leaked('ghost'));
    await c.store.create(`${nodePortRecordPrefix}30999`, leaked('ghost'));
    // A young orphan may be another server's create in flight: kept.
    await c.store.create(
      `${clusterIPRecordPrefix}10.43.9.10`,
      JSON.stringify({ namespace: 'default', name: 'inflight', uid: 'u', at: new Date().toISOString() }),
    );

    c = await restart(dataDir);
    expect(await records(c.store, clusterIPRecordPrefix)).toEqual([spec.clusterIP, '10.43.9.10'].sort());
    expect(await records(c.store, nodePortRecordPrefix)).toEqual([np]);
    expect(await createError(c, svc('b', { clusterIP: spec.clusterIP }))).toContain('already allocated');
    expect((await create(c, svc('g', { clusterIP: '10.43.9.9' }))).spec).toMatchObject({
      clusterIP: '10.43.9.9',
    });
  });
});
