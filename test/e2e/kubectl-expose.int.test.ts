// Services from a user's seat: real kubectl (1.35) `expose` against Flotilla, then `flotilla get
// svc,endpointslices` and `describe svc` (in-process CLI) and `kubectl get/describe svc` show the
// allocated ClusterIP, node ports and the ready endpoints. No agent runs: the test plays the kubelet,
// writing pod IPs and Ready conditions through the status subresource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api/client/client.js';
import { memoryIO } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Kubectl } from '../../src/testkit/kubectl.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const ns = 'default';

let cluster: TestCluster;
let client: ApiClient;
let kubectl: Kubectl;

async function flotilla(args: string[]): Promise<string> {
  const io = memoryIO();
  const code = await run(['--kubeconfig', cluster.kubeconfig, ...args], io);
  if (code !== 0) throw new Error(`flotilla ${args.join(' ')} exited ${code}: ${io.err()}`);
  return io.out();
}

/** Columns of a table row split on runs of 2+ spaces (cells here have no double spaces). */
function rows(table: string): string[][] {
  return table
    .trimEnd()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));
}

async function runPod(name: string, ip: string, ready: boolean): Promise<void> {
  const pod = await client.create(podRef, ns, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: {
      nodeName: 'n1',
      containers: [{ name: 'web', image: 'busybox', ports: [{ name: 'http', containerPort: 80 }] }],
    },
  });
  await client.updateStatus(podRef, ns, {
    ...pod,
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
}

beforeAll(async () => {
  cluster = await startTestCluster({ store: 'sqlite' });
  client = new ApiClient({
    server: cluster.url,
    ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    token: cluster.adminToken,
  });
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
  await client.create(nodeRef, undefined, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    spec: {},
  });
  // No replicas: the test's own pods (labelled like the template) are the Service's endpoints.
  await client.create(deployRef, ns, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'busybox', ports: [{ containerPort: 80 }] }] },
      },
    },
  });
  await runPod('web-a', '10.42.0.5', true);
  await runPod('web-b', '10.42.0.6', true);
  await runPod('web-c', '10.42.0.7', false);
});

afterAll(async () => {
  await client.close();
  await cluster.destroy();
});

describe('kubectl expose and the service tables', () => {
  it('kubectl expose deployment web --port 80 creates a ClusterIP Service with an address of the range', async () => {
    expect(await kubectl.ok(['expose', 'deployment', 'web', '--port', '80'])).toBe('service/web exposed\n');
    const svc = JSON.parse(await kubectl.ok(['get', 'svc', 'web', '-o', 'json']));
    expect(svc.spec.selector).toEqual({ app: 'web' });
    expect(svc.spec.clusterIP).toMatch(/^10\.43\.\d+\.\d+$/);
    expect(svc.spec.clusterIPs).toEqual([svc.spec.clusterIP]);
    expect(svc.spec.ipFamilies).toEqual(['IPv4']);
    expect(svc.spec.ipFamilyPolicy).toBe('SingleStack');

    const table = rows(await flotilla(['get', 'svc', 'web']));
    expect(table[0]).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    expect(table[1]?.slice(0, 5)).toEqual(['web', 'ClusterIP', svc.spec.clusterIP, '<none>', '80/TCP']);
    const kTable = rows(await kubectl.ok(['get', 'svc', 'web']));
    expect(kTable[1]?.slice(0, 5)).toEqual(table[1]?.slice(0, 5));
  });

  it('a NodePort exposure shows its node port in PORT(S) and describe', async () => {
    await kubectl.ok([
      'expose',
      'deployment',
      'web',
      '--name',
      'web-np',
      '--type',
      'NodePort',
      '--port',
      '8080',
      '--target-port',
      '80',
    ]);
    const svc = JSON.parse(await kubectl.ok(['get', 'svc', 'web-np', '-o', 'json']));
    const nodePort = svc.spec.ports[0].nodePort as number;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);
    const table = rows(await flotilla(['get', 'svc', 'web-np']));
    expect(table[1]?.slice(0, 5)).toEqual([
      'web-np',
      'NodePort',
      svc.spec.clusterIP,
      '<none>',
      `8080:${nodePort}/TCP`,
    ]);
    const text = await flotilla(['describe', 'svc', 'web-np']);
    expect(text).toMatch(new RegExp(`^NodePort:\\s+<unset>\\s+${nodePort}/TCP$`, 'm'));
    // Another Service asking for the same node port is refused with the field named.
    const clash = await kubectl.run([
      'create',
      'service',
      'nodeport',
      'clash',
      '--tcp',
      '80:80',
      '--node-port',
      String(nodePort),
    ]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain(
      `spec.ports[0].nodePort: Invalid value: ${nodePort}: provided port is already allocated`,
    );
  });

  it('get endpointslices and get svc,endpointslices list the ready pod addresses', async () => {
    const slices = await eventually(async () => {
      const table = rows(await flotilla(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']));
      expect(table[1]?.[3]).toBe('10.42.0.5,10.42.0.6,10.42.0.7');
      return table;
    });
    expect(slices[0]).toEqual(['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']);
    expect(slices[1]?.[0]).toMatch(/^web-[a-z0-9]+$/);
    expect(slices[1]?.slice(1, 3)).toEqual(['IPv4', '80']);

    const both = await flotilla(['get', 'svc,endpointslices']);
    // Two kinds: two tables, names prefixed with their kind, as kubectl prints them.
    const blocks = both.trimEnd().split('\n\n');
    expect(blocks).toHaveLength(2);
    expect(rows(blocks[0] ?? '')[0]).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    expect(blocks[0]).toMatch(/^service\/web\s+ClusterIP/m);
    expect(blocks[0]).toMatch(/^service\/web-np\s+NodePort/m);
    expect(rows(blocks[1] ?? '')[0]).toEqual(['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']);
    expect(blocks[1]).toMatch(/^endpointslice\.discovery\.k8s\.io\/web-[a-z0-9]+\s+IPv4/m);
  });

  it('describe svc shows the address, ports and the ready endpoints, like kubectl describe', async () => {
    const svc = JSON.parse(await kubectl.ok(['get', 'svc', 'web', '-o', 'json']));
    const text = await flotilla(['describe', 'svc', 'web']);
    expect(text).toMatch(/^Name:\s+web$/m);
    expect(text).toMatch(/^Namespace:\s+default$/m);
    expect(text).toMatch(/^Labels:\s+<none>$/m);
    expect(text).toMatch(/^Selector:\s+app=web$/m);
    expect(text).toMatch(/^Type:\s+ClusterIP$/m);
    expect(text).toMatch(new RegExp(`^IP:\\s+${svc.spec.clusterIP.replaceAll('.', '\\.')}$`, 'm'));
    expect(text).toMatch(/^Port:\s+<unset>\s+80\/TCP$/m);
    expect(text).toMatch(/^TargetPort:\s+80\/TCP$/m);
    // web-c is not ready: not listed.
    expect(text).toMatch(/^Endpoints:\s+10\.42\.0\.5:80,10\.42\.0\.6:80$/m);
    const theirs = await kubectl.ok(['describe', 'svc', 'web']);
    expect(theirs).toMatch(/^Endpoints:\s+10\.42\.0\.5:80,10\.42\.0\.6:80$/m);
  });

  it('describe without ready endpoints: blank under an empty slice, <none> without slices, as kubectl', async () => {
    // A selector matching no pod: the controller keeps an empty slice; kubectl prints nothing after it.
    await kubectl.ok(['create', 'service', 'clusterip', 'lonely', '--tcp', '80:80']);
    await eventually(async () => {
      expect(
        rows(await flotilla(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=lonely'])),
      ).toHaveLength(2);
    });
    expect(await flotilla(['describe', 'svc', 'lonely'])).toMatch(/^Endpoints: +$/m);
    expect(await kubectl.ok(['describe', 'svc', 'lonely'])).toMatch(/^Endpoints: +$/m);
    // No selector: no slices at all.
    await client.create({ apiVersion: 'v1', kind: 'Service' }, ns, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'manual' },
      spec: { ports: [{ port: 80 }] },
    });
    expect(await flotilla(['describe', 'svc', 'manual'])).toMatch(/^Endpoints:\s+<none>$/m);
    expect(await kubectl.ok(['describe', 'svc', 'manual'])).toMatch(/^Endpoints:\s+<none>$/m);
  });
});
