// Real kubectl (1.35 and 1.31) against Flotilla: server-side Tables with upstream's columns for every
// served kind, -o wide / custom-columns / jsonpath, get all, get -w; OpenAPI v3 (apply, create -f and
// edit with validation on, --validate=strict, explain); aggregated discovery (api-resources,
// api-versions).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';
import { testDir } from '../../src/testkit/temp-dir.js';

/**
 * Upstream's header lines (kubernetes pkg/printers/internalversion/printers.go column names,
 * upper-cased by kubectl), without and with `-o wide`.
 */
const upstreamHeaders: Record<string, { normal: string[]; wide: string[] }> = {
  pods: {
    normal: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wide: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
  },
  deployments: {
    normal: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    wide: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
  },
  replicasets: {
    normal: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    wide: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
  },
  services: {
    normal: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wide: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'],
  },
  namespaces: { normal: ['NAME', 'STATUS', 'AGE'], wide: ['NAME', 'STATUS', 'AGE'] },
  configmaps: { normal: ['NAME', 'DATA', 'AGE'], wide: ['NAME', 'DATA', 'AGE'] },
  secrets: { normal: ['NAME', 'TYPE', 'DATA', 'AGE'], wide: ['NAME', 'TYPE', 'DATA', 'AGE'] },
  nodes: {
    normal: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    wide: [
      'NAME',
      'STATUS',
      'ROLES',
      'AGE',
      'VERSION',
      'INTERNAL-IP',
      'EXTERNAL-IP',
      'OS-IMAGE',
      'KERNEL-VERSION',
      'CONTAINER-RUNTIME',
    ],
  },
  events: {
    normal: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
    wide: [
      'LAST SEEN',
      'TYPE',
      'REASON',
      'OBJECT',
      'SUBOBJECT',
      'SOURCE',
      'MESSAGE',
      'FIRST SEEN',
      'COUNT',
      'NAME',
    ],
  },
  endpoints: { normal: ['NAME', 'ENDPOINTS', 'AGE'], wide: ['NAME', 'ENDPOINTS', 'AGE'] },
  horizontalpodautoscalers: {
    normal: ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
    wide: ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
  },
  endpointslices: {
    normal: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    wide: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
  },
  leases: { normal: ['NAME', 'HOLDER', 'AGE'], wide: ['NAME', 'HOLDER', 'AGE'] },
};

/** One object of every namespaced kind in namespace `ns`, plus a node. */
function manifests(ns: string, node: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: 127.0.0.1:5000/nginx:1
        env:
        - {name: MODE, value: "prod"}
        - {name: LEVEL, value: "2"}
        ports: [{containerPort: 8080, name: http}]
        resources: {limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cache, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: cache, image: "127.0.0.1:5000/redis:7"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: ${ns}, labels: {app: solo}}
spec: {containers: [{name: main, image: "127.0.0.1:5000/busybox:1.36"}]}
---
apiVersion: v1
kind: Service
# No selector: its Endpoints and EndpointSlice below are written by hand, as for an external backend.
metadata: {name: web, namespace: ${ns}}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ${ns}}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ${ns}}
stringData: {password: "s3cret"}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: ${ns}}
subsets: [{addresses: [{ip: 10.0.0.7}], ports: [{port: 8080, name: http}]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: ${ns}, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: ["10.0.0.7"]}]
ports: [{port: 8080, name: http}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: ${ns}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader, namespace: ${ns}}
spec: {holderIdentity: "controller-1"}
---
apiVersion: v1
kind: Event
metadata: {name: solo.1, namespace: ${ns}}
involvedObject: {kind: Pod, name: solo, namespace: ${ns}}
reason: Testing
message: hello from the test
type: Normal
source: {component: tester}
---
apiVersion: v1
kind: Node
metadata:
  name: ${node}
  labels: {node-role.kubernetes.io/worker: ""}
`;
}

/** The header cells of kubectl's table output (columns are separated by at least two spaces). */
function header(out: string): string[] {
  const first = out.split('\n')[0] ?? '';
  return first.trim().split(/\s{2,}/);
}

describe.each<KubectlVersion>(['1.35', '1.31'])('kubectl %s: tables, OpenAPI, discovery', (version) => {
  const ns = `tables-${version.replace('.', '')}`;
  const node = `node-${version.replace('.', '')}`;
  let cluster: TestCluster;
  let k: Kubectl;
  let dir: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
    dir = testDir('kubectl-tables-');
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('applies manifests with validation on (OpenAPI v3), then re-applies them unchanged', async () => {
    const file = join(dir, 'all.yaml');
    writeFileSync(file, manifests(ns, node));
    const out = await k.ok(['apply', '-f', file]);
    expect(out).toContain(`namespace/${ns} created`);
    expect(out).toContain('deployment.apps/web created');
    expect(out).toContain('horizontalpodautoscaler.autoscaling/web created');
    expect(out).toContain(`node/${node} created`);
    const again = await k.ok(['apply', '-f', file]);
    // (Secrets given as stringData, and atomic lists the server defaults, such as Endpoints ports with
    // their protocol, are "configured" on every apply with upstream too.)
    for (const unchanged of [
      `namespace/${ns}`,
      'deployment.apps/web',
      'replicaset.apps/cache',
      'pod/solo',
      'service/web',
      'configmap/settings',
      'horizontalpodautoscaler.autoscaling/web',
      'lease.coordination.k8s.io/leader',
      `node/${node}`,
    ]) {
      expect(again).toContain(`${unchanged} unchanged`);
    }
    expect(again).not.toContain('created');
    // A change goes through the strategic merge patch computed from the served schemas.
    writeFileSync(
      file,
      manifests(ns, node).replace('{name: LEVEL, value: "2"}', '{name: LEVEL, value: "3"}'),
    );
    expect(await k.ok(['apply', '-f', file])).toContain('deployment.apps/web configured');
    const dep = JSON.parse(await k.ok(['get', 'deployment', 'web', '-n', ns, '-o', 'json']));
    expect(dep.spec.template.spec.containers[0].env).toEqual([
      { name: 'MODE', value: 'prod' },
      { name: 'LEVEL', value: '3' },
    ]);
  });

  it('creates from a file with validation on and edits without --validate=false', async () => {
    const file = join(dir, 'cm.yaml');
    writeFileSync(
      file,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: created, namespace: ${ns}}\ndata: {k: v}\n`,
    );
    expect(await k.ok(['create', '-f', file])).toContain('configmap/created created');
    const before = process.env.EDITOR;
    process.env.EDITOR = `sed -i s/k:\\ v/k:\\ edited/`;
    try {
      expect(await k.ok(['edit', 'configmap', 'created', '-n', ns])).toContain('configmap/created edited');
    } finally {
      if (before === undefined) delete process.env.EDITOR;
      else process.env.EDITOR = before;
    }
    const cm = JSON.parse(await k.ok(['get', 'configmap', 'created', '-n', ns, '-o', 'json']));
    expect(cm.data).toEqual({ k: 'edited' });
  });

  it('rejects an unknown field with --validate=strict, naming it', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: ${ns}}
spec:
  foo: 1
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec: {containers: [{name: c, image: "127.0.0.1:5000/busybox:1.36"}]}
`,
    );
    const r = await k.run(['apply', '--validate=strict', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown field "spec.foo"');
    expect((await k.run(['get', 'deployment', 'bad', '-n', ns])).code).not.toBe(0);
  });

  it.each(Object.entries(upstreamHeaders))('prints upstream headers for %s', async (resource, want) => {
    const scope = resource === 'namespaces' || resource === 'nodes' ? [] : ['-n', ns];
    const normal = await k.ok(['get', resource, ...scope]);
    expect(header(normal)).toEqual(want.normal);
    expect(normal.split('\n').length).toBeGreaterThan(2);
    const wide = await k.ok(['get', resource, ...scope, '-o', 'wide']);
    expect(header(wide)).toEqual(want.wide);
  });

  it('fills cells server-side (ready counts, ports, roles, targets)', async () => {
    const svc = await k.ok(['get', 'svc', 'web', '-n', ns, '--no-headers']);
    expect(svc).toMatch(/^web\s+ClusterIP\s+\S+\s+<none>\s+80\/TCP\s+\d+s\s*$/);
    // The controllers run: the env change started a rollout that surges one new pod (maxSurge 1,
    // maxUnavailable 0) and then waits forever, since no pod can run on the lease-less node.
    await eventually(
      async () =>
        expect(await k.ok(['get', 'deploy', 'web', '-n', ns, '--no-headers', '-o', 'wide'])).toMatch(
          /^web\s+0\/2\s+1\s+0\s+\S+\s+web\s+127\.0\.0\.1:5000\/nginx:1\s+app=web\s*$/,
        ),
      15_000,
    );
    await eventually(
      async () =>
        expect(await k.ok(['get', 'rs', 'cache', '-n', ns, '--no-headers', '-o', 'wide'])).toMatch(
          /^cache\s+1\s+1\s+0\s+\S+\s+cache\s+127\.0\.0\.1:5000\/redis:7\s+app=cache\s*$/,
        ),
      15_000,
    );
    expect(await k.ok(['get', 'node', node, '--no-headers'])).toMatch(
      new RegExp(`^${node}\\s+Unknown\\s+worker\\s+\\S+`),
    );
    expect(await k.ok(['get', 'hpa', 'web', '-n', ns, '--no-headers'])).toMatch(
      /^web\s+Deployment\/web\s+cpu: <unknown>\/60%\s+1\s+4\s+\d+\s+/,
    );
    expect(await k.ok(['get', 'ep', 'web', '-n', ns, '--no-headers'])).toMatch(/^web\s+10\.0\.0\.7:8080\s+/);
    // NAMESPACE and LABELS come from the rows' object metadata.
    const all = await k.ok(['get', 'pods', '-A', '--show-labels']);
    expect(header(all)).toEqual(['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'LABELS']);
    expect(all).toMatch(new RegExp(`${ns}\\s+solo\\s+0/1\\s+Pending\\s+0\\s+\\S+\\s+app=solo`));
  });

  it('prints custom columns and jsonpath from the objects', async () => {
    const cc = await k.ok([
      'get',
      'configmaps',
      '-n',
      ns,
      '-o',
      'custom-columns=NAME:.metadata.name,RV:.metadata.resourceVersion',
    ]);
    expect(header(cc)).toEqual(['NAME', 'RV']);
    expect(cc).toMatch(/settings\s+\d+/);
    expect(await k.ok(['get', 'services', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}'])).toBe('web');
    expect(
      await k.ok([
        'get',
        'configmaps',
        '-n',
        ns,
        '-o',
        'jsonpath={.items[*].metadata.name}',
        '--sort-by=.metadata.name',
      ]),
    ).toBe('created settings');
    // --sort-by asks for tables with includeObject=Object.
    const sorted = await k.ok(['get', 'configmaps', '-n', ns, '--sort-by=.metadata.name', '--no-headers']);
    expect(sorted.split('\n')[0]).toMatch(/^created\s/);
  });

  it('expands get all from discovery categories', async () => {
    // Settled rollout (see above): the old ReplicaSet keeps its 2 pods, the new one has surged 1.
    const out = await eventually(async () => {
      const o = await k.ok(['get', 'all', '-n', ns]);
      expect(o).toMatch(/^deployment\.apps\/web\s+0\/2\s+1\s+0\s/m);
      const webSets = [...o.matchAll(/^replicaset\.apps\/web-[a-z0-9]+\s+(\d+)\s+(\d+)\s+0\s/gm)];
      expect(webSets.map((m) => `${m[1]}/${m[2]}`).sort()).toEqual(['1/1', '2/2']);
      expect(o.match(/^pod\/web-[a-z0-9]+-[a-z0-9]{5}\s+0\/1\s+Pending\s/gm)).toHaveLength(3);
      return o;
    }, 15_000);
    expect(out).toMatch(/^pod\/solo\s+0\/1\s+Pending/m);
    expect(out).toMatch(/^pod\/cache-[a-z0-9]{5}\s+0\/1\s+Pending\s/m);
    expect(out).toMatch(/^service\/web\s+ClusterIP/m);
    expect(out).toMatch(/^replicaset\.apps\/cache\s+1\s+1\s+0\s/m);
    expect(out).toMatch(/^horizontalpodautoscaler\.autoscaling\/web\s+Deployment\/web/m);
    expect(out).not.toContain('configmap/');
  });

  it('prints a table row for a later change with get -w', async () => {
    const watch = k.start(['get', 'configmaps', '-n', ns, '-w']);
    try {
      await eventually(() => expect(watch.output()).toMatch(/^settings\s+2\s+/m), 15_000);
      await k.ok(['create', 'configmap', 'later', '-n', ns, '--from-literal=x=1', '--from-literal=y=2']);
      await eventually(() => expect(watch.output()).toMatch(/^later\s+2\s+\d+s$/m), 15_000);
      expect(watch.output()).not.toMatch(/PartialObjectMetadata|"kind"/);
    } finally {
      watch.stop();
    }
  });

  it('explains fields from the OpenAPI v3 schemas', async () => {
    const out = await k.ok(['explain', 'deployment.spec.strategy']);
    expect(out).toMatch(/KIND:\s+Deployment/);
    expect(out).toContain('rollingUpdate');
    expect(out).toMatch(/enum: Recreate, RollingUpdate/);
    expect(await k.ok(['explain', 'pods.spec.containers.ports'])).toContain('containerPort');
  });

  it('lists resources and versions from aggregated discovery', async () => {
    const resources = await k.ok(['api-resources']);
    expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment\s*$/m);
    expect(resources).toMatch(/^namespaces\s+ns\s+v1\s+false\s+Namespace\s*$/m);
    expect(resources).toMatch(
      /^horizontalpodautoscalers\s+hpa\s+autoscaling\/v2\s+true\s+HorizontalPodAutoscaler\s*$/m,
    );
    const versions = (await k.ok(['api-versions'])).trim().split('\n');
    expect(versions).toEqual(
      expect.arrayContaining([
        'v1',
        'apps/v1',
        'autoscaling/v2',
        'discovery.k8s.io/v1',
        'coordination.k8s.io/v1',
      ]),
    );
  });
});
