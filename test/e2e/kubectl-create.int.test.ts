// kubectl's create subcommands: 1.35 sends protobuf bodies, 1.31 sends JSON. Both must succeed and
// store the same objects (compared after dropping what the server assigns per object).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { Kubectl, type KubectlVersion } from '../../src/testkit/kubectl.js';

const protobufContentType = 'Content-Type: application/vnd.kubernetes.protobuf';

/** One namespace per kubectl version; the objects inside have the same names. */
const namespaces: Record<KubectlVersion, string> = { '1.35': 'gen-protobuf', '1.31': 'gen-json' };

type Obj = Record<string, unknown> & { metadata: Record<string, unknown>; spec?: Record<string, unknown> };

/** Annotations the Deployment controller writes; they appear whenever it gets to the object. */
const controllerAnnotations = ['deployment.kubernetes.io/revision'];

/**
 * Drop what differs per object by construction: identity, timestamps, allocations, names; and what
 * the controllers write on their own time (a Deployment's status and revision), so what is compared is
 * what the clients sent and the server defaulted.
 */
function normalize(obj: Obj, version: KubectlVersion): Obj {
  const text = JSON.stringify(obj).replaceAll(JSON.stringify(namespaces[version]), '"<ns>"');
  const o = JSON.parse(text) as Obj;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields']) delete o.metadata[k];
  if (o.kind === 'Service' && o.spec !== undefined) {
    delete o.spec.clusterIP;
    delete o.spec.clusterIPs;
  }
  if (o.kind === 'Deployment') {
    delete o.status;
    const annotations = o.metadata.annotations as Record<string, string> | undefined;
    if (annotations !== undefined) {
      for (const a of controllerAnnotations) delete annotations[a];
      if (Object.keys(annotations).length === 0) delete o.metadata.annotations;
    }
  }
  return o;
}

describe('kubectl create subcommands: protobuf from 1.35 and JSON from 1.31 store the same objects', () => {
  let cluster: TestCluster;
  const k = {} as Record<KubectlVersion, Kubectl>;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k['1.35'] = new Kubectl('1.35', cluster.kubeconfig);
    k['1.31'] = new Kubectl('1.31', cluster.kubeconfig);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  /** Run a create with both versions (-v=8, first: it shows the request headers) and check the media type. */
  async function createWithBoth(args: (ns: string) => string[], created: string): Promise<void> {
    for (const version of ['1.35', '1.31'] as const) {
      const r = await k[version].run(['-v=8', ...args(namespaces[version])]);
      expect(r.code, `kubectl ${version} ${args(namespaces[version]).join(' ')}:\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(created);
      if (version === '1.35') expect(r.stderr).toContain(protobufContentType);
      else expect(r.stderr).not.toContain(protobufContentType);
    }
  }

  async function stored(version: KubectlVersion, resource: string, name: string): Promise<Obj> {
    const nsArgs = resource === 'namespace' ? [] : ['-n', namespaces[version]];
    const out = await k['1.35'].ok(['get', resource, name, ...nsArgs, '-o', 'json']);
    return normalize(JSON.parse(out) as Obj, version);
  }

  async function expectSameStored(resource: string, name: (ns: string) => string): Promise<Obj> {
    const viaProtobuf = await stored('1.35', resource, name(namespaces['1.35']));
    const viaJson = await stored('1.31', resource, name(namespaces['1.31']));
    expect(viaProtobuf).toEqual(viaJson);
    return viaProtobuf;
  }

  it('create namespace', async () => {
    await createWithBoth((ns) => ['create', 'namespace', ns], 'created');
    const ns = await expectSameStored('namespace', (ns) => ns);
    expect(ns.metadata.name).toBe('<ns>');
  });

  it('create configmap --from-literal', async () => {
    await createWithBoth(
      (ns) => ['create', 'configmap', 'settings', '--from-literal=a=1', '--from-literal=b=2', '-n', ns],
      'configmap/settings created',
    );
    const cm = await expectSameStored('configmap', () => 'settings');
    expect(cm.data).toEqual({ a: '1', b: '2' });
  });

  it('create secret generic --from-literal', async () => {
    await createWithBoth(
      (ns) => ['create', 'secret', 'generic', 'credentials', '--from-literal=pw=x', '-n', ns],
      'secret/credentials created',
    );
    const secret = await expectSameStored('secret', () => 'credentials');
    expect(secret.data).toEqual({ pw: Buffer.from('x').toString('base64') });
    expect(secret.type).toBe('Opaque');
  });

  it('create deployment --replicas --port', async () => {
    await createWithBoth(
      (ns) => [
        'create',
        'deployment',
        'web',
        '--image=busybox:1.36',
        '--replicas=3',
        '--port=8080',
        '-n',
        ns,
      ],
      'deployment.apps/web created',
    );
    const dep = await expectSameStored('deployment', () => 'web');
    expect(dep.spec?.replicas).toBe(3);
    expect(dep.spec?.selector).toEqual({ matchLabels: { app: 'web' } });
    const pod = (dep.spec?.template as { spec: { containers: Record<string, unknown>[] } }).spec;
    expect(pod.containers[0]).toMatchObject({
      name: 'busybox',
      image: 'busybox:1.36',
      ports: [{ containerPort: 8080 }],
    });
  });

  it('create deployment --replicas=0 keeps the explicit zero', async () => {
    await createWithBoth(
      (ns) => [
        'create',
        'deployment',
        'idle',
        '--image=busybox:1.36',
        '--replicas=0',
        '-n',
        ns,
        '--',
        'sleep',
        '60',
      ],
      'deployment.apps/idle created',
    );
    const dep = await expectSameStored('deployment', () => 'idle');
    expect(dep.spec?.replicas).toBe(0);
  });

  it('create service clusterip --tcp', async () => {
    await createWithBoth(
      (ns) => ['create', 'service', 'clusterip', 'web', '--tcp=80:8080', '-n', ns],
      'service/web created',
    );
    const svc = await expectSameStored('service', () => 'web');
    expect(svc.spec?.ports).toEqual([{ name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 }]);
    expect(svc.spec?.type).toBe('ClusterIP');
  });

  it('autoscale (1.35 sends an autoscaling/v2 HPA in protobuf)', async () => {
    const ns = namespaces['1.35'];
    const r = await k['1.35'].run([
      '-v=8',
      'autoscale',
      'deployment',
      'web',
      '--min=2',
      '--max=5',
      '--cpu=80%',
      '-n',
      ns,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(protobufContentType);
    const hpa = JSON.parse(await k['1.35'].ok(['get', 'hpa', 'web', '-n', ns, '-o', 'json'])) as Obj;
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 5,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    });
  });
});
