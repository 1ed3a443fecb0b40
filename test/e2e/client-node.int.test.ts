// @kubernetes/client-node (2.x) against a running control plane: list, watch, create, patch.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';

let cluster: TestCluster;
let kc: k8s.KubeConfig;
beforeAll(async () => {
  cluster = await startTestCluster({ store: 'sqlite' });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
});
afterAll(async () => {
  await cluster.destroy();
});

describe('@kubernetes/client-node', () => {
  it('creates, reads and lists with the typed clients', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'from-client-node', labels: { via: 'client-node' } }, data: { k: 'v' } },
    });
    const dep = await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'cn-web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'cn-web' } },
          template: {
            metadata: { labels: { app: 'cn-web' } },
            spec: { containers: [{ name: 'web', image: 'busybox:1.36' }] },
          },
        },
      },
    });
    expect(dep.metadata?.uid).toBeDefined();
    expect(dep.metadata?.creationTimestamp).toBeInstanceOf(Date);
    const list = await core.listNamespacedConfigMap({
      namespace: 'default',
      labelSelector: 'via=client-node',
    });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['from-client-node']);
    const nss = await core.listNamespace();
    expect(nss.items.map((n) => n.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system']),
    );
    const scale = await apps.readNamespacedDeploymentScale({ name: 'cn-web', namespace: 'default' });
    expect(scale.spec?.replicas).toBe(2);
  });

  it('patches with merge, JSON and strategic merge patches', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.patchNamespacedConfigMap(
      { name: 'from-client-node', namespace: 'default', body: { data: { added: 'yes' } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await core.patchNamespacedConfigMap(
      {
        name: 'from-client-node',
        namespace: 'default',
        body: [{ op: 'replace', path: '/data/k', value: 'v2' }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const patched = await apps.patchNamespacedDeployment(
      {
        name: 'cn-web',
        namespace: 'default',
        body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'busybox:1.37' }] } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
    expect(patched.spec?.template.spec?.containers.map((c) => c.image)).toEqual(['busybox:1.37']);
    expect(patched.metadata?.generation).toBe(2);
    const cm = await core.readNamespacedConfigMap({ name: 'from-client-node', namespace: 'default' });
    expect(cm.data).toEqual({ k: 'v2', added: 'yes' });
  });

  it('reports API errors with their HTTP code', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await expect(
      core.readNamespacedConfigMap({ name: 'absent', namespace: 'default' }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('watches and keeps an informer cache in sync', async () => {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { labelSelector: 'watched=yes' },
      (type: string, obj: k8s.V1ConfigMap) => seen.push(`${type} ${obj.metadata?.name ?? ''}`),
      () => undefined,
    );
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const added: string[] = [];
    informer.on('add', (obj: k8s.V1ConfigMap) => added.push(obj.metadata?.name ?? ''));
    await informer.start();
    try {
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'w1', labels: { watched: 'yes' } } },
      });
      await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
      await eventually(() => expect(seen).toEqual(['ADDED w1', 'DELETED w1']));
      await eventually(() => expect(added).toEqual(expect.arrayContaining(['from-client-node', 'w1'])));
      expect(informer.list().map((o) => o.metadata?.name)).not.toContain('w1');
    } finally {
      req.abort();
      await informer.stop();
    }
  });

  it('KubernetesObjectApi resolves kinds through discovery', async () => {
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    const created = await objects.create({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'cn-web', namespace: 'default' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cn-web' },
        minReplicas: 1,
        maxReplicas: 4,
      },
    } as k8s.KubernetesObject);
    expect(created.metadata?.uid).toBeDefined();
    const read = await objects.read({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'cn-web', namespace: 'default' },
    });
    expect((read as k8s.V2HorizontalPodAutoscaler).spec?.maxReplicas).toBe(4);
  });
});
