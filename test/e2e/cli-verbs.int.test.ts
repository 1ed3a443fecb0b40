// The kubectl-style verbs of the `flotilla` binary against a running control plane: apply --server-side,
// diff, patch (strategic, merge, json, subresources), edit ($EDITOR), label, annotate, scale, wait,
// explain, api-resources / api-versions, and describe for every served kind compared line for line
// with what kubectl 1.35 prints for the same objects.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { expectSuccess, runCommand, type CommandResult } from '../../src/testkit/command.js';
import { eventually } from '../../src/testkit/eventually.js';
import { callerFor, type Caller } from '../../src/testkit/http.js';
import { Kubectl } from '../../src/testkit/kubectl.js';
import { ensureBuilt, flotillaBin } from '../../src/testkit/process.js';

let cluster: TestCluster;
let api: Caller;
let dir: string;
let kubectl: Kubectl;

function flotilla(
  args: string[],
  opts: { stdin?: string | undefined; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  return runCommand(process.execPath, [flotillaBin, '--kubeconfig', cluster.kubeconfig, ...args], {
    stdin: opts.stdin,
    env: { ...process.env, ...(opts.env ?? {}) },
  });
}

async function ok(args: string[], stdin?: string): Promise<string> {
  return expectSuccess(`flotilla ${args.join(' ')}`, await flotilla(args, { stdin }));
}

async function getJson(path: string): Promise<any> {
  const r = await api.call('GET', path);
  expect(r.status, `GET ${path}`).toBe(200);
  return r.body;
}

const web = (replicas: number, image = '127.0.0.1:5000/nginx:1.25'): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: verbs
  labels:
    app: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: ${image}
        env:
        - name: MODE
          value: prod
      - name: sidecar
        image: 127.0.0.1:5000/envoy:1
`;

const deployPath = '/apis/apps/v1/namespaces/verbs/deployments/web';

beforeAll(async () => {
  ensureBuilt();
  // Node n2 of the describe test has no agent: long grace periods (--node-monitor-grace-period,
  // --node-startup-grace-period) keep the node lifecycle controller from marking it Unknown mid-test.
  // The describe test writes the HPA's status itself; an hour between HPA syncs keeps the controller's
  // periodic pass (15 s by default) from overwriting it before both describes have run.
  cluster = await startTestCluster({
    store: 'sqlite',
    nodeLifecycle: { nodeMonitorGracePeriodMs: 600_000, nodeStartupGracePeriodMs: 600_000 },
    hpaSyncPeriodMs: 3_600_000,
  });
  api = callerFor(cluster);
  dir = mkdtempSync(join(tmpdir(), 'flotilla-verbs-'));
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
  await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: verbs\n');
});

afterAll(async () => {
  await api.close();
  await cluster.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('apply --server-side and diff', () => {
  it('creates with server-side apply, reports conflicts with another manager, --force-conflicts takes over', async () => {
    writeFileSync(join(dir, 'web.yaml'), web(3));
    expect(await ok(['apply', '-f', join(dir, 'web.yaml'), '--server-side'])).toBe(
      'deployment.apps/web serverside-applied\n',
    );
    const dep = await getJson(deployPath);
    expect(dep.spec.replicas).toBe(3);
    expect(dep.metadata.managedFields.map((m: any) => `${m.manager}/${m.operation}`)).toContain(
      'flotilla/Apply',
    );
    // Re-applying the same configuration changes nothing.
    expect(await ok(['apply', '-f', join(dir, 'web.yaml'), '--server-side'])).toBe(
      'deployment.apps/web serverside-applied\n',
    );
    // (The Deployment controller may write status meanwhile; what the apply owns must not move.)
    const again = await getJson(deployPath);
    expect(again.metadata.generation).toBe(dep.metadata.generation);
    expect(again.spec).toEqual(dep.spec);

    writeFileSync(join(dir, 'web-ci.yaml'), web(5));
    const conflict = await flotilla([
      'apply',
      '-f',
      join(dir, 'web-ci.yaml'),
      '--server-side',
      '--field-manager=ci',
    ]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(
      /^error: Apply failed with 1 conflict: conflict with "flotilla".*\.spec\.replicas/,
    );
    expect(conflict.stderr).toContain('Please review the fields above--they currently have other managers.');
    expect(conflict.stderr).toContain('`--force-conflicts`');
    expect(
      await ok([
        'apply',
        '-f',
        join(dir, 'web-ci.yaml'),
        '--server-side',
        '--field-manager=ci',
        '--force-conflicts',
      ]),
    ).toBe('deployment.apps/web serverside-applied\n');
    expect((await getJson(deployPath)).spec.replicas).toBe(5);

    // get -o yaml hides managedFields unless asked, like kubectl.
    expect(
      parse(await ok(['get', 'deploy', 'web', '-n', 'verbs', '-o', 'yaml'])).metadata.managedFields,
    ).toBeUndefined();
    const shown = parse(
      await ok(['get', 'deploy', 'web', '-n', 'verbs', '-o', 'yaml', '--show-managed-fields']),
    );
    expect(shown.metadata.managedFields.length).toBeGreaterThan(0);
  });

  it('switches a client-side applied object to server-side apply without conflicts, and back', async () => {
    const cm = (data: string): string =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: switch\n  namespace: verbs\ndata:\n${data}`;
    const path = '/api/v1/namespaces/verbs/configmaps/switch';
    expect(await ok(['apply', '-f', '-'], cm('  a: "1"\n  c: "3"\n'))).toBe('configmap/switch created\n');
    const csa = await getJson(path);
    expect(csa.metadata.managedFields.map((m: any) => `${m.manager}/${m.operation}`)).toEqual([
      'flotilla-client-side-apply/Update',
    ]);
    // Changing a field client-side apply set, and dropping another: no conflict, c is removed.
    expect(await ok(['apply', '-f', '-', '--server-side'], cm('  a: "9"\n  b: "2"\n'))).toBe(
      'configmap/switch serverside-applied\n',
    );
    let obj = await getJson(path);
    expect(obj.data).toEqual({ a: '9', b: '2' });
    expect(obj.metadata.managedFields.map((m: any) => m.manager).sort()).toEqual([
      'flotilla',
      'flotilla-last-applied',
    ]);
    expect(
      JSON.parse(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).data,
    ).toEqual({
      a: '9',
      b: '2',
    });
    expect(await ok(['apply', '-f', '-', '--server-side'], cm('  a: "5"\n  b: "2"\n'))).toBe(
      'configmap/switch serverside-applied\n',
    );
    // Back to client-side apply: the annotation was kept in step, so dropping b removes it.
    expect(await ok(['apply', '-f', '-'], cm('  a: "5"\n'))).toBe('configmap/switch configured\n');
    obj = await getJson(path);
    expect(obj.data).toEqual({ a: '5' });
  });

  it('apply --dry-run=server validates and stores nothing', async () => {
    writeFileSync(join(dir, 'web9.yaml'), web(9));
    expect(
      await ok([
        'apply',
        '-f',
        join(dir, 'web9.yaml'),
        '--server-side',
        '--field-manager=ci',
        '--dry-run=server',
      ]),
    ).toBe('deployment.apps/web serverside-applied (server dry run)\n');
    expect((await getJson(deployPath)).spec.replicas).toBe(5);
  });

  it('diff exits 1 with a unified diff, 0 when nothing would change, 2 on errors', async () => {
    writeFileSync(join(dir, 'web7.yaml'), web(7));
    const changed = await flotilla([
      'diff',
      '-f',
      join(dir, 'web7.yaml'),
      '--server-side',
      '--field-manager=ci',
    ]);
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout).toMatch(
      /^diff -u -N LIVE\/apps\.v1\.Deployment\.verbs\.web MERGED\/apps\.v1\.Deployment\.verbs\.web\n--- LIVE/,
    );
    expect(changed.stdout).toContain('-  replicas: 5\n+  replicas: 7\n');
    expect(changed.stdout).not.toContain('managedFields');
    expect((await getJson(deployPath)).spec.replicas).toBe(5);

    writeFileSync(join(dir, 'web5.yaml'), web(5));
    const same = await flotilla([
      'diff',
      '-f',
      join(dir, 'web5.yaml'),
      '--server-side',
      '--field-manager=ci',
    ]);
    expect(same.stderr).toBe('');
    expect(same).toMatchObject({ code: 0, stdout: '' });

    writeFileSync(
      join(dir, 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\n  namespace: verbs\ndata:\n  a: b\n',
    );
    const created = await flotilla(['diff', '-f', join(dir, 'cm.yaml')]);
    expect(created.code).toBe(1);
    expect(created.stdout).toContain('@@ -0,0 +1,');
    expect(created.stdout).toContain('+data:\n+  a: b\n');
    expect((await api.call('GET', '/api/v1/namespaces/verbs/configmaps/fresh')).status).toBe(404);

    expect((await flotilla(['diff', '-f', join(dir, 'nope.yaml')])).code).toBe(2);
  });
});

describe('patch, label, annotate, scale', () => {
  it('patch: strategic merge by container name, merge, json, scale and status subresources', async () => {
    expect(
      await ok([
        'patch',
        'deploy',
        'web',
        '-n',
        'verbs',
        '-p',
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"127.0.0.1:5000/nginx:1.27"}]}}}}',
      ]),
    ).toBe('deployment.apps/web patched\n');
    const dep = await getJson(deployPath);
    expect(dep.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`)).toEqual([
      'web=127.0.0.1:5000/nginx:1.27',
      'sidecar=127.0.0.1:5000/envoy:1',
    ]);
    expect(dep.spec.template.spec.containers[0].env).toEqual([{ name: 'MODE', value: 'prod' }]);

    expect(
      await ok([
        'patch',
        'deploy/web',
        '-n',
        'verbs',
        '--type=merge',
        '-p',
        '{"metadata":{"labels":{"tier":"fe"}}}',
      ]),
    ).toBe('deployment.apps/web patched\n');
    expect(
      await ok([
        'patch',
        'deploy/web',
        '-n',
        'verbs',
        '--type=merge',
        '-p',
        '{"metadata":{"labels":{"tier":"fe"}}}',
      ]),
    ).toBe('deployment.apps/web patched (no change)\n');
    expect(
      await ok([
        'patch',
        'deploy/web',
        '-n',
        'verbs',
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/metadata/labels/tier"}]',
      ]),
    ).toBe('deployment.apps/web patched\n');
    expect(
      await ok([
        'patch',
        'deploy/web',
        '-n',
        'verbs',
        '--subresource=scale',
        '-p',
        '{"spec":{"replicas":2}}',
      ]),
    ).toBe('scale.autoscaling/web patched\n');
    expect(
      await ok([
        'patch',
        'deploy/web',
        '-n',
        'verbs',
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"observedGeneration":1}}',
      ]),
    ).toMatch(/^deployment\.apps\/web patched/);
    const after = await getJson(deployPath);
    expect(after.spec.replicas).toBe(2);
    expect(after.metadata.labels).toEqual({ app: 'web' });

    const bad = await flotilla([
      'patch',
      'deploy/web',
      '-n',
      'verbs',
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/nope"}]',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error from server/);
  });

  it('label and annotate: add, refuse to overwrite, overwrite, remove', async () => {
    expect(await ok(['label', 'deploy', 'web', '-n', 'verbs', 'tier=frontend'])).toBe(
      'deployment.apps/web labeled\n',
    );
    const refused = await flotilla(['label', 'deploy', 'web', '-n', 'verbs', 'tier=backend']);
    expect(refused).toMatchObject({
      code: 1,
      stderr: "error: 'tier' already has a value (frontend), and --overwrite is false\n",
    });
    expect(await ok(['label', 'deploy/web', '-n', 'verbs', 'tier=backend', '--overwrite'])).toBe(
      'deployment.apps/web labeled\n',
    );
    expect((await getJson(deployPath)).metadata.labels.tier).toBe('backend');
    expect(await ok(['label', 'deploy/web', '-n', 'verbs', 'tier-'])).toBe('deployment.apps/web unlabeled\n');
    expect(await ok(['annotate', 'deploy/web', '-n', 'verbs', 'owner=team-a'])).toBe(
      'deployment.apps/web annotated\n',
    );
    expect((await flotilla(['annotate', 'deploy/web', '-n', 'verbs', 'owner=team-b'])).code).toBe(1);
    expect(await ok(['annotate', 'deploy/web', '-n', 'verbs', 'owner=team-b', '--overwrite'])).toBe(
      'deployment.apps/web annotated\n',
    );
    const dep = await getJson(deployPath);
    expect(dep.metadata.labels.tier).toBeUndefined();
    expect(dep.metadata.annotations.owner).toBe('team-b');
    expect(await ok(['label', 'deploy/web', '-n', 'verbs', '--list'])).toBe('app=web\n');
  });

  it('scale through the scale subresource, with --current-replicas checked first', async () => {
    expect(await ok(['scale', 'deploy/web', '-n', 'verbs', '--replicas=4'])).toBe(
      'deployment.apps/web scaled\n',
    );
    expect((await getJson(`${deployPath}/scale`)).spec.replicas).toBe(4);
    const mismatch = await flotilla([
      'scale',
      'deploy/web',
      '-n',
      'verbs',
      '--replicas=6',
      '--current-replicas=2',
    ]);
    expect(mismatch).toMatchObject({ code: 1, stderr: 'error: Expected replicas to be 2, was 4\n' });
    expect(
      await ok(['scale', 'deployment', 'web', '-n', 'verbs', '--replicas=1', '--current-replicas=4']),
    ).toBe('deployment.apps/web scaled\n');
    expect((await getJson(deployPath)).spec.replicas).toBe(1);
    expect((await flotilla(['scale', 'cm/fresh', '-n', 'verbs', '--replicas=1'])).code).toBe(1);
  });
});

describe('wait', () => {
  it('condition met later (watch by metadata.name), jsonpath, timeout message', async () => {
    const child = spawn(process.execPath, [
      flotillaBin,
      '--kubeconfig',
      cluster.kubeconfig,
      'wait',
      'deploy/web',
      '-n',
      'verbs',
      '--for=condition=Ready',
      '--timeout=30s',
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise((r) => setTimeout(r, 500));
    const dep = await getJson(deployPath);
    const patched = await api.call(
      'PATCH',
      `${deployPath}/status`,
      {
        status: {
          observedGeneration: dep.metadata.generation,
          conditions: [{ type: 'Ready', status: 'True', reason: 'Test', message: 'ok' }],
        },
      },
      'application/merge-patch+json',
    );
    expect(patched.status).toBe(200);
    expect(await exited).toBe(0);
    expect(out).toBe('deployment.apps/web condition met\n');

    expect(await ok(['wait', 'deploy/web', '-n', 'verbs', '--for=jsonpath={.spec.replicas}=1'])).toBe(
      'deployment.apps/web condition met\n',
    );
    expect(
      await ok([
        'wait',
        'deploy/web',
        '-n',
        'verbs',
        '--for=jsonpath={.status.conditions[?(@.type=="Ready")].status}=True',
      ]),
    ).toBe('deployment.apps/web condition met\n');
    const timeout = await flotilla([
      'wait',
      'deploy/web',
      '-n',
      'verbs',
      '--for=condition=Ready=False',
      '--timeout=1s',
    ]);
    expect(timeout).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'error: timed out waiting for the condition on deployments/web\n',
    });
  });

  it('--for=create and --for=delete', async () => {
    const creating = flotilla(['wait', 'cm/later', '-n', 'verbs', '--for=create', '--timeout=30s']);
    await new Promise((r) => setTimeout(r, 500));
    await ok(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: later\n  namespace: verbs\n',
    );
    expect(await creating).toMatchObject({ code: 0, stdout: 'configmap/later condition met\n' });

    const deleting = flotilla(['wait', 'cm/later', '-n', 'verbs', '--for=delete', '--timeout=30s']);
    // Long enough for the command to start and list the object: it must see it deleted, not absent.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await api.call('DELETE', '/api/v1/namespaces/verbs/configmaps/later')).status).toBe(200);
    expect(await deleting).toMatchObject({ code: 0, stdout: 'configmap/later condition met\n' });
    expect(await flotilla(['wait', 'cm/later', '-n', 'verbs', '--for=delete'])).toMatchObject({
      code: 0,
      stdout: '',
    });
  });
});

describe('edit', () => {
  function editorEnv(sed: string): Record<string, string> {
    const script = join(dir, 'editor.sh');
    writeFileSync(script, '#!/bin/sh\ncp "$1" "$1.seen"\nsed -i "$SEDEXPR" "$1"\n');
    chmodSync(script, 0o755);
    // TMPDIR: the file being edited (and the editor's .seen copy) stay in this test's dir.
    return { EDITOR: script, KUBE_EDITOR: '', SEDEXPR: sed, TMPDIR: dir };
  }

  it('applies the edited YAML; an unchanged file cancels', async () => {
    const r = await flotilla(['edit', 'deploy/web', '-n', 'verbs'], {
      env: editorEnv('s/^  replicas: 1$/  replicas: 3/'),
    });
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: 'deployment.apps/web edited\n' });
    expect((await getJson(deployPath)).spec.replicas).toBe(3);
    const none = await flotilla(['edit', 'deploy/web', '-n', 'verbs'], {
      env: editorEnv('s/no-such-text//'),
    });
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'Edit cancelled, no changes made.\n' });
  });

  it('reopens the file with the server error as a comment; saving it again unchanged gives up', async () => {
    const r = await flotilla(['edit', 'deploy/web', '-n', 'verbs'], {
      env: editorEnv('s/^  replicas: 3$/  replicas: -1/'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: deployments\.apps "web" is invalid\n/);
    expect(r.stderr).toMatch(
      /A copy of your changes has been stored to ".*"\nerror: Edit cancelled, no valid changes were saved\.\n$/,
    );
    const file = /stored to "(.*)"/.exec(r.stderr)![1]!;
    const reopened = readFileSync(`${file}.seen`, 'utf8');
    expect(reopened).toMatch(
      /^# Please edit the object below\. Lines beginning with a '#' will be ignored,\n/,
    );
    expect(reopened).toMatch(
      /\n# deployments\.apps "web" was not valid:\n# \* spec\.replicas: .*\n#\napiVersion: apps\/v1\n/,
    );
    expect(reopened).toContain('\n  replicas: -1\n');
    expect((await getJson(deployPath)).spec.replicas).toBe(3);
  });
});

describe('explain, api-resources, api-versions', () => {
  it('explain works offline from the built-in schemas', async () => {
    const r = await runCommand(process.execPath, [
      flotillaBin,
      'explain',
      'deployment.spec.strategy',
      '--kubeconfig',
      '/nonexistent',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^GROUP: {6}apps\nKIND: {7}Deployment\nVERSION: {4}v1\n\nFIELD: strategy <Object>\n/,
    );
    expect(r.stdout).toContain('\n  rollingUpdate\t<Object>\n');
    expect(r.stdout).toContain('\n  type\t<string>\n  enum: Recreate, RollingUpdate\n');
  });

  it('api-resources and api-versions print what kubectl prints for this server', async () => {
    for (const args of [
      ['api-resources'],
      ['api-resources', '--namespaced=false'],
      ['api-resources', '-o', 'name'],
      ['api-versions'],
    ]) {
      const ours = await ok(args);
      const theirs = await kubectl.ok(args);
      expect(ours, args.join(' ')).toBe(theirs);
    }
    const wide = await ok(['api-resources', '-o', 'wide']);
    const kwide = await kubectl.ok(['api-resources', '-o', 'wide']);
    const trim = (s: string): string =>
      s
        .split('\n')
        .map((l) => l.trimEnd())
        .join('\n');
    expect(trim(wide)).toBe(trim(kwide));
  });
});

describe('describe', () => {
  const manifests = (stage: 1 | 2 | 3): string => `apiVersion: v1
kind: Namespace
metadata:
  name: rich
  labels:
    team: a
  annotations:
    note: "line1\\nline2\\n"
---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-node-lease
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: n2
  namespace: kube-node-lease
spec:
  holderIdentity: n2
  leaseDurationSeconds: 40
  renewTime: "2024-05-01T10:00:00.000000Z"
---
apiVersion: v1
kind: Node
metadata:
  name: n2
  labels:
    kubernetes.io/hostname: n2
    node-role.kubernetes.io/worker: ""
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
  taints:
  - {key: dedicated, value: infra, effect: NoSchedule}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: rich
data:
  mode: prod
  script: |
    echo one
    echo two
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: rich
type: Opaque
data:
  password: czNjcmV0
${
  stage < 3
    ? ''
    : `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rd
  namespace: rich
spec:
  replicas: 2
  selector:
    matchLabels: {app: rd}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: rd}
      annotations: {tier: web}
    spec:
      containers:
      - name: c
        image: 127.0.0.1:5000/nginx:2
        ports: [{containerPort: 80, name: http, protocol: TCP}]
        resources: {limits: {memory: 128Mi}, requests: {cpu: 100m}}
      volumes: [{name: cfg, configMap: {name: cfg}}]
`
}${
    stage < 2
      ? ''
      : `---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rd-new
  namespace: rich
  labels: {app: rd, pod-template-hash: new}
  annotations: {deployment.kubernetes.io/revision: "2"}
spec:
  replicas: 2
  selector:
    matchLabels: {app: rd, pod-template-hash: new}
  template:
    metadata:
      labels: {app: rd, pod-template-hash: new}
      annotations: {tier: web}
    spec:
      containers:
      - name: c
        image: 127.0.0.1:5000/nginx:2
        ports: [{containerPort: 80, name: http, protocol: TCP}]
        resources: {limits: {memory: 128Mi}, requests: {cpu: 100m}}
      volumes: [{name: cfg, configMap: {name: cfg}}]
`
  }---
apiVersion: v1
kind: Pod
metadata:
  name: rd-new-x1
  namespace: rich
  labels: {app: rd, pod-template-hash: new}
spec:
  nodeName: n2
  initContainers:
  - name: init
    image: 127.0.0.1:5000/busybox:1
    command: [sh, -c, "echo hi"]
  containers:
  - name: c
    image: 127.0.0.1:5000/nginx:2
    args: [--port, "80"]
    ports: [{containerPort: 80, name: http, protocol: TCP}, {containerPort: 443, protocol: TCP}]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: POD, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    envFrom: [{configMapRef: {name: cfg}}]
    resources: {limits: {memory: 128Mi}, requests: {cpu: 100m}}
    readinessProbe: {httpGet: {path: /ready, port: http, scheme: HTTP}, periodSeconds: 5}
    livenessProbe: {exec: {command: [cat, /tmp/ok]}, initialDelaySeconds: 3}
    volumeMounts: [{name: cfg, mountPath: /etc/cfg, readOnly: true}, {name: scratch, mountPath: /tmp}]
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - {name: scratch, emptyDir: {sizeLimit: 1Gi}}
  - {name: creds, secret: {secretName: creds}}
  - {name: host, hostPath: {path: /var/log, type: Directory}}
  - {name: data, persistentVolumeClaim: {claimName: data}}
  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
  - {name: token, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}, {configMap: {name: cfg}}]}}
  tolerations:
  - {key: dedicated, operator: Equal, value: infra, effect: NoSchedule}
  - {operator: Exists}
  nodeSelector: {disk: ssd}
---
apiVersion: v1
kind: Service
metadata:
  name: rd
  namespace: rich
spec:
  type: NodePort
  selector: {app: rd}
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP, nodePort: 30080}
  - {name: metrics, port: 9090, targetPort: 9090, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: rd-abc
  namespace: rich
  labels: {kubernetes.io/service-name: rd}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}, {name: metrics, port: 9090, protocol: TCP}]
endpoints:
- {addresses: [10.1.0.1], conditions: {ready: true}, nodeName: n2, zone: z1, targetRef: {kind: Pod, name: rd-new-x1, namespace: rich}}
- {addresses: [10.1.0.2], conditions: {ready: false}}
---
apiVersion: v1
kind: Endpoints
metadata:
  name: rd
  namespace: rich
subsets:
- addresses: [{ip: 10.1.0.1}]
  notReadyAddresses: [{ip: 10.1.0.2}]
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: rd
  namespace: rich
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: rd}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}
  - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}}
`;

  async function status(path: string, body: unknown): Promise<void> {
    const r = await api.call('PATCH', `${path}/status`, body, 'application/merge-patch+json');
    expect(r.status, `PATCH ${path}/status: ${JSON.stringify(r.body)}`).toBe(200);
  }

  async function event(
    name: string,
    involved: Record<string, unknown>,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const r = await api.call('POST', '/api/v1/namespaces/rich/events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name },
      involvedObject: { namespace: 'rich', ...involved },
      type: 'Normal',
      source: { component: 'test-controller' },
      // Recent (the server expires old events) and in whole minutes (ages stay put between the runs).
      firstTimestamp: new Date(Date.now() - 40 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: new Date(Date.now() - 30 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      count: 1,
      ...extra,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }

  /**
   * The age closing a row of the node's pod table (after its "128Mi (1%)" cells) ticks between the two
   * runs: mask it (and only it: "cpu: 100m" elsewhere is a quantity, not an age).
   */
  const masked = (text: string): string => text.replace(/(\(\d+%\) +)(?:\d+[smhdy])+$/gm, '$1AGE');

  /** Each line of the Events tables, split into its cells (columns are two or more spaces apart). */
  const eventRows = (text: string): { line: string; cells: string[] | undefined }[] => {
    let inEvents = false;
    return text.split('\n').map((line) => {
      if (/^Events:/.test(line)) {
        inEvents = true;
        return { line, cells: undefined };
      }
      if (!line.startsWith('  ')) inEvents = false;
      return { line, cells: inEvents ? line.trim().split(/\s{2,}/) : undefined };
    });
  };

  /**
   * The controllers' own events are seconds old, so their ages tick between the two runs (and the Age
   * column widens with them): in Events tables, seconds become "Ns" and cells are re-joined with two
   * spaces. Hand-written events are minutes old and keep their exact ages.
   */
  const maskEventAges = (text: string): string =>
    eventRows(text)
      .map(({ line, cells }) =>
        cells === undefined
          ? line
          : `  ${cells.map((c, i) => (i === 2 ? c.replace(/\b\d+s\b/g, 'Ns') : c)).join('  ')}`,
      )
      .join('\n');

  const eventAges = (text: string): string =>
    eventRows(text)
      .map(({ cells }) => cells?.[2] ?? '')
      .join('|');

  /** Both tools print the same text for the same live object. */
  async function compare(args: string[]): Promise<void> {
    const theirs = masked(await kubectl.ok(['describe', ...args]));
    const ours = masked(await ok(['describe', ...args]));
    expect(maskEventAges(ours), `describe ${args.join(' ')}`).toBe(maskEventAges(theirs));
    // When no age ticked over between the two runs, the Events tables line up exactly as well.
    if (eventAges(ours) === eventAges(theirs)) expect(ours, `describe ${args.join(' ')}`).toBe(theirs);
  }

  const ownerOf = (obj: any): string | undefined => {
    const ref = (obj.metadata.ownerReferences ?? []).find((r: any) => r.controller === true);
    return ref === undefined ? undefined : `${ref.kind}/${ref.name}`;
  };

  it('prints what kubectl 1.35 prints for every served kind, events included', async () => {
    // The controllers run, so the ownership chain is built the way they build it: an orphan pod, a
    // ReplicaSet that adopts it (and makes one more pod), a Deployment that adopts the ReplicaSet as
    // its new one (same template but for the hash label) instead of making its own.
    await ok(['apply', '-f', '-'], manifests(1));
    await ok(['apply', '-f', '-'], manifests(2));
    await eventually(
      async () =>
        expect(ownerOf(await getJson('/api/v1/namespaces/rich/pods/rd-new-x1'))).toBe('ReplicaSet/rd-new'),
      15_000,
    );
    await ok(['apply', '-f', '-'], manifests(3));
    await eventually(
      async () =>
        expect(ownerOf(await getJson('/apis/apps/v1/namespaces/rich/replicasets/rd-new'))).toBe(
          'Deployment/rd',
        ),
      15_000,
    );
    const deployUid: string = (await getJson('/apis/apps/v1/namespaces/rich/deployments/rd')).metadata.uid;

    await status('/api/v1/nodes/n2', {
      status: {
        capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
        allocatable: { cpu: '3800m', memory: '7Gi', pods: '110', 'ephemeral-storage': '90Gi' },
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            lastHeartbeatTime: '2024-05-01T10:00:00Z',
            lastTransitionTime: '2024-05-01T09:00:00Z',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status',
          },
        ],
        addresses: [
          { type: 'InternalIP', address: '10.0.0.2' },
          { type: 'Hostname', address: 'n2' },
        ],
        nodeInfo: {
          machineID: 'm',
          systemUUID: 's',
          bootID: 'b',
          kernelVersion: '6.1.0',
          osImage: 'Debian GNU/Linux 12',
          operatingSystem: 'linux',
          architecture: 'amd64',
          containerRuntimeVersion: 'flotilla://0.1.0',
          kubeletVersion: 'v1.34.0',
          kubeProxyVersion: '',
        },
      },
    });
    await status('/api/v1/namespaces/rich/pods/rd-new-x1', {
      status: {
        phase: 'Running',
        hostIP: '10.0.0.2',
        podIP: '10.1.0.1',
        podIPs: [{ ip: '10.1.0.1' }],
        startTime: '2024-05-01T10:00:00Z',
        qosClass: 'Burstable',
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'PodScheduled', status: 'True' },
        ],
        initContainerStatuses: [
          {
            name: 'init',
            ready: false,
            restartCount: 0,
            image: '127.0.0.1:5000/busybox:1',
            imageID: 'sha256:1',
            containerID: 'flotilla://1',
            state: {
              terminated: {
                exitCode: 0,
                reason: 'Completed',
                startedAt: '2024-05-01T10:00:01Z',
                finishedAt: '2024-05-01T10:00:02Z',
              },
            },
          },
        ],
        containerStatuses: [
          {
            name: 'c',
            ready: true,
            restartCount: 1,
            image: '127.0.0.1:5000/nginx:2',
            imageID: 'sha256:2',
            containerID: 'flotilla://2',
            state: { running: { startedAt: '2024-05-01T10:00:03Z' } },
            lastState: {
              terminated: {
                exitCode: 137,
                reason: 'OOMKilled',
                startedAt: '2024-05-01T09:00:00Z',
                finishedAt: '2024-05-01T09:59:00Z',
              },
            },
          },
        ],
      },
    });
    // The ReplicaSet and Deployment statuses are the controllers': x1 is ready, the other pod cannot be
    // scheduled (n2's taint), and with maxUnavailable 25% of 2 (0) the Deployment is not Available.
    await eventually(async () => {
      const rs = await getJson('/apis/apps/v1/namespaces/rich/replicasets/rd-new');
      expect(rs.status).toMatchObject({
        replicas: 2,
        readyReplicas: 1,
        availableReplicas: 1,
        observedGeneration: rs.metadata.generation,
      });
      const pods = await getJson('/api/v1/namespaces/rich/pods?labelSelector=app%3Drd');
      expect(pods.items).toHaveLength(2);
      const d = await getJson('/apis/apps/v1/namespaces/rich/deployments/rd');
      expect(d.status).toMatchObject({
        observedGeneration: d.metadata.generation,
        replicas: 2,
        updatedReplicas: 2,
        readyReplicas: 1,
        availableReplicas: 1,
        unavailableReplicas: 1,
        conditions: expect.arrayContaining([
          expect.objectContaining({
            type: 'Available',
            status: 'False',
            reason: 'MinimumReplicasUnavailable',
          }),
          expect.objectContaining({ type: 'Progressing', status: 'True' }),
        ]),
      });
    }, 20_000);
    await status('/apis/autoscaling/v2/namespaces/rich/horizontalpodautoscalers/rd', {
      status: {
        currentReplicas: 2,
        desiredReplicas: 3,
        currentMetrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', current: { averageUtilization: 75, averageValue: '75m' } },
          },
        ],
        conditions: [
          {
            type: 'AbleToScale',
            status: 'True',
            reason: 'ReadyForNewScale',
            message: 'recommended size matches current size',
          },
        ],
      },
    });
    const pod = await getJson('/api/v1/namespaces/rich/pods/rd-new-x1');
    await event(
      'rd-new-x1.1',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        name: 'rd-new-x1',
        uid: pod.metadata.uid,
        fieldPath: 'spec.containers{c}',
      },
      {
        reason: 'BackOff',
        type: 'Warning',
        message: 'Back-off restarting failed container',
        count: 4,
        source: { component: 'kubelet', host: 'n2' },
      },
    );
    await event(
      'rd.1',
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'rd', uid: deployUid },
      {
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set rd-new to 2',
        source: { component: 'deployment-controller' },
      },
    );
    const svc = await getJson('/api/v1/namespaces/rich/services/rd');
    await event(
      'rd.svc',
      { apiVersion: 'v1', kind: 'Service', name: 'rd', uid: svc.metadata.uid },
      { reason: 'Synced', message: 'ok' },
    );

    for (const args of [
      ['pod', 'rd-new-x1', '-n', 'rich'],
      ['deployment', 'rd', '-n', 'rich'],
      ['replicaset', 'rd-new', '-n', 'rich'],
      ['service', 'rd', '-n', 'rich'],
      ['namespace', 'rich'],
      ['configmap', 'cfg', '-n', 'rich'],
      ['secret', 'creds', '-n', 'rich'],
      ['node', 'n2'],
      ['event', 'rd.1', '-n', 'rich'],
      ['endpoints', 'rd', '-n', 'rich'],
      ['hpa', 'rd', '-n', 'rich'],
      ['endpointslice', 'rd-abc', '-n', 'rich'],
      ['lease', 'n2', '-n', 'kube-node-lease'],
    ]) {
      await compare(args);
    }
    // Spot checks of the content, beyond equality with kubectl.
    const text = await ok(['describe', 'pod', 'rd-new-x1', '-n', 'rich']);
    expect(text).toMatch(/\nEvents:\n {2}Type +Reason +Age +From +Message\n/);
    expect(text).toMatch(
      / {2}Warning +BackOff +\S+ \(x4 over \S+\) +kubelet +spec\.containers\{c\}: Back-off restarting failed container\n/,
    );
  });

  it('describes several objects separated by blank lines, like kubectl', async () => {
    await eventually(async () => {
      const ours = await ok(['describe', 'cm', '-n', 'rich']);
      expect(ours).toBe(await kubectl.ok(['describe', 'cm', '-n', 'rich']));
    }, 10_000);
  });
});
