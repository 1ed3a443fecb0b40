// Service allocation through the REST API of an in-process server: what a user creating, changing and
// deleting Services sees.
import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { MemoryStore } from '../../store/memory-store.js';
import type { Store } from '../../store/store.js';
import { installKindHooks } from '../hooks.js';
import { startApiServer } from '../server.js';
import { clusterIPRecordPrefix, nodePortRecordPrefix } from './service-allocator.js';

interface Reply {
  status: number;
  body: any;
}

interface Api {
  store: Store;
  req(method: string, path: string, body?: unknown, contentType?: string): Promise<Reply>;
  close(): Promise<void>;
}

const open: Api[] = [];
afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

async function startApi(
  opts: { store?: Store; cidr?: string; ports?: string; ownsStore?: boolean } = {},
): Promise<Api> {
  installKindHooks();
  const store = opts.store ?? new MemoryStore();
  const running = await startApiServer({
    store,
    listen: '127.0.0.1:0',
    log: () => undefined,
    serviceClusterIPRange: opts.cidr ?? '10.96.0.0/24',
    serviceNodePortRange: opts.ports ?? '30000-30099',
  });
  const nsReg = running.api.registry({ group: '', version: 'v1', resource: 'namespaces' });
  if ((await nsReg.getRaw(undefined, 'default')) === undefined) {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
    await nsReg.create(undefined, ns, { dryRun: false, fieldValidation: 'Strict' });
  }
  const api: Api = {
    store,
    async req(method, path, body, contentType = 'application/json') {
      const res = await fetch(`${running.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'Content-Type': contentType } }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async close() {
      await running.close();
      if (opts.ownsStore !== false) await store.close();
    },
  };
  open.push(api);
  return api;
}

const svcPath = '/api/v1/namespaces/default/services';

function svc(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

async function records(store: Store, prefix: string): Promise<string[]> {
  const page = await store.list({ prefix });
  return page.items.map((kv) => kv.key.slice(prefix.length)).sort();
}

const inCIDR = /^10\.96\.0\.(\d+)$/;

describe('ClusterIP allocation', () => {
  it('gives a ClusterIP Service an address of the range with upstream family defaults', async () => {
    const api = await startApi();
    const r = await api.req('POST', svcPath, svc('web', {}));
    expect(r.status).toBe(201);
    const spec = r.body.spec;
    expect(spec.clusterIP).toMatch(inCIDR);
    expect(spec.clusterIPs).toEqual([spec.clusterIP]);
    expect(spec.ipFamilies).toEqual(['IPv4']);
    expect(spec.ipFamilyPolicy).toBe('SingleStack');
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([spec.clusterIP]);
    // What is stored is what was answered.
    const got = await api.req('GET', `${svcPath}/web`);
    expect(got.body.spec.clusterIP).toBe(spec.clusterIP);
  });

  it.each([
    ['clusterIP', { clusterIP: '10.96.0.42' }],
    ['clusterIPs', { clusterIPs: ['10.96.0.42'] }],
  ])('honours a free requested address given as %s', async (_how, spec) => {
    const api = await startApi();
    const r = await api.req('POST', svcPath, svc('web', spec));
    expect(r.status).toBe(201);
    expect(r.body.spec.clusterIP).toBe('10.96.0.42');
    expect(r.body.spec.clusterIPs).toEqual(['10.96.0.42']);
  });

  it.each([
    [
      'already allocated',
      '10.96.0.42',
      'spec.clusterIPs[0]: Invalid value: "10.96.0.42": failed to allocate IP 10.96.0.42: provided IP is already allocated',
    ],
    [
      'outside the range',
      '10.97.0.1',
      'spec.clusterIPs[0]: Invalid value: "10.97.0.1": failed to allocate IP 10.97.0.1: the provided IP (10.97.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/24',
    ],
    [
      'the broadcast address',
      '10.96.0.255',
      'spec.clusterIPs[0]: Invalid value: "10.96.0.255": failed to allocate IP 10.96.0.255: the provided IP (10.96.0.255) is not in the valid range. The range of valid IPs is 10.96.0.0/24',
    ],
  ])('refuses a requested address %s with a 422', async (_why, ip, message) => {
    const api = await startApi();
    expect((await api.req('POST', svcPath, svc('first', { clusterIP: '10.96.0.42' }))).status).toBe(201);
    const r = await api.req('POST', svcPath, svc('second', { clusterIP: ip }));
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(`Service "second" is invalid: [${message}]`);
    expect(r.body.details.causes[0].field).toBe('spec.clusterIPs[0]');
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual(['10.96.0.42']);
  });

  it('headless and ExternalName Services get no address', async () => {
    const api = await startApi();
    const headless = await api.req('POST', svcPath, svc('db', { clusterIP: 'None' }));
    expect(headless.status).toBe(201);
    expect(headless.body.spec.clusterIP).toBe('None');
    expect(headless.body.spec.clusterIPs).toEqual(['None']);
    expect(headless.body.spec.ipFamilies).toEqual(['IPv4']);
    const ext = await api.req('POST', svcPath, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ext' },
      spec: { type: 'ExternalName', externalName: 'example.com' },
    });
    expect(ext.status).toBe(201);
    expect(ext.body.spec.clusterIP).toBeUndefined();
    expect(ext.body.spec.ipFamilies).toBeUndefined();
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
  });

  it('refuses IPv6 and dual-stack requests on this IPv4 cluster', async () => {
    const api = await startApi();
    const v6 = await api.req('POST', svcPath, svc('v6', { ipFamilies: ['IPv6'] }));
    expect(v6.status).toBe(422);
    expect(v6.body.message).toContain(
      'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    );
    const dual = await api.req('POST', svcPath, svc('dual', { ipFamilyPolicy: 'RequireDualStack' }));
    expect(dual.status).toBe(422);
    expect(dual.body.message).toContain('this cluster is not configured for dual-stack services');
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
  });

  it('releases the address on delete, so another Service can ask for it', async () => {
    const api = await startApi();
    await api.req('POST', svcPath, svc('a', { clusterIP: '10.96.0.42' }));
    expect((await api.req('DELETE', `${svcPath}/a`)).status).toBe(200);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
    const b = await api.req('POST', svcPath, svc('b', { clusterIP: '10.96.0.42' }));
    expect(b.status).toBe(201);
  });

  it('keeps the address while a finalizer holds the deleting Service, releases it when it goes', async () => {
    const api = await startApi();
    const a = svc('a', { clusterIP: '10.96.0.42' });
    a.metadata.finalizers = ['example.com/hold'];
    await api.req('POST', svcPath, a);
    await api.req('DELETE', `${svcPath}/a`);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual(['10.96.0.42']);
    const r = await api.req(
      'PATCH',
      `${svcPath}/a`,
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
    expect(r.status).toBe(200);
    expect((await api.req('GET', `${svcPath}/a`)).status).toBe(404);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
  });

  it('a dry-run create answers with an address but keeps nothing', async () => {
    const api = await startApi();
    const r = await api.req('POST', `${svcPath}?dryRun=All`, svc('web', { type: 'NodePort' }));
    expect(r.status).toBe(201);
    expect(r.body.spec.clusterIP).toMatch(inCIDR);
    expect(r.body.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([]);
    // A dry run still checks a requested address.
    await api.req('POST', svcPath, svc('a', { clusterIP: '10.96.0.42' }));
    const taken = await api.req('POST', `${svcPath}?dryRun=All`, svc('b', { clusterIP: '10.96.0.42' }));
    expect(taken.status).toBe(422);
  });

  it('a create that fails after allocating gives everything back', async () => {
    const api = await startApi();
    await api.req('POST', svcPath, svc('web', { clusterIP: '10.96.0.42' }));
    // Same name: the store refuses (409 AlreadyExists) after the address and node port were taken.
    const again = await api.req(
      'POST',
      svcPath,
      svc('web', { clusterIP: '10.96.0.43', type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
    );
    expect(again.status).toBe(409);
    // A validation failure of the allocation itself (second port taken) releases the first port too.
    await api.req(
      'POST',
      svcPath,
      svc('other', { type: 'NodePort', ports: [{ port: 80, nodePort: 30081 }] }),
    );
    const partial = await api.req(
      'POST',
      svcPath,
      svc('partial', {
        clusterIP: '10.96.0.44',
        type: 'NodePort',
        ports: [
          { name: 'a', port: 80, nodePort: 30082 },
          { name: 'b', port: 81, nodePort: 30081 },
        ],
      }),
    );
    expect(partial.status).toBe(422);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual(
      ['10.96.0.42', (await api.req('GET', `${svcPath}/other`)).body.spec.clusterIP].sort(),
    );
    expect(await records(api.store, nodePortRecordPrefix)).toEqual(['30081']);
  });

  it('an exhausted range answers 500 "range is full", as upstream, and works again after a delete', async () => {
    const api = await startApi({ cidr: '10.96.0.0/29' });
    for (let i = 0; i < 6; i++) expect((await api.req('POST', svcPath, svc(`s${i}`, {}))).status).toBe(201);
    const full = await api.req('POST', svcPath, svc('late', {}));
    expect(full.status).toBe(500);
    expect(full.body.reason).toBe('InternalError');
    expect(full.body.message).toContain('failed to allocate a serviceIP: range is full');
    expect(full.body.message).toContain('10.96.0.0/29');
    await api.req('DELETE', `${svcPath}/s3`);
    expect((await api.req('POST', svcPath, svc('late', {}))).status).toBe(201);
  });

  it('50 parallel creates through two API servers on one store get 50 distinct addresses', async () => {
    const store = new MemoryStore();
    const one = await startApi({ store, cidr: '10.96.0.0/26' });
    const two = await startApi({ store, cidr: '10.96.0.0/26', ownsStore: false });
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? one : two).req('POST', svcPath, svc(`s${i}`, {}))),
    );
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 50 }, () => 201));
    const ips = replies.map((r) => r.body.spec.clusterIP as string);
    expect(new Set(ips).size).toBe(50);
    expect(await records(store, clusterIPRecordPrefix)).toEqual([...ips].sort());
  });
});

describe('NodePort allocation', () => {
  it('gives each port of a NodePort Service a node port of the range, and keeps them on update', async () => {
    const api = await startApi();
    const r = await api.req(
      'POST',
      svcPath,
      svc('web', {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 443, nodePort: 30043 },
        ],
      }),
    );
    expect(r.status).toBe(201);
    const [http, https] = r.body.spec.ports;
    expect(http.nodePort).toBeGreaterThanOrEqual(30000);
    expect(http.nodePort).toBeLessThanOrEqual(30099);
    expect(https.nodePort).toBe(30043);
    // A PUT of the manifest without node ports keeps them (as kubectl replace does).
    const current = (await api.req('GET', `${svcPath}/web`)).body;
    const put = await api.req('PUT', `${svcPath}/web`, {
      ...svc('web', {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80 },
          { name: 'https', port: 443 },
        ],
      }),
      metadata: { name: 'web', resourceVersion: current.metadata.resourceVersion },
    });
    expect(put.status).toBe(200);
    expect(put.body.spec.ports.map((p: { nodePort: number }) => p.nodePort)).toEqual([http.nodePort, 30043]);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([String(http.nodePort), '30043'].sort());
  });

  it('TCP and UDP of one port number share a node port', async () => {
    const api = await startApi();
    const r = await api.req(
      'POST',
      svcPath,
      svc('dns', {
        type: 'NodePort',
        ports: [
          { name: 'dns-udp', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      }),
    );
    expect(r.status).toBe(201);
    const [udp, tcp] = r.body.spec.ports;
    expect(udp.nodePort).toBe(tcp.nodePort);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([String(udp.nodePort)]);
  });

  it.each([
    [
      'used by another Service',
      30080,
      'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    ],
    [
      'outside the range',
      31000,
      'spec.ports[0].nodePort: Invalid value: 31000: provided port is not in the valid range. The range of valid ports is 30000-30099',
    ],
  ])('refuses a node port %s with a 422', async (_why, nodePort, message) => {
    const api = await startApi();
    await api.req(
      'POST',
      svcPath,
      svc('first', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }),
    );
    const r = await api.req(
      'POST',
      svcPath,
      svc('second', { type: 'NodePort', ports: [{ port: 80, nodePort }] }),
    );
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(`Service "second" is invalid: [${message}]`);
  });

  it('ClusterIP → NodePort allocates node ports, NodePort → ClusterIP releases them', async () => {
    const api = await startApi();
    await api.req('POST', svcPath, svc('web', {}));
    const merge = 'application/merge-patch+json';
    const up = await api.req('PATCH', `${svcPath}/web`, { spec: { type: 'NodePort' } }, merge);
    expect(up.status).toBe(200);
    const np = up.body.spec.ports[0].nodePort as number;
    expect(np).toBeGreaterThanOrEqual(30000);
    expect(up.body.spec.externalTrafficPolicy).toBe('Cluster');
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([String(np)]);
    const down = await api.req('PATCH', `${svcPath}/web`, { spec: { type: 'ClusterIP' } }, merge);
    expect(down.status).toBe(200);
    expect(down.body.spec.ports[0].nodePort).toBeUndefined();
    expect(down.body.spec.externalTrafficPolicy).toBeUndefined();
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([]);
    // The address stays through both changes.
    expect(down.body.spec.clusterIP).toBe(up.body.spec.clusterIP);
  });

  it('changing a node port takes the new one and gives the old one back', async () => {
    const api = await startApi();
    await api.req('POST', svcPath, svc('web', { type: 'NodePort', ports: [{ port: 80, nodePort: 30010 }] }));
    const r = await api.req(
      'PATCH',
      `${svcPath}/web`,
      { spec: { ports: [{ port: 80, nodePort: 30011 }] } },
      'application/merge-patch+json',
    );
    expect(r.status).toBe(200);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual(['30011']);
  });

  it('→ ExternalName releases the address and node ports; back to ClusterIP allocates a new address', async () => {
    const api = await startApi();
    const created = await api.req('POST', svcPath, svc('web', { type: 'NodePort' }));
    expect(created.status).toBe(201);
    const merge = 'application/merge-patch+json';
    const ext = await api.req(
      'PATCH',
      `${svcPath}/web`,
      { spec: { type: 'ExternalName', externalName: 'example.com', selector: null } },
      merge,
    );
    expect(ext.status).toBe(200);
    expect(ext.body.spec.clusterIP).toBeUndefined();
    expect(ext.body.spec.clusterIPs).toBeUndefined();
    expect(ext.body.spec.ports[0].nodePort).toBeUndefined();
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([]);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([]);
    const back = await api.req(
      'PATCH',
      `${svcPath}/web`,
      { spec: { type: 'ClusterIP', externalName: null } },
      merge,
    );
    expect(back.status).toBe(200);
    expect(back.body.spec.clusterIP).toMatch(inCIDR);
    expect(await records(api.store, clusterIPRecordPrefix)).toEqual([back.body.spec.clusterIP]);
  });

  it('a LoadBalancer with externalTrafficPolicy Local gets a health check node port', async () => {
    const api = await startApi();
    const r = await api.req(
      'POST',
      svcPath,
      svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
    );
    expect(r.status).toBe(201);
    const hc = r.body.spec.healthCheckNodePort as number;
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual(
      [String(r.body.spec.ports[0].nodePort), String(hc)].sort(),
    );
    await api.req('DELETE', `${svcPath}/lb`);
    expect(await records(api.store, nodePortRecordPrefix)).toEqual([]);
  });
});
