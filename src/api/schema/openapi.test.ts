import { describe, expect, it } from 'vitest';
import {
  definitionName,
  intOrStringName,
  openApiDocument,
  quantityName,
  toOpenApiSchema,
  type OpenApiSchema,
} from './openapi.js';
import { deployment } from './apps.js';

type Node = Record<string, unknown> & {
  properties?: Record<string, Node>;
  items?: Node;
  allOf?: Node[];
  $ref?: string;
  additionalProperties?: Node;
};

/** Follow `allOf[0]` and `$ref` as kubectl's PatchMetaFromOpenAPIV3 does. */
function resolve(n: Node, schemas: Record<string, Node>): Node {
  let cur = n;
  if (cur.allOf !== undefined && cur.allOf.length > 0) cur = cur.allOf[0]!;
  if (cur.$ref !== undefined) {
    const target = schemas[cur.$ref.replace('#/components/schemas/', '')];
    if (target === undefined) throw new Error(`unresolved ${cur.$ref}`);
    cur = target;
  }
  return cur;
}

/** Walk a field path, resolving references at each step; returns the property schema and the resolved one. */
function walk(root: Node, schemas: Record<string, Node>, ...path: string[]): { prop: Node; resolved: Node } {
  let resolved = root;
  let prop = root;
  for (const key of path) {
    const next = resolved.properties?.[key];
    if (next === undefined) throw new Error(`no field ${key}`);
    prop = next;
    resolved = resolve(next, schemas);
    if (resolved.type === 'array' && resolved.items !== undefined)
      resolved = resolve(resolved.items, schemas);
  }
  return { prop, resolved };
}

function appsDoc(): Record<string, Node> {
  return (openApiDocument('apps/v1') as { components: { schemas: Record<string, Node> } }).components.schemas;
}

describe('openApiDocument', () => {
  it('renders kinds with GVK and merge extensions kubectl reads', () => {
    const schemas = appsDoc();
    const d = schemas['io.k8s.api.apps.v1.Deployment']!;
    expect(d['x-kubernetes-group-version-kind']).toEqual([
      { group: 'apps', version: 'v1', kind: 'Deployment' },
    ]);
    const containers = walk(d, schemas, 'spec', 'template', 'spec', 'containers');
    expect(containers.prop).toMatchObject({
      type: 'array',
      'x-kubernetes-patch-merge-key': 'name',
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-list-type': 'map',
    });
    expect(containers.resolved).toBe(schemas['io.k8s.api.core.v1.Container']);
    const env = walk(d, schemas, 'spec', 'template', 'spec', 'containers', 'env');
    expect(env.prop['x-kubernetes-patch-merge-key']).toBe('name');
    const ports = walk(d, schemas, 'spec', 'template', 'spec', 'containers', 'ports');
    expect(ports.prop['x-kubernetes-patch-merge-key']).toBe('containerPort');
    const volumes = walk(d, schemas, 'spec', 'template', 'spec', 'volumes');
    expect(volumes.prop['x-kubernetes-patch-strategy']).toBe('merge,retainKeys');

    // The strategy property carries retainKeys beside its reference; the component does not.
    const strategy = walk(d, schemas, 'spec', 'strategy');
    expect(strategy.prop).toEqual({
      allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy' }],
      'x-kubernetes-patch-strategy': 'retainKeys',
    });
    expect(strategy.resolved['x-kubernetes-patch-strategy']).toBeUndefined();
    expect(Object.keys(strategy.resolved.properties!)).toEqual(['type', 'rollingUpdate']);
    expect(walk(d, schemas, 'spec', 'strategy', 'rollingUpdate', 'maxSurge').prop).toEqual({
      $ref: `#/components/schemas/${intOrStringName}`,
    });
    expect(schemas[intOrStringName]).toMatchObject({ 'x-kubernetes-int-or-string': true });
    expect(
      walk(d, schemas, 'spec', 'template', 'spec', 'containers', 'resources', 'limits').resolved,
    ).toMatchObject({
      type: 'object',
      additionalProperties: { $ref: `#/components/schemas/${quantityName}` },
    });
    expect(walk(d, schemas, 'metadata', 'managedFields').resolved).toEqual({
      'x-kubernetes-preserve-unknown-fields': true,
    });
    expect(walk(d, schemas, 'spec', 'template', 'spec', 'restartPolicy').prop).toEqual({
      type: 'string',
      enum: ['Always', 'OnFailure', 'Never'],
    });
    expect(walk(d, schemas, 'metadata', 'finalizers').prop).toMatchObject({
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-list-type': 'set',
    });
  });

  it('names the spec and status of each kind and shares common shapes', () => {
    const schemas = appsDoc();
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining([
        'io.k8s.api.apps.v1.Deployment',
        'io.k8s.api.apps.v1.DeploymentSpec',
        'io.k8s.api.apps.v1.DeploymentStatus',
        'io.k8s.api.apps.v1.ReplicaSet',
        'io.k8s.api.apps.v1.ReplicaSetSpec',
        'io.k8s.api.core.v1.PodTemplateSpec',
        'io.k8s.api.core.v1.PodSpec',
        'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
        'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
      ]),
    );
    // Only the kinds carry a group-version-kind.
    const tagged = Object.entries(schemas)
      .filter(([, s]) => s['x-kubernetes-group-version-kind'] !== undefined)
      .map(([n]) => n)
      .sort();
    expect(tagged).toEqual(['io.k8s.api.apps.v1.Deployment', 'io.k8s.api.apps.v1.ReplicaSet']);
    // Every reference resolves.
    const refs = JSON.stringify(schemas).match(/#\/components\/schemas\/[^"]+/g) ?? [];
    for (const r of refs) expect(schemas[r.replace('#/components/schemas/', '')]).toBeDefined();
  });

  it('adds kinds of other group-versions on request (Scale for the scale subresource)', () => {
    const schemas = (
      openApiDocument('apps/v1', ['autoscaling/v1/Scale']) as {
        components: { schemas: Record<string, OpenApiSchema> };
      }
    ).components.schemas;
    expect(schemas['io.k8s.api.autoscaling.v1.Scale']!['x-kubernetes-group-version-kind']).toEqual([
      { group: 'autoscaling', version: 'v1', kind: 'Scale' },
    ]);
  });

  it('renders a schema in place without components', () => {
    const inline = toOpenApiSchema(deployment) as Node;
    expect(JSON.stringify(inline)).not.toContain('$ref');
    expect(inline.properties!['spec']!.properties!['strategy']!['x-kubernetes-patch-strategy']).toBe(
      'retainKeys',
    );
  });

  it('names definitions as upstream does', () => {
    expect(definitionName('v1', 'Pod')).toBe('io.k8s.api.core.v1.Pod');
    expect(definitionName('v1', 'Status')).toBe('io.k8s.apimachinery.pkg.apis.meta.v1.Status');
    expect(definitionName('discovery.k8s.io/v1', 'EndpointSlice')).toBe(
      'io.k8s.api.discovery.v1.EndpointSlice',
    );
    expect(definitionName('autoscaling/v2', 'HorizontalPodAutoscaler')).toBe(
      'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
    );
    expect(
      Object.keys((openApiDocument('v1') as { components: { schemas: object } }).components.schemas),
    ).toContain('io.k8s.api.core.v1.Service');
  });
});
