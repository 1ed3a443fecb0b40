// Large lists on the SQLite store: served from its in-memory index, streamed in chunks, and never stale
// after a write (the encoded bytes are cached per stored version).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../store/sqlite-store.js';
import { startTestServer, type TestServer } from '../testkit/api-server.js';

let s: TestServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-list-'));
  s = await startTestServer(await openSqliteStore({ path: join(dir, 'state.db') }));
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const big = (name: string, fill: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { blob: fill.repeat(40_000) },
});

describe('a list larger than one chunk', () => {
  it('arrives whole and in order, and shows every later update and delete', async () => {
    for (let i = 0; i < 40; i++) {
      const r = await s.request('POST', '/api/v1/namespaces/default/configmaps', big(`big-${100 + i}`, 'a'));
      expect(r.status).toBe(201);
    }
    const first = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    expect(first.status).toBe(200);
    // Streamed: no Content-Length, chunked transfer.
    expect(first.headers.get('content-length')).toBeNull();
    expect(first.body.kind).toBe('ConfigMapList');
    expect(first.body.items.map((i: any) => i.metadata.name)).toEqual(
      Array.from({ length: 40 }, (_, i) => `big-${100 + i}`),
    );
    expect(first.body.items.every((i: any) => i.data.blob.length === 40_000)).toBe(true);

    const cm = first.body.items[5];
    cm.data.blob = 'b'.repeat(40_000);
    const updated = await s.request('PUT', `/api/v1/namespaces/default/configmaps/${cm.metadata.name}`, cm);
    expect(updated.status).toBe(200);
    await s.request('DELETE', '/api/v1/namespaces/default/configmaps/big-100');

    const second = await s.request('GET', '/api/v1/namespaces/default/configmaps');
    expect(second.body.items).toHaveLength(39);
    const seen = second.body.items.find((i: any) => i.metadata.name === cm.metadata.name);
    expect(seen.data.blob[0]).toBe('b');
    expect(seen.metadata.resourceVersion).toBe(updated.body.metadata.resourceVersion);
    expect(Number(second.body.metadata.resourceVersion)).toBeGreaterThan(
      Number(first.body.metadata.resourceVersion),
    );
  });

  it('sends a small list in one piece with its length', async () => {
    const r = await s.request('GET', '/api/v1/namespaces/kube-system/configmaps');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).not.toBeNull();
    expect(r.body.items).toEqual([]);
  });
});
