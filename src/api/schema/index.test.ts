import { describe, expect, it } from 'vitest';
import { apiVersionOf, resources } from '../resources.js';
import { applyPatch } from '../patch/index.js';
import { childSchema, type Schema } from './dsl.js';
import { kindSchemas, schemaFor } from './index.js';

function at(schema: Schema | undefined, path: string): Schema | undefined {
  let s = schema;
  for (const part of path.split('.')) {
    if (part === '[]') s = s?.type === 'array' ? s.items : undefined;
    else s = childSchema(s, part);
  }
  return s;
}

describe('schemaFor', () => {
  it('has a schema for every resource the API serves', () => {
    for (const r of resources)
      expect(schemaFor(apiVersionOf(r), r.kind), `${r.group}/${r.kind}`).toBeDefined();
    expect(schemaFor('autoscaling/v1', 'Scale')).toBeDefined();
    expect(schemaFor('v1', 'Status')).toBeDefined();
    // Bodies of pods/binding and pods/eviction.
    expect(schemaFor('v1', 'Binding')?.required).toEqual(['target']);
    expect(schemaFor('policy/v1', 'Eviction')?.properties['deleteOptions']?.type).toBe('object');
    expect(schemaFor('v1', 'Deployment')).toBeUndefined();
    expect(Object.keys(kindSchemas)).toHaveLength(19);
  });

  it.each([
    ['v1/Pod', 'spec.containers', 'name', 'merge'],
    ['v1/Pod', 'spec.initContainers', 'name', 'merge'],
    ['v1/Pod', 'spec.containers.[].ports', 'containerPort', 'merge'],
    ['v1/Pod', 'spec.containers.[].env', 'name', 'merge'],
    ['v1/Pod', 'spec.containers.[].volumeMounts', 'mountPath', 'merge'],
    ['v1/Pod', 'spec.volumes', 'name', 'merge,retainKeys'],
    ['v1/Pod', 'spec.imagePullSecrets', 'name', 'merge'],
    ['v1/Pod', 'status.conditions', 'type', 'merge'],
    ['v1/Pod', 'status.podIPs', 'ip', 'merge'],
    ['v1/Pod', 'metadata.ownerReferences', 'uid', 'merge'],
    ['v1/Pod', 'metadata.finalizers', undefined, 'merge'],
    ['v1/Pod', 'spec.tolerations', undefined, undefined],
    ['v1/Pod', 'spec.containers.[].args', undefined, undefined],
    ['v1/Service', 'spec.ports', 'port', 'merge'],
    ['v1/Node', 'status.conditions', 'type', 'merge'],
    ['v1/Node', 'status.addresses', 'type', 'merge'],
    ['v1/Node', 'spec.taints', undefined, undefined],
    ['apps/v1/Deployment', 'spec.template.spec.containers', 'name', 'merge'],
    ['apps/v1/Deployment', 'spec.strategy', undefined, 'retainKeys'],
    ['apps/v1/Deployment', 'status.conditions', 'type', 'merge'],
    ['autoscaling/v2/HorizontalPodAutoscaler', 'spec.metrics', undefined, undefined],
  ])('%s %s: mergeKey %s, patchStrategy %s', (k, path, mergeKey, strategy) => {
    const s = at(kindSchemas[k], path);
    expect(s).toBeDefined();
    expect(s?.mergeKey).toBe(mergeKey);
    expect(s?.patchStrategy).toBe(strategy);
  });

  it.each([
    ['v1/Pod', 'spec.containers.[].ports.[].containerPort', 'integer'],
    ['v1/Pod', 'spec.containers.[].resources.limits.cpu', 'quantity'],
    ['v1/Pod', 'spec.containers.[].livenessProbe.httpGet.port', 'int-or-string'],
    ['v1/Pod', 'spec.containers.[].env.[].valueFrom.secretKeyRef.key', 'string'],
    [
      'v1/Pod',
      'spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.[].podAffinityTerm.topologyKey',
      'string',
    ],
    [
      'v1/Pod',
      'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.[].matchExpressions.[].operator',
      'enum',
    ],
    ['v1/Pod', 'status.containerStatuses.[].state.terminated.exitCode', 'integer'],
    ['v1/Pod', 'metadata.managedFields.[]', 'any'],
    ['v1/Service', 'spec.ports.[].targetPort', 'int-or-string'],
    ['v1/Secret', 'data.anykey', 'string'],
    ['v1/Event', 'involvedObject.fieldPath', 'string'],
    ['v1/Event', 'series.lastObservedTime', 'date-time'],
    ['v1/Node', 'status.daemonEndpoints.kubeletEndpoint.Port', 'integer'],
    ['apps/v1/Deployment', 'spec.strategy.rollingUpdate.maxSurge', 'int-or-string'],
    [
      'autoscaling/v2/HorizontalPodAutoscaler',
      'spec.metrics.[].resource.target.averageUtilization',
      'integer',
    ],
    [
      'autoscaling/v2/HorizontalPodAutoscaler',
      'spec.behavior.scaleDown.policies.[].periodSeconds',
      'integer',
    ],
    ['discovery.k8s.io/v1/EndpointSlice', 'endpoints.[].conditions.serving', 'boolean'],
    ['coordination.k8s.io/v1/Lease', 'spec.renewTime', 'date-time'],
  ])('%s %s is %s', (k, path, type) => {
    expect(at(kindSchemas[k], path)?.type).toBe(type);
  });

  it('drives strategic merge for a kubectl-apply style Deployment patch', () => {
    const live = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', finalizers: ['x'] },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'web',
                image: 'nginx:1',
                env: [{ name: 'A', value: '1' }],
                ports: [{ containerPort: 80 }],
              },
              { name: 'log', image: 'fluent' },
            ],
            volumes: [{ name: 'cache', emptyDir: {} }],
          },
        },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      },
    };
    const patch = {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'web',
                image: 'nginx:2',
                '$setElementOrder/env': [{ name: 'A' }, { name: 'B' }],
                env: [{ name: 'B', value: '2' }],
              },
            ],
            volumes: [{ name: 'cache', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/c' } }],
          },
        },
        strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null },
      },
    };
    const out = applyPatch(
      'application/strategic-merge-patch+json',
      live,
      patch,
      schemaFor('apps/v1', 'Deployment'),
    ) as typeof live;
    expect(out.spec.template.spec.containers).toEqual([
      {
        name: 'web',
        image: 'nginx:2',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        ports: [{ containerPort: 80 }],
      },
      { name: 'log', image: 'fluent' },
    ]);
    expect(out.spec.template.spec.volumes).toEqual([{ name: 'cache', hostPath: { path: '/c' } }]);
    expect(out.spec.strategy).toEqual({ type: 'Recreate' });
  });
});
