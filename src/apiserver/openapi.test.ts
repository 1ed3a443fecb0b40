import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiVersionOf, resources } from '../api/resources.js';
import { definitionName } from '../api/schema/openapi.js';
import { startTestServer, type TestServer } from '../testkit/api-server.js';
import { buildGroupVersionDocument, groupVersionPath, openApiV3 } from './openapi.js';

type Doc = {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any> };
};

const patchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

function docFor(group: string, version: string): Doc {
  return buildGroupVersionDocument(group, version) as unknown as Doc;
}

/** What kubectl's query-param verifier and patcher look for: the PATCH op of a GVK. */
function patchOpOf(doc: Doc, gvk: { group: string; version: string; kind: string }): any {
  for (const item of Object.values(doc.paths)) {
    const op = item['patch'];
    if (op === undefined) continue;
    if (JSON.stringify(op['x-kubernetes-group-version-kind']) === JSON.stringify(gvk)) return op;
  }
  return undefined;
}

describe('OpenAPI v3 documents', () => {
  it('have, for every writable kind, a PATCH op kubectl accepts for --validate and apply', () => {
    for (const r of resources) {
      const doc = docFor(r.group, r.version);
      const gvk = { group: r.group, version: r.version, kind: r.kind };
      const op = patchOpOf(doc, gvk);
      if (!r.verbs.includes('patch')) {
        expect(op, `${r.kind} PATCH`).toBeUndefined();
        continue;
      }
      expect(op, `${r.kind} PATCH`).toBeDefined();
      const params = (op.parameters as { name: string; in: string }[]).filter((p) => p.in === 'query');
      expect(params.map((p) => p.name)).toEqual(
        expect.arrayContaining(['fieldValidation', 'dryRun', 'fieldManager', 'force']),
      );
      expect(Object.keys(op.requestBody.content)).toEqual(patchTypes);
      // The kind's schema is tagged with the same GVK (kubectl explain and the patcher find it so).
      const tagged = Object.values(doc.components.schemas).filter((s) =>
        (s['x-kubernetes-group-version-kind'] ?? []).some(
          (g: object) => JSON.stringify(g) === JSON.stringify(gvk),
        ),
      );
      expect(tagged, `${r.kind} schema`).toHaveLength(1);
    }
  });

  it('describe collection, item, all-namespaces and subresource paths with their verbs', () => {
    const doc = docFor('apps', 'v1');
    const base = '/apis/apps/v1/namespaces/{namespace}/deployments';
    expect(Object.keys(doc.paths[base]!).sort()).toEqual(['delete', 'get', 'parameters', 'post']);
    expect(Object.keys(doc.paths[`${base}/{name}`]!).sort()).toEqual([
      'delete',
      'get',
      'parameters',
      'patch',
      'put',
    ]);
    expect(doc.paths['/apis/apps/v1/deployments']!['get']['operationId']).toBe(
      'listAppsV1DeploymentForAllNamespaces',
    );
    expect(doc.paths[`${base}/{name}`]!['patch']['operationId']).toBe('patchAppsV1NamespacedDeployment');
    const scale = doc.paths[`${base}/{name}/scale`]!;
    expect(scale['patch']['x-kubernetes-group-version-kind']).toEqual({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
    expect(scale['get']['responses']['200']['content']['application/json']['schema']).toEqual({
      $ref: '#/components/schemas/io.k8s.api.autoscaling.v1.Scale',
    });
    expect(doc.paths[`${base}/{name}/status`]!['put']['x-kubernetes-group-version-kind']).toEqual({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
    });
    const post = doc.paths[base]!['post'];
    expect(post['x-kubernetes-action']).toBe('post');
    expect(post['parameters'].map((p: { name: string }) => p.name)).toEqual([
      'dryRun',
      'fieldManager',
      'fieldValidation',
    ]);
    expect(post['requestBody']['content']['*/*']['schema']['$ref']).toBe(
      '#/components/schemas/io.k8s.api.apps.v1.Deployment',
    );
    const list = doc.paths[base]!['get'];
    expect(list['parameters'].map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining([
        'labelSelector',
        'fieldSelector',
        'limit',
        'continue',
        'watch',
        'sendInitialEvents',
      ]),
    );
    expect(
      doc.components.schemas['io.k8s.api.apps.v1.DeploymentList']['x-kubernetes-group-version-kind'],
    ).toEqual([{ group: 'apps', version: 'v1', kind: 'DeploymentList' }]);
    // Cluster-scoped kinds have no namespace segment; namespaces have finalize.
    const core = docFor('', 'v1');
    expect(core.paths['/api/v1/nodes/{name}/status']).toBeDefined();
    expect(core.paths['/api/v1/namespaces/{name}/finalize']!['put']).toBeDefined();
    expect(core.paths['/api/v1/namespaces/{namespace}/nodes']).toBeUndefined();
    // pods/binding is POST only, its body a v1 Binding.
    const bind = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/binding']!;
    expect(Object.keys(bind).sort()).toEqual(['parameters', 'post']);
    expect(bind['post']['operationId']).toBe('createCoreV1NamespacedPodBinding');
    expect(bind['post']['x-kubernetes-group-version-kind']).toEqual({
      group: '',
      version: 'v1',
      kind: 'Binding',
    });
    expect(bind['post']['requestBody']['content']['*/*']['schema']['$ref']).toBe(
      '#/components/schemas/io.k8s.api.core.v1.Binding',
    );
    const evict = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction']!['post'];
    expect(evict['operationId']).toBe('createCoreV1NamespacedPodEviction');
    expect(evict['x-kubernetes-group-version-kind']).toEqual({
      group: 'policy',
      version: 'v1',
      kind: 'Eviction',
    });
    expect(
      core.components.schemas['io.k8s.api.policy.v1.Eviction']['properties']['deleteOptions'],
    ).toBeDefined();
  });

  it('give read-only servicecidrs only the get, list and watch operations', () => {
    const doc = docFor('networking.k8s.io', 'v1');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/apis/networking.k8s.io/v1/servicecidrs',
      '/apis/networking.k8s.io/v1/servicecidrs/{name}',
    ]);
    const list = doc.paths['/apis/networking.k8s.io/v1/servicecidrs']!;
    expect(Object.keys(list).sort()).toEqual(['get', 'parameters']);
    expect(list['get']['operationId']).toBe('listNetworkingV1ServiceCIDR');
    const item = doc.paths['/apis/networking.k8s.io/v1/servicecidrs/{name}']!;
    expect(Object.keys(item).sort()).toEqual(['get', 'parameters']);
    expect(item['get']['operationId']).toBe('readNetworkingV1ServiceCIDR');
    const schema = doc.components.schemas['io.k8s.api.networking.v1.ServiceCIDR'];
    expect(schema['x-kubernetes-group-version-kind']).toEqual([
      { group: 'networking.k8s.io', version: 'v1', kind: 'ServiceCIDR' },
    ]);
    expect(schema['description']).toContain('--service-cluster-ip-range');
  });

  it('resolve every reference inside the document', () => {
    for (const r of resources) {
      const doc = docFor(r.group, r.version);
      const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[^"]+/g) ?? [];
      for (const ref of refs) {
        expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
      }
      expect(doc.components.schemas[definitionName(apiVersionOf(r), r.kind)]).toBeDefined();
    }
  });

  it('are indexed by group-version with hashed URLs', () => {
    const { index, docs } = openApiV3();
    const paths = (JSON.parse(index.body) as { paths: Record<string, { serverRelativeURL: string }> }).paths;
    expect(Object.keys(paths).sort()).toEqual([
      'api/v1',
      'apis/apps/v1',
      'apis/autoscaling/v2',
      'apis/coordination.k8s.io/v1',
      'apis/discovery.k8s.io/v1',
      'apis/networking.k8s.io/v1',
      'apis/scheduling.k8s.io/v1',
    ]);
    expect(paths['apis/apps/v1']!.serverRelativeURL).toBe(
      `/openapi/v3/apis/apps/v1?hash=${docs.get('apis/apps/v1')!.etag}`,
    );
    expect(docs.get('apis/apps/v1')!.etag).toMatch(/^[0-9A-F]{128}$/);
    expect(groupVersionPath('', 'v1')).toBe('api/v1');
  });
});

describe('OpenAPI v3 over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('serves the index and documents with ETags, immutable when hashed, 304 on a match', async () => {
    const index = await fetch(`${s.url}/openapi/v3`, { headers: { Accept: 'application/json' } });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('application/json');
    expect(index.headers.get('etag')).toMatch(/^"[0-9A-F]+"$/);
    const url = ((await index.json()) as any).paths['apis/apps/v1'].serverRelativeURL as string;
    const doc = await fetch(`${s.url}${url}`, { headers: { Accept: 'application/json' } });
    expect(doc.status).toBe(200);
    expect(doc.headers.get('cache-control')).toBe('public, immutable');
    const body = (await doc.json()) as Doc;
    expect(body.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}']).toBeDefined();
    const etag = doc.headers.get('etag')!;
    const again = await fetch(`${s.url}/openapi/v3/apis/apps/v1`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('cache-control')).toBe('no-cache, private');
  });

  it('redirects a stale hash, 404s an unknown group-version, 406s protobuf-only clients', async () => {
    const stale = await fetch(`${s.url}/openapi/v3/api/v1?hash=ABC`, { redirect: 'manual' });
    expect(stale.status).toBe(301);
    expect(stale.headers.get('location')).toMatch(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/);
    expect((await fetch(`${s.url}/openapi/v3/apis/batch/v1`)).status).toBe(404);
    const pb = await fetch(`${s.url}/openapi/v3/api/v1`, {
      headers: { Accept: 'application/com.github.proto-openapi.spec.v3@v1.0+protobuf' },
    });
    expect(pb.status).toBe(406);
  });
});
