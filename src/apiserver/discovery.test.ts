import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources } from '../api/resources.js';
import { startTestServer, type TestServer } from '../testkit/api-server.js';
import { aggregatedDiscoveryDoc, aggregatedVersionOf, apiResourceListDoc } from './discovery.js';

const kubectlAccept =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

describe('aggregated discovery documents', () => {
  it('are chosen by the first producible Accept range', () => {
    expect(aggregatedVersionOf(kubectlAccept)).toBe('v2');
    expect(
      aggregatedVersionOf('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'),
    ).toBe('v2beta1');
    expect(aggregatedVersionOf('application/json, */*')).toBeUndefined();
    expect(aggregatedVersionOf(undefined)).toBeUndefined();
    expect(
      aggregatedVersionOf(
        'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json',
      ),
    ).toBeUndefined();
  });

  it('list every resource with responseKind, scope, verbs, names and subresources', () => {
    const doc = aggregatedDiscoveryDoc(false, 'v2') as any;
    expect(doc.kind).toBe('APIGroupDiscoveryList');
    expect(doc.apiVersion).toBe('apidiscovery.k8s.io/v2');
    expect(doc.items.map((g: any) => g.metadata.name)).toEqual([
      'apps',
      'autoscaling',
      'discovery.k8s.io',
      'coordination.k8s.io',
      'scheduling.k8s.io',
      'networking.k8s.io',
      'metrics.k8s.io',
      'custom.metrics.k8s.io',
    ]);
    // The custom metrics API: per-metric subresources of pods and services, get only.
    const custom = doc.items.find((g: any) => g.metadata.name === 'custom.metrics.k8s.io');
    expect(custom.versions[0].version).toBe('v1beta2');
    expect(
      custom.versions[0].resources.map((r: any) => [
        r.resource,
        r.subresources.map((x: any) => x.subresource),
      ]),
    ).toEqual([
      ['pods', ['requests-per-second', 'connections-per-second']],
      ['services', ['requests-per-second', 'connections-per-second']],
    ]);
    expect((apiResourceListDoc('custom.metrics.k8s.io', 'v1beta2') as any).resources[0]).toEqual({
      name: 'pods/requests-per-second',
      singularName: '',
      namespaced: true,
      kind: 'MetricValueList',
      verbs: ['get'],
    });
    // The metrics API (served from the agents' stats): read-only, not in the `all` category.
    const metrics = doc.items.find((g: any) => g.metadata.name === 'metrics.k8s.io');
    expect(
      metrics.versions[0].resources.map((r: any) => [
        r.resource,
        r.responseKind.kind,
        r.scope,
        r.verbs,
        r.categories,
      ]),
    ).toEqual([
      ['nodes', 'NodeMetrics', 'Cluster', ['get', 'list'], undefined],
      ['pods', 'PodMetrics', 'Namespaced', ['get', 'list'], undefined],
    ]);
    const apps = doc.items[0];
    expect(apps.versions).toHaveLength(1);
    expect(apps.versions[0].freshness).toBe('Current');
    const deploy = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
    expect(deploy).toEqual({
      resource: 'deployments',
      responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      scope: 'Namespaced',
      singularResource: 'deployment',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['deploy'],
      categories: ['all'],
      subresources: [
        {
          subresource: 'status',
          responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          verbs: ['get', 'patch', 'update'],
        },
        {
          subresource: 'scale',
          responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
          verbs: ['get', 'patch', 'update'],
        },
      ],
    });
    const core = aggregatedDiscoveryDoc(true, 'v2beta1') as any;
    expect(core.apiVersion).toBe('apidiscovery.k8s.io/v2beta1');
    // kubectl logs and exec look for pods/log and pods/exec; kubectl drain for a policy group on pods/eviction.
    const pods = core.items[0].versions[0].resources.find((r: any) => r.resource === 'pods');
    expect(
      pods.subresources.map((x: any) => `${x.subresource}:${x.responseKind.kind}:${x.verbs.join(',')}`),
    ).toEqual([
      'status:Pod:get,patch,update',
      'binding:Binding:create',
      'eviction:Eviction:create',
      'exec:PodExecOptions:create,get',
      'log:Pod:get',
    ]);
    expect(pods.subresources.find((x: any) => x.subresource === 'eviction').responseKind).toEqual({
      group: 'policy',
      version: 'v1',
      kind: 'Eviction',
    });
    // metrics-server and `kubectl get --raw` reach an agent's /stats/summary through nodes/proxy.
    const nodes = core.items[0].versions[0].resources.find((r: any) => r.resource === 'nodes');
    expect(
      nodes.subresources.map((x: any) => `${x.subresource}:${x.responseKind.kind}:${x.verbs.join(',')}`),
    ).toEqual(['status:Node:get,patch,update', 'proxy:NodeProxyOptions:create,delete,get,patch,update']);
    expect(core.items).toHaveLength(1);
    expect(core.items[0].metadata.name).toBeUndefined();
    const coreResources = core.items[0].versions[0].resources;
    expect(coreResources.map((r: any) => r.resource).sort()).toEqual(
      resources
        .filter((r) => r.group === '')
        .map((r) => r.resource)
        .sort(),
    );
    const ns = coreResources.find((r: any) => r.resource === 'namespaces');
    expect(ns.scope).toBe('Cluster');
    expect(ns.subresources.map((s: any) => s.subresource)).toEqual(['status', 'finalize']);
    for (const r of coreResources) expect(r.responseKind.kind).not.toBe('');
  });
});

describe('discovery over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('answers /api and /apis in the aggregated form when asked, saying so in the Content-Type', async () => {
    for (const path of ['/api', '/apis']) {
      const res = await fetch(`${s.url}${path}`, { headers: { Accept: kubectlAccept } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
      );
      expect(res.headers.get('vary')).toBe('Accept');
      expect(((await res.json()) as any).kind).toBe('APIGroupDiscoveryList');
    }
    const beta = await fetch(`${s.url}/apis`, {
      headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList' },
    });
    expect(beta.headers.get('content-type')).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList',
    );
  });

  it('lists networking.k8s.io/v1 servicecidrs, cluster-scoped, with get, list and watch only', async () => {
    const groups = (await (await fetch(`${s.url}/apis`)).json()) as any;
    const networking = {
      kind: 'APIGroup',
      apiVersion: 'v1',
      name: 'networking.k8s.io',
      versions: [{ groupVersion: 'networking.k8s.io/v1', version: 'v1' }],
      preferredVersion: { groupVersion: 'networking.k8s.io/v1', version: 'v1' },
    };
    expect(groups.groups).toContainEqual(networking);
    expect(await (await fetch(`${s.url}/apis/networking.k8s.io`)).json()).toEqual(networking);
    const list = (await (await fetch(`${s.url}/apis/networking.k8s.io/v1`)).json()) as any;
    expect(list.groupVersion).toBe('networking.k8s.io/v1');
    expect(list.resources).toEqual([
      {
        name: 'servicecidrs',
        singularName: 'servicecidr',
        namespaced: false,
        kind: 'ServiceCIDR',
        verbs: ['get', 'list', 'watch'],
        storageVersionHash: '',
      },
    ]);
    const aggregated = (await (
      await fetch(`${s.url}/apis`, { headers: { Accept: kubectlAccept } })
    ).json()) as any;
    const group = aggregated.items.find((g: any) => g.metadata.name === 'networking.k8s.io');
    expect(group.versions.map((v: any) => v.version)).toEqual(['v1']);
    expect(group.versions[0].resources).toEqual([
      {
        resource: 'servicecidrs',
        responseKind: { group: 'networking.k8s.io', version: 'v1', kind: 'ServiceCIDR' },
        scope: 'Cluster',
        singularResource: 'servicecidr',
        verbs: ['get', 'list', 'watch'],
      },
    ]);
  });

  it('keeps the legacy documents for other clients', async () => {
    const api = await fetch(`${s.url}/api`, { headers: { Accept: 'application/json, */*' } });
    expect(api.headers.get('content-type')).toBe('application/json');
    expect(((await api.json()) as any).kind).toBe('APIVersions');
    const apis = await fetch(`${s.url}/apis`);
    expect(((await apis.json()) as any).kind).toBe('APIGroupList');
    const apps = await fetch(`${s.url}/apis/apps/v1`, { headers: { Accept: kubectlAccept } });
    expect(((await apps.json()) as any).kind).toBe('APIResourceList');
    const core = (await (
      await fetch(`${s.url}/api/v1`, { headers: { Accept: kubectlAccept } })
    ).json()) as any;
    const names = core.resources.map((r: any) => r.name);
    expect(names).toEqual(expect.arrayContaining(['pods', 'pods/status', 'pods/log', 'pods/exec']));
  });
});
