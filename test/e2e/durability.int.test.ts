// Acknowledged writes survive kill -9 of the server, on SQLite and on a real etcd; resourceVersions never go
// backwards; a watch resumed from its last resourceVersion sees every later write once and in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdInstance } from '../../src/testkit/etcd.js';
import { freePort, startFlotillaProcess, type FlotillaProcess } from '../../src/testkit/process.js';

interface Acked {
  name: string;
  rv: number;
  value: string;
}

/** Open a watch and collect its events until aborted. */
function collectWatch(
  proc: FlotillaProcess,
  path: string,
): { events: any[]; closed: Promise<void>; abort: () => void; status: Promise<number> } {
  const events: any[] = [];
  const controller = new AbortController();
  let resolveStatus: (n: number) => void = () => undefined;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const closed = (async () => {
    try {
      const res = await request(`${proc.url}${path}`, {
        dispatcher: proc.agent,
        headers: { authorization: `Bearer ${proc.token}` },
        signal: controller.signal,
      });
      resolveStatus(res.statusCode);
      let buf = '';
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // aborted, or the server died
      resolveStatus(0);
    }
  })();
  return { events, closed, abort: () => controller.abort(), status };
}

const cm = (name: string, value: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { value },
});

async function crashDuringCreates(store: 'sqlite' | 'etcd', etcdEndpoints?: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `flotilla-crash-${store}-`));
  const port = await freePort();
  const base = { dataDir, port, store, ...(etcdEndpoints === undefined ? {} : { etcdEndpoints }) };
  let proc = await startFlotillaProcess(base);
  try {
    const start = await proc.call('GET', '/api/v1/namespaces/default/configmaps');
    expect(start.status).toBe(200);
    const startRv = Number(start.body.metadata.resourceVersion);
    const watch = collectWatch(
      proc,
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${startRv}`,
    );
    expect(await watch.status).toBe(200);

    // 1,000 concurrent creates; kill -9 once a few hundred have been acknowledged.
    const acked: Acked[] = [];
    let killed: Promise<void> | undefined;
    const attempts = Array.from({ length: 1000 }, (_, i) => {
      const name = `crash-${i}`;
      const value = `v-${i}-${'x'.repeat(i % 50)}`;
      return proc
        .call('POST', '/api/v1/namespaces/default/configmaps', cm(name, value))
        .then((res) => {
          if (res.status === 201) {
            acked.push({ name, value, rv: Number(res.body.metadata.resourceVersion) });
            if (acked.length === 300 && killed === undefined) killed = proc.kill9();
          }
        })
        .catch(() => undefined);
    });
    await Promise.all(attempts);
    if (killed === undefined) killed = proc.kill9();
    await killed;
    await watch.closed;
    expect(acked.length).toBeGreaterThanOrEqual(300);

    proc = await startFlotillaProcess(base);
    // Every acknowledged create is there with the same body and resourceVersion.
    const list = await proc.call('GET', '/api/v1/namespaces/default/configmaps');
    const byName = new Map<string, any>(list.body.items.map((i: any) => [i.metadata.name, i]));
    for (const a of acked) {
      const got = byName.get(a.name);
      expect(got, `${a.name} was acknowledged with rv ${a.rv} but is missing after kill -9`).toBeDefined();
      expect(got.data.value).toBe(a.value);
      expect(Number(got.metadata.resourceVersion)).toBe(a.rv);
    }
    // The real binary validates like the in-process test servers do.
    const invalid = await proc.call('POST', '/api/v1/namespaces/default/configmaps', cm('Bad_Name', 'x'));
    expect(invalid.status).toBe(422);
    // resourceVersions never go backwards.
    const maxAcked = Math.max(...acked.map((a) => a.rv));
    const after = await proc.call('POST', '/api/v1/namespaces/default/configmaps', cm('after-restart', 'a'));
    expect(after.status).toBe(201);
    expect(Number(after.body.metadata.resourceVersion)).toBeGreaterThan(maxAcked);
    expect(Number(list.body.metadata.resourceVersion)).toBeGreaterThanOrEqual(maxAcked);

    // Resume the watch from the last resourceVersion it saw: every later write, once, in order.
    const seen = watch.events.filter((e) => e.type === 'ADDED');
    const lastSeen =
      seen.length > 0 ? Number(seen[seen.length - 1].object.metadata.resourceVersion) : startRv;
    const resumed = collectWatch(
      proc,
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${lastSeen}`,
    );
    expect(await resumed.status).toBe(200);
    await proc.call('POST', '/api/v1/namespaces/default/configmaps', cm('after-resume', 'b'));
    const deadline = Date.now() + 10_000;
    while (
      !resumed.events.some((e) => e.object?.metadata?.name === 'after-resume') &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    resumed.abort();
    await resumed.closed;
    const all = [...seen, ...resumed.events];
    const rvs = all.map((e) => Number(e.object.metadata.resourceVersion));
    for (let i = 1; i < rvs.length; i++) expect(rvs[i]!).toBeGreaterThan(rvs[i - 1]!);
    const names = all.map((e) => e.object.metadata.name as string);
    expect(new Set(names).size).toBe(names.length);
    const stored = new Set([...byName.keys(), 'after-restart', 'after-resume']);
    expect(new Set(names)).toEqual(stored);
  } finally {
    await proc.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('kill -9 during 1,000 concurrent creates', () => {
  it('SQLite: keeps every acknowledged create', async () => {
    await crashDuringCreates('sqlite');
  }, 120_000);

  describe('etcd', () => {
    let etcd: EtcdInstance;
    beforeAll(async () => {
      etcd = await startEtcd();
    });
    afterAll(async () => {
      await etcd.stop();
    });
    it('etcd: keeps every acknowledged create', async () => {
      await crashDuringCreates('etcd', etcd.endpoint);
    }, 120_000);
  });
});
