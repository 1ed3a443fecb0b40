import { describe, expect, it } from 'vitest';
import { isApiError } from '../errors.js';
import { arrayOf, int32, listMap, listSet, mapOf, object, string, withPatch } from '../schema/dsl.js';
import { applyPatch } from './index.js';
import { applyStrategicMergePatch } from './strategic-merge.js';

// A cut-down Deployment-like schema carrying upstream's merge metadata.
const container = object({
  name: string(),
  image: string(),
  args: arrayOf(string()),
  ports: listMap(object({ containerPort: int32(), name: string(), protocol: string() }), 'containerPort'),
  env: listMap(object({ name: string(), value: string() }), 'name'),
});
const schema = object({
  metadata: object({ labels: mapOf(), finalizers: listSet() }),
  spec: object({
    strategy: withPatch(object({ type: string(), rollingUpdate: object({ maxSurge: string() }) }), {
      patchStrategy: 'retainKeys',
    }),
    containers: listMap(container, 'name'),
    volumes: listMap(
      object({ name: string(), emptyDir: object({}), hostPath: object({ path: string() }) }),
      'name',
      'merge,retainKeys',
    ),
    tolerations: arrayOf(object({ key: string(), effect: string() })),
    free: mapOf(),
  }),
});

const base = {
  metadata: { labels: { app: 'web' }, finalizers: ['a', 'b'] },
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } },
    containers: [
      {
        name: 'web',
        image: 'nginx:1',
        args: ['-x'],
        ports: [{ containerPort: 80, name: 'http' }],
        env: [{ name: 'A', value: '1' }],
      },
      { name: 'side', image: 'busybox' },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
    tolerations: [{ key: 'k1', effect: 'NoSchedule' }],
  },
};

describe('applyStrategicMergePatch', () => {
  it.each([
    [
      'merges containers by name, keeping the others',
      { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } },
      (r: typeof base) => {
        expect(r.spec.containers.map((c) => [c.name, c.image])).toEqual([
          ['web', 'nginx:2'],
          ['side', 'busybox'],
        ]);
        expect(r.spec.containers[0]?.ports).toEqual([{ containerPort: 80, name: 'http' }]);
      },
    ],
    [
      'adds a container with a new key (before the live ones without $setElementOrder, as upstream)',
      { spec: { containers: [{ name: 'log', image: 'fluent' }] } },
      (r: typeof base) => expect(r.spec.containers.map((c) => c.name)).toEqual(['log', 'web', 'side']),
    ],
    [
      'deletes a list element with $patch: delete',
      { spec: { containers: [{ name: 'side', $patch: 'delete' }] } },
      (r: typeof base) => expect(r.spec.containers.map((c) => c.name)).toEqual(['web']),
    ],
    [
      'replaces a whole list with a $patch: replace element',
      { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] } },
      (r: typeof base) => expect(r.spec.containers).toEqual([{ name: 'only', image: 'x' }]),
    ],
    [
      'merges nested lists by their own keys (ports by containerPort, env by name)',
      {
        spec: {
          containers: [
            {
              name: 'web',
              ports: [{ containerPort: 443 }],
              env: [
                { name: 'A', value: '2' },
                { name: 'B', value: '3' },
              ],
            },
          ],
        },
      },
      (r: typeof base) => {
        expect(r.spec.containers[0]?.ports).toEqual([
          { containerPort: 443 },
          { containerPort: 80, name: 'http' },
        ]);
        expect(r.spec.containers[0]?.env).toEqual([
          { name: 'A', value: '2' },
          { name: 'B', value: '3' },
        ]);
      },
    ],
    [
      'replaces lists without a merge strategy (args, tolerations)',
      {
        spec: {
          containers: [{ name: 'web', args: ['-y'] }],
          tolerations: [{ key: 'k2', effect: 'NoExecute' }],
        },
      },
      (r: typeof base) => {
        expect(r.spec.containers[0]?.args).toEqual(['-y']);
        expect(r.spec.tolerations).toEqual([{ key: 'k2', effect: 'NoExecute' }]);
      },
    ],
    [
      'merges primitive lists with merge strategy as sets, $deleteFromPrimitiveList removes',
      { metadata: { finalizers: ['b', 'c'], '$deleteFromPrimitiveList/finalizers': ['a'] } },
      (r: typeof base) => expect(r.metadata.finalizers).toEqual(['b', 'c']),
    ],
    [
      'null deletes map keys',
      { metadata: { labels: { app: null, tier: 'fe' } } },
      (r: typeof base) => expect(r.metadata.labels).toEqual({ tier: 'fe' }),
    ],
    [
      '$patch: replace on a map replaces it',
      { metadata: { labels: { $patch: 'replace', only: 'me' } } },
      (r: typeof base) => expect(r.metadata.labels).toEqual({ only: 'me' }),
    ],
    [
      '$patch: delete on a map empties it',
      { metadata: { labels: { $patch: 'delete' } } },
      (r: typeof base) => expect(r.metadata.labels).toEqual({}),
    ],
    [
      '$retainKeys clears fields not listed (strategy Recreate)',
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      (r: typeof base) => expect(r.spec.strategy).toEqual({ type: 'Recreate' }),
    ],
    [
      '$retainKeys in list items (volumes: merge,retainKeys)',
      { spec: { volumes: [{ name: 'data', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/d' } }] } },
      (r: typeof base) => expect(r.spec.volumes).toEqual([{ name: 'data', hostPath: { path: '/d' } }]),
    ],
    [
      '$setElementOrder orders the merged list',
      {
        spec: {
          '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }],
          containers: [{ name: 'web', image: 'nginx:3' }],
        },
      },
      (r: typeof base) =>
        expect(r.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['side=busybox', 'web=nginx:3']),
    ],
    [
      'fields without a schema merge as JSON merge patch',
      { spec: { free: { a: '1' } }, extra: { x: [1] } },
      (r: typeof base & { extra?: unknown; spec: { free?: unknown } }) => {
        expect(r.spec.free).toEqual({ a: '1' });
        expect(r.extra).toEqual({ x: [1] });
      },
    ],
    [
      'directives inside new values are resolved, not stored',
      {
        spec: {
          newList: [{ a: 1 }],
          containers: [
            {
              name: 'new',
              env: [
                { name: 'X', value: '1' },
                { name: 'Y', $patch: 'delete' },
              ],
              image: 'i',
            },
          ],
        },
      },
      (r: typeof base) =>
        expect(r.spec.containers[0]).toEqual({ name: 'new', env: [{ name: 'X', value: '1' }], image: 'i' }),
    ],
  ])('%s', (_name, patch, check) => {
    const before = JSON.stringify(base);
    const result = applyStrategicMergePatch(base, patch, schema) as typeof base;
    check(result);
    expect(JSON.stringify(base)).toBe(before);
  });

  it.each([
    [
      'a list item without its merge key',
      { spec: { containers: [{ image: 'x' }] } },
      'Invalid',
      'does not contain declared merge key: name',
    ],
    [
      'an unknown $patch directive',
      { metadata: { labels: { $patch: 'frob' } } },
      'BadRequest',
      'unknown patch type: "frob"',
    ],
    [
      'fields outside $retainKeys',
      { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } },
      'Invalid',
      "patch content doesn't match retainKeys list",
    ],
    ['a non-object body', [1], 'BadRequest', 'strategic merge patch must be a JSON object, got array'],
  ])('rejects %s', (_name, patch, reason, message) => {
    try {
      applyStrategicMergePatch(base, patch, schema);
      expect.unreachable();
    } catch (err) {
      expect(isApiError(err) && err.reason).toBe(reason);
      expect((err as Error).message).toContain(message);
    }
  });
});

describe('applyPatch', () => {
  it('dispatches by content type, ignoring parameters and case', () => {
    expect(applyPatch('application/merge-patch+json; charset=utf-8', { a: [1, 2] }, { a: [3] })).toEqual({
      a: [3],
    });
    expect(applyPatch('Application/JSON-Patch+JSON', { a: 1 }, [{ op: 'remove', path: '/a' }])).toEqual({});
    expect(
      applyPatch(
        'application/strategic-merge-patch+json',
        base,
        { spec: { containers: [{ name: 'web', image: 'v9' }] } },
        schema,
      ),
    ).toMatchObject({ spec: { containers: [{ name: 'web', image: 'v9' }, { name: 'side' }] } });
  });

  it.each([
    [
      'application/strategic-merge-patch+json',
      undefined,
      'accepted media types include: application/json-patch+json, application/merge-patch+json (got',
    ],
    [
      'application/apply-patch+yaml',
      schema,
      'application/strategic-merge-patch+json (got "application/apply-patch+yaml")',
    ],
    ['text/plain', schema, 'the body of the request was in an unknown format'],
  ])('415 for %s', (ct, s, message) => {
    try {
      applyPatch(ct, {}, {}, s);
      expect.unreachable();
    } catch (err) {
      expect(isApiError(err) && err.code).toBe(415);
      expect((err as Error).message).toContain(message);
    }
  });
});
