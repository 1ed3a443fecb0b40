// Generated server-side apply requests: never a 5xx, a refused apply stores nothing, and applying what was
// just applied again changes nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

const name = fc.constantFrom('a', 'b');
const manager = fc.constantFrom('m1', 'm2', 'kubectl');
const smallString = fc.oneof(fc.constantFrom('x', 'y', ''), fc.string({ maxLength: 6 }));
const labels = fc.option(fc.dictionary(fc.constantFrom('app', 'tier', 'x/y'), smallString, { maxKeys: 3 }), {
  nil: undefined,
});

const container = fc.record(
  {
    name: fc.oneof(fc.constantFrom('web', 'side'), fc.anything({ maxDepth: 1 })),
    image: fc.constantFrom('busybox:1', 'busybox:2'),
    env: fc.array(
      fc.record({ name: fc.constantFrom('A', 'B', 'C'), value: smallString }, { requiredKeys: ['name'] }),
      {
        maxLength: 3,
      },
    ),
    ports: fc.array(
      fc.record(
        { containerPort: fc.constantFrom(80, 443, 0), protocol: fc.constantFrom('TCP', 'UDP') },
        { requiredKeys: [] },
      ),
      { maxLength: 2 },
    ),
    args: fc.array(smallString, { maxLength: 2 }),
  },
  { requiredKeys: ['image'] },
);

const deployment = fc.record({
  apiVersion: fc.constantFrom('apps/v1', 'apps/v1', 'v1'),
  kind: fc.constant('Deployment'),
  metadata: fc.record(
    { labels, finalizers: fc.array(fc.constantFrom('a.io/x', 'b.io/y'), { maxLength: 2 }) },
    {
      requiredKeys: [],
    },
  ),
  spec: fc.record(
    {
      replicas: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant('3' as unknown as number)),
      paused: fc.boolean(),
      selector: fc.constant({ matchLabels: { app: 'w' } }),
      template: fc.record({
        metadata: fc.constant({ labels: { app: 'w' } }),
        spec: fc.record({ containers: fc.array(container, { maxLength: 3 }) }, { requiredKeys: [] }),
      }),
    },
    { requiredKeys: [] },
  ),
  status: fc.option(fc.record({ replicas: fc.nat(3) }), { nil: undefined }),
});

const configMap = fc.record({
  apiVersion: fc.constant('v1'),
  kind: fc.constantFrom('ConfigMap', 'ConfigMap', 'Secret'),
  metadata: fc.record({ labels, annotations: labels }, { requiredKeys: [] }),
  data: fc.oneof(
    fc.dictionary(fc.constantFrom('k1', 'k2', 'k3'), smallString, { maxKeys: 3 }),
    fc.anything({ maxDepth: 1 }),
  ),
});

const request = fc.oneof(
  fc.record({
    path: fc.constant('/apis/apps/v1/namespaces/default/deployments'),
    body: deployment,
    name,
    manager,
    force: fc.boolean(),
  }),
  fc.record({
    path: fc.constant('/api/v1/namespaces/default/configmaps'),
    body: configMap,
    name,
    manager,
    force: fc.boolean(),
  }),
);

describe('server-side apply under generated input', () => {
  it('answers 1,500 generated applies without a 5xx; refusals store nothing; re-applies are no-ops', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const body = { ...r.body, metadata: { ...r.body.metadata, name: r.name } };
        const url = `${r.path}/${r.name}?fieldManager=${r.manager}${r.force ? '&force=true' : ''}`;
        const before = await s.store.currentRevision();
        const res = await s.request('PATCH', url, body, 'application/apply-patch+yaml');
        expect(
          res.status,
          `${url} ${JSON.stringify(body)} → ${JSON.stringify(res.body).slice(0, 400)}`,
        ).toBeLessThan(500);
        if (res.status >= 400) {
          expect(res.body).toMatchObject({ kind: 'Status', code: res.status });
          expect(await s.store.currentRevision()).toBe(before);
          return;
        }
        accepted++;
        const again = await s.request('PATCH', url, body, 'application/apply-patch+yaml');
        expect(again.status).toBe(200);
        expect(again.body.metadata.resourceVersion).toBe(res.body.metadata.resourceVersion);
      }),
      { numRuns: 1_500, seed: Number(process.env.FUZZ_SEED ?? 20261126) },
    );
    expect(accepted).toBeGreaterThan(100);
  }, 300_000);
});
