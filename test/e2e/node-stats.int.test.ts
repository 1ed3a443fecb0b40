// Node and container stats end to end: API server (HTTPS, tokens) → GET nodes/{name}/proxy/stats/summary →
// node proxy → AgentServer (client certificate) → StatsCollector over a stub ContainerRuntime whose cgroup
// figures the test scripts (the host figures are this machine's real /proc).
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentServer } from '../../src/agent/server/index.js';
import { StatsCollector, type Summary } from '../../src/agent/server/stats.js';
import type { ContainerRuntime, ContainerStats, ContainerStatus } from '../../src/agent/runtime/types.js';
import { freePort } from '../../src/testkit/process.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { callerFor, type Caller } from '../../src/testkit/http.js';
import { Kubectl } from '../../src/testkit/kubectl.js';

const suffix = Math.random().toString(36).slice(2, 8);
const viewerToken = `viewer-${suffix}-${Math.random().toString(36).slice(2)}`;
const nodeName = `stats-${suffix}`;
const bareNode = `bare-${suffix}`;
const deadNode = `dead-${suffix}`;
const t0 = Date.UTC(2026, 10, 26, 12, 0, 0);

/** Containers the test lists, with cgroup figures per container id that the test sets. */
class StubRuntime implements Partial<ContainerRuntime> {
  containers: ContainerStatus[] = [];
  figures = new Map<string, Omit<ContainerStats, 'id'>>();
  statsAsked: string[] = [];
  async listContainers(): Promise<ContainerStatus[]> {
    return this.containers.map((c) => ({ ...c }));
  }
  async stats(id: string): Promise<ContainerStats | undefined> {
    this.statsAsked.push(id);
    const f = this.figures.get(id);
    return f === undefined ? undefined : { id, ...f };
  }
}

function container(pod: string, name: string, state: ContainerStatus['state']): ContainerStatus {
  return {
    id: `${pod}-${name}-0-${suffix}`,
    labels: {
      podUid: `uid-${pod}-${suffix}`,
      podName: pod,
      podNamespace: 'default',
      containerName: name,
      attempt: 0,
      kind: 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox',
    imageId: 'sha256:0',
    state,
    createdAt: new Date(t0 - 60_000),
    startedAt: new Date(t0 - 50_000),
    ...(state === 'exited' ? { finishedAt: new Date(t0 - 1000), exitCode: 0 } : {}),
    logPath: '/dev/null',
  };
}

const mib = 2 ** 20;
let cluster: TestCluster;
let dataDir: string;
let admin: Caller;
let viewer: Caller;
let runtime: StubRuntime;
let collector: StatsCollector;
let agent: AgentServer;
let bareAgent: AgentServer;
let agentPort: number;

async function registerNode(name: string, port: number): Promise<void> {
  const node = await admin.call('POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
  });
  expect(node.status, JSON.stringify(node.body)).toBe(201);
  const st = await admin.call(
    'PATCH',
    `/api/v1/nodes/${name}/status`,
    {
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
      },
    },
    'application/merge-patch+json',
  );
  expect(st.status, JSON.stringify(st.body)).toBe(200);
}

const web = { app: container('web', 'app', 'running'), side: container('web', 'side', 'running') };
const db = container('db', 'main', 'running');
const done = container('done', 'job', 'exited');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), `flotilla-node-stats-${suffix}-`));
  writeFileSync(
    join(dataDir, 'tokens.csv'),
    `admin-${suffix}-${Math.random().toString(36).slice(2)},admin,admin,"system:masters"\n` +
      `${viewerToken},viewer,viewer,"flotilla:viewers"\n`,
    { mode: 0o600 },
  );
  cluster = await startTestCluster({ store: 'sqlite', dataDir });
  admin = callerFor(cluster);
  viewer = callerFor({ ...cluster, adminToken: viewerToken });

  runtime = new StubRuntime();
  runtime.containers.push(web.app, web.side, db, done);
  const figures = (ms: number, app: number, side: number, dbCpu: number): void => {
    const at = new Date(t0 + ms);
    runtime.figures.set(web.app.id, {
      cpuUsageNanos: app,
      memoryWorkingSetBytes: 20 * mib,
      memoryUsageBytes: 30 * mib,
      timestamp: at,
    });
    runtime.figures.set(web.side.id, {
      cpuUsageNanos: side,
      memoryWorkingSetBytes: 5 * mib,
      memoryUsageBytes: 6 * mib,
      timestamp: at,
    });
    runtime.figures.set(db.id, {
      cpuUsageNanos: dbCpu,
      memoryWorkingSetBytes: 100 * mib,
      memoryUsageBytes: 120 * mib,
      timestamp: at,
    });
    runtime.figures.set(done.id, {
      cpuUsageNanos: 9e9,
      memoryWorkingSetBytes: mib,
      memoryUsageBytes: mib,
      timestamp: at,
    });
  };
  figures(0, 2e9, 1e9, 0);
  // The timer is the agent's; the test takes the samples itself so the window is exact.
  collector = new StatsCollector({
    runtime,
    nodeName,
    intervalMs: 3_600_000,
  });
  agent = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    caPem: cluster.caPem ?? '',
    runtime: runtime as unknown as ContainerRuntime,
    stats: collector,
  });
  agentPort = await agent.start();
  await collector.sampleNow(); // after the sample the server's start took: both at t0
  // 10 s later: app used 2.5 s of CPU (0.25 core), side 1 s (0.1 core), db 20 s (2 cores).
  figures(10_000, 4.5e9, 2e9, 20e9);
  await collector.sampleNow();

  // An agent without a collector, and a node whose agent is not listening.
  bareAgent = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    caPem: cluster.caPem ?? '',
    runtime: runtime as unknown as ContainerRuntime,
  });
  await registerNode(nodeName, agentPort);
  await registerNode(bareNode, await bareAgent.start());
  await registerNode(deadNode, await freePort());
});

afterAll(async () => {
  await agent?.close();
  await bareAgent?.close();
  await admin?.close();
  await viewer?.close();
  await cluster?.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const summaryPath = (node: string): string => `/api/v1/nodes/${node}/proxy/stats/summary`;

function checkSummary(s: Summary): void {
  const at10 = new Date(t0 + 10_000).toISOString();
  // The node: this machine's /proc.
  expect(s.node.nodeName).toBe(nodeName);
  expect(s.node.memory.workingSetBytes).toBeGreaterThan(0);
  expect(s.node.memory.availableBytes).toBeGreaterThan(0);
  expect(s.node.memory.workingSetBytes + s.node.memory.availableBytes).toBeGreaterThanOrEqual(
    s.node.memory.usageBytes,
  );
  expect(s.node.cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
  expect(Date.parse(s.node.startTime)).toBeLessThan(Date.now());
  // Pods: running containers only (the exited job's pod is absent), sorted by namespace and name.
  expect(s.pods.map((p) => p.podRef)).toEqual([
    { name: 'db', namespace: 'default', uid: `uid-db-${suffix}` },
    { name: 'web', namespace: 'default', uid: `uid-web-${suffix}` },
  ]);
  const w = s.pods[1];
  expect(w?.startTime).toBe(new Date(t0 - 50_000).toISOString());
  expect(w?.cpu).toEqual({ time: at10, usageNanoCores: 350_000_000, usageCoreNanoSeconds: 6.5e9 });
  expect(w?.memory).toEqual({ time: at10, workingSetBytes: 25 * mib, usageBytes: 36 * mib });
  expect(w?.containers).toEqual([
    {
      name: 'app',
      startTime: new Date(t0 - 50_000).toISOString(),
      cpu: { time: at10, usageNanoCores: 250_000_000, usageCoreNanoSeconds: 4.5e9 },
      memory: { time: at10, workingSetBytes: 20 * mib, usageBytes: 30 * mib },
    },
    {
      name: 'side',
      startTime: new Date(t0 - 50_000).toISOString(),
      cpu: { time: at10, usageNanoCores: 100_000_000, usageCoreNanoSeconds: 2e9 },
      memory: { time: at10, workingSetBytes: 5 * mib, usageBytes: 6 * mib },
    },
  ]);
  expect(s.pods[0]?.cpu.usageNanoCores).toBe(2_000_000_000);
}

describe('GET /api/v1/nodes/{name}/proxy/stats/summary', () => {
  it('returns the agent’s Summary document with rates over the last sampling window', async () => {
    const r = await admin.call('GET', summaryPath(nodeName));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(String(r.headers['content-type'])).toContain('application/json');
    checkSummary(r.body as Summary);
    // The exited container was never asked for figures.
    expect(runtime.statsAsked).not.toContain(done.id);
  });

  it('works with kubectl 1.35 get --raw, for the admin and for a viewer', async () => {
    const k = new Kubectl('1.35', cluster.kubeconfig);
    checkSummary(JSON.parse(await k.ok(['get', '--raw', summaryPath(nodeName)])) as Summary);
    checkSummary(
      JSON.parse(await k.ok([`--token=${viewerToken}`, 'get', '--raw', summaryPath(nodeName)])) as Summary,
    );
    const unknown = await k.run(['get', '--raw', summaryPath(`nope-${suffix}`)]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('NotFound');
  });

  it('lets a viewer read it (get nodes/proxy) but not write through it', async () => {
    const r = await viewer.call('GET', summaryPath(nodeName));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    checkSummary(r.body as Summary);
    const w = await viewer.call('POST', summaryPath(nodeName), {});
    expect(w.status).toBe(403);
    expect(w.body.message).toContain('cannot create resource "nodes/proxy"');
    const a = await admin.call('POST', summaryPath(nodeName), {});
    expect(a.status).toBe(405);
  });

  it('404 for an unknown node, and for agent paths the proxy does not forward', async () => {
    const r = await admin.call('GET', summaryPath(`nope-${suffix}`));
    expect(r.status).toBe(404);
    expect(r.body.message).toBe(`nodes "nope-${suffix}" not found`);
    const logs = await admin.call('GET', `/api/v1/nodes/${nodeName}/proxy/containerLogs/default/web/app`);
    expect(logs.status).toBe(404);
    expect(logs.body.message).toContain('the node proxy serves only /stats/summary');
    const healthz = await admin.call('GET', `/api/v1/nodes/${nodeName}/proxy/healthz`);
    expect(healthz.status).toBe(200);
    expect(healthz.body).toBe('ok');
  });

  it('503 naming the node when its agent is unreachable or has no stats collector', async () => {
    const dead = await admin.call('GET', summaryPath(deadNode));
    expect(dead.status).toBe(503);
    expect(dead.body.message).toContain(`error dialing backend: node "${deadNode}"`);
    const bare = await admin.call('GET', summaryPath(bareNode));
    expect(bare.status).toBe(503);
    expect(bare.body.message).toBe(
      `node "${bareNode}" cannot serve /stats/summary: this agent was started without a stats collector, so it has no stats to serve`,
    );
  });

  it('the agent itself answers only the API server’s client certificate', async () => {
    const res = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const r = httpsRequest(
        { host: '127.0.0.1', port: agentPort, path: '/stats/summary', rejectUnauthorized: false },
        (m) => {
          let body = '';
          m.on('data', (d: Buffer) => (body += d.toString()));
          m.on('end', () => resolve({ code: m.statusCode ?? 0, body }));
        },
      );
      r.once('error', reject);
      r.end();
    });
    expect(res.code).toBe(401);
    expect(res.body).toContain('requires a client certificate');
  });
});
