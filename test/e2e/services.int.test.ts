// Services end to end on a real node (runc + conmon, CNI bridge, the agent's nftables datapath and cluster
// DNS, the EndpointSlice controller): names resolve from inside pods, traffic spreads over ready replicas
// only, NodePort and ClientIP affinity work, scaling and pod deletion lose no request, and the datapath
// keeps working while the agent is down.
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { clientLoop, httpGet } from '../../src/testkit/client-loop.js';
import { eventually } from '../../src/testkit/eventually.js';
import { startFakeUpstreamDns, type FakeUpstreamDns } from '../../src/testkit/dns.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { Kubectl } from '../../src/testkit/kubectl.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';
import { httpdDeployment, httpService } from '../../src/testkit/workloads.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
let cluster: NodeCluster;
let registry: TestRegistry;
let upstream: FakeUpstreamDns;
let kubectl: Kubectl;
let layoutDir = '';
let image = '';
let dnsIP = '';

beforeAll(async () => {
  registry = await startRegistry();
  upstream = await startFakeUpstreamDns({ 'outside.example.': '192.0.2.7' });
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'tools/busybox:1');
  image = `${registry.host}/tools/busybox:1`;
  cluster = await startNodeCluster({ agentArgs: ['--dns-upstream', `127.0.0.1:${upstream.port}`] });
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
  dnsIP = cluster.podCidr.replace(/\.0\/24$/, '.1');
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await upstream?.stop();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

/** busybox httpd answering with the pod's name, ready as soon as it serves (named port `http`). */
function webDeployment(name: string, replicas: number, labels: Record<string, string>): KubeObject {
  return httpdDeployment(name, image, { replicas, labels, terminationGracePeriodSeconds: 2 });
}

const service = httpService;

async function readyPods(selector: string): Promise<KubeObject[]> {
  const list = await cluster.client.list(podRef, 'default', { labelSelector: selector });
  return list.items.filter((p) => {
    if (p.metadata.deletionTimestamp !== undefined && p.metadata.deletionTimestamp !== null) return false;
    const conds = ((p.status as Record<string, unknown> | undefined)?.['conditions'] ?? []) as {
      type: string;
      status: string;
    }[];
    return conds.some((c) => c.type === 'Ready' && c.status === 'True');
  });
}

async function fullyReady(name: string, replicas: number, timeoutMs = 120_000): Promise<KubeObject[]> {
  return eventually(async () => {
    const d = await cluster.client.get(deployRef, 'default', name);
    const st = (d.status ?? {}) as Record<string, unknown>;
    // The Deployment's own selector: the Service's (app=web) also matches a pod that is not the Deployment's.
    const match = ((d.spec as Record<string, any>)['selector']['matchLabels'] ?? {}) as Record<
      string,
      string
    >;
    const selector = Object.entries(match)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const live = (await cluster.client.list(podRef, 'default', { labelSelector: selector })).items.filter(
      (p) => p.metadata.deletionTimestamp === undefined || p.metadata.deletionTimestamp === null,
    );
    const ready = await readyPods(selector);
    if (st['readyReplicas'] !== replicas || live.length !== replicas || ready.length !== replicas)
      throw new Error(
        `deployment ${name}: status ${JSON.stringify(st)}, ${ready.length}/${live.length} ready`,
      );
    return ready;
  }, timeoutMs);
}

async function scale(name: string, replicas: number): Promise<void> {
  const d = await cluster.client.get(deployRef, 'default', name);
  (d.spec as Record<string, unknown>)['replicas'] = replicas;
  await cluster.client.update(deployRef, 'default', d);
}

/** The endpoints of a Service that the datapath would send new connections to. */
async function readyEndpoints(svc: string): Promise<string[]> {
  const list = await cluster.client.list(
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
    'default',
    {
      labelSelector: `kubernetes.io/service-name=${svc}`,
    },
  );
  const ips: string[] = [];
  for (const s of list.items) {
    for (const e of ((s as Record<string, unknown>)['endpoints'] ?? []) as {
      addresses: string[];
      conditions?: { ready?: boolean };
    }[])
      if (e.conditions?.ready === true) ips.push(...e.addresses);
  }
  return ips.sort();
}

/** One HTTP GET on a new connection (or the given agent's), the body or an error. */
function get(host: string, port: number, agent?: HttpAgent): Promise<string> {
  return httpGet(host, port, agent === undefined ? {} : { agent });
}

const execFileP = promisify(execFile);

function clusterIP(svc: KubeObject): string {
  return String((svc.spec as Record<string, unknown>)['clusterIP']);
}

describe('services on a real node', () => {
  let webIP = '';

  it('a Service name answers from inside a pod, by its full name and its short name', async () => {
    await cluster.client.create(deployRef, 'default', webDeployment('web', 4, { app: 'web', tier: 'front' }));
    const svc = await cluster.client.create(svcRef, 'default', service('web', { app: 'web' }));
    webIP = clusterIP(svc);
    await cluster.client.create(podRef, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'default' },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [{ name: 'c', image, command: ['sleep', '3600'] }],
      },
    });
    // A fifth backend that matches the Service but never becomes ready.
    await cluster.client.create(podRef, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-unready', namespace: 'default', labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'web',
            image,
            command: ['sh', '-c', 'mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 8080 -h /www'],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 },
          },
        ],
      },
    });
    const pods = await fullyReady('web', 4);
    await eventually(async () => expect(await readyEndpoints('web')).toHaveLength(4), 60_000);
    await eventually(async () => {
      const c = await cluster.client.get(podRef, 'default', 'client');
      expect((c.status as Record<string, unknown>)['phase']).toBe('Running');
    }, 60_000);
    const names = new Set(pods.map((p) => p.metadata.name));
    const full = await kubectl.ok([
      'exec',
      'client',
      '--',
      'timeout',
      '5',
      'wget',
      '-qO-',
      'http://web.default.svc.cluster.local/',
    ]);
    expect(names.has(full.trim())).toBe(true);
    const short = await kubectl.ok(['exec', 'client', '--', 'timeout', '5', 'wget', '-qO-', 'http://web/']);
    expect(names.has(short.trim())).toBe(true);
    const resolv = await kubectl.ok(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    expect(resolv).toContain(`nameserver ${dnsIP}`);
    expect(resolv).toMatch(/search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/);
    expect(resolv).toContain('ndots:5');
  }, 240_000);

  it('an address of the Service range that no Service holds is refused at once, from the host and from a pod', async () => {
    const held = new Set((await cluster.client.list(svcRef, undefined)).items.map((s) => clusterIP(s)));
    const base = cluster.serviceCidr.replace(/\.0\/24$/, '');
    const free = [250, 249, 248].map((n) => `${base}.${n}`).find((ip) => !held.has(ip)) ?? '';
    // The agent learnt the range from the ServiceCIDR object; the guard is checked before anything is
    // sent, so that a missing guard cannot send the test's packets along the default route.
    await eventually(async () => {
      const chain = await execFileP('nft', ['list', 'chain', 'ip', cluster.nftTable, 'unallocated-output']);
      expect(chain.stdout).toContain(`ip daddr ${cluster.serviceCidr} jump reject-chain`);
    }, 30_000);
    const t0 = Date.now();
    await expect(get(free, 80)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(get(webIP, 81)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - t0).toBeLessThan(2_000);
    const fromPod = await kubectl.run([
      'exec',
      'client',
      '--',
      'timeout',
      '5',
      'wget',
      '-qO-',
      `http://${free}/`,
    ]);
    expect(fromPod.code).not.toBe(0);
    expect(fromPod.stderr + fromPod.stdout).toMatch(/refused/i);
  }, 60_000);

  it('1,000 requests from a pod spread evenly over the ready replicas; the unready one gets none', async () => {
    const pods = await fullyReady('web', 4);
    const out = await kubectl.ok([
      'exec',
      'client',
      '--',
      'sh',
      '-c',
      'i=0; while [ $i -lt 1000 ]; do timeout 5 wget -qO- http://web/ || echo FAILED; i=$((i+1)); done',
    ]);
    const counts = new Map<string, number>();
    for (const line of out.trim().split('\n')) counts.set(line, (counts.get(line) ?? 0) + 1);
    expect(counts.get('FAILED') ?? 0).toBe(0);
    expect(counts.get('web-unready') ?? 0).toBe(0);
    expect([...counts.keys()].sort()).toEqual(pods.map((p) => p.metadata.name).sort());
    for (const [name, n] of counts) {
      expect(n, name).toBeGreaterThanOrEqual(180);
      expect(n, name).toBeLessThanOrEqual(320);
    }
  }, 240_000);

  it('DNS: headless names list every ready pod, SRV lists named ports, unknown names fail fast, others are forwarded', async () => {
    await cluster.client.create(
      svcRef,
      'default',
      service('web-headless', { app: 'web', tier: 'front' }, { clusterIP: 'None' }),
    );
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([dnsIP]);
    const pods = await fullyReady('web', 4);
    const podIPs = pods.map((p) => String((p.status as Record<string, unknown>)['podIP'])).sort();
    await eventually(async () => {
      expect((await resolver.resolve4('web-headless.default.svc.cluster.local')).sort()).toEqual(podIPs);
    }, 30_000);
    expect(await resolver.resolve4('web.default.svc.cluster.local')).toEqual([webIP]);
    const srv = await resolver.resolveSrv('_http._tcp.web.default.svc.cluster.local');
    expect(srv).toEqual([expect.objectContaining({ name: 'web.default.svc.cluster.local', port: 80 })]);
    const started = Date.now();
    await expect(resolver.resolve4('nope.default.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    expect(Date.now() - started).toBeLessThan(500);
    expect(await resolver.resolve4('outside.example')).toEqual(['192.0.2.7']);
    // From inside a pod too: an unknown name fails at once, with no answer.
    const t0 = Date.now();
    const missing = await kubectl.run(['exec', 'client', '--', 'nslookup', 'nope.default.svc.cluster.local']);
    expect(missing.code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 120_000);

  it('NodePort answers from the host; ClientIP affinity keeps one client on one backend', async () => {
    const np = await cluster.client.create(
      svcRef,
      'default',
      service('web-np', { app: 'web' }, { type: 'NodePort' }),
    );
    const nodePort = Number(
      ((np.spec as Record<string, unknown>)['ports'] as { nodePort: number }[])[0]?.nodePort,
    );
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    await eventually(async () => {
      expect(await get('127.0.0.1', nodePort)).toMatch(/^web-/);
    }, 30_000);
    const aff = await cluster.client.create(
      svcRef,
      'default',
      service('web-sticky', { app: 'web' }, { sessionAffinity: 'ClientIP' }),
    );
    await eventually(async () => {
      expect(await get(clusterIP(aff), 80)).toMatch(/^web-/);
    }, 30_000);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) seen.add(await get(clusterIP(aff), 80));
    expect(seen.size).toBe(1);
    // Without affinity the same client reaches several backends.
    const spread = new Set<string>();
    for (let i = 0; i < 40; i++) spread.add(await get(webIP, 80));
    expect(spread.size).toBeGreaterThan(1);
  }, 120_000);

  it('no request fails while the Deployment scales 10 → 2 → 10 and while its pods are deleted one by one', async () => {
    await scale('web', 10);
    await fullyReady('web', 10, 180_000);
    await eventually(async () => expect(await readyEndpoints('web')).toHaveLength(10), 30_000);
    const loop = clientLoop(webIP, 80);
    await scale('web', 2);
    await fullyReady('web', 2);
    await scale('web', 10);
    await fullyReady('web', 10, 180_000);
    await eventually(async () => expect(await readyEndpoints('web')).toHaveLength(10), 30_000);
    for (const p of (await readyPods('app=web,tier=front')).slice(0, 5)) {
      await cluster.client.delete(podRef, 'default', p.metadata.name ?? '');
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await fullyReady('web', 10, 180_000);
    const result = await loop.stop();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
  }, 600_000);

  it('with the agent killed the Service keeps working, old connections too; a restarted agent resyncs without a gap', async () => {
    await scale('web', 4);
    await fullyReady('web', 4);
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    expect(await get(webIP, 80, keepAlive)).toMatch(/^web-/);
    await cluster.agent.kill9();
    for (let i = 0; i < 20; i++) {
      expect(await get(webIP, 80, keepAlive)).toMatch(/^web-/);
      expect(await get(webIP, 80)).toMatch(/^web-/);
    }
    const loop = clientLoop(webIP, 80);
    await cluster.restartAgent();
    await new Promise((r) => setTimeout(r, 3_000));
    const result = await loop.stop();
    keepAlive.destroy();
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(20);
  }, 240_000);

  it('kubectl describe svc lists the endpoints', async () => {
    const pods = await fullyReady('web', 4);
    const out = await kubectl.ok(['describe', 'svc', 'web']);
    // kubectl lists three endpoints and counts the rest.
    const line = /^Endpoints:\s+(.*)$/m.exec(out)?.[1] ?? '';
    const shown = line.replace(/ \+ \d+ more\.\.\.$/, '').split(',');
    expect(line).toContain('+ 1 more...');
    const podIPs = pods.map((p) => `${String((p.status as Record<string, unknown>)['podIP'])}:8080`);
    expect(shown).toHaveLength(3);
    for (const e of shown) expect(podIPs).toContain(e);
  }, 60_000);
});
