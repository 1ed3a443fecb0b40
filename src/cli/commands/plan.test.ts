// `flotilla plan`: the pure planner over snapshots, and the command against a real control plane whose
// scheduler then places the same manifest (the plan must match what the scheduler does).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { defaultProfile } from '../../scheduler/core.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { eventually } from '../../testkit/eventually.js';
import { memoryIO } from '../io.js';
import { run } from '../main.js';
import { formatPlanTable, objectId, planPods, type PlanInput, type PlanResult } from './plan.js';

function node(name: string, cpu: string, labels: Record<string, string> = {}): KubeObject {
  const allocatable = { cpu, memory: '8Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `node-${name}`, labels: { 'kubernetes.io/hostname': name, ...labels } },
    spec: {},
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function podSpec(cpu: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu } } }], ...extra };
}

function pod(name: string, cpu: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: podSpec(cpu, extra),
  };
}

function livePod(name: string, nodeName: string, cpu: string, owner?: string, priority = 0): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      ...(owner === undefined
        ? {}
        : {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: owner, controller: true },
            ],
          }),
    },
    spec: podSpec(cpu, { nodeName, priority }),
    status: { phase: 'Running' },
  };
}

function deployment(name: string, replicas: number, cpu: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec(cpu) },
    },
  };
}

function plan(input: Partial<PlanInput>): PlanResult {
  return planPods({
    nodes: [],
    pods: [],
    replicaSets: [],
    objects: [],
    existing: new Map(),
    profile: defaultProfile,
    random: () => 0,
    ...input,
  });
}

const placements = (p: PlanResult): [string, string | null][] => p.pods.map((x) => [x.name, x.nodeName]);

describe('planPods', () => {
  it('expands replicas into pods from the template and fills nodes pod after pod', () => {
    const p = plan({ nodes: [node('a', '2'), node('b', '1')], objects: [deployment('web', 4, '1')] });
    expect(p.pods.map((x) => x.name)).toEqual(['web-1', 'web-2', 'web-3', 'web-4']);
    expect(p.pods.every((x) => x.owner.kind === 'Deployment' && x.owner.name === 'web')).toBe(true);
    const nodes = p.pods.map((x) => x.nodeName);
    expect(nodes.filter((n) => n === 'a')).toHaveLength(2);
    expect(nodes.filter((n) => n === 'b')).toHaveLength(1);
    expect(nodes.filter((n) => n === null)).toHaveLength(1);
    const pending = p.pods.find((x) => x.nodeName === null);
    expect(pending?.message).toContain('0/2 nodes are available: 2 Insufficient cpu.');
    expect(pending?.reasons).toEqual({ 'Insufficient cpu': 2 });
    expect(p.summary).toEqual({ pods: 4, scheduled: 3, pending: 1, skipped: 0 });
  });

  it('counts running pods, and leaves out the pods of an object the manifest replaces', () => {
    const nodes = [node('a', '2')];
    const running = [livePod('web-old-1', 'a', '1', 'rs-uid'), livePod('web-old-2', 'a', '1', 'rs-uid')];
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-abc',
        namespace: 'default',
        uid: 'rs-uid',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'deploy-uid' }],
      },
    };
    const web = deployment('web', 2, '1');
    const fresh = plan({ nodes, pods: running, replicaSets: [rs], objects: [web] });
    expect(placements(fresh)).toEqual([
      ['web-1', null],
      ['web-2', null],
    ]);
    const existing = new Map([[objectId(web), { ...web, metadata: { ...web.metadata, uid: 'deploy-uid' } }]]);
    const replacing = plan({ nodes, pods: running, replicaSets: [rs], objects: [web], existing });
    expect(placements(replacing)).toEqual([
      ['web-1', 'a'],
      ['web-2', 'a'],
    ]);
    expect(replacing.replaced.map((r) => r.name)).toEqual(['web-old-1', 'web-old-2']);
  });

  it('preempts lower-priority pods when that is the only way, and lists the victims', () => {
    const classes: KubeObject[] = [
      { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'high' }, value: 1000 },
    ];
    const p = plan({
      nodes: [node('a', '2')],
      pods: [livePod('batch', 'a', '2')],
      objects: [pod('urgent', '1', { priorityClassName: 'high' })],
      priorityClasses: classes,
    });
    expect(placements(p)).toEqual([['urgent', 'a']]);
    expect(p.pods[0]?.preempts).toEqual([{ namespace: 'default', name: 'batch' }]);
    expect(p.preemptions).toEqual([
      { namespace: 'default', name: 'batch', nodeName: 'a', preemptor: 'default/urgent' },
    ]);
    expect(formatPlanTable(p)).toContain('Would preempt:');
  });

  it('reports a pod whose PriorityClass does not exist', () => {
    const p = plan({ nodes: [node('a', '2')], objects: [pod('x', '1', { priorityClassName: 'nope' })] });
    expect(p.pods[0]).toMatchObject({ nodeName: null, message: 'no PriorityClass with name nope was found' });
  });

  it('lands pinned pods where they are pinned and skips pods for other schedulers', () => {
    const p = plan({
      nodes: [node('a', '2'), node('b', '2')],
      objects: [
        pod('pinned', '2', { nodeName: 'b' }),
        pod('theirs', '1', { schedulerName: 'gpu-scheduler' }),
        pod('big', '2'),
      ],
    });
    expect(placements(p)).toEqual([
      ['pinned', 'b'],
      ['theirs', null],
      ['big', 'a'],
    ]);
    expect(p.pods[1]?.note).toBe('skipped');
    expect(p.summary).toEqual({ pods: 3, scheduled: 2, pending: 0, skipped: 1 });
  });

  it('prints a table with the reason for pods that do not fit', () => {
    const p = plan({ nodes: [node('a', '1')], objects: [pod('fits', '1'), pod('waits', '1')] });
    const text = formatPlanTable(p);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^POD\s+NODE\s+REASON$/);
    expect(lines[1]).toMatch(/^fits\s+a$/);
    expect(lines[2]).toMatch(/^waits\s+-\s+0\/1 nodes are available: 1 Insufficient cpu\./);
    expect(text).toContain('1 of 2 pods fit; 1 would stay Pending.');
  });
});

describe('flotilla plan against a cluster', () => {
  let cluster: TestCluster;
  let client: ApiClient;
  let dir: string;
  let manifest: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'memory' });
    client = new ApiClient({
      server: cluster.url,
      ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
      token: cluster.adminToken,
    });
    for (const n of [node('alpha', '4', { disk: 'ssd' }), node('beta', '2', { disk: 'hdd' })]) {
      const { uid: _uid, ...metadata } = n.metadata;
      const created = await client.create({ apiVersion: 'v1', kind: 'Node' }, undefined, { ...n, metadata });
      await client.updateStatus({ apiVersion: 'v1', kind: 'Node' }, undefined, {
        ...created,
        status: n.status,
      });
    }
    dir = mkdtempSync(join(tmpdir(), 'flotilla-plan-'));
    manifest = join(dir, 'app.yaml');
    // Placement here is decided by capacity alone (no ties for the scheduler to break at random).
    writeFileSync(
      manifest,
      `apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  nodeSelector: {disk: ssd}
  containers: [{name: db, image: postgres, resources: {requests: {cpu: "3"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: cache}
spec:
  containers: [{name: cache, image: redis, resources: {requests: {cpu: "2"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: extra}
spec:
  containers: [{name: extra, image: redis, resources: {requests: {cpu: "2"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: tiny}
spec:
  containers: [{name: tiny, image: busybox, resources: {requests: {cpu: 500m}}}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  ports: [{port: 5432}]
`,
    );
  });

  afterAll(async () => {
    await client.close();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function flotilla(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = memoryIO();
    const code = await run([...args, '--kubeconfig', cluster.kubeconfig], io);
    return { code, out: io.out(), err: io.err() };
  }

  it('prints the plan, exits 2 when a pod would wait, and creates nothing', async () => {
    const { code, out } = await flotilla(['plan', '-f', manifest]);
    expect(code).toBe(2);
    expect(out).toMatch(/^db\s+alpha\s*$/m);
    expect(out).toMatch(/^cache\s+beta\s*$/m);
    expect(out).toMatch(/^extra\s+-\s+0\/2 nodes are available: 2 Insufficient cpu\./m);
    expect(out).toMatch(/^tiny\s+alpha\s*$/m);
    expect(out).toContain('3 of 4 pods fit; 1 would stay Pending.');
    expect((await client.list({ apiVersion: 'v1', kind: 'Pod' }, 'default')).items).toHaveLength(0);
  });

  it('matches what the scheduler then does with the same manifest', async () => {
    const { code, out } = await flotilla(['plan', '-f', manifest, '-o', 'json']);
    expect(code).toBe(2);
    const planned = JSON.parse(out) as PlanResult & { kind: string };
    expect(planned.kind).toBe('SchedulingPlan');

    const applied = await flotilla(['apply', '-f', manifest]);
    expect(applied.code).toBe(0);
    const actual = await eventually(async () => {
      const pods = (await client.list({ apiVersion: 'v1', kind: 'Pod' }, 'default')).items;
      const result = new Map<string, string | null>();
      for (const p of pods) {
        const nodeName = (p.spec as { nodeName?: string }).nodeName;
        const cond = (
          (p.status as { conditions?: { type: string; status: string; message?: string }[] }).conditions ?? []
        ).find((c) => c.type === 'PodScheduled');
        expect(nodeName !== undefined || cond?.status === 'False').toBe(true);
        result.set(p.metadata.name ?? '', nodeName ?? null);
      }
      expect(result.size).toBe(4);
      return result;
    }, 20_000);
    for (const p of planned.pods) expect([p.name, actual.get(p.name)]).toEqual([p.name, p.nodeName]);
    // The pending pod carries the same explanation the plan printed.
    const extra = await client.get({ apiVersion: 'v1', kind: 'Pod' }, 'default', 'extra');
    const cond = (extra.status as { conditions: { type: string; message: string }[] }).conditions.find(
      (c) => c.type === 'PodScheduled',
    );
    expect(cond?.message).toBe(planned.pods.find((p) => p.name === 'extra')?.message);
  });

  it('rejects a bad output format and a bad scoring strategy with a usage error', async () => {
    const bad = await flotilla(['plan', '-f', manifest, '-o', 'wide']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('allowed formats are: table,json,yaml');
    const scoring = await flotilla(['plan', '-f', manifest, '--scheduler-scoring', 'Fast']);
    expect(scoring.code).toBe(2);
    expect(scoring.err).toContain('--scheduler-scoring: unknown scoring strategy "Fast"');
    const help = await flotilla(['plan', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Exit status: 0 when every pod fits, 2 when some would stay Pending');
  });
});
