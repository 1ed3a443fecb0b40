// Acceptance for the node agent with real parts: an image only in a local registry, runc + conmon,
// CNI bridge networking, overlayfs layers, restarts with back-off, probes, OOM and CPU limits.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { cgroupRoots, startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
let cluster: NodeCluster;
let registry: TestRegistry;
let image = '';
let layoutDir = '';

beforeAll(async () => {
  registry = await startRegistry();
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'tools/busybox:1');
  image = `${registry.host}/tools/busybox:1`;
  cluster = await startNodeCluster();
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

function pod(
  name: string,
  containers: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', annotations },
    spec: { nodeName: cluster.nodeName, containers, terminationGracePeriodSeconds: 2, ...extra },
  };
}

async function getPod(name: string): Promise<any> {
  return cluster.client.get(podRef, 'default', name);
}

async function waitRunning(name: string, timeoutMs = 90_000): Promise<any> {
  return eventually(async () => {
    const p = await getPod(name);
    if (p.status?.phase !== 'Running' || p.status?.podIP === undefined)
      throw new Error(
        `pod ${name} is ${p.status?.phase}: ${JSON.stringify(p.status?.containerStatuses ?? p.status)}`,
      );
    return p;
  }, timeoutMs);
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: res.statusCode, body: await res.body.text() };
}

async function deletePod(name: string): Promise<void> {
  if (process.env.FLOTILLA_AGENT_DEBUG === '1')
    process.stderr.write(`${new Date().toISOString()} test: delete ${name}\n`);
  await cluster.client.delete(podRef, 'default', name);
  await eventually(async () => {
    try {
      await getPod(name);
    } catch (err) {
      if ((err as { reason?: string }).reason === 'NotFound') {
        if (process.env.FLOTILLA_AGENT_DEBUG === '1')
          process.stderr.write(`${new Date().toISOString()} test: ${name} gone\n`);
        return;
      }
      throw err;
    }
    throw new Error(`pod ${name} still exists`);
  }, 60_000);
}

function containerId(p: any, index = 0): string {
  return String(p.status.containerStatuses[index].containerID).replace(/^[a-z]+:\/\//, '');
}

const webCommand = [
  'sh',
  '-c',
  // What the process saw the moment it started: /etc/hosts with the pod IP and eth0 up (the agent creates the
  // container while the CNI plugins run, and starts it only once both are in place).
  'cp /etc/hosts /hosts.txt; ip -4 addr show dev eth0 > /addr.txt 2>&1; ' +
    'echo "hello from $HOSTNAME" > /index.html; echo from-$HOSTNAME > /tmp/own.txt; exec httpd -f -p 8080 -h /',
];

describe('pods on a real node', () => {
  it('runs a pod whose image lives only in the local registry and serves HTTP at the pod IP', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('web-a', [{ name: 'web', image, command: webCommand }]),
    );
    await cluster.client.create(
      podRef,
      'default',
      pod('web-b', [{ name: 'web', image, command: webCommand }]),
    );
    const a = await waitRunning('web-a');
    const b = await waitRunning('web-b');
    expect(a.status.podIP).not.toBe(b.status.podIP);
    expect(a.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect(a.status.containerStatuses[0]).toMatchObject({ name: 'web', ready: true, restartCount: 0, image });
    expect(a.status.containerStatuses[0].imageID).toMatch(/sha256:[0-9a-f]{64}/);

    const res = await eventually(() => httpGet(`http://${a.status.podIP}:8080/index.html`), 20_000);
    expect(res).toEqual({ status: 200, body: 'hello from web-a\n' });

    // Each container has its own writable layer: A's file is not in B, and vice versa.
    expect((await httpGet(`http://${a.status.podIP}:8080/tmp/own.txt`)).body).toBe('from-web-a\n');
    expect((await httpGet(`http://${b.status.podIP}:8080/tmp/own.txt`)).body).toBe('from-web-b\n');
    expect((await httpGet(`http://${a.status.podIP}:8080/hosts.txt`)).body).toContain(
      `${a.status.podIP}\tweb-a\n`,
    );
    expect((await httpGet(`http://${a.status.podIP}:8080/addr.txt`)).body).toContain(
      `inet ${a.status.podIP}/`,
    );

    // Both share the image's read-only layers: the same lower dirs in their overlay mounts.
    const overlays = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(cluster.dataDir) && l.includes(' overlay '));
    const lowerOf = (id: string): string => {
      const line = overlays.find((l) => l.includes(id));
      expect(line, `overlay mount of ${id}`).toBeDefined();
      return /lowerdir=([^,]+)/.exec(line ?? '')?.[1] ?? '';
    };
    const lowerA = lowerOf(containerId(a));
    expect(lowerA).not.toBe('');
    expect(lowerOf(containerId(b))).toBe(lowerA);

    // Per-container stats from cgroups reach the control plane (the kubelet Summary API shape).
    const summary: any = await eventually(
      async () => {
        const doc: any = await cluster.client.request(
          'GET',
          `/api/v1/nodes/${cluster.nodeName}/proxy/stats/summary`,
        );
        if (!doc.pods?.some((p: any) => p.podRef.name === 'web-a'))
          throw new Error('web-a not in the summary yet');
        return doc;
      },
      30_000,
      500,
    );
    const webA = summary.pods.find((p: any) => p.podRef.name === 'web-a');
    expect(webA.containers[0].name).toBe('web');
    expect(webA.containers[0].memory.workingSetBytes).toBeGreaterThan(0);
    expect(webA.containers[0].cpu.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(summary.node.memory.workingSetBytes).toBeGreaterThan(0);

    await deletePod('web-a');
    await deletePod('web-b');
    // The writable layers went with the containers.
    const dir = join(cluster.dataDir, 'agent', 'containers');
    const left = readdirSync(dir)
      .filter((d) => d.includes(containerId(a)) || d.includes(containerId(b)))
      .map((d) => `${d}: ${readdirSync(join(dir, d)).join(' ')}`);
    expect(left).toEqual([]);
  });

  it('restarts a failing container with growing back-off and shows CrashLoopBackOff', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod(
        'crash',
        [{ name: 'c', image, command: ['sh', '-c', 'echo bye; exit 1'] }],
        {},
        {
          'flotilla.dev/restart-backoff-initial': '1s',
          'flotilla.dev/restart-backoff-max': '8s',
        },
      ),
    );
    const seen = new Set<string>();
    const restarts: { count: number; at: number }[] = [];
    await eventually(
      async () => {
        const p = await getPod('crash');
        const cs = p.status?.containerStatuses?.[0];
        if (cs?.state?.waiting?.reason !== undefined) seen.add(cs.state.waiting.reason);
        const count = cs?.restartCount ?? 0;
        if (restarts.length === 0 || restarts[restarts.length - 1]!.count !== count)
          restarts.push({ count, at: Date.now() });
        if (count < 4) throw new Error(`restartCount ${count}`);
        expect(cs.lastState.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
      },
      90_000,
      200,
    );
    expect(seen.has('CrashLoopBackOff')).toBe(true);
    // Gaps between restarts grow (1 s, 2 s, 4 s, ...), allowing for polling and start-up time.
    const gaps = restarts.slice(1).map((r, i) => r.at - restarts[i]!.at);
    expect(gaps[gaps.length - 1]!).toBeGreaterThan(gaps[1]!);
    const events = await cluster.client.list({ apiVersion: 'v1', kind: 'Event' }, 'default', {
      fieldSelector: 'involvedObject.name=crash',
    });
    expect(events.items.map((e: any) => e.reason)).toEqual(
      expect.arrayContaining(['Pulled', 'Created', 'Started', 'BackOff']),
    );
    await deletePod('crash');
  });

  it('restarts a container whose liveness probe fails and flips Ready on readiness without restarting', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod(
        'probed',
        [
          {
            name: 'live',
            image,
            command: ['httpd', '-f', '-p', '8080', '-h', '/'],
            livenessProbe: {
              httpGet: { path: '/no-such-file', port: 8080 },
              periodSeconds: 1,
              failureThreshold: 2,
            },
          },
          {
            name: 'ready',
            image,
            command: ['sh', '-c', 'touch /tmp/ready; (sleep 8; rm /tmp/ready) & exec sleep 3600'],
            readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
          },
        ],
        {},
        { 'flotilla.dev/restart-backoff-initial': '1s' },
      ),
    );
    let wasReady = false;
    await eventually(
      async () => {
        const p = await getPod('probed');
        const ready = p.status?.containerStatuses?.find((c: any) => c.name === 'ready');
        if (ready?.ready === true) wasReady = true;
        if (!wasReady || ready?.ready !== false) throw new Error('waiting for ready → not ready');
        expect(ready.restartCount).toBe(0);
        expect(p.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('False');
      },
      60_000,
      250,
    );
    await eventually(async () => {
      const p = await getPod('probed');
      const live = p.status.containerStatuses.find((c: any) => c.name === 'live');
      if (live.restartCount < 1) throw new Error('liveness has not restarted the container yet');
    }, 60_000);
    const events = await cluster.client.list({ apiVersion: 'v1', kind: 'Event' }, 'default', {
      fieldSelector: 'involvedObject.name=probed',
    });
    expect(
      events.items.some((e: any) => e.reason === 'Unhealthy' && /Liveness probe failed/.test(e.message)),
    ).toBe(true);
    await deletePod('probed');
  });

  it('reports a memory hog over its limit as OOMKilled', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod(
        'hog',
        [
          {
            name: 'hog',
            image,
            command: ['sh', '-c', 'x=0123456789; while true; do x=$x$x; done'],
            resources: { limits: { memory: '32Mi' } },
          },
        ],
        { restartPolicy: 'Never' },
      ),
    );
    const p = await eventually(async () => {
      const got = await getPod('hog');
      const t = got.status?.containerStatuses?.[0]?.state?.terminated;
      if (t === undefined) throw new Error('still running');
      return got;
    }, 60_000);
    expect(p.status.containerStatuses[0].state.terminated).toMatchObject({
      reason: 'OOMKilled',
      exitCode: 137,
    });
    expect(p.status.phase).toBe('Failed');
    await deletePod('hog');
  });

  it('holds a busy loop near its CPU limit (cgroup accounting)', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('spin', [
        {
          name: 'spin',
          image,
          command: ['sh', '-c', 'while :; do :; done'],
          resources: { limits: { cpu: '500m' } },
        },
      ]),
    );
    const p = await waitRunning('spin');
    const id = containerId(p);
    const usageFile = findCgroupFile(id, ['cpuacct.usage', 'cpu.stat']);
    const read = (): number => {
      const text = readFileSync(usageFile, 'utf8');
      if (usageFile.endsWith('cpuacct.usage')) return Number(text.trim());
      return Number(/usage_usec (\d+)/.exec(text)?.[1] ?? 0) * 1000;
    };
    await new Promise((r) => setTimeout(r, 1000));
    const u0 = read();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 3000));
    const used = read() - u0;
    const elapsed = Number(process.hrtime.bigint() - t0);
    const millicores = Math.round((1000 * used) / elapsed);
    expect(millicores).toBeGreaterThanOrEqual(400);
    expect(millicores).toBeLessThanOrEqual(560);
    await deletePod('spin');
  });

  it('leaves nothing behind once every pod is deleted', async () => {
    await eventually(async () => {
      const left = cluster.leftovers();
      if (left.length > 0) throw new Error(left.join('\n'));
    }, 30_000);
  });
});

function findCgroupFile(containerId: string, names: string[]): string {
  const roots = cgroupRoots().filter(
    (r) => /cpuacct|unified|^\/sys\/fs\/cgroup$/.test(r) || r.includes('cpu,'),
  );
  for (const root of roots) {
    const dir = join(root, cluster.cgroupRoot);
    const found = walk(dir, containerId);
    if (found === undefined) continue;
    for (const n of names) {
      try {
        readFileSync(join(found, n));
        return join(found, n);
      } catch {
        // not in this hierarchy
      }
    }
  }
  throw new Error(`no cgroup for ${containerId} under ${cluster.cgroupRoot}`);
}

function walk(dir: string, name: string, depth = 0): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (e === name) return join(dir, e);
    if (depth < 3) {
      const f = walk(join(dir, e), name, depth + 1);
      if (f !== undefined) return f;
    }
  }
  return undefined;
}
