// cordon, uncordon and drain end to end against the in-process API server (real pods/eviction), through a
// small proxy that records requests and can pretend the server has no eviction subresource. A fake agent
// finishes graceful deletions the way a node agent does (DELETE with grace 0 once the pod has stopped).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';
import { memoryIO } from '../io.js';
import { run } from '../main.js';
import { drainVerdict } from './drain.js';

let server: TestServer;
let proxy: Server;
let proxyUrl: string;
let dir: string;
let kubeconfig: string;
let requests: string[];
let noEviction: boolean;
let agentTimer: ReturnType<typeof setInterval> | undefined;

beforeEach(async () => {
  server = await startTestServer();
  requests = [];
  noEviction = false;
  proxy = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
      if (noEviction && (req.url ?? '').split('?')[0]?.endsWith('/eviction')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            reason: 'NotFound',
            message: 'the server could not find the requested resource',
            code: 404,
          }),
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      delete headers['host'];
      delete headers['content-length'];
      fetch(`${server.url}${req.url ?? ''}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body === '' ? {} : { body }),
      })
        .then(async (r) => {
          const text = await r.text();
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(502);
          res.end(String(err));
        });
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'flotilla-drain-'));
  kubeconfig = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${proxyUrl}"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`,
  );
  for (const name of ['n1', 'n2'])
    await server.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name } });
});

afterEach(async () => {
  clearInterval(agentTimer);
  agentTimer = undefined;
  proxy.closeAllConnections();
  await new Promise((r) => proxy.close(r));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function flotilla(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO({ env: { KUBECONFIG: kubeconfig }, cwd: dir, tmpdir: dir });
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const rsOwner = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web-1',
  uid: '0d0b8a2e-0000-4000-8000-000000000001',
  controller: true,
};

async function pod(
  name: string,
  node: string,
  extra: { owner?: typeof rsOwner | null; kind?: string; emptyDir?: boolean; ns?: string } = {},
): Promise<void> {
  const owner = extra.owner === undefined ? rsOwner : extra.owner;
  const res = await server.request('POST', `/api/v1/namespaces/${extra.ns ?? 'default'}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { app: name.replace(/-\d+$/, '') },
      ...(owner === null ? {} : { ownerReferences: [{ ...owner, kind: extra.kind ?? owner.kind }] }),
    },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', image: 'busybox:1' }],
      ...(extra.emptyDir === true ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

/** Plays the node agent: pods being deleted stop and are removed (DELETE with grace 0) shortly after. */
function fakeAgent(): void {
  agentTimer = setInterval(() => {
    void (async () => {
      const list = await server.request('GET', '/api/v1/pods');
      for (const p of (list.body as { items: KubeObject[] }).items) {
        if (p.metadata.deletionTimestamp === undefined) continue;
        await server.request(
          'DELETE',
          `/api/v1/namespaces/${p.metadata.namespace ?? ''}/pods/${p.metadata.name ?? ''}`,
          {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            gracePeriodSeconds: 0,
            preconditions: { uid: p.metadata.uid },
          },
        );
      }
    })().catch(() => undefined);
  }, 150);
}

async function podNames(): Promise<string[]> {
  const list = await server.request('GET', '/api/v1/pods');
  return (list.body as { items: KubeObject[] }).items.map((p) => p.metadata.name ?? '').sort();
}
async function unschedulable(node: string): Promise<unknown> {
  const n = await server.request('GET', `/api/v1/nodes/${node}`);
  return (n.body as { spec?: { unschedulable?: unknown } }).spec?.unschedulable;
}

describe('cordon / uncordon', () => {
  it('set and clear spec.unschedulable, saying so, and say when there is nothing to do', async () => {
    expect(await flotilla(['cordon', 'n1'])).toMatchObject({ code: 0, out: 'node/n1 cordoned\n' });
    expect(await unschedulable('n1')).toBe(true);
    expect(await flotilla(['cordon', 'n1'])).toMatchObject({ code: 0, out: 'node/n1 already cordoned\n' });
    expect(await unschedulable('n2')).toBeUndefined();
    expect(await flotilla(['uncordon', 'n1'])).toMatchObject({ code: 0, out: 'node/n1 uncordoned\n' });
    expect(await unschedulable('n1')).toBeUndefined();
    expect(await flotilla(['uncordon', 'n1'])).toMatchObject({
      code: 0,
      out: 'node/n1 already uncordoned\n',
    });
  });

  it('dry runs change nothing; an unknown node is an error from the server; no node is a usage error', async () => {
    expect(await flotilla(['cordon', 'n1', '--dry-run=client'])).toMatchObject({
      code: 0,
      out: 'node/n1 cordoned (dry run)\n',
    });
    expect(await flotilla(['cordon', 'n1', '--dry-run=server'])).toMatchObject({
      code: 0,
      out: 'node/n1 cordoned (server dry run)\n',
    });
    expect(await unschedulable('n1')).toBeUndefined();
    const missing = await flotilla(['cordon', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('Error from server (NotFound)');
    expect(missing.err).toContain('"nope" not found');
    expect(await flotilla(['cordon'])).toMatchObject({
      code: 2,
      err: 'error: give a NODE name (or --selector)\n',
    });
  });
});

describe('drain', () => {
  it('cordons the node, evicts its pods through the eviction API, waits until they are gone', async () => {
    await pod('web-1', 'n1');
    await pod('web-2', 'n1', { ns: 'kube-system' });
    await pod('web-3', 'n2');
    fakeAgent();
    const r = await flotilla(['drain', 'n1']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('node/n1 cordoned');
    expect(lines).toEqual(
      expect.arrayContaining([
        'evicting pod default/web-1',
        'evicting pod kube-system/web-2',
        'pod/web-1 evicted',
        'pod/web-2 evicted',
      ]),
    );
    expect(lines.at(-1)).toBe('node/n1 drained');
    expect(await podNames()).toEqual(['web-3']);
    expect(await unschedulable('n1')).toBe(true);
    expect(requests).toContain('POST /api/v1/namespaces/default/pods/web-1/eviction');
    expect(requests.filter((q) => q.startsWith('DELETE'))).toEqual([]);
  });

  it('refuses pods no controller would recreate unless --force, evicting nothing; the node stays cordoned', async () => {
    await pod('web-1', 'n1');
    await pod('bare', 'n1', { owner: null });
    fakeAgent();
    const refused = await flotilla(['drain', 'n1']);
    expect(refused.code).toBe(1);
    expect(refused.out).toBe('node/n1 cordoned\n');
    expect(refused.err).toContain(
      'error: unable to drain node "n1" due to error: cannot delete Pods that declare no controller (use --force to override): default/bare',
    );
    expect(await podNames()).toEqual(['bare', 'web-1']);
    expect(await unschedulable('n1')).toBe(true);

    const forced = await flotilla(['drain', 'n1', '--force']);
    expect(forced.code).toBe(0);
    expect(forced.err).toBe('Warning: deleting Pods that declare no controller: default/bare\n');
    expect(forced.out).toContain('node/n1 already cordoned\n');
    expect(forced.out).toContain('pod/bare evicted\n');
    expect(await podNames()).toEqual([]);
  });

  it('refuses DaemonSet pods unless --ignore-daemonsets (then leaves them), and emptyDir pods unless --delete-emptydir-data', async () => {
    await pod('agent-1', 'n1', { kind: 'DaemonSet' });
    await pod('cache-1', 'n1', { emptyDir: true });
    fakeAgent();
    const refused = await flotilla(['drain', 'n1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(
      'cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-1',
    );
    expect(refused.err).toContain(
      'cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache-1',
    );
    const ok = await flotilla(['drain', 'n1', '--ignore-daemonsets', '--delete-emptydir-data']);
    expect(ok.code).toBe(0);
    expect(ok.err).toBe(
      'Warning: ignoring DaemonSet-managed Pods: default/agent-1; deleting Pods with local storage: default/cache-1\n',
    );
    expect(await podNames()).toEqual(['agent-1']);
  });

  it('falls back to a graceful DELETE when the server has no eviction subresource', async () => {
    noEviction = true;
    await pod('web-1', 'n1');
    await pod('web-2', 'n1');
    fakeAgent();
    const r = await flotilla(['drain', 'n1', '--grace-period', '5']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('Warning: the server does not support pod eviction; deleting pods instead\n');
    expect(r.out).toContain('pod/web-1 deleted\n');
    expect(r.out).toContain('pod/web-2 deleted\n');
    expect(await podNames()).toEqual([]);
    // One eviction attempt, then deletes for both.
    expect(requests.filter((q) => q.includes('/eviction'))).toHaveLength(1);
    expect(requests.filter((q) => q.startsWith('DELETE'))).toHaveLength(2);
  });

  it('--dry-run=client says what it would do and does nothing', async () => {
    await pod('web-1', 'n1');
    const r = await flotilla(['drain', 'n1', '--dry-run=client']);
    expect(r).toMatchObject({
      code: 0,
      out: 'node/n1 cordoned (dry run)\nevicting pod default/web-1 (dry run)\nnode/n1 drained (dry run)\n',
    });
    expect(await unschedulable('n1')).toBeUndefined();
    expect(await podNames()).toEqual(['web-1']);
  });

  it('gives up after --timeout when pods do not go (their node agent is gone), exit 1', async () => {
    await pod('web-1', 'n1');
    const r = await flotilla(['drain', 'n1', '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('evicting pod default/web-1\n');
    expect(r.err).toContain(
      'global timeout reached waiting for 1 pod(s) on node "n1" to terminate: default/web-1',
    );
  });

  it('bad flags are usage errors (exit 2); every verb has --help', async () => {
    expect((await flotilla(['drain', 'n1', '--grace-period', 'soon'])).code).toBe(2);
    expect((await flotilla(['drain', 'n1', '--timeout', 'later'])).code).toBe(2);
    expect((await flotilla(['drain'])).code).toBe(2);
    for (const verb of ['cordon', 'uncordon', 'drain']) {
      const help = await flotilla([verb, '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toContain(`flotilla ${verb}`);
    }
    expect((await flotilla(['drain', '--help'])).out).toContain('--ignore-daemonsets');
  });
});

describe('drainVerdict', () => {
  const base: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [] },
  };
  it.each<[string, KubeObject, Parameters<typeof drainVerdict>[1], string]>([
    ['managed', { ...base, metadata: { ...base.metadata, ownerReferences: [rsOwner] } }, {}, 'evict'],
    ['unmanaged', base, {}, 'refuse'],
    ['unmanaged with --force', base, { force: true }, 'evict'],
    ['unmanaged but finished', { ...base, status: { phase: 'Succeeded' } }, {}, 'evict'],
    [
      'mirror pod',
      { ...base, metadata: { ...base.metadata, annotations: { 'kubernetes.io/config.mirror': 'x' } } },
      {},
      'skip',
    ],
  ])('%s → %s', (_name, p, opts, action) => {
    expect(drainVerdict(p, opts).action).toBe(action);
  });
});
