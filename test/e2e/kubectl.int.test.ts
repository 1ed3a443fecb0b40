// Real kubectl binaries (1.35 and 1.31) against a running Flotilla control plane on the SQLite store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';

const manifest = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'app.yaml'), 'utf8');

describe.each<KubectlVersion>(['1.35', '1.31'])('kubectl %s', (version) => {
  let cluster: TestCluster;
  let k: Kubectl;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('talks to the server over TLS with the generated kubeconfig', async () => {
    const out = await k.ok(['version', '-o', 'json']);
    expect(JSON.parse(out).serverVersion.gitVersion).toMatch(/flotilla/);
  });

  it('applies a multi-document manifest and reports each object', async () => {
    const out = await k.ok(['apply', '--validate=false', '-f', '-'], manifest);
    expect(out).toContain('namespace/shop created');
    expect(out).toContain('configmap/web-config created');
    expect(out).toContain('secret/web-secret created');
    expect(out).toContain('deployment.apps/web created');
    expect(out).toContain('service/web created');
    expect(out).toContain('horizontalpodautoscaler.autoscaling/web created');
    const docs = parseAllDocuments(manifest).length;
    expect(out.trim().split('\n')).toHaveLength(docs);
  });

  it('re-applies a changed manifest with a strategic merge patch (client-side apply)', async () => {
    const changed = manifest
      .replace('replicas: 3', 'replicas: 4')
      .replace('image: 127.0.0.1:5000/busybox:1.36', 'image: 127.0.0.1:5000/busybox:1.37')
      .replace(/ {10}envFrom:\n {12}- configMapRef:\n {16}name: web-config\n/, '');
    expect(changed).not.toContain('envFrom');
    const out = await k.ok(['apply', '--validate=false', '-f', '-'], changed);
    expect(out).toContain('deployment.apps/web configured');
    expect(out).toContain('configmap/web-config unchanged');
    const dep = JSON.parse(await k.ok(['get', 'deployment', 'web', '-n', 'shop', '-o', 'json']));
    expect(dep.spec.replicas).toBe(4);
    expect(dep.spec.template.spec.containers[0].image).toBe('127.0.0.1:5000/busybox:1.37');
    // A field removed from the file is removed from the object.
    expect(dep.spec.template.spec.containers[0].envFrom).toBeUndefined();
    expect(dep.spec.template.spec.containers[0].ports[0].containerPort).toBe(8080);
    expect(dep.metadata.generation).toBe(2);
  });

  it('gets by name, short name, label and across namespaces', async () => {
    expect(await k.ok(['get', 'deployment', 'web', '-n', 'shop', '-o', 'name'])).toBe(
      'deployment.apps/web\n',
    );
    expect(await k.ok(['get', 'deploy', '-n', 'shop', '-o', 'name'])).toBe('deployment.apps/web\n');
    expect(await k.ok(['get', 'cm', '-n', 'shop', '-l', 'app=web', '-o', 'name'])).toBe(
      'configmap/web-config\n',
    );
    expect(await k.ok(['get', 'cm', '-n', 'shop', '-l', 'app!=web', '-o', 'name'])).toBe('');
    const all = await k.ok(['get', 'svc', '-A']);
    expect(all).toMatch(/shop\s+web/);
    const hpa = await k.ok(['get', 'hpa', '-n', 'shop']);
    expect(hpa).toContain('web');
    const ns = await k.ok(['get', 'ns']);
    expect(ns).toContain('shop');
    expect(ns).toContain('default');
  });

  it('prints objects as YAML and JSON with defaults applied by the server', async () => {
    const yaml = await k.ok(['get', 'deployment', 'web', '-n', 'shop', '-o', 'yaml']);
    expect(yaml).toContain('kind: Deployment');
    expect(yaml).toMatch(/resourceVersion: "\d+"/);
    expect(yaml).toContain('kubectl.kubernetes.io/last-applied-configuration');
    const secret = JSON.parse(await k.ok(['get', 'secret', 'web-secret', '-n', 'shop', '-o', 'json']));
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('s3cret');
  });

  it('sees a later change with get -w', async () => {
    const watch = k.start([
      'get',
      'configmap',
      'web-config',
      '-n',
      'shop',
      '-w',
      '-o',
      'json',
      '--output-watch-events',
    ]);
    try {
      await eventually(() => expect(watch.output()).toMatch(/"name":\s*"web-config"/), 15_000);
      await k.ok(['label', 'configmap', 'web-config', '-n', 'shop', 'watched=yes']);
      await eventually(() => {
        expect(watch.output()).toMatch(/"type":\s*"MODIFIED"/);
        expect(watch.output()).toMatch(/"watched":\s*"yes"/);
      }, 15_000);
    } finally {
      watch.stop();
    }
  });

  it('labels, annotates and patches with merge and JSON patches', async () => {
    expect(await k.ok(['label', 'deployment', 'web', '-n', 'shop', 'tier=frontend'])).toContain(
      'deployment.apps/web labeled',
    );
    expect(await k.ok(['annotate', 'deployment', 'web', '-n', 'shop', 'owner=team-a'])).toContain(
      'deployment.apps/web annotated',
    );
    expect(
      await k.ok([
        'patch',
        'deployment',
        'web',
        '-n',
        'shop',
        '--type',
        'merge',
        '-p',
        '{"spec":{"replicas":5}}',
      ]),
    ).toContain('deployment.apps/web patched');
    expect(
      await k.ok([
        'patch',
        'configmap',
        'web-config',
        '-n',
        'shop',
        '--type',
        'json',
        '-p',
        '[{"op":"replace","path":"/data/MODE","value":"debug"}]',
      ]),
    ).toContain('configmap/web-config patched');
    const dep = JSON.parse(await k.ok(['get', 'deployment', 'web', '-n', 'shop', '-o', 'json']));
    expect(dep.metadata.labels.tier).toBe('frontend');
    expect(dep.metadata.annotations.owner).toBe('team-a');
    expect(dep.spec.replicas).toBe(5);
    expect(dep.metadata.generation).toBe(3);
    const cm = JSON.parse(await k.ok(['get', 'configmap', 'web-config', '-n', 'shop', '-o', 'json']));
    expect(cm.data.MODE).toBe('debug');
    // A JSON patch on a missing path is refused and changes nothing.
    const bad = await k.run([
      'patch',
      'configmap',
      'web-config',
      '-n',
      'shop',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/data/NOPE"}]',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/NOPE/);
  });

  it('reports server errors the way kubectl users expect', async () => {
    const missing = await k.run(['get', 'deployment', 'nope', '-n', 'shop']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Error from server (NotFound): deployments.apps "nope" not found');
  });

  it('deletes objects and waits until they are gone', async () => {
    expect(await k.ok(['delete', 'service', 'web', '-n', 'shop'])).toContain('service "web" deleted');
    expect(await k.ok(['delete', 'configmap', 'web-config', '-n', 'shop'])).toContain(
      'configmap "web-config" deleted',
    );
    const left = await k.run(['get', 'service', 'web', '-n', 'shop']);
    expect(left.code).toBe(1);
  });
});
