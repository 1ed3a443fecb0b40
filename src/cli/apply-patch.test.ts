import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import {
  applyMergePatch,
  isSubset,
  lastAppliedAnnotation,
  planApply,
  readLastApplied,
  threeWayMergePatch,
  withLastApplied,
  type JsonObject,
} from './apply-patch.js';

function deployment(spec: Record<string, unknown>, extraMeta: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', ...extraMeta },
    spec,
  };
}

const template = (containers: unknown[]): Record<string, unknown> => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers },
});

/** What the server holds after creating `config` with apply: defaults and server fields added. */
function live(config: KubeObject, defaults: (o: KubeObject) => void = () => undefined): KubeObject {
  const obj = withLastApplied(config);
  obj.metadata = {
    ...obj.metadata,
    uid: 'u1',
    resourceVersion: '7',
    generation: 1,
    creationTimestamp: '2024-01-01T00:00:00Z',
  };
  obj.status = { replicas: 2 };
  defaults(obj);
  return obj;
}

const withServerDefaults = (o: KubeObject): void => {
  const spec = o.spec as {
    strategy?: unknown;
    template: { spec: { containers: Record<string, unknown>[] } };
  };
  spec.strategy = { type: 'RollingUpdate' };
  for (const c of spec.template.spec.containers) {
    c['terminationMessagePath'] = '/dev/termination-log';
    c['imagePullPolicy'] = 'IfNotPresent';
  }
};

describe('threeWayMergePatch', () => {
  it('is empty when the configuration has not changed, despite server defaults and status', () => {
    const config = deployment({ replicas: 2, template: template([{ name: 'web', image: 'nginx:1' }]) });
    const plan = planApply(config, live(config, withServerDefaults));
    expect(plan.patch).toEqual({});
    expect(plan.missingAnnotation).toBe(false);
  });

  it('sends changed scalars and the new annotation', () => {
    const v1 = deployment({ replicas: 2, template: template([{ name: 'web', image: 'nginx:1' }]) });
    const v2 = deployment({ replicas: 5, template: template([{ name: 'web', image: 'nginx:1' }]) });
    const { patch } = planApply(v2, live(v1, withServerDefaults));
    expect(patch).toEqual({
      metadata: {
        annotations: {
          [lastAppliedAnnotation]: withLastApplied(v2).metadata.annotations![lastAppliedAnnotation]!,
        },
      },
      spec: { replicas: 5 },
    });
  });

  it('deletes a field removed from the configuration, but not fields nobody configured', () => {
    const v1 = deployment(
      { replicas: 2, paused: true, template: template([{ name: 'web', image: 'nginx:1' }]) },
      { labels: { app: 'web', tier: 'front' } },
    );
    const v2 = deployment(
      { replicas: 2, template: template([{ name: 'web', image: 'nginx:1' }]) },
      { labels: { app: 'web' } },
    );
    const current = live(v1, withServerDefaults);
    const { patch } = planApply(v2, current);
    expect(patch['spec']).toEqual({ paused: null });
    expect((patch['metadata'] as JsonObject)['labels']).toEqual({ tier: null });
    const result = applyMergePatch(current, patch) as KubeObject;
    expect((result.spec as Record<string, unknown>)['paused']).toBeUndefined();
    expect((result.spec as Record<string, unknown>)['strategy']).toEqual({ type: 'RollingUpdate' });
    expect(result.metadata.labels).toEqual({ app: 'web' });
    expect(result.status).toEqual({ replicas: 2 });
    expect(readLastApplied(result)).toEqual({ ...v2, metadata: { ...v2.metadata, annotations: {} } });
  });

  it('replaces a list when an item changed in the configuration, even a removed field inside it', () => {
    const v1 = deployment({
      template: template([{ name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }] }]),
    });
    const v2 = deployment({ template: template([{ name: 'web', image: 'nginx:1' }]) });
    const { patch } = planApply(v2, live(v1, withServerDefaults));
    expect(patch['spec']).toEqual({
      template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } },
    });
  });

  it('restores a list someone else changed on the live object', () => {
    const config = deployment({ template: template([{ name: 'web', image: 'nginx:1' }]) });
    const current = live(config, (o) => {
      (
        o.spec as { template: { spec: { containers: Record<string, unknown>[] } } }
      ).template.spec.containers[0]!['image'] = 'nginx:2';
    });
    expect(planApply(config, current).patch).toEqual({
      spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } } },
    });
  });

  it('without a last-applied annotation: only additions and changes, and it says so', () => {
    const config = deployment({ replicas: 3 });
    const current: KubeObject = { ...deployment({ replicas: 1, paused: true }), status: {} };
    const plan = planApply(config, current);
    expect(plan.missingAnnotation).toBe(true);
    expect(plan.patch['spec']).toEqual({ replicas: 3 });
    expect(Object.keys((plan.patch['metadata'] as JsonObject)['annotations'] as JsonObject)).toEqual([
      lastAppliedAnnotation,
    ]);
  });

  it('treats a null in the configuration as "absent"', () => {
    const original = { metadata: { name: 'x', creationTimestamp: null } } as unknown as JsonObject;
    expect(threeWayMergePatch(original, original, { metadata: { name: 'x' } })).toEqual({});
    expect(threeWayMergePatch(undefined, { spec: { a: null } }, { spec: { a: 1 } })).toEqual({
      spec: { a: null },
    });
  });
});

describe('helpers', () => {
  it('isSubset ignores extra keys in objects but not extra list items', () => {
    expect(isSubset({ a: 1 }, { a: 1, b: 2 })).toBe(true);
    expect(isSubset([{ a: 1 }], [{ a: 1, b: 2 }])).toBe(true);
    expect(isSubset([{ a: 1 }], [{ a: 1 }, { a: 2 }])).toBe(false);
    expect(isSubset({ a: 1 }, { a: 2 })).toBe(false);
  });

  it('the annotation is byte-for-byte what kubectl writes', () => {
    const config: KubeObject = {
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { namespace: 'dev', name: 'cfg' },
      data: { b: '2', a: '1' },
    };
    expect(withLastApplied(config).metadata.annotations![lastAppliedAnnotation]).toBe(
      '{"apiVersion":"v1","data":{"a":"1","b":"2"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"cfg","namespace":"dev"}}\n',
    );
  });

  it('the annotation records the configuration without itself', () => {
    const config = deployment(
      { replicas: 1 },
      { annotations: { [lastAppliedAnnotation]: 'old', note: 'x' } },
    );
    const recorded = JSON.parse(
      withLastApplied(config).metadata.annotations![lastAppliedAnnotation]!,
    ) as KubeObject;
    expect(recorded.metadata.annotations).toEqual({ note: 'x' });
  });
});
