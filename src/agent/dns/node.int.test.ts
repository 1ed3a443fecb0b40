// Cluster DNS on a real node: the agent serves DNS on its bridge address, a busybox pod's resolv.conf points
// there with the Kubernetes search path, nslookup inside the pod resolves a Service, a headless Service and
// a forwarded outside name (answered by a fake upstream on 127.0.0.1: never the host's resolver), and the
// container has the Service's environment variables. Services without selectors and hand-made
// EndpointSlices, so no controller is needed.
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { startFakeUpstreamDns, type FakeUpstreamDns } from '../../testkit/dns.js';
import { eventually } from '../../testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../testkit/images.js';
import { Kubectl } from '../../testkit/kubectl.js';
import { startNodeCluster, type NodeCluster } from '../../testkit/node.js';
import { startRegistry, type TestRegistry } from '../../testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };

let cluster: NodeCluster;
let registry: TestRegistry;
let upstream: FakeUpstreamDns;
let kubectl: Kubectl;
let layoutDir = '';
let image = '';
let dnsIP = '';
let webIP = '';

beforeAll(async () => {
  registry = await startRegistry();
  upstream = await startFakeUpstreamDns({ 'outside.example': '192.0.2.7' });
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'busybox:1');
  image = `${registry.host}/busybox:1`;
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

function slice(service: string, ips: string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${service}-manual`,
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

describe('cluster DNS on a real node', () => {
  it('serves Services to pods through resolv.conf, forwards other names, and sets service env vars', async () => {
    const web = await cluster.client.create(svcRef, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    webIP = String((web.spec as Record<string, unknown>)['clusterIP']);
    expect(webIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await cluster.client.create(svcRef, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'db', namespace: 'default' },
      spec: { clusterIP: 'None', ports: [{ name: 'http', port: 8080 }] },
    });
    await cluster.client.create(sliceRef, 'default', slice('db', ['10.99.0.5', '10.99.0.6']));

    // From the host: the agent answers on its bridge address.
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([dnsIP]);
    await eventually(async () => {
      expect(await resolver.resolve4('web.default.svc.cluster.local')).toEqual([webIP]);
      expect((await resolver.resolve4('db.default.svc.cluster.local')).sort()).toEqual([
        '10.99.0.5',
        '10.99.0.6',
      ]);
    }, 30_000);

    await cluster.client.create(podRef, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'default' },
      spec: {
        nodeName: cluster.nodeName,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image, command: ['sleep', '3600'] }],
      },
    });
    await eventually(
      async () => {
        const p = await cluster.client.get(podRef, 'default', 'client');
        expect((p.status as Record<string, unknown>)['phase']).toBe('Running');
      },
      90_000,
      200,
    );

    const resolv = await kubectl.ok(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    expect(resolv).toContain(`nameserver ${dnsIP}\n`);
    expect(resolv).toMatch(/^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m);
    expect(resolv).toContain('options ndots:5');

    const lookedUp = await kubectl.ok(['exec', 'client', '--', 'nslookup', 'web.default.svc.cluster.local']);
    expect(lookedUp).toContain(webIP);
    const headless = await kubectl.ok([
      'exec',
      'client',
      '--',
      'nslookup',
      '-type=a',
      'db.default.svc.cluster.local',
    ]);
    expect(headless).toContain('10.99.0.5');
    expect(headless).toContain('10.99.0.6');
    const outside = await kubectl.ok(['exec', 'client', '--', 'nslookup', 'outside.example']);
    expect(outside).toContain('192.0.2.7');
    expect(upstream.queries).toContain('outside.example');
    expect(upstream.queries.filter((q) => q.endsWith('svc.cluster.local'))).toEqual([]);

    const t0 = Date.now();
    const missing = await kubectl.run(['exec', 'client', '--', 'nslookup', 'nope.default.svc.cluster.local']);
    expect(missing.code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);

    const env = await kubectl.ok(['exec', 'client', '--', 'env']);
    expect(env).toContain(`WEB_SERVICE_HOST=${webIP}\n`);
    expect(env).toContain('WEB_SERVICE_PORT=80\n');
    expect(env).toContain(`WEB_PORT_80_TCP=tcp://${webIP}:80\n`);
    expect(env).not.toContain('DB_SERVICE_HOST');
  }, 240_000);

  it('leaves nothing listening on the bridge address after the agent stops', async () => {
    await cluster.agent.stop();
    const resolver = new Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([dnsIP]);
    await expect(resolver.resolve4('web.default.svc.cluster.local')).rejects.toBeDefined();
    await cluster.restartAgent();
  }, 60_000);
});
