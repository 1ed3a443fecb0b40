// Server-side apply, managed fields, dry runs, diff and edit with real kubectl binaries (1.35 and 1.31) and
// @kubernetes/client-node, against a running control plane on SQLite.
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';

const app = (
  opts: { replicas?: number | undefined; image?: string; envB?: boolean; level?: boolean } = {},
) => {
  const lines = [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: web-config',
    '  labels:',
    '    app: web',
    'data:',
    '  MODE: production',
    ...(opts.level === false ? [] : ['  LEVEL: info']),
    '---',
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: web',
    '  labels:',
    '    app: web',
    'spec:',
    ...(opts.replicas === undefined ? [] : [`  replicas: ${opts.replicas}`]),
    ...(opts.envB === false ? [] : ['  minReadySeconds: 5']),
    '  selector:',
    '    matchLabels:',
    '      app: web',
    '  template:',
    '    metadata:',
    '      labels:',
    '        app: web',
    '    spec:',
    '      containers:',
    '        - name: web',
    `          image: ${opts.image ?? 'nginx:1.27'}`,
    '          ports:',
    '            - containerPort: 80',
    '          env:',
    '            - name: A',
    '              value: "1"',
    ...(opts.envB === false ? [] : ['            - name: B', '              value: "2"']),
    '---',
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: web',
    'spec:',
    '  selector:',
    '    app: web',
    '  ports:',
    '    - name: http',
    '      port: 80',
    '      targetPort: 80',
    '',
  ];
  return lines.join('\n');
};

interface Managed {
  manager: string;
  operation: string;
  apiVersion: string;
  time?: string;
  fieldsType: string;
  fieldsV1: Record<string, any>;
  subresource?: string;
}

describe.each<KubectlVersion>(['1.35', '1.31'])('server-side apply with kubectl %s', (version) => {
  let cluster: TestCluster;
  let k: Kubectl;
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const getJson = async (...what: string[]): Promise<any> =>
    JSON.parse(await k.ok(['get', ...what, '-o', 'json', '--show-managed-fields']));
  const versions = async (): Promise<string[]> => {
    const list = await getJson('deployment/web', 'configmap/web-config', 'service/web');
    return list.items.map((i: any) => `${i.kind}=${i.metadata.resourceVersion}`);
  };
  const managers = (obj: any): Managed[] => obj.metadata.managedFields ?? [];
  const entry = (obj: any, manager: string): Managed | undefined =>
    managers(obj).find((m) => m.manager === manager);

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
    dir = mkdtempSync(join(tmpdir(), 'ssa-e2e-'));
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a Deployment, Service and ConfigMap and records who owns which field', async () => {
    const out = await k.ok(['apply', '--server-side', '-f', file('app.yaml', app({ replicas: 3 }))]);
    expect(out).toContain('configmap/web-config serverside-applied');
    expect(out).toContain('deployment.apps/web serverside-applied');
    expect(out).toContain('service/web serverside-applied');

    const dep = await getJson('deployment', 'web');
    expect(dep.spec.replicas).toBe(3);
    // Defaults are applied but not owned.
    expect(dep.spec.template.spec.containers[0].ports[0].protocol).toBe('TCP');
    // kubectl is the only applier; the Deployment controller records its own writes (status, revision) as updates.
    expect(managers(dep).filter((m) => m.operation === 'Apply')).toHaveLength(1);
    for (const m of managers(dep).filter((m) => m.manager !== 'kubectl')) {
      expect(m.operation, m.manager).toBe('Update');
      expect(m.fieldsV1['f:spec'], m.manager).toBeUndefined();
    }
    const mine = entry(dep, 'kubectl');
    expect(mine).toMatchObject({ operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1' });
    expect(mine?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(mine?.fieldsV1).toEqual({
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:minReadySeconds': {},
        'f:replicas': {},
        'f:selector': { 'f:matchLabels': { 'f:app': {} } },
        'f:template': {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:containers': {
              'k:{"name":"web"}': {
                '.': {},
                'f:env': {
                  'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                  'k:{"name":"B"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                },
                'f:image': {},
                'f:name': {},
                'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
              },
            },
          },
        },
      },
    });
    const svc = await getJson('service', 'web');
    expect(entry(svc, 'kubectl')?.fieldsV1['f:spec']['f:ports']).toEqual({
      'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:name': {}, 'f:port': {}, 'f:targetPort': {} },
    });

    // kubectl shows managedFields only when asked.
    const shown = await k.ok(['get', 'deployment', 'web', '-o', 'yaml', '--show-managed-fields']);
    expect(shown).toContain('managedFields:');
    expect(shown).toContain('manager: kubectl');
    expect(shown).toContain('operation: Apply');
    expect(shown).toContain('f:replicas: {}');
    expect(await k.ok(['get', 'deployment', 'web', '-o', 'yaml'])).not.toContain('managedFields');
  });

  it('re-applying the same files stores nothing new', async () => {
    const before = await versions();
    const out = await k.ok(['apply', '--server-side', '-f', join(dir, 'app.yaml')]);
    expect(out).toContain('deployment.apps/web serverside-applied');
    expect(await versions()).toEqual(before);
  });

  it('refuses another manager changing a field kubectl owns, naming the owner and the field', async () => {
    const before = await versions();
    const r = await k.run([
      'apply',
      '--server-side',
      '--field-manager=other',
      '-f',
      file(
        'other.yaml',
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n',
      ),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    expect(r.stderr).toContain('--force-conflicts');
    expect(await versions()).toEqual(before);
    expect((await getJson('deployment', 'web')).spec.replicas).toBe(3);
  });

  it('--force-conflicts takes the field over', async () => {
    const out = await k.ok([
      'apply',
      '--server-side',
      '--field-manager=other',
      '--force-conflicts',
      '-f',
      join(dir, 'other.yaml'),
    ]);
    expect(out).toContain('deployment.apps/web serverside-applied');
    const dep = await getJson('deployment', 'web');
    expect(dep.spec.replicas).toBe(5);
    expect(entry(dep, 'other')?.fieldsV1).toEqual({ 'f:spec': { 'f:replicas': {} } });
    expect(entry(dep, 'kubectl')?.fieldsV1['f:spec']['f:replicas']).toBeUndefined();
    // The old owner now conflicts in turn.
    const r = await k.run(['apply', '--server-side', '-f', join(dir, 'app.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('conflict with "other": .spec.replicas');
  });

  it('removes fields dropped from the applied file that nobody else owns', async () => {
    // replicas (now other's), env B, minReadySeconds and data LEVEL are left out.
    const out = await k.ok([
      'apply',
      '--server-side',
      '-f',
      file('app-smaller.yaml', app({ envB: false, level: false })),
    ]);
    expect(out).toContain('deployment.apps/web serverside-applied');
    const dep = await getJson('deployment', 'web');
    expect(dep.spec.replicas).toBe(5);
    expect(dep.spec.template.spec.containers[0].env).toEqual([{ name: 'A', value: '1' }]);
    expect(dep.spec.minReadySeconds ?? 0).toBe(0);
    expect(dep.metadata.generation).toBe(3);
    const cm = await getJson('configmap', 'web-config');
    expect(cm.data).toEqual({ MODE: 'production' });
    expect(entry(cm, 'kubectl')?.fieldsV1['f:data']).toEqual({ 'f:MODE': {} });
  });

  it('kubectl diff exits 0 for files that match and 1 with the change for files that do not', async () => {
    const same = join(dir, 'app-smaller.yaml');
    const unchanged = await k.run(['diff', '-f', same]);
    expect(unchanged.stderr).toBe('');
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toBe('');
    const unchangedSsa = await k.run(['diff', '--server-side', '-f', same]);
    expect(unchangedSsa.code, unchangedSsa.stderr).toBe(0);

    const before = await versions();
    const changed = file('app-changed.yaml', app({ envB: false, level: false, image: 'nginx:1.28' }));
    for (const args of [['diff'], ['diff', '--server-side']]) {
      const r = await k.run([...args, '-f', changed]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toContain('-        image: nginx:1.27');
      expect(r.stdout).toContain('+        image: nginx:1.28');
      expect(r.stdout).not.toContain('web-config');
    }
    // A file with an object that does not exist yet shows it whole, and creates nothing.
    const extra = file(
      'extra.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-yet\ndata:\n  a: "1"\n',
    );
    const created = await k.run(['diff', '-f', extra]);
    expect(created.code, created.stderr).toBe(1);
    expect(created.stdout).toContain('+  name: not-yet');
    expect((await k.run(['get', 'configmap', 'not-yet'])).code).toBe(1);
    expect(await versions()).toEqual(before);
  });

  it('apply --dry-run=server answers with the would-be objects and stores nothing', async () => {
    const before = await versions();
    const changed = join(dir, 'app-changed.yaml');
    const out = await k.ok([
      'apply',
      '--server-side',
      '--dry-run=server',
      '-f',
      changed,
      '-f',
      join(dir, 'extra.yaml'),
    ]);
    expect(out).toContain('deployment.apps/web serverside-applied (server dry run)');
    expect(out).toContain('configmap/not-yet serverside-applied (server dry run)');
    const wouldBe = JSON.parse(
      await k.ok(['apply', '--server-side', '--dry-run=server', '-f', changed, '-o', 'json']),
    );
    const dep = wouldBe.items.find((i: any) => i.kind === 'Deployment');
    expect(dep.spec.template.spec.containers[0].image).toBe('nginx:1.28');
    expect(await versions()).toEqual(before);
    expect((await getJson('deployment', 'web')).spec.template.spec.containers[0].image).toBe('nginx:1.27');
    expect((await k.run(['get', 'configmap', 'not-yet'])).code).toBe(1);
  });

  it('names an Update manager with its apiVersion; kubectl itself takes over client-side apply', async () => {
    const csa = file(
      'csa.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  MODE: production\n',
    );
    await k.ok(['apply', '-f', csa]);
    const cm = await getJson('configmap', 'csa');
    expect(entry(cm, 'kubectl-client-side-apply')).toMatchObject({ operation: 'Update', apiVersion: 'v1' });
    const changed = file(
      'csa2.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  MODE: debug\n',
    );
    const r = await k.run(['apply', '--server-side', '--field-manager=ssa', '-f', changed]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.MODE',
    );
    // The default manager migrates from client-side apply without a conflict.
    await k.ok(['apply', '--server-side', '-f', changed]);
    const after = await getJson('configmap', 'csa');
    expect(after.data).toEqual({ MODE: 'debug' });
    expect(entry(after, 'kubectl')?.operation).toBe('Apply');
  });

  it('kubectl edit: reordered containers, a deleted env var and ignored status changes round-trip', async () => {
    await k.ok([
      'apply',
      '-f',
      file(
        'two.yaml',
        [
          'apiVersion: apps/v1',
          'kind: Deployment',
          'metadata:',
          '  name: two',
          'spec:',
          '  replicas: 1',
          '  selector: {matchLabels: {app: two}}',
          '  template:',
          '    metadata: {labels: {app: two}}',
          '    spec:',
          '      containers:',
          '        - name: a',
          '          image: busybox:1',
          '          env: [{name: FOO, value: "1"}, {name: BAR, value: "2"}]',
          '        - name: b',
          '          image: busybox:2',
          '',
        ].join('\n'),
      ),
    ]);
    const editor = file(
      'editor.mjs',
      [
        "import { readFileSync, writeFileSync } from 'node:fs';",
        'const path = process.argv[process.argv.length - 1];',
        "const obj = JSON.parse(readFileSync(path, 'utf8'));",
        'const cs = obj.spec.template.spec.containers;',
        'cs.reverse();',
        "const a = cs.find((c) => c.name === 'a');",
        "a.env = a.env.filter((e) => e.name !== 'FOO');",
        'obj.status = { ...(obj.status ?? {}), replicas: 42, observedGeneration: 9 };',
        'writeFileSync(path, JSON.stringify(obj, null, 2));',
        '',
      ].join('\n'),
    );
    const saved = process.env.KUBE_EDITOR;
    process.env.KUBE_EDITOR = `${process.execPath} ${editor}`;
    try {
      // -o json: the editor gets JSON (and kubectl prints the result as JSON).
      expect(JSON.parse(await k.ok(['edit', 'deployment', 'two', '-o', 'json'])).metadata.name).toBe('two');
    } finally {
      if (saved === undefined) delete process.env.KUBE_EDITOR;
      else process.env.KUBE_EDITOR = saved;
    }
    const dep = await getJson('deployment', 'two');
    const containers = dep.spec.template.spec.containers;
    expect(containers.map((c: any) => c.name)).toEqual(['b', 'a']);
    expect(containers[1].env).toEqual([{ name: 'BAR', value: '2' }]);
    expect(dep.status?.replicas).not.toBe(42);
    expect(dep.status?.observedGeneration).not.toBe(9);
    expect(dep.metadata.generation).toBe(2);
  });
});

describe('@kubernetes/client-node server-side apply', () => {
  let cluster: TestCluster;
  let objects: k8s.KubernetesObjectApi;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  const config = (data: Record<string, string>): k8s.KubernetesObject & { data: Record<string, string> } => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'from-apply', namespace: 'default' },
    data,
  });

  it('creates, updates, conflicts and forces with PatchStrategy.ServerSideApply', async () => {
    const apply = (body: k8s.KubernetesObject, manager: string, force?: boolean) =>
      objects.patch(body, undefined, undefined, manager, force, k8s.PatchStrategy.ServerSideApply);

    const created = (await apply(config({ a: '1' }), 'client-node')) as any;
    expect(created.metadata.uid).toBeDefined();
    expect(created.metadata.managedFields.map((m: any) => [m.manager, m.operation])).toEqual([
      ['client-node', 'Apply'],
    ]);
    const updated = (await apply(config({ a: '2', b: '1' }), 'client-node')) as any;
    expect(updated.data).toEqual({ a: '2', b: '1' });

    await expect(apply(config({ a: '3' }), 'someone-else')).rejects.toMatchObject({ code: 409 });
    const forced = (await apply(config({ a: '3' }), 'someone-else', true)) as any;
    expect(forced.data).toEqual({ a: '3', b: '1' });
    const read = (await objects.read({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'from-apply', namespace: 'default' },
    })) as any;
    expect(read.data).toEqual({ a: '3', b: '1' });
  });
});
