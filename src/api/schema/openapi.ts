// OpenAPI v3 renderings of the schemas, with the Kubernetes extensions clients read:
// x-kubernetes-patch-merge-key / -patch-strategy (kubectl apply computes strategic merge patches
// from them), list types, int-or-string, preserve-unknown-fields and group-version-kind.

import { splitApiVersion } from '../resources.js';
import type { Schema } from './dsl.js';
import { kindSchemas } from './index.js';

export type OpenApiSchema = Record<string, unknown>;

export function toOpenApiSchema(s: Schema): OpenApiSchema {
  const out: OpenApiSchema = {};
  if (s.description !== undefined) out['description'] = s.description;
  switch (s.type) {
    case 'object':
      out['type'] = 'object';
      out['properties'] = Object.fromEntries(
        Object.entries(s.properties).map(([k, v]) => [k, toOpenApiSchema(v)]),
      );
      if (s.required !== undefined && s.required.length > 0) out['required'] = [...s.required];
      break;
    case 'string':
      out['type'] = 'string';
      if (s.format !== undefined) out['format'] = s.format;
      break;
    case 'integer':
      out['type'] = 'integer';
      out['format'] = s.format ?? 'int32';
      break;
    case 'number':
      out['type'] = 'number';
      out['format'] = 'double';
      break;
    case 'boolean':
      out['type'] = 'boolean';
      break;
    case 'int-or-string':
      out['x-kubernetes-int-or-string'] = true;
      out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
      break;
    case 'quantity':
      out['x-kubernetes-int-or-string'] = true;
      out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
      out['pattern'] =
        '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
      break;
    case 'map':
      out['type'] = 'object';
      out['additionalProperties'] = toOpenApiSchema(s.values);
      break;
    case 'array':
      out['type'] = 'array';
      out['items'] = toOpenApiSchema(s.items);
      if (s.listType !== undefined) out['x-kubernetes-list-type'] = s.listType;
      if (s.listMapKeys !== undefined) out['x-kubernetes-list-map-keys'] = [...s.listMapKeys];
      break;
    case 'enum':
      out['type'] = 'string';
      out['enum'] = [...s.values];
      break;
    case 'date-time':
      out['type'] = 'string';
      out['format'] = 'date-time';
      break;
    case 'any':
      out['x-kubernetes-preserve-unknown-fields'] = true;
      break;
  }
  if (s.mergeKey !== undefined) out['x-kubernetes-patch-merge-key'] = s.mergeKey;
  if (s.patchStrategy !== undefined) out['x-kubernetes-patch-strategy'] = s.patchStrategy;
  return out;
}

/** Upstream's definition name: `io.k8s.api.apps.v1.Deployment`, `io.k8s.api.core.v1.Pod`. */
export function definitionName(apiVersion: string, kind: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  const pkg = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '').replace(/\./g, '_');
  return `io.k8s.api.${pkg}.${version}.${kind}`;
}

/**
 * An OpenAPI v3 document for one group-version (what `/openapi/v3/api/v1` or
 * `/openapi/v3/apis/apps/v1` serves), with components only; the apiserver adds paths.
 */
export function openApiDocument(apiVersion: string): OpenApiSchema {
  const { group, version } = splitApiVersion(apiVersion);
  const schemas: Record<string, OpenApiSchema> = {};
  for (const [key, schema] of Object.entries(kindSchemas)) {
    const slash = key.lastIndexOf('/');
    const av = key.slice(0, slash);
    const kind = key.slice(slash + 1);
    if (av !== apiVersion) continue;
    schemas[definitionName(av, kind)] = {
      ...toOpenApiSchema(schema),
      'x-kubernetes-group-version-kind': [{ group, version, kind }],
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Flotilla', version: apiVersion },
    paths: {},
    components: { schemas },
  };
}
