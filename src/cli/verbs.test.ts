// The kubectl-style verbs (label, annotate, scale, patch, wait, diff, edit, explain, api-resources,
// apply --server-side) end to end against the in-memory fake API server.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import { clientSideManagers, upgradeManagedFields } from './commands/apply.js';
import { memoryIO, type CliIO } from './io.js';
import { run } from './main.js';
import { FakeApi } from './testing.js';

let api: FakeApi;
let dir: string;
let kubeconfig: string;

const deployPath = '/apis/apps/v1/namespaces/default/deployments/web';
const deployment = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, generation: 1 },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          { name: 'web', image: 'nginx:1.25', env: [{ name: 'A', value: '1' }] },
          { name: 'sidecar', image: 'envoy:1' },
        ],
      },
    },
  },
});

beforeEach(async () => {
  api = new FakeApi();
  await api.start();
  dir = mkdtempSync(join(tmpdir(), 'flotilla-verbs-'));
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
  api.seed(deployPath, deployment());
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function flotilla(
  args: string[],
  overrides: Partial<CliIO> & { stdin?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIO({ env: { KUBECONFIG: kubeconfig }, cwd: dir, tmpdir: dir, ...overrides });
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
}

const live = (): KubeObject => api.get(deployPath) as KubeObject;
const spec = (o: KubeObject): Record<string, any> => o['spec'] as Record<string, any>;

describe('label and annotate', () => {
  it('adds, refuses to overwrite without --overwrite, overwrites, removes, like kubectl', async () => {
    expect(await flotilla(['label', 'deploy', 'web', 'tier=fe'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/web labeled\n',
    });
    const patch = api.requests.at(-1)!;
    expect(patch).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json' });
    expect(patch.body).toEqual({ metadata: { labels: { tier: 'fe' } } });
    expect(patch.query.get('fieldManager')).toBe('flotilla-label');

    expect(await flotilla(['label', 'deploy/web', 'tier=be'])).toMatchObject({
      code: 1,
      out: '',
      err: "error: 'tier' already has a value (fe), and --overwrite is false\n",
    });
    expect((await flotilla(['label', 'deploy/web', 'tier=be', '--overwrite'])).out).toBe(
      'deployment.apps/web labeled\n',
    );
    const writes = api.writes().length;
    expect((await flotilla(['label', 'deploy/web', 'tier=be', '--overwrite'])).out).toBe(
      'deployment.apps/web not labeled\n',
    );
    expect(api.writes()).toHaveLength(writes);
    expect((await flotilla(['label', 'deploy/web', 'tier-'])).out).toBe('deployment.apps/web unlabeled\n');
    expect(api.requests.at(-1)!.body).toEqual({ metadata: { labels: { tier: null } } });
    expect((await flotilla(['label', 'deploy/web', 'tier-'])).out).toBe(
      'label "tier" not found.\ndeployment.apps/web not labeled\n',
    );
    expect(live().metadata.labels).toEqual({ app: 'web' });
  });

  it('checks its arguments', async () => {
    expect(await flotilla(['label', 'deploy', 'web', 'a=1', 'a-'])).toMatchObject({
      code: 2,
      err: 'error: can not both modify and remove a label in the same command\n',
    });
    expect((await flotilla(['label', 'deploy', 'web'])).err).toBe(
      'error: at least one label update is required\n',
    );
    expect((await flotilla(['label', 'deploy', 'web', 'a=b=c'])).err).toBe(
      'error: invalid label spec: a=b=c\n',
    );
    expect((await flotilla(['label', 'deploy', 'web', 'a=b c'])).err).toMatch(
      /^error: invalid label value: "a=b c"/,
    );
    expect((await flotilla(['label', 'deploy', 'web', 'a=1', 'pods'])).err).toBe(
      'error: all resources must be specified before label changes: pods\n',
    );
    expect(await flotilla(['label', 'deploy', 'nope', 'a=1'])).toMatchObject({
      code: 1,
      err: 'Error from server (NotFound): deployments "nope" not found\n',
    });
    expect(api.writes()).toEqual([]);
  });

  it('--resource-version is a precondition; --dry-run and --list change nothing', async () => {
    const stale = await flotilla(['label', 'deploy/web', 'x=1', '--resource-version=1']);
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/^Error from server \(Conflict\): Operation cannot be fulfilled/);
    expect((await flotilla(['label', 'deploy/web', 'x=1', '--dry-run=client'])).out).toBe(
      'deployment.apps/web labeled (dry run)\n',
    );
    expect((await flotilla(['label', 'deploy/web', 'x=1', '--dry-run=server'])).out).toBe(
      'deployment.apps/web labeled (server dry run)\n',
    );
    expect(api.requests.at(-1)!.query.get('dryRun')).toBe('All');
    expect((await flotilla(['label', 'deploy/web', '--list'])).out).toBe('app=web\n');
    expect(live().metadata.labels).toEqual({ app: 'web' });
    const yaml = await flotilla(['label', 'deploy/web', 'x=2', '-o', 'yaml']);
    expect(yaml.out).toMatch(/^apiVersion: apps\/v1\nkind: Deployment\n/);
    expect(yaml.out).toContain('    x: "2"\n');
  });

  it('works on every object matching a selector, or --all', async () => {
    api.seed('/api/v1/namespaces/default/configmaps/a', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', namespace: 'default', labels: { team: 'x' } },
    });
    api.seed('/api/v1/namespaces/default/configmaps/b', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'b', namespace: 'default' },
    });
    expect((await flotilla(['label', 'cm', '-l', 'team=x', 'seen=yes'])).out).toBe('configmap/a labeled\n');
    expect((await flotilla(['annotate', 'cm', '--all', 'note=hi'])).out).toBe(
      'configmap/a annotated\nconfigmap/b annotated\n',
    );
    expect(await flotilla(['label', 'cm', 'seen=yes'])).toMatchObject({ code: 2 });
  });

  it('annotate: values may contain "=", overwrite rules and message as kubectl', async () => {
    expect((await flotilla(['annotate', 'deploy', 'web', 'query=a=b&c=d'])).out).toBe(
      'deployment.apps/web annotated\n',
    );
    expect(live().metadata.annotations).toEqual({ query: 'a=b&c=d' });
    expect(await flotilla(['annotate', 'deploy', 'web', 'query=x'])).toMatchObject({
      code: 1,
      err: "error: --overwrite is false but found the following declared annotation(s): 'query' already has a value (a=b&c=d)\n",
    });
    expect((await flotilla(['annotate', 'deploy', 'web', 'query-'])).out).toBe(
      'deployment.apps/web annotated\n',
    );
    expect(live().metadata.annotations?.['query']).toBeUndefined();
    expect((await flotilla(['annotate', 'deploy', 'web', '=x'])).code).toBe(2);
  });
});

describe('scale', () => {
  it('patches the scale subresource; --current-replicas is checked first', async () => {
    expect(await flotilla(['scale', 'deploy/web', '--replicas=5'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/web scaled\n',
    });
    const req = api.requests.at(-1)!;
    expect(req).toMatchObject({
      method: 'PATCH',
      path: `${deployPath}/scale`,
      contentType: 'application/merge-patch+json',
    });
    expect(req.body).toEqual({ spec: { replicas: 5 } });
    expect(spec(live())['replicas']).toBe(5);

    expect(
      await flotilla(['scale', 'deployment', 'web', '--replicas=6', '--current-replicas=2']),
    ).toMatchObject({
      code: 1,
      err: 'error: Expected replicas to be 2, was 5\n',
    });
    expect((await flotilla(['scale', 'deploy/web', '--replicas=6', '--current-replicas=5'])).out).toBe(
      'deployment.apps/web scaled\n',
    );
    expect(api.requests.at(-1)).toMatchObject({ method: 'PUT', path: `${deployPath}/scale` });
    expect(spec(live())['replicas']).toBe(6);
  });

  it('errors: missing or negative --replicas, kinds without scale, missing objects', async () => {
    expect(await flotilla(['scale', 'deploy/web'])).toMatchObject({
      code: 2,
      err: 'error: required flag(s) "replicas" not set\n',
    });
    expect((await flotilla(['scale', 'deploy/web', '--replicas=-1'])).err).toBe(
      'error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0\n',
    );
    expect((await flotilla(['scale', 'cm/x', '--replicas=1'])).err).toBe(
      'error: configmaps "x" cannot be scaled: configmaps have no scale subresource\n',
    );
    expect(await flotilla(['scale', 'deploy/nope', '--replicas=1'])).toMatchObject({ code: 1 });
    expect((await flotilla(['scale', 'deploy/web', '--replicas=1', '--dry-run=server'])).out).toBe(
      'deployment.apps/web scaled (server dry run)\n',
    );
    expect(spec(live())['replicas']).toBe(2);
  });
});

describe('patch', () => {
  it('strategic (default) merges containers by name; merge replaces lists; json patch ops', async () => {
    const r = await flotilla([
      'patch',
      'deploy',
      'web',
      '-p',
      '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}',
    ]);
    expect(r).toMatchObject({ code: 0, out: 'deployment.apps/web patched\n' });
    expect(api.requests.at(-1)).toMatchObject({ contentType: 'application/strategic-merge-patch+json' });
    expect(api.requests.at(-1)!.query.get('fieldManager')).toBe('flotilla-patch');
    const containers = spec(live())['template'].spec.containers;
    expect(containers.map((c: any) => `${c.name}=${c.image}`)).toEqual(['web=nginx:1.27', 'sidecar=envoy:1']);
    expect(containers[0].env).toEqual([{ name: 'A', value: '1' }]);

    expect(
      (
        await flotilla([
          'patch',
          'deploy/web',
          '--type',
          'json',
          '-p',
          '[{"op":"replace","path":"/spec/replicas","value":4}]',
        ])
      ).out,
    ).toBe('deployment.apps/web patched\n');
    expect(spec(live())['replicas']).toBe(4);
    expect((await flotilla(['patch', 'deploy/web', '--type=merge', '-p', 'spec: {replicas: 4}'])).out).toBe(
      'deployment.apps/web patched (no change)\n',
    );
  });

  it('subresources, client dry run, and errors', async () => {
    expect(
      (await flotilla(['patch', 'deploy/web', '--subresource=scale', '-p', '{"spec":{"replicas":3}}'])).out,
    ).toBe('scale.autoscaling/web patched\n');
    expect(spec(live())['replicas']).toBe(3);
    expect(
      (
        await flotilla([
          'patch',
          'deploy/web',
          '--subresource=status',
          '--type=merge',
          '-p',
          '{"status":{"readyReplicas":1}}',
        ])
      ).out,
    ).toBe('deployment.apps/web patched\n');
    expect(api.requests.at(-1)!.path).toBe(`${deployPath}/status`);
    const dry = await flotilla([
      'patch',
      'deploy/web',
      '-p',
      '{"spec":{"replicas":9}}',
      '--dry-run=client',
      '-o',
      'json',
    ]);
    expect(JSON.parse(dry.out).spec.replicas).toBe(9);
    expect(spec(live())['replicas']).toBe(3);

    expect((await flotilla(['patch', 'deploy/web'])).err).toBe(
      'error: must specify --patch or --patch-file containing the contents of the patch\n',
    );
    expect((await flotilla(['patch', 'deploy/web', '--type', 'foo', '-p', '{}'])).err).toBe(
      'error: --type must be one of [json merge strategic], not "foo"\n',
    );
    const bad = await flotilla([
      'patch',
      'deploy/web',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/spec/nope"}]',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^Error from server \(Invalid\)/);
    writeFileSync(join(dir, 'p.yaml'), 'metadata:\n  labels:\n    from: file\n');
    expect((await flotilla(['patch', 'deploy/web', '--patch-file', 'p.yaml'])).code).toBe(0);
    expect(live().metadata.labels).toEqual({ app: 'web', from: 'file' });
  });
});

describe('wait', () => {
  it('condition met now, or later through the watch (by metadata.name)', async () => {
    api.mutate(deployPath, (o) => {
      o['status'] = { observedGeneration: 1, conditions: [{ type: 'Available', status: 'True' }] };
    });
    expect(await flotilla(['wait', 'deploy/web', '--for=condition=available'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/web condition met\n',
    });
    const list = api.requests.find((r) => r.query.get('fieldSelector') === 'metadata.name=web');
    expect(list).toBeDefined();

    const waiting = flotilla(['wait', 'deploy/web', '--for=jsonpath={.spec.replicas}=7', '--timeout=20s']);
    for (let i = 0; i < 200 && api.watchCount() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    api.mutate(deployPath, (o) => {
      spec(o)['replicas'] = 7;
    });
    expect(await waiting).toMatchObject({ code: 0, out: 'deployment.apps/web condition met\n' });
  });

  it('ignores conditions older than the generation, times out with kubectl messages', async () => {
    api.mutate(deployPath, (o) => {
      o.metadata.generation = 2;
      o['status'] = { observedGeneration: 1, conditions: [{ type: 'Available', status: 'True' }] };
    });
    expect(
      await flotilla(['wait', 'deploy/web', '--for=condition=Available', '--timeout=300ms']),
    ).toMatchObject({
      code: 1,
      out: '',
      err: 'error: timed out waiting for the condition on deployments/web\n',
    });
    expect((await flotilla(['wait', 'deploy/web', '--for=condition=Available', '--timeout=0'])).err).toBe(
      'error: condition not met for deployments/web\n',
    );
    expect((await flotilla(['wait', 'cm/later', '--for=create', '--timeout=200ms'])).err).toBe(
      'error: timed out waiting for the condition\n',
    );
    expect(
      await flotilla(['wait', 'deploy/nope', '--for=condition=Available', '--timeout=1s']),
    ).toMatchObject({
      code: 1,
      err: 'Error from server (NotFound): deployments "nope" not found\n',
    });
    expect((await flotilla(['wait', 'deploy/web', '--for=bogus'])).err).toBe(
      'error: unrecognized condition: "bogus"\n',
    );
    expect((await flotilla(['wait', 'deploy/web', '--for=jsonpath={.spec}=x', '--timeout=1s'])).err).toBe(
      'error: jsonpath leads to a nested object or list which is not supported\n',
    );
  });

  it('--for=delete and --for=create', async () => {
    expect(await flotilla(['wait', 'cm/none', '--for=delete'])).toMatchObject({ code: 0, out: '' });
    const waiting = flotilla(['wait', 'deploy/web', '--for=delete', '--timeout=20s']);
    for (let i = 0; i < 200 && api.watchCount() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    api.remove(deployPath);
    expect(await waiting).toMatchObject({ code: 0, out: 'deployment.apps/web condition met\n' });

    const creating = flotilla(['wait', 'deploy/web', '--for=create', '--timeout=20s']);
    for (let i = 0; i < 200 && api.watchCount() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    api.seed(deployPath, deployment());
    api.mutate(deployPath, () => undefined);
    expect(await creating).toMatchObject({ code: 0, out: 'deployment.apps/web condition met\n' });
  });
});

const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25", env: [{name: A, value: "1"}]}, {name: sidecar, image: "envoy:1"}]
`;

describe('diff', () => {
  it('prints a unified diff of live against the dry-run result and exits 1; 0 when equal', async () => {
    writeFileSync(join(dir, 'web.yaml'), manifest);
    const r = await flotilla(['diff', '-f', 'web.yaml']);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(
      'diff -u -N LIVE/apps.v1.Deployment.default.web MERGED/apps.v1.Deployment.default.web',
    );
    expect(lines[1]).toMatch(
      /^--- LIVE\/apps\.v1\.Deployment\.default\.web\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000$/,
    );
    expect(lines[2]).toMatch(/^\+\+\+ MERGED\/apps\.v1\.Deployment\.default\.web\t/);
    expect(r.out).toContain('-  replicas: 2\n+  replicas: 5\n');
    expect(r.out).not.toContain('last-applied-configuration');
    const patch = api.requests.find((x) => x.method === 'PATCH')!;
    expect(patch.query.get('dryRun')).toBe('All');
    expect(spec(live())['replicas']).toBe(2);

    writeFileSync(join(dir, 'web.yaml'), manifest.replace('replicas: 5', 'replicas: 2'));
    expect(await flotilla(['diff', '-f', 'web.yaml'])).toMatchObject({ code: 0, out: '' });
  });

  it('shows new objects whole, masks Secret values, and exits 2 on errors', async () => {
    writeFileSync(
      join(dir, 'new.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: czNjcmV0}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n',
    );
    const r = await flotilla(['diff', '-f', 'new.yaml']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('diff -u -N LIVE/v1.Namespace..dev MERGED/v1.Namespace..dev\n');
    expect(r.out).toContain('@@ -0,0 +1,');
    expect(r.out).toContain("+  password: '***'\n");
    expect(r.out).not.toContain('czNjcmV0');
    expect(r.out.indexOf('v1.Namespace..dev')).toBeLessThan(r.out.indexOf('v1.Secret.default.s'));
    expect(api.objects.size).toBe(1);

    expect(await flotilla(['diff', '-f', 'missing.yaml'])).toMatchObject({
      code: 2,
      err: 'error: missing.yaml: no such file or directory\n',
    });
    expect((await flotilla(['diff'])).code).toBe(2);
  });

  it('--server-side sends a dry-run apply; conflicts are errors (exit 2)', async () => {
    writeFileSync(join(dir, 'web.yaml'), manifest);
    expect((await flotilla(['diff', '-f', 'web.yaml', '--server-side'])).code).toBe(1);
    const apply = api.requests.find((x) => x.contentType === 'application/apply-patch+yaml')!;
    expect(apply.query.get('dryRun')).toBe('All');
    expect(apply.query.get('fieldManager')).toBe('flotilla');
    api.applyConflicts = { manager: 'kubectl', fields: ['.spec.replicas'] };
    const c = await flotilla(['diff', '-f', 'web.yaml', '--server-side']);
    expect(c.code).toBe(2);
    expect(c.err).toContain('error: Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas\n');
  });
});

describe('apply --server-side', () => {
  it('sends apply patches with the field manager and prints serverside-applied', async () => {
    writeFileSync(join(dir, 'web.yaml'), manifest);
    expect(await flotilla(['apply', '-f', 'web.yaml', '--server-side'])).toMatchObject({
      code: 0,
      out: 'deployment.apps/web serverside-applied\n',
    });
    const req = api.requests.at(-1)!;
    expect(req).toMatchObject({
      method: 'PATCH',
      path: deployPath,
      contentType: 'application/apply-patch+yaml',
    });
    expect(req.query.get('fieldManager')).toBe('flotilla');
    expect(req.query.get('fieldValidation')).toBe('Strict');
    expect(req.query.get('force')).toBeNull();
    expect((req.body as KubeObject).metadata.annotations).toBeUndefined();
    expect(spec(live())['replicas']).toBe(5);

    expect((await flotilla(['apply', '-f', 'web.yaml', '--server-side', '--dry-run=server'])).out).toBe(
      'deployment.apps/web serverside-applied (server dry run)\n',
    );
  });

  it('reports conflicts with kubectl advice; --force-conflicts takes over', async () => {
    writeFileSync(join(dir, 'web.yaml'), manifest);
    api.applyConflicts = { manager: 'kubectl-client-side-apply', fields: ['.spec.replicas'] };
    const r = await flotilla(['apply', '-f', 'web.yaml', '--server-side', '--field-manager=ci']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^error: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply": \.spec\.replicas\nPlease review the fields above--they currently have other managers\./,
    );
    expect(r.err).toContain('command with the `--force-conflicts` flag.');
    expect((await flotilla(['apply', '-f', 'web.yaml', '--server-side', '--force-conflicts'])).code).toBe(0);
    expect(api.requests.at(-1)!.query.get('force')).toBe('true');
  });

  it('flag checks and servers without server-side apply', async () => {
    writeFileSync(join(dir, 'web.yaml'), manifest);
    expect((await flotilla(['apply', '-f', 'web.yaml', '--force-conflicts'])).err).toBe(
      'error: --force-conflicts only works with --server-side\n',
    );
    expect((await flotilla(['apply', '-f', 'web.yaml', '--server-side', '--dry-run=client'])).code).toBe(2);
    api.noServerSideApply = true;
    const r = await flotilla(['apply', '-f', 'web.yaml', '--server-side']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: Server-side apply not available on the server: \(the body of the request/);
  });
});

describe('edit', () => {
  function editor(sed: string): Record<string, string> {
    const script = join(dir, 'editor.sh');
    writeFileSync(script, '#!/bin/sh\ncp "$1" "$1.seen"\nsed -i "$SEDEXPR" "$1"\n');
    chmodSync(script, 0o755);
    return { KUBECONFIG: kubeconfig, EDITOR: script, SEDEXPR: sed };
  }

  it('opens YAML with the header, sends a strategic merge patch of the change, prints "edited"', async () => {
    const r = await flotilla(['edit', 'deploy', 'web'], { env: editor('s/replicas: 2/replicas: 4/') });
    expect(r).toMatchObject({ code: 0, out: 'deployment.apps/web edited\n' });
    const req = api.requests.at(-1)!;
    expect(req).toMatchObject({ method: 'PATCH', contentType: 'application/strategic-merge-patch+json' });
    expect(req.body).toEqual({ spec: { replicas: 4 } });
    expect(req.query.get('fieldManager')).toBe('flotilla-edit');
    expect(spec(live())['replicas']).toBe(4);
  });

  it('no change, empty file, identity changes', async () => {
    expect(await flotilla(['edit', 'deploy/web'], { env: editor('s/nothing-to-change//') })).toMatchObject({
      code: 0,
      err: 'Edit cancelled, no changes made.\n',
    });
    expect(await flotilla(['edit', 'deploy/web'], { env: editor('/.*/d') })).toMatchObject({
      code: 0,
      err: 'Edit cancelled, saved file was empty.\n',
    });
    const renamed = await flotilla(['edit', 'deploy/web'], { env: editor('s/^  name: web$/  name: other/') });
    expect(renamed.code).toBe(1);
    expect(renamed.err).toMatch(
      /^A copy of your changes has been stored to ".*flotilla-edit-.*\.yaml"\nerror: At least one of apiVersion, kind and name was changed\n$/,
    );
    expect(api.writes()).toEqual([]);
  });

  it('reopens with the server errors on top; saving it unchanged gives up', async () => {
    const r = await flotilla(['edit', 'deploy/web'], { env: editor('s/replicas: 2/replicas: -1/') });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^error: deployments.apps "web" is invalid\nA copy of your changes has been stored to ".*"\nerror: Edit cancelled, no valid changes were saved\.\n$/,
    );
    const file = /stored to "(.*)"/.exec(r.err)![1]!;
    const reopened = readFileSync(`${file}.seen`, 'utf8');
    expect(reopened).toMatch(
      /^# Please edit the object below\. Lines beginning with a '#' will be ignored,\n# and an empty file will abort the edit\. If an error occurs while saving this file will be\n# reopened with the relevant failures\.\n#\n# deployments\.apps "web" was not valid:\n# \* spec\.replicas: Invalid value: -1: must be greater than or equal to 0\n#\napiVersion: apps\/v1\n/,
    );
    expect(reopened).toContain('  replicas: -1\n');
    expect(spec(live())['replicas']).toBe(2);
  });

  it('reopens on a YAML syntax error', async () => {
    const r = await flotilla(['edit', 'deploy/web'], { env: editor('s/replicas: 2/replicas: [/') });
    expect(r.code).toBe(1);
    const file = /stored to "(.*)"/.exec(r.err)![1]!;
    expect(readFileSync(`${file}.seen`, 'utf8')).toMatch(/#\n# The edited file had a syntax error: .+\n#\n/);
  });

  it('edits several objects as a List, and JSON with -o json', async () => {
    api.seed('/api/v1/namespaces/default/configmaps/cfg', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default' },
      data: { mode: 'dev' },
    });
    const r = await flotilla(['edit', 'deploy/web', 'cm/cfg'], { env: editor('s/mode: dev/mode: prod/') });
    expect(r).toMatchObject({ code: 0, out: 'configmap/cfg edited\n' });
    expect(api.get('/api/v1/namespaces/default/configmaps/cfg')!['data']).toEqual({ mode: 'prod' });
    const j = await flotilla(['edit', 'cm/cfg', '-o', 'json', '--output-patch'], {
      env: editor('s/"prod"/"staging"/'),
    });
    expect(j).toMatchObject({ code: 0, out: 'Patch: {"data":{"mode":"staging"}}\nconfigmap/cfg edited\n' });
  });
});

describe('explain', () => {
  it('prints kubectl explain layout from the built-in schemas (no server needed)', async () => {
    const r = await flotilla(['explain', 'deployment.spec.strategy', '--kubeconfig', '/nonexistent']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'GROUP:      apps',
        'KIND:       Deployment',
        'VERSION:    v1',
        '',
        'FIELD: strategy <Object>',
        '',
        '',
        'DESCRIPTION:',
        '    <empty>',
        'FIELDS:',
        '  rollingUpdate\t<Object>',
        '    <no description>',
        '',
        '  type\t<string>',
        '  enum: Recreate, RollingUpdate',
        '    <no description>',
        '',
        '',
        '',
      ].join('\n'),
    );
    const pods = await flotilla(['explain', 'po']);
    expect(pods.out).toMatch(/^KIND: {7}Pod\nVERSION: {4}v1\n\nDESCRIPTION:\n/);
    expect(pods.out).toContain('  spec\t<Object>\n');
    const rec = await flotilla(['explain', 'deploy.spec.template.spec.containers', '--recursive']);
    expect(rec.out).toContain('FIELD: containers <[]Object>\n');
    expect(rec.out).toContain('  name\t<string> -required-\n');
    expect(rec.out).toMatch(/\n {2}ports\t<\[\]Object>\n {4}containerPort\t<integer> -required-\n/);
    expect(rec.out).toContain('    limits\t<map[string]Quantity>\n');
  });

  it('names unknown fields and resources', async () => {
    expect(await flotilla(['explain', 'deploy.spec.nope'])).toMatchObject({
      code: 1,
      err: 'error: field "nope" does not exist\n',
    });
    expect((await flotilla(['explain', 'widgets'])).err).toBe(
      'error: the server doesn\'t have a resource type "widgets"\n',
    );
    expect((await flotilla(['explain', 'hpa', '--api-version=autoscaling/v1'])).code).toBe(1);
  });
});

describe('api-resources and api-versions', () => {
  it('lists what discovery says, sorted like kubectl', async () => {
    const r = await flotilla(['api-resources']);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +SHORTNAMES +APIVERSION +NAMESPACED +KIND$/);
    expect(lines[1]).toMatch(/^configmaps +cm +v1 +true +ConfigMap$/);
    expect(lines.at(-1)).toMatch(/^priorityclasses +pc +scheduling\.k8s\.io\/v1 +false +PriorityClass$/);
    expect(lines.map((l) => l.split(/ +/)[0])).toEqual([
      'NAME',
      'configmaps',
      'endpoints',
      'events',
      'namespaces',
      'nodes',
      'pods',
      'secrets',
      'services',
      'deployments',
      'replicasets',
      'horizontalpodautoscalers',
      'leases',
      'endpointslices',
      'servicecidrs',
      'priorityclasses',
    ]);
    expect((await flotilla(['api-resources', '--namespaced=false', '-o', 'name'])).out).toBe(
      'namespaces\nnodes\nservicecidrs.networking.k8s.io\npriorityclasses.scheduling.k8s.io\n',
    );
    expect((await flotilla(['api-resources', '--api-group=apps', '--no-headers'])).out).toMatch(
      /^deployments +deploy +apps\/v1 +true +Deployment\nreplicasets +rs +apps\/v1 +true +ReplicaSet\n$/,
    );
    const wide = await flotilla(['api-resources', '-o', 'wide', '--categories=all']);
    expect(wide.out.split('\n')[0]).toMatch(/VERBS +CATEGORIES$/);
    expect(wide.out).toMatch(
      /\npods +po +v1 +true +Pod +create,delete,deletecollection,get,list,patch,update,watch +all\n/,
    );
    // Read-only: the API server writes the kubernetes ServiceCIDR itself.
    expect((await flotilla(['api-resources', '-o', 'wide', '--api-group=networking.k8s.io'])).out).toMatch(
      /\nservicecidrs +networking\.k8s\.io\/v1 +false +ServiceCIDR +get,list,watch\n$/,
    );
    expect((await flotilla(['api-resources', '-o', 'yaml'])).code).toBe(2);
    expect((await flotilla(['api-versions'])).out).toBe(
      'apps/v1\nautoscaling/v2\ncoordination.k8s.io/v1\ndiscovery.k8s.io/v1\nnetworking.k8s.io/v1\nscheduling.k8s.io/v1\nv1\n',
    );
  });
});

describe('get -o jsonpath', () => {
  it('runs the template on the object, or on a List', async () => {
    expect((await flotilla(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}'])).out).toBe('2');
    expect(
      (await flotilla(['get', 'deploy', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}'])).out,
    ).toBe('web\n');
    expect((await flotilla(['get', 'deploy', '-o', 'jsonpath={.items[0'])).code).toBe(2);
  });
});

describe('server-side apply migration helpers', () => {
  it('folds client-side apply managers into the server-side manager (kubectl csaupgrade)', () => {
    const annotation = {
      'f:metadata': { 'f:annotations': { 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
    };
    const obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'x',
        managedFields: [
          { manager: 'flotilla', operation: 'Apply', fieldsV1: { 'f:data': { 'f:b': {} } } },
          {
            manager: 'flotilla-client-side-apply',
            operation: 'Update',
            fieldsV1: { 'f:data': { 'f:a': {} }, ...annotation },
          },
          { manager: 'other', operation: 'Update', fieldsV1: { 'f:data': { 'f:z': {} } } },
        ],
      },
    };
    expect(clientSideManagers(obj)).toEqual(['flotilla-client-side-apply']);
    expect(upgradeManagedFields(obj.metadata.managedFields, clientSideManagers(obj), 'flotilla')).toEqual([
      {
        manager: 'flotilla',
        operation: 'Apply',
        fieldsV1: { 'f:data': { 'f:b': {}, 'f:a': {} }, ...annotation },
      },
      { manager: 'other', operation: 'Update', fieldsV1: { 'f:data': { 'f:z': {} } } },
    ]);
    // Without an Apply entry yet, the client-side one becomes it.
    expect(
      upgradeManagedFields([obj.metadata.managedFields![1]], ['flotilla-client-side-apply'], 'flotilla'),
    ).toEqual([
      { manager: 'flotilla', operation: 'Apply', fieldsV1: { 'f:data': { 'f:a': {} }, ...annotation } },
    ]);
    expect(upgradeManagedFields(obj.metadata.managedFields, [], 'flotilla')).toBeUndefined();
  });
});
