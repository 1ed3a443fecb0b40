// The CLI end to end against a small in-memory fake of the API server (node:http).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import { lastAppliedAnnotation } from './apply-patch.js';
import { memoryIO, type CliIO } from './io.js';
import { run } from './main.js';
import { FakeApi } from './testing.js';

let api: FakeApi;
let dir: string;
let kubeconfig: string;

beforeEach(async () => {
  api = new FakeApi();
  await api.start();
  dir = mkdtempSync(join(tmpdir(), 'flotilla-cli-'));
  kubeconfig = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${api.url}"}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`,
  );
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function flotilla(
  args: string[],
  overrides: Partial<CliIO> & { stdin?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO({ env: { KUBECONFIG: kubeconfig }, cwd: dir, ...overrides });
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const app = `apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dev
spec:
  replicas: 2
  paused: false
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
`;

describe('apply', () => {
  it('creates, then reports unchanged, then patches what changed (removing dropped fields)', async () => {
    writeFileSync(join(dir, 'app.yaml'), app);
    const first = await flotilla(['apply', '-f', 'app.yaml']);
    expect(first).toMatchObject({
      code: 0,
      out: 'namespace/dev created\ndeployment.apps/web created\n',
      err: '',
    });
    const post = api.requests.find((r) => r.method === 'POST' && r.path.includes('deployments'))!;
    expect(post.path).toBe('/apis/apps/v1/namespaces/dev/deployments');
    expect(post.query.get('fieldValidation')).toBe('Strict');
    expect(post.query.get('fieldManager')).toBe('flotilla-client-side-apply');
    expect((post.body as KubeObject).metadata.annotations?.[lastAppliedAnnotation]).toContain('"replicas":2');

    const again = await flotilla(['apply', '-f', 'app.yaml']);
    expect(again.out).toBe('namespace/dev unchanged\ndeployment.apps/web unchanged\n');
    expect(api.writes()).toHaveLength(2);

    writeFileSync(
      join(dir, 'app.yaml'),
      app.replace('replicas: 2', 'replicas: 4').replace('  paused: false\n', ''),
    );
    const third = await flotilla(['apply', '-f', 'app.yaml']);
    expect(third.out).toBe('namespace/dev unchanged\ndeployment.apps/web configured\n');
    const patch = api.requests.at(-1)!;
    expect(patch.method).toBe('PATCH');
    expect(patch.contentType).toBe('application/merge-patch+json');
    expect(patch.query.get('fieldValidation')).toBe('Strict');
    expect((patch.body as { spec: unknown }).spec).toEqual({ replicas: 4, paused: null });
    const live = api.objects.get('/apis/apps/v1/namespaces/dev/deployments/web')!;
    expect(live.spec).toMatchObject({ replicas: 4 });
    expect((live.spec as Record<string, unknown>)['paused']).toBeUndefined();
  });

  it('validates every document before sending anything', async () => {
    writeFileSync(
      join(dir, 'app.yaml'),
      `${app}---\napiVersion: v1\nmetadata: {name: x}\n---\napiVersion: apps/v1\nkind: Foo\nmetadata: {name: y}\n`,
    );
    const res = await flotilla(['apply', '-f', 'app.yaml']);
    expect(res.code).toBe(1);
    expect(res.out).toBe('');
    expect(res.err).toBe(
      'error: app.yaml: document 3: missing "kind"\nerror: app.yaml: document 4: no resource type for apps/v1 Foo\n',
    );
    expect(api.requests).toEqual([]);
  });

  it('uses -n for objects without a namespace and refuses a conflicting one', async () => {
    const res = await flotilla(['apply', '-f', '-', '-n', 'staging'], {
      stdin: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1"}\n',
    });
    expect(res).toMatchObject({ code: 0, out: 'configmap/cfg created\n' });
    expect(api.objects.has('/api/v1/namespaces/staging/configmaps/cfg')).toBe(true);

    writeFileSync(join(dir, 'app.yaml'), app);
    const clash = await flotilla(['apply', '-f', 'app.yaml', '-n', 'prod']);
    expect(clash.code).toBe(1);
    expect(clash.err).toContain(
      `app.yaml: document 2: the namespace from the provided object "dev" does not match the namespace "prod"`,
    );
    expect(api.writes()).toEqual(['POST /api/v1/namespaces/staging/configmaps']);
  });

  it('prints server errors like kubectl, carries on with the other objects, and exits 1', async () => {
    api.invalidName = 'web';
    writeFileSync(join(dir, 'app.yaml'), app);
    const res = await flotilla(['apply', '-f', 'app.yaml']);
    expect(res.code).toBe(1);
    expect(res.out).toBe('namespace/dev created\n');
    expect(res.err).toBe(
      'Error from server (Invalid): error when creating "app.yaml": Deployment "web" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0]\n',
    );
  });
});

describe('get', () => {
  beforeEach(() => {
    api.seed('/apis/apps/v1/namespaces/default/deployments/web', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
      spec: { replicas: 3 },
      status: { readyReplicas: 1, updatedReplicas: 3, availableReplicas: 1 },
    });
  });

  it('prints kubectl tables, names, yaml; kind aliases work', async () => {
    const table = await flotilla(['get', 'deploy']);
    expect(table).toMatchObject({ code: 0, err: '' });
    expect(table.out).toBe(
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nweb    1/3     3            1           90s\n',
    );
    expect((await flotilla(['get', 'deployments.apps', '-o', 'name'])).out).toBe('deployment.apps/web\n');
    const yaml = await flotilla(['get', 'deployment/web', '-o', 'yaml']);
    // kubectl's layout: keys sorted, timestamps quoted.
    expect(yaml.out).toMatch(
      /^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n {2}creationTimestamp: "\d{4}-[^"]+"\n {2}labels:\n {4}app: web\n {2}name: web\n/,
    );
    expect((await flotilla(['get', 'deploy', '-l', 'app=nope'])).err).toBe(
      'No resources found in default namespace.\n',
    );
    const all = await flotilla(['get', 'deploy', '-A']);
    expect(all.out.split('\n')[0]).toBe('NAMESPACE   NAME   READY   UP-TO-DATE   AVAILABLE   AGE');
    expect(api.requests.at(-1)!.path).toBe('/apis/apps/v1/deployments');
  });

  it('NotFound is "Error from server (NotFound)" and exit 1; unknown types and bad flags are errors', async () => {
    expect(await flotilla(['get', 'deploy', 'nope'])).toMatchObject({
      code: 1,
      out: '',
      err: 'Error from server (NotFound): deployments "nope" not found\n',
    });
    expect(await flotilla(['get', 'widgets'])).toMatchObject({
      code: 1,
      err: 'error: the server doesn\'t have a resource type "widgets"\n',
    });
    expect((await flotilla(['get', 'pods', '-o', 'toml'])).code).toBe(2);
    expect((await flotilla(['get'])).code).toBe(2);
    expect((await flotilla(['get', 'pods', '--frobnicate'])).code).toBe(2);
    expect((await flotilla(['frobnicate'])).code).toBe(2);
  });

  it('-w prints the table, then rows as objects change, until interrupted', async () => {
    const controller = new AbortController();
    let out = '';
    const io = memoryIO({
      env: { KUBECONFIG: kubeconfig },
      cwd: dir,
      signal: controller.signal,
      stdout: { write: (s: string) => (out += s) },
    });
    const running = run(['get', 'deploy', '-w'], io);
    for (let i = 0; i < 100 && !out.includes('web'); i++) await new Promise((r) => setTimeout(r, 10));
    // Wait for the watch request to be registered before changing anything.
    for (let i = 0; i < 100 && !api.requests.some((r) => r.query.get('watch') === 'true'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const created = await flotilla(['apply', '-f', '-'], {
      stdin: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {replicas: 1}\n',
    });
    expect(created.code).toBe(0);
    for (let i = 0; i < 100 && !out.includes('api '); i++) await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    expect(await running).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +READY/);
    expect(lines[1]).toMatch(/^web +1\/3/);
    expect(lines[2]).toMatch(/^api +0\/1 +0 +0 +\d+s$/);
    const watch = api.requests.find((r) => r.query.get('watch') === 'true')!;
    expect(watch.query.get('resourceVersion')).not.toBeNull();
  });
});

describe('delete', () => {
  const cm = (name: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'default' },
  });

  it('deletes by type and names, waits until gone, prints like kubectl', async () => {
    api.seed('/api/v1/namespaces/default/configmaps/a', cm('a'));
    api.seed('/api/v1/namespaces/default/configmaps/b', cm('b'));
    api.lingerAfterDelete = 2;
    const res = await flotilla(['delete', 'cm', 'a', 'b', '--cascade=foreground', '--grace-period=5']);
    expect(res).toMatchObject({ code: 0, out: 'configmap "a" deleted\nconfigmap "b" deleted\n', err: '' });
    const del = api.requests.find((r) => r.method === 'DELETE')!;
    expect(del.body).toEqual({
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 5,
    });
    // It polled until each object was gone.
    const polls = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/configmaps/a'));
    expect(polls.length).toBe(3);
  });

  it('deletes what a file describes; reports missing objects and exits 1', async () => {
    api.seed('/api/v1/namespaces/default/configmaps/a', cm('a'));
    writeFileSync(
      join(dir, 'cms.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n',
    );
    const res = await flotilla(['delete', '-f', 'cms.yaml', '--wait=false']);
    expect(res.code).toBe(1);
    expect(res.out).toBe('configmap "a" deleted\n');
    expect(res.err).toBe(
      'Error from server (NotFound): error when deleting "cms.yaml": configmaps "gone" not found\n',
    );
    expect((await flotilla(['delete', 'cm', 'gone', '--ignore-not-found'])).code).toBe(0);
  });

  it('--cascade takes background, foreground or orphan', async () => {
    expect((await flotilla(['delete', 'cm', 'a', '--cascade=sideways'])).code).toBe(2);
    expect((await flotilla(['delete', 'cm'])).code).toBe(2);
  });
});

describe('describe', () => {
  it('shows the object and its events found by involvedObject field selector', async () => {
    api.seed('/api/v1/namespaces/default/configmaps/cfg', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default', uid: 'cfg-uid', labels: { b: '2', a: '1' } },
      data: { key: 'value' },
    });
    api.seed('/api/v1/namespaces/default/events/cfg.1', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'cfg.1', namespace: 'default' },
      involvedObject: { kind: 'ConfigMap', name: 'cfg', namespace: 'default', uid: 'cfg-uid' },
      type: 'Normal',
      reason: 'Synced',
      message: 'all good',
      source: { component: 'config-controller' },
      firstTimestamp: new Date(Date.now() - 60_000).toISOString(),
      lastTimestamp: new Date(Date.now() - 10_000).toISOString(),
      count: 3,
    });
    const res = await flotilla(['describe', 'configmap', 'cfg']);
    expect(res.code).toBe(0);
    expect(res.out).toContain(
      'Name:         cfg\nNamespace:    default\nLabels:       a=1\n              b=2\nAnnotations:  <none>\n',
    );
    expect(res.out).toContain('Data\n====\nkey:\n----\nvalue\n');
    expect(res.out).toMatch(
      /Events:\n {2}Type +Reason +Age +From +Message\n {2}---- +------ +---- +---- +-------\n {2}Normal +Synced +10s \(x3 over 60s\) +config-controller +all good\n$/,
    );
    const events = api.requests.find((r) => r.path === '/api/v1/namespaces/default/events')!;
    expect(events.query.get('fieldSelector')).toBe(
      'involvedObject.kind=ConfigMap,involvedObject.name=cfg,involvedObject.namespace=default,involvedObject.uid=cfg-uid',
    );
  });
});

describe('connection and config errors', () => {
  it('an unreachable server says how to start one', async () => {
    await api.stop();
    const res = await flotilla(['get', 'pods']);
    expect(res.code).toBe(1);
    expect(res.err).toBe(
      `error: the server at ${api.url} is unreachable (ECONNREFUSED); start it with \`flotilla up\`\n`,
    );
    api = new FakeApi();
    await api.start();
  });

  it('a broken kubeconfig names the file', async () => {
    writeFileSync(kubeconfig, 'clusters: []\n');
    const res = await flotilla(['get', 'pods']);
    expect(res).toMatchObject({ code: 1, err: `error: kubeconfig ${kubeconfig}: no current-context\n` });
  });
});

describe('kubeconfig, version, help', () => {
  it('kubeconfig prints the path under --data-dir, or the content with --print', async () => {
    writeFileSync(join(dir, 'kubeconfig.yaml'), 'apiVersion: v1\n');
    expect(await flotilla(['kubeconfig', '--data-dir', dir])).toMatchObject({
      code: 0,
      out: `${join(dir, 'kubeconfig.yaml')}\n`,
    });
    expect(await flotilla(['kubeconfig', '--data-dir', dir, '--print'])).toMatchObject({
      code: 0,
      out: 'apiVersion: v1\n',
    });
    const missing = await flotilla(['kubeconfig', '--data-dir', join(dir, 'nope'), '--print']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist; start the server with `flotilla up`/);
  });

  it('version shows client and server', async () => {
    const res = await flotilla(['version']);
    expect(res).toMatchObject({ code: 0, out: 'Client Version: v0.1.0\nServer Version: v1.34.0+fake\n' });
    expect((await flotilla(['version', '--client', '--kubeconfig', '/nonexistent'])).out).toBe(
      'Client Version: v0.1.0\n',
    );
  });

  it('--help works on every command and exits 0', async () => {
    for (const cmd of [
      'apply',
      'get',
      'describe',
      'delete',
      'kubeconfig',
      'version',
      'server',
      'up',
      'diff',
      'patch',
      'edit',
      'label',
      'annotate',
      'scale',
      'wait',
      'explain',
      'api-resources',
      'api-versions',
    ]) {
      const res = await flotilla([cmd, '--help']);
      expect(res.code, cmd).toBe(0);
      expect(res.out, cmd).toContain(`Usage: flotilla ${cmd}`);
    }
    const top = await flotilla(['--help']);
    expect(top.code).toBe(0);
    expect(top.out).toContain('apply');
  });
});
