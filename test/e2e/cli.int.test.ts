// The `flotilla` CLI binary against a running control plane: apply, get (table, wide, yaml, json, name,
// selectors, all namespaces, watch), describe with events, delete, errors that say where the problem is.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { expectSuccess, runCommand, type CommandResult } from '../../src/testkit/command.js';
import { callerFor } from '../../src/testkit/http.js';
import { ensureBuilt, flotillaBin } from '../../src/testkit/process.js';

let cluster: TestCluster;
let dir: string;
const fixture = join(import.meta.dirname, '..', 'fixtures', 'app.yaml');

function flotilla(args: string[], stdin?: string): Promise<CommandResult> {
  return runCommand(process.execPath, [flotillaBin, '--kubeconfig', cluster.kubeconfig, ...args], { stdin });
}

async function ok(args: string[], stdin?: string): Promise<string> {
  return expectSuccess(`flotilla ${args.join(' ')}`, await flotilla(args, stdin));
}

beforeAll(async () => {
  ensureBuilt();
  cluster = await startTestCluster({ store: 'sqlite' });
  dir = mkdtempSync(join(tmpdir(), 'flotilla-cli-'));
});
afterAll(async () => {
  await cluster.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('flotilla CLI', () => {
  it('applies a multi-document manifest: created, then unchanged, then configured', async () => {
    const first = await ok(['apply', '-f', fixture]);
    expect(first).toContain('namespace/shop created');
    expect(first).toContain('deployment.apps/web created');
    expect(first).toContain('horizontalpodautoscaler.autoscaling/web created');
    const again = await ok(['apply', '-f', fixture]);
    expect(again).toContain('deployment.apps/web unchanged');
    expect(again).toContain('service/web unchanged');
    const changed = parse(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'web-config', namespace: 'shop' },
        data: { GREETING: 'hi' },
      }),
    );
    const out = await ok(['apply', '-f', '-'], JSON.stringify(changed));
    expect(out).toBe('configmap/web-config configured\n');
    const cm = JSON.parse(await ok(['get', 'configmap', 'web-config', '-n', 'shop', '-o', 'json']));
    // MODE was in the previously applied file and is gone from this one, so apply removed it.
    expect(cm.data).toEqual({ GREETING: 'hi' });
  });

  it('prints tables with the kubectl columns, wide, yaml, json and name', async () => {
    // The deployment controller makes a ReplicaSet and it makes 3 pods; with no nodes none becomes ready.
    const table = await eventually(async () => {
      const t = await ok(['get', 'deployments', '-n', 'shop']);
      expect(t).toMatch(/^web\s+0\/3\s+3\s+0\s+\d+s$/m);
      return t;
    }, 15_000);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    const wide = await ok(['get', 'deploy', 'web', '-n', 'shop', '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/CONTAINERS\s+IMAGES\s+SELECTOR$/);
    expect(wide).toContain('127.0.0.1:5000/busybox:1.36');
    const yaml = parse(await ok(['get', 'svc', 'web', '-n', 'shop', '-o', 'yaml']));
    expect(yaml).toMatchObject({ kind: 'Service', spec: { ports: [{ port: 80, protocol: 'TCP' }] } });
    expect(await ok(['get', 'deploy,svc', '-n', 'shop', '-l', 'app=web', '-o', 'name'])).toBe(
      'deployment.apps/web\nservice/web\n',
    );
    expect(await ok(['get', 'cm', '-n', 'shop', '-l', 'app=web', '-o', 'name'])).toBe('');
    const all = await ok(['get', 'secrets', '-A']);
    expect(all.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+TYPE\s+DATA\s+AGE$/);
    expect(all).toMatch(/shop\s+web-secret\s+Opaque\s+1/);
    const pods = await ok(['get', 'pods', '-n', 'shop']);
    expect(pods.split('\n')[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(pods.match(/^web-[a-z0-9]+-[a-z0-9]{5}\s+0\/1\s+Pending\s+0\s+\d+s$/gm)).toHaveLength(3);
    const none = await flotilla(['get', 'pods', '-n', 'shop', '-l', 'app=nothing']);
    expect(none.code).toBe(0);
    expect(none.stderr + none.stdout).toContain('No resources found in shop namespace.');
  });

  it('watches with get -w and prints later changes', async () => {
    const child = spawn(process.execPath, [
      flotillaBin,
      '--kubeconfig',
      cluster.kubeconfig,
      'get',
      'configmaps',
      '-n',
      'shop',
      '-w',
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually(() => expect(out).toContain('web-config'), 15_000);
      await ok(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'late', namespace: 'shop' },
        }),
      );
      await eventually(() => expect(out).toMatch(/^late\s+0\s+\d+s$/m), 15_000);
    } finally {
      child.kill('SIGINT');
    }
  });

  it('describes an object with its recent events', async () => {
    const api = callerFor(cluster);
    const dep = await api.call('GET', '/apis/apps/v1/namespaces/shop/deployments/web');
    await api.call('POST', '/api/v1/namespaces/shop/events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1' },
      involvedObject: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: dep.body.metadata.uid,
      },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web-abc to 3',
      type: 'Normal',
      source: { component: 'deployment-controller' },
      count: 1,
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    await api.close();
    const text = await ok(['describe', 'deployment', 'web', '-n', 'shop']);
    expect(text).toMatch(/^Name:\s+web$/m);
    expect(text).toMatch(/^Namespace:\s+shop$/m);
    expect(text).toMatch(/^Events:/m);
    expect(text).toContain('ScalingReplicaSet');
    expect(text).toContain('Scaled up replica set web-abc to 3');
  });

  it('names the file, the document and the field when a manifest is wrong, and sends nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: apps/v1\nkind: Widget\nmetadata:\n  name: w\n',
    );
    const r = await flotilla(['apply', '-f', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.yaml');
    expect(r.stderr).toMatch(/document 2/);
    expect(r.stderr).toContain('Widget');
    expect((await flotilla(['get', 'configmap', 'fine'])).code).toBe(1);

    const malformed = join(dir, 'malformed.yaml');
    writeFileSync(malformed, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n');
    const m = await flotilla(['apply', '-f', malformed]);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain('malformed.yaml');

    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n');
    const v = await flotilla(['apply', '-f', invalid]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('metadata.name');

    const unknownField = join(dir, 'unknown.yaml');
    writeFileSync(unknownField, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatax:\n  a: b\n');
    const u = await flotilla(['apply', '-f', unknownField]);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('unknown field "datax"');
    expect((await flotilla(['get', 'configmap', 'typo'])).code).toBe(1);
  });

  it('reports server errors like kubectl and exits non-zero', async () => {
    const r = await flotilla(['get', 'deployment', 'nope', '-n', 'shop']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (NotFound): deployments.apps "nope" not found');
    const usage = await flotilla(['get']);
    expect(usage.code).not.toBe(0);
  });

  it('has --help on every command', async () => {
    for (const cmd of ['apply', 'get', 'describe', 'delete', 'kubeconfig', 'version', 'server', 'up']) {
      const r = await flotilla([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Usage: flotilla/);
    }
  });

  it('prints versions and the kubeconfig path', async () => {
    const v = await ok(['version']);
    expect(v).toMatch(/Client Version/i);
    expect(v).toMatch(/Server Version.*flotilla/i);
    expect(await ok(['kubeconfig', '--data-dir', cluster.dataDir])).toBe(
      `${join(cluster.dataDir, 'kubeconfig.yaml')}\n`,
    );
  });

  it('deletes by file and by kind/name, waiting until the objects are gone', async () => {
    expect(await ok(['delete', 'configmap/late', '-n', 'shop'])).toContain('configmap "late" deleted');
    expect((await flotilla(['get', 'configmap', 'late', '-n', 'shop'])).code).toBe(1);
    const out = await ok(['delete', '-f', fixture]);
    expect(out).toContain('deployment.apps "web" deleted');
    expect(out).toContain('namespace "shop" deleted');
    expect((await flotilla(['get', 'namespace', 'shop'])).code).toBe(1);
  });
});
