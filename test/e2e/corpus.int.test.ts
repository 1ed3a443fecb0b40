// Client-side `kubectl apply` of a corpus of realistic manifests (test/fixtures/corpus/manifests), with
// validation on, by real kubectl 1.35 and 1.31: everything applies, re-applies as unchanged, a one-field
// edit in a file changes exactly that field of that object, a dropped env var disappears, reordered
// containers follow the file. And a directory holding invalid manifests among valid ones
// (test/fixtures/corpus/invalid): each bad object is reported with its file, its kind/name and the field
// path, everything else is applied, and the bad object is not half-applied.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parseDocument, isSeq } from 'yaml';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'corpus');
const lastApplied = 'kubectl.kubernetes.io/last-applied-configuration';

type Obj = Record<string, any>;

/** Every .yaml file below `dir`, in the lexical walk order kubectl uses. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return name.endsWith('.yaml') ? [path] : [];
    });
}

function docsOf(path: string): Obj[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}

/** How kubectl names an object in its output: `deployment.apps/web`, `configmap/x`. */
function ref(o: Obj): string {
  const parts = String(o.apiVersion).split('/');
  const group = parts.length === 2 ? `.${parts[0]}` : '';
  return `${String(o.kind).toLowerCase()}${group}/${o.metadata.name}`;
}

function key(o: Obj): string {
  return `${o.metadata.namespace ?? ''}/${ref(o)}`;
}

/** Applied lines as `{ref: verb}`; fails on lines of another shape. */
function verbs(out: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of out.trim().split('\n')) {
    const m = /^(\S+) (created|configured|unchanged)$/.exec(line);
    if (m === null) throw new Error(`unexpected kubectl apply line: ${JSON.stringify(line)}`);
    result[m[1] ?? ''] = m[2] ?? '';
  }
  return result;
}

/**
 * Paths where `config` says something the stored object does not: every map key of the config must be
 * present with the same value (the server may add defaults), lists must match item by item.
 * Secret stringData is compared with data, as the server folds one into the other.
 */
function mismatches(config: unknown, live: unknown, path = ''): string[] {
  if (Array.isArray(config)) {
    if (!Array.isArray(live) || live.length !== config.length) return [path];
    return config.flatMap((c, i) => mismatches(c, live[i], `${path}[${i}]`));
  }
  if (config !== null && typeof config === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return [path];
    return Object.entries(config).flatMap(([k, v]) =>
      mismatches(v, (live as Obj)[k], path === '' ? k : `${path}.${k}`),
    );
  }
  return config === live ? [] : [path];
}

function asStored(config: Obj): Obj {
  if (config.kind !== 'Secret' || config.stringData === undefined) return config;
  const { stringData, ...rest } = config;
  const data: Record<string, string> = { ...(rest.data ?? {}) };
  for (const [k, v] of Object.entries(stringData as Record<string, string>)) {
    data[k] = Buffer.from(v).toString('base64');
  }
  return { ...rest, data };
}

/** The parts of an object a re-apply may change besides what the file says. */
function withoutBookkeeping(o: Obj): Obj {
  const copy = structuredClone(o);
  delete copy.metadata.resourceVersion;
  delete copy.metadata.generation;
  delete copy.metadata.managedFields;
  if (copy.metadata.annotations !== undefined) delete copy.metadata.annotations[lastApplied];
  return copy;
}

/**
 * Annotations the Deployment controller writes on the Deployments and ReplicaSets it manages; anything
 * else under deployment.kubernetes.io/ (e.g. the corpus's change-cause) is the user's.
 */
const controllerAnnotations = [
  'deployment.kubernetes.io/revision',
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
];

/** Kinds the control plane acts on by itself: their status and resourceVersion move without the user. */
const controlledKinds = new Set(['Deployment', 'ReplicaSet', 'HorizontalPodAutoscaler']);

/**
 * What the user owns of a stored object: everything but status, the controllers' annotations, the
 * resourceVersion and generation (a controller's status write or annotation bumps the first), and the
 * managedFields entries of managers other than kubectl's.
 */
function userOwned(o: Obj): Obj {
  const copy = structuredClone(o);
  delete copy.status;
  delete copy.metadata.resourceVersion;
  delete copy.metadata.generation;
  const annotations = copy.metadata.annotations as Record<string, string> | undefined;
  for (const a of controllerAnnotations) if (annotations !== undefined) delete annotations[a];
  if (Array.isArray(copy.metadata.managedFields)) {
    copy.metadata.managedFields = (copy.metadata.managedFields as Obj[]).filter((m) =>
      String(m.manager).startsWith('kubectl'),
    );
  }
  return copy;
}

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`expected exactly one ${JSON.stringify(from)} in the fixture`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

function container(o: Obj, name: string): Obj {
  const c = (o.spec.template.spec.containers as Obj[]).find((x) => x.name === name);
  if (c === undefined) throw new Error(`no container ${name}`);
  return c;
}

interface Edit {
  name: string;
  /** File below the corpus directory. */
  file: string;
  /** Rewrites the file's text. */
  edit: (text: string) => string;
  /** The object that must change (namespace/ref as printed by kubectl). */
  target: { namespace: string; ref: string };
  /** The same change, made on the object as JSON (for the stored object and its last-applied copy). */
  change: (o: Obj) => void;
  /** Extra checks on the stored object afterwards. */
  check?: (after: Obj) => void;
}

const edits: Edit[] = [
  {
    name: 'a container image',
    file: 'shop/frontend.yaml',
    edit: (t) => replaceOnce(t, 'image: nginx:1.27.3', 'image: nginx:1.27.4'),
    target: { namespace: 'corpus-shop', ref: 'deployment.apps/frontend' },
    change: (o) => (container(o, 'nginx').image = 'nginx:1.27.4'),
  },
  {
    name: 'a replica count',
    file: 'shop/api.yaml',
    edit: (t) => replaceOnce(t, '  replicas: 3\n', '  replicas: 5\n'),
    target: { namespace: 'corpus-shop', ref: 'deployment.apps/api' },
    change: (o) => (o.spec.replicas = 5),
  },
  {
    name: 'a ConfigMap value',
    file: 'data/cache.yaml',
    edit: (t) => replaceOnce(t, '  MAXMEMORY_POLICY: allkeys-lru\n', '  MAXMEMORY_POLICY: volatile-lru\n'),
    target: { namespace: 'corpus-data', ref: 'configmap/redis-config' },
    change: (o) => (o.data.MAXMEMORY_POLICY = 'volatile-lru'),
  },
  {
    name: 'a Service port name',
    file: 'ops/monitoring.yaml',
    edit: (t) =>
      replaceOnce(
        t,
        '    - name: reloader\n      port: 8080\n',
        '    - name: config-reload\n      port: 8080\n',
      ),
    target: { namespace: 'corpus-ops', ref: 'service/prometheus' },
    change: (o) => {
      const port = (o.spec.ports as Obj[]).find((p) => p.port === 8080);
      if (port === undefined) throw new Error('no port 8080');
      port.name = 'config-reload';
    },
    check: (after) => {
      // The other port, with its fixed nodePort, is untouched.
      expect(after.spec.ports[0]).toMatchObject({ name: 'web', port: 9090, nodePort: 30990 });
    },
  },
  {
    name: 'a HorizontalPodAutoscaler target (nested list without a merge key)',
    file: 'edge/gateway.yaml',
    edit: (t) => replaceOnce(t, 'averageUtilization: 60', 'averageUtilization: 55'),
    target: { namespace: 'corpus-edge', ref: 'horizontalpodautoscaler.autoscaling/gateway' },
    change: (o) => (o.spec.metrics[0].resource.target.averageUtilization = 55),
  },
  {
    name: 'the strategy type (retainKeys drops rollingUpdate)',
    file: 'shop/frontend.yaml',
    edit: (t) =>
      replaceOnce(
        t,
        '    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n',
        '    type: Recreate\n',
      ),
    target: { namespace: 'corpus-shop', ref: 'deployment.apps/frontend' },
    change: (o) => (o.spec.strategy = { type: 'Recreate' }),
  },
  {
    name: 'one env var removed from a container',
    file: 'shop/worker.yaml',
    edit: (t) => replaceOnce(t, "            - name: BATCH_SIZE\n              value: '50'\n", ''),
    target: { namespace: 'corpus-shop', ref: 'deployment.apps/order-worker' },
    change: (o) => {
      const c = container(o, 'worker');
      c.env = (c.env as Obj[]).filter((e) => e.name !== 'BATCH_SIZE');
    },
    check: (after) => {
      expect((container(after, 'worker').env as Obj[]).map((e) => e.name)).toEqual([
        'QUEUE_URL',
        'WORKER_ID',
        'RETRY_LIMIT',
        'DB_PASSWORD',
      ]);
    },
  },
  {
    name: 'the containers reordered',
    file: 'data/cache.yaml',
    edit: (t) => {
      const docs = t.split(/^---\n/m).map((d) => parseDocument(d));
      const deployment = docs.find((d) => d.get('kind') === 'Deployment');
      const containers = deployment?.getIn(['spec', 'template', 'spec', 'containers']);
      if (!isSeq(containers)) throw new Error('no containers in data/cache.yaml');
      containers.items.reverse();
      return docs.map((d) => d.toString()).join('---\n');
    },
    target: { namespace: 'corpus-data', ref: 'deployment.apps/redis' },
    change: (o) => (o.spec.template.spec.containers as Obj[]).reverse(),
    check: (after) => {
      expect((after.spec.template.spec.containers as Obj[]).map((c) => c.name)).toEqual([
        'exporter',
        'redis',
      ]);
    },
  },
];

describe.each<KubectlVersion>(['1.35', '1.31'])('corpus with kubectl %s', (version) => {
  let cluster: TestCluster;
  let k: Kubectl;
  let work: string;
  let dir: string;
  let configs: Obj[];

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
    work = mkdtempSync(join(tmpdir(), 'flotilla-corpus-'));
    dir = join(work, 'manifests');
    cpSync(join(fixtures, 'manifests'), dir, { recursive: true });
    configs = yamlFiles(dir).flatMap(docsOf);
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  /** Every corpus object as stored, keyed `namespace/ref`. */
  async function snapshot(): Promise<Map<string, Obj>> {
    const list = JSON.parse(await k.ok(['get', '-f', dir, '-R', '-o', 'json'])) as { items: Obj[] };
    return new Map(list.items.map((o) => [key(o), o]));
  }

  /**
   * Every object but `except` is as the user left it. Controllers may still be writing the status of
   * Deployments and ReplicaSets; what kubectl owns (including its managedFields entries) stays, and the
   * other kinds, which nothing acts on by itself, are not written at all.
   */
  function expectUntouched(before: Map<string, Obj>, after: Map<string, Obj>, except?: string): void {
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k2, o] of before) {
      if (k2 === except) continue;
      const now = after.get(k2) as Obj;
      expect(userOwned(now), k2).toEqual(userOwned(o));
      if (!controlledKinds.has(o.kind))
        expect(now.metadata.resourceVersion, k2).toBe(o.metadata.resourceVersion);
    }
  }

  /** Corpus objects whose re-apply kubectl reports as configured although nothing changes (stringData). */
  const alwaysConfigured = (o: Obj): boolean => o.kind === 'Secret' && o.stringData !== undefined;

  it('has at least 30 manifests of every kind the issue names', () => {
    expect(configs.length).toBeGreaterThanOrEqual(30);
    const kinds = new Set(configs.map((c) => c.kind));
    for (const kind of [
      'Namespace',
      'ConfigMap',
      'Secret',
      'Deployment',
      'ReplicaSet',
      'Service',
      'HorizontalPodAutoscaler',
      'Lease',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(new Set(configs.map(key)).size).toBe(configs.length);
  });

  it('applies the whole directory with validation on, every object created as written', async () => {
    const out = await k.ok(['apply', '-f', dir, '-R']);
    expect(verbs(out)).toEqual(Object.fromEntries(configs.map((c) => [ref(c), 'created'])));
    const live = await snapshot();
    for (const config of configs) {
      const stored = live.get(key(config));
      expect(stored, key(config)).toBeDefined();
      expect(mismatches(asStored(config), stored), key(config)).toEqual([]);
      // The configuration is recorded exactly as kubectl sent it.
      const recorded = JSON.parse(stored?.metadata.annotations[lastApplied]);
      expect(withoutBookkeeping(recorded), key(config)).toEqual(
        withoutBookkeeping({
          ...config,
          metadata: { ...config.metadata, annotations: { ...config.metadata.annotations } },
        }),
      );
    }
  });

  it('re-applies as unchanged, and nothing is written', async () => {
    const before = await snapshot();
    const out = await k.ok(['apply', '-f', dir, '-R']);
    // Upstream prints "configured" for Secrets written with stringData on every apply
    // (kubernetes/kubernetes#87736): the patch carries stringData, which the stored object never has.
    expect(verbs(out)).toEqual(
      Object.fromEntries(configs.map((c) => [ref(c), alwaysConfigured(c) ? 'configured' : 'unchanged'])),
    );
    expectUntouched(before, await snapshot());
  });

  it.each(edits)('editing $name in one file changes exactly that field', async (e) => {
    const path = join(dir, e.file);
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, e.edit(original));
    const before = await snapshot();
    const targetKey = `${e.target.namespace}/${e.target.ref}`;
    const target = before.get(targetKey);
    if (target === undefined) throw new Error(`${targetKey} is not in the corpus`);

    const out = await k.ok(['apply', '-f', dir, '-R']);
    expect(verbs(out)).toEqual(
      Object.fromEntries(
        configs.map((c) => [
          ref(c),
          key(c) === targetKey || alwaysConfigured(c) ? 'configured' : 'unchanged',
        ]),
      ),
    );

    const after = await snapshot();
    expectUntouched(before, after, targetKey);
    const stored = after.get(targetKey);
    if (stored === undefined) throw new Error(`${targetKey} is gone`);
    expect(stored.metadata.resourceVersion).not.toBe(target.metadata.resourceVersion);

    // kubectl's managedFields entry moves with the edit (its time, maybe its fields): left out here.
    const expected = withoutBookkeeping(userOwned(target));
    e.change(expected);
    expect(withoutBookkeeping(userOwned(stored))).toEqual(expected);
    // The recorded configuration moved with the file.
    const recordedBefore = JSON.parse(target.metadata.annotations[lastApplied]);
    e.change(recordedBefore);
    expect(JSON.parse(stored.metadata.annotations[lastApplied])).toEqual(recordedBefore);
    e.check?.(stored);
  });
});

describe.each<KubectlVersion>(['1.35', '1.31'])('invalid manifests with kubectl %s', (version) => {
  let cluster: TestCluster;
  let k: Kubectl;
  let work: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
    work = mkdtempSync(join(tmpdir(), 'flotilla-corpus-invalid-'));
    cpSync(join(fixtures, 'invalid'), work, { recursive: true });
  });
  afterAll(async () => {
    await cluster.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const get = async (resource: string, name: string): Promise<Obj | undefined> => {
    const r = await k.run(['get', resource, name, '-n', 'corpus-invalid', '-o', 'json']);
    if (r.code !== 0) {
      expect(r.stderr).toContain('NotFound');
      return undefined;
    }
    return JSON.parse(r.stdout) as Obj;
  };

  it('reports each invalid object with file, object and field, and applies all the others', async () => {
    const r = await k.run(['apply', '-f', work]);
    expect(r.code).toBe(1);
    expect(verbs(r.stdout)).toEqual({
      'namespace/corpus-invalid': 'created',
      'configmap/billing-config': 'created',
      'service/billing': 'created',
      'configmap/cache-settings': 'created',
      'deployment.apps/web': 'created',
      'service/web': 'created',
    });
    const errors = r.stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    // A field of the wrong type, in the second document of billing.yaml.
    expect(errors[0]).toContain(`"${join(work, 'billing.yaml')}"`);
    expect(errors[0]).toContain('Deployment.apps "billing" is invalid');
    expect(errors[0]).toMatch(/spec\.replicas: Invalid value: .*must be of type integer/);
    // An invalid name, in the second document of cache.yaml.
    expect(errors[1]).toContain(`"${join(work, 'cache.yaml')}"`);
    expect(errors[1]).toContain('ConfigMap "Cache_Overrides" is invalid');
    expect(errors[1]).toContain('metadata.name: Invalid value: "Cache_Overrides"');
    // Not half-applied: the invalid objects do not exist.
    expect(await get('deployment', 'billing')).toBeUndefined();
    expect(await get('configmap', 'Cache_Overrides')).toBeUndefined();
    expect((await get('service', 'billing'))?.spec.ports[0].port).toBe(80);
  });

  it('an invalid update leaves the object exactly as it was; the rest of the file is applied', async () => {
    const before = await get('deployment', 'web');
    const path = join(work, 'web.yaml');
    let text = readFileSync(path, 'utf8');
    // One document changes a valid field (the image) and breaks another (containerPort as a string) ...
    text = replaceOnce(text, 'image: nginx:1.27.3', 'image: nginx:1.27.4');
    text = replaceOnce(text, 'containerPort: 8080', 'containerPort: "8080"');
    // ... the next document in the same file is a valid change.
    text = replaceOnce(text, '    - name: http\n      port: 80\n', '    - name: web\n      port: 80\n');
    writeFileSync(path, text);

    const r = await k.run(['apply', '-f', work]);
    expect(r.code).toBe(1);
    expect(verbs(r.stdout)).toEqual({
      'namespace/corpus-invalid': 'unchanged',
      'configmap/billing-config': 'unchanged',
      'service/billing': 'unchanged',
      'configmap/cache-settings': 'unchanged',
      'service/web': 'configured',
    });
    const errors = r.stderr.split(/\n(?=Error from server)/);
    expect(errors).toHaveLength(3);
    const patchError = errors.find((e) => e.includes(`error when patching "${path}"`));
    expect(patchError).toContain('Deployment.apps "web" is invalid');
    expect(patchError).toMatch(
      /spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: .*must be of type integer/,
    );
    // Nothing of the rejected patch was stored, not even the valid image change.
    const after = await get('deployment', 'web');
    expect(after).toEqual(before);
    expect(after?.spec.template.spec.containers[0].image).toBe('nginx:1.27.3');
    expect((await get('service', 'web'))?.spec.ports[0].name).toBe('web');
  });

  it('a lone invalid object is reported with its kind, name and field path', async () => {
    // With exactly one failure of reason Invalid, kubectl prints the Status details ("The <Kind> <name>
    // is invalid: <field>: ...") and not the file; upstream servers get the same treatment for every 422.
    const r = await k.run(['apply', '-f', join(work, 'billing.yaml')]);
    expect(r.code).toBe(1);
    expect(verbs(r.stdout)).toEqual({
      'configmap/billing-config': 'unchanged',
      'service/billing': 'unchanged',
    });
    expect(r.stderr).toMatch(
      /^The Deployment "billing" is invalid: spec\.replicas: Invalid value: .*must be of type integer/,
    );
    expect(await get('deployment', 'billing')).toBeUndefined();
  });
});
