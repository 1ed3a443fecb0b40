// GET /metrics on the agent: the API server's client certificate only, and the way users reach it,
// through the API server's node proxy (kubectl get --raw /api/v1/nodes/<node>/proxy/metrics).
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../machinery/clock.js';
import { agentMetrics, newMetricsRegistry, proxyMetrics } from '../../machinery/prom/index.js';
import { generatePki, issueClientCert, type ServingPki } from '../../apiserver/certs.js';
import { startApiServer, type ApiServer, type RunningApiServer } from '../../apiserver/server.js';
import { MemoryStore } from '../../store/memory-store.js';
import { sampleValue } from '../../testkit/prometheus.js';
import { FakeRuntime } from '../runtime/fake.js';
import { AgentServer } from './index.js';

const adminToken = `admin-${Math.random().toString(36).slice(2)}`;
const nodeName = `metrics-${Math.random().toString(36).slice(2, 8)}`;
let pki: ServingPki;
let agent: AgentServer;
let bare: AgentServer;
let api: RunningApiServer & { api: ApiServer };

function agentGet(
  port: number,
  path: string,
  cert?: { certPem: string; keyPem: string },
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        rejectUnauthorized: false,
        agent: false,
        ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type']),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  pki = await generatePki(['127.0.0.1']);
  const registry = newMetricsRegistry();
  const recorder = agentMetrics(registry);
  recorder.runningPods(() => 4);
  recorder.podStarted(1200);
  recorder.imagePulled('success', 300);
  proxyMetrics(registry).synced('success', 15);
  const runtime = new FakeRuntime(systemClock);
  agent = new AgentServer({ host: '127.0.0.1', port: 0, caPem: pki.caCertPem, runtime, metrics: registry });
  bare = new AgentServer({ host: '127.0.0.1', port: 0, caPem: pki.caCertPem, runtime });
  await agent.start();
  await bare.start();
  api = await startApiServer({
    store: new MemoryStore(),
    listen: '127.0.0.1:0',
    tokens: [{ token: adminToken, name: 'admin', uid: 'admin', groups: ['system:masters'] }],
    agentClient: pki.agentClient,
    log: () => undefined,
  });
  const nodes = api.api.registry({ group: '', version: 'v1', resource: 'nodes' });
  await nodes.create(
    undefined,
    { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } },
    { dryRun: false, fieldValidation: 'Strict' },
  );
  const res = await fetch(`${api.url}/api/v1/nodes/${nodeName}/status`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({
      status: {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: agent.port } },
      },
    }),
  });
  expect(res.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await bare?.close();
  await api?.close();
  await api?.api.store.close();
});

describe('GET /metrics on the agent', () => {
  it("serves the agent's metrics to the API server's client certificate only", async () => {
    expect((await agentGet(agent.port, '/metrics')).status).toBe(401);
    const someone = await issueClientCert(pki.caCertPem, pki.caKeyPem ?? '', 'someone');
    expect((await agentGet(agent.port, '/metrics', someone)).status).toBe(403);
    const res = await agentGet(agent.port, '/metrics', pki.agentClient);
    expect(res.status).toBe(200);
    expect(res.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sampleValue(res.body, 'flotilla_agent_pods_started_total')).toBe(1);
    expect(sampleValue(res.body, 'flotilla_agent_pod_start_duration_seconds_count')).toBe(1);
    expect(sampleValue(res.body, 'flotilla_agent_image_pulls_total', { result: 'success' })).toBe(1);
    expect(
      sampleValue(res.body, 'flotilla_agent_image_pull_duration_seconds_count', { result: 'success' }),
    ).toBe(1);
    expect(sampleValue(res.body, 'flotilla_agent_running_pods')).toBe(4);
    expect(sampleValue(res.body, 'flotilla_proxy_syncs_total', { result: 'success' })).toBe(1);
    expect(sampleValue(res.body, 'flotilla_proxy_sync_duration_seconds_count')).toBe(1);
    expect(res.body).toContain('process_cpu_seconds_total');
  });

  it('answers 503 when the agent was started without a registry', async () => {
    const res = await agentGet(bare.port, '/metrics', pki.agentClient);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).message).toBe('this agent was started without a metrics registry');
  });

  it("reaches users through the API server's node proxy", async () => {
    const res = await fetch(`${api.url}/api/v1/nodes/${nodeName}/proxy/metrics`, {
      headers: { Authorization: `Bearer ${adminToken}` },
    });
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sampleValue(body, 'flotilla_agent_running_pods')).toBe(4);
    expect((await fetch(`${api.url}/api/v1/nodes/${nodeName}/proxy/metrics`)).status).toBe(401);
  });
});
