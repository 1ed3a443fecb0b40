import { describe, expect, it } from 'vitest';
import { definitionName, openApiDocument } from './openapi.js';

type Node = Record<string, unknown> & { properties?: Record<string, Node>; items?: Node };

describe('openApiDocument', () => {
  it('renders kinds with GVK and merge extensions kubectl reads', () => {
    const doc = openApiDocument('apps/v1') as { components: { schemas: Record<string, Node> } };
    expect(Object.keys(doc.components.schemas).sort()).toEqual([
      'io.k8s.api.apps.v1.Deployment',
      'io.k8s.api.apps.v1.ReplicaSet',
    ]);
    const d = doc.components.schemas['io.k8s.api.apps.v1.Deployment']!;
    expect(d['x-kubernetes-group-version-kind']).toEqual([
      { group: 'apps', version: 'v1', kind: 'Deployment' },
    ]);
    const podSpec = d.properties!['spec']!.properties!['template']!.properties!['spec']!;
    expect(podSpec.properties!['containers']).toMatchObject({
      type: 'array',
      'x-kubernetes-patch-merge-key': 'name',
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-list-type': 'map',
    });
    expect(d.properties!['spec']!.properties!['strategy']!['x-kubernetes-patch-strategy']).toBe('retainKeys');
    expect(
      d.properties!['spec']!.properties!['strategy']!.properties!['rollingUpdate']!.properties!['maxSurge'],
    ).toMatchObject({
      'x-kubernetes-int-or-string': true,
    });
    expect(d.properties!['metadata']!.properties!['managedFields']!.items).toEqual({
      'x-kubernetes-preserve-unknown-fields': true,
    });
    expect(podSpec.properties!['restartPolicy']).toEqual({
      type: 'string',
      enum: ['Always', 'OnFailure', 'Never'],
    });
  });

  it('names definitions as upstream does', () => {
    expect(definitionName('v1', 'Pod')).toBe('io.k8s.api.core.v1.Pod');
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
