// Two API servers on one etcd (each with its own etcd client): parallel Service creates never share an
// address or a node port, and what one server allocated the other refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { EtcdStore } from '../../store/etcd-store.js';
import { startEtcd, type EtcdInstance } from '../../testkit/etcd.js';
import { installKindHooks } from '../hooks.js';
import { startApiServer } from '../server.js';

let etcd: EtcdInstance;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await etcd.stop();
});

async function server(): Promise<
  (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>
> {
  installKindHooks();
  const store = new EtcdStore({ endpoints: etcd.endpoint, keyPrefix: '/svc-alloc-test' });
  const running = await startApiServer({
    store,
    listen: '127.0.0.1:0',
    log: () => undefined,
    serviceClusterIPRange: '10.96.0.0/26',
    serviceNodePortRange: '30000-30059',
  });
  stops.push(async () => {
    await running.close();
    await store.close();
  });
  return async (method, path, body) => {
    const res = await fetch(`${running.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
    });
    return { status: res.status, body: await res.json() };
  };
}

const svcPath = '/api/v1/namespaces/default/services';
const svc = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name },
  spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80 }] },
});

describe('Service allocation on etcd with two API servers', () => {
  it('50 parallel NodePort creates split over both get distinct addresses and node ports', async () => {
    const one = await server();
    const two = await server();
    await one('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'default' },
    });
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? one : two)('POST', svcPath, svc(`s${i}`))),
    );
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 201));
    const ips = new Set(replies.map((r) => r.body.spec.clusterIP));
    const ports = new Set(replies.map((r) => r.body.spec.ports[0].nodePort));
    expect(ips.size).toBe(50);
    expect(ports.size).toBe(50);

    // What server one took, server two refuses; after a delete on one, two may take it.
    const taken = replies[0]?.body.spec.ports[0].nodePort as number;
    const clash = await two('POST', svcPath, {
      ...svc('clash'),
      spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: taken }] },
    });
    expect(clash.status).toBe(422);
    expect(clash.body.message).toContain(
      `spec.ports[0].nodePort: Invalid value: ${taken}: provided port is already allocated`,
    );
    expect((await one('DELETE', `${svcPath}/s0`)).status).toBe(200);
    const retry = await two('POST', svcPath, {
      ...svc('clash'),
      spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80, nodePort: taken }] },
    });
    expect(retry.status).toBe(201);
  });
});
