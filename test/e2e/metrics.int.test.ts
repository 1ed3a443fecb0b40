// Metrics pipeline on a real node: the agent samples a busy-loop container's cgroup every second
// (--metrics-interval 1s), the API server serves metrics.k8s.io/v1beta1 from it, and kubectl 1.35 `top`
// and `flotilla top` print it. A container limited to 500m CPU spinning in a loop must show 450–550m;
// its memory must match the working set the test reads from the container's own cgroup within 10 %.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { Kubectl } from '../../src/testkit/kubectl.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { flotillaBin } from '../../src/testkit/process.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const mib = 1024 * 1024;
let cluster: NodeCluster;
let registry: TestRegistry;
let kubectl: Kubectl;
let layoutDir = '';
let image = '';

beforeAll(async () => {
  registry = await startRegistry();
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'tools/busybox:1');
  image = `${registry.host}/tools/busybox:1`;
  cluster = await startNodeCluster({ agentArgs: ['--metrics-interval', '1s'] });
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

function flotilla(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [flotillaBin, '--kubeconfig', cluster.kubeconfig, ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const cgroup2 = statfsSync('/sys/fs/cgroup').type === 0x63677270;

/** A container's cgroup directory in one hierarchy: `<mount>/<cgroup-root>/.../<container id>`. */
function cgroupDir(controller: 'memory' | 'cpuacct', containerId: string): string {
  const base = cgroup2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controller}`;
  const find = (dir: string, depth: number): string | undefined => {
    if (depth > 4 || !existsSync(dir)) return undefined;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === containerId) return join(dir, e.name);
      const sub = find(join(dir, e.name), depth + 1);
      if (sub !== undefined) return sub;
    }
    return undefined;
  };
  const dir = find(join(base, cluster.cgroupRoot), 0);
  if (dir === undefined)
    throw new Error(`no ${controller} cgroup for container ${containerId} under ${base}`);
  return dir;
}

function keyed(path: string): Map<string, number> {
  return new Map(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k ?? '', Number(v)] as const),
  );
}

/** The cgroup's own working set: usage minus inactive file pages (what cAdvisor reports). */
function cgroupWorkingSet(containerId: string): number {
  const dir = cgroupDir('memory', containerId);
  const usage = Number(readFileSync(join(dir, cgroup2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8'));
  const inactive =
    keyed(join(dir, 'memory.stat')).get(cgroup2 ? 'inactive_file' : 'total_inactive_file') ?? 0;
  return Math.max(0, usage - inactive);
}

/** The cgroup's cumulative CPU time in ns (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
function cgroupCpuNanos(containerId: string): number {
  const dir = cgroupDir('cpuacct', containerId);
  return cgroup2
    ? (keyed(join(dir, 'cpu.stat')).get('usage_usec') ?? 0) * 1000
    : Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8'));
}

/** The kernel's own CPU rate of the container over `ms`, in millicores. */
async function cgroupCpuMillis(containerId: string, ms: number): Promise<number> {
  const c0 = cgroupCpuNanos(containerId);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = cgroupCpuNanos(containerId);
  const t1 = process.hrtime.bigint();
  return ((c1 - c0) / Number(t1 - t0)) * 1000;
}

function busyPod(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'spin' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'spin',
          image,
          // Holds ~16 MiB in a shell variable so the memory figure is well above rounding, then spins.
          command: ['sh', '-c', 'x=$(head -c 16777216 /dev/zero | tr "\\0" a); while :; do :; done'],
          resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '32Mi' } },
        },
      ],
    },
  };
}

/** `kubectl top pod` rows as [name, millicores, MiB] (header dropped). */
function parseTopPod(out: string): Array<[string, number, number]> {
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .map((f) => [
      f[0] ?? '',
      Number((f[1] ?? '').replace(/m$/, '')),
      Number((f[2] ?? '').replace(/Mi$/, '')),
    ]);
}

let containerId = '';

describe('metrics on a real node', () => {
  it('a busy-loop container limited to 500m shows 450–550m in kubectl top pod', async () => {
    await cluster.client.create(podRef, 'default', busyPod('spin'));
    containerId = await eventually(async () => {
      const p = await cluster.client.get(podRef, 'default', 'spin');
      const cs = ((p.status as { containerStatuses?: Array<Record<string, unknown>> }).containerStatuses ??
        [])[0];
      if ((cs?.['state'] as { running?: unknown } | undefined)?.running === undefined)
        throw new Error(`not running yet: ${JSON.stringify(p.status)}`);
      return (typeof cs?.['containerID'] === 'string' ? cs['containerID'] : '').replace(/^[a-z]+:\/\//, '');
    }, 120_000);
    // kubectl's figure must match the kernel's own rate for the container (read from its cgroup around
    // the same window), stay within the 500m limit, and be 450–550m whenever the kernel says the
    // container got its full half core (a busy shared machine can give it less: then both agree on less).
    const seen: string[] = [];
    const row = await eventually(
      async () => {
        const own = await cgroupCpuMillis(containerId, 2_000);
        const r = await kubectl.run(['top', 'pod', 'spin']);
        if (r.code !== 0) throw new Error(r.stderr);
        const [first] = parseTopPod(r.stdout);
        seen.push(`kubectl ${first?.[1] ?? '?'}m, cgroup ${Math.round(own)}m`);
        if (first === undefined || first[2] < 16) throw new Error(`kubectl top pod: ${r.stdout}`);
        if (Math.abs(first[1] - own) > Math.max(50, own * 0.15))
          throw new Error(
            `kubectl top pod says ${first[1]}m, the cgroup ${Math.round(own)}m: ${seen.join('; ')}`,
          );
        return { row: first, own };
      },
      90_000,
      500,
    );
    expect(row.row[1]).toBeLessThanOrEqual(550);
    if (row.own >= 475) expect(row.row[1]).toBeGreaterThanOrEqual(450);
    console.log(`busy loop at 500m: ${seen.join('; ')}`);
    expect(row.row[0]).toBe('spin');
  }, 200_000);

  it('memory agrees with the cgroup’s own working set within 10 %, and the shape is metrics-server’s', async () => {
    const raw = JSON.parse(
      await kubectl.ok(['get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/spin']),
    ) as {
      kind: string;
      apiVersion: string;
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      timestamp: string;
      window: string;
      containers: Array<{ name: string; usage: { cpu: string; memory: string } }>;
    };
    const own = cgroupWorkingSet(containerId);
    expect(raw.kind).toBe('PodMetrics');
    expect(raw.apiVersion).toBe('metrics.k8s.io/v1beta1');
    expect(raw.metadata).toMatchObject({ name: 'spin', namespace: 'default', labels: { app: 'spin' } });
    expect(raw.window).toMatch(/^\d+(\.\d+)?m?s$/);
    expect(Date.now() - Date.parse(raw.timestamp)).toBeLessThan(30_000);
    expect(raw.containers.map((c) => c.name)).toEqual(['spin']);
    const usage = raw.containers[0]?.usage;
    expect(usage?.cpu).toMatch(/^\d+[num]?$/);
    const m = /^(\d+)(Ki|Mi)?$/.exec(usage?.memory ?? '');
    expect(m, usage?.memory).not.toBeNull();
    const reported = Number(m?.[1]) * (m?.[2] === 'Mi' ? mib : m?.[2] === 'Ki' ? 1024 : 1);
    expect(Math.abs(reported - own) / own).toBeLessThan(0.1);
  }, 60_000);

  it('kubectl top pod --containers and -l, and kubectl top node, list what they should', async () => {
    const containers = await kubectl.ok(['top', 'pod', '--containers', '-l', 'app=spin']);
    const lines = containers.trim().split('\n');
    expect(lines[0]).toMatch(/^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
    expect(lines[1]).toMatch(/^spin\s+spin\s+\d+m\s+\d+Mi/);
    const all = await kubectl.ok(['top', 'pod', '-A']);
    expect(all).toMatch(/^NAMESPACE\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
    expect(all).toMatch(/\ndefault\s+spin\s+\d+m\s+\d+Mi/);
    const none = await kubectl.run(['top', 'pod', '-l', 'app=nothing']);
    expect(none.stderr + none.stdout).toContain('No resources found');

    const nodes = await eventually(async () => {
      const out = await kubectl.ok(['top', 'node']);
      if (!new RegExp(`\\n${cluster.nodeName}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`).test(out))
        throw new Error(out);
      return out;
    }, 30_000);
    expect(nodes).toMatch(/^NAME\s+CPU\(cores\)\s+CPU\(%\)\s+MEMORY\(bytes\)\s+MEMORY\(%\)/);
  }, 90_000);

  it('flotilla top pod agrees with kubectl top pod; flotilla top node lists the node', async () => {
    // Back to back they read the same cached sample and print the same row.
    await eventually(
      async () => {
        const k = await kubectl.ok(['top', 'pod', 'spin', '--containers']);
        const f = await flotilla(['top', 'pod', 'spin', '--containers']);
        if (f.code !== 0) throw new Error(f.err);
        if (f.out !== k) throw new Error(`kubectl:\n${k}\nflotilla:\n${f.out}`);
      },
      30_000,
      200,
    );
    const node = await flotilla(['top', 'node']);
    expect(node.code, node.err).toBe(0);
    expect(node.out).toMatch(new RegExp(`\\n${cluster.nodeName}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`));
    const json = await flotilla(['top', 'pod', '-l', 'app=spin', '-o', 'json']);
    expect(json.code, json.err).toBe(0);
    const list = JSON.parse(json.out) as { kind: string; items: Array<{ metadata: { name: string } }> };
    expect(list.kind).toBe('PodMetricsList');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['spin']);
  }, 60_000);

  it('metrics are read-only and listed in discovery but not in the all category', async () => {
    const res = await kubectl.ok(['api-resources', '--api-group=metrics.k8s.io', '-o', 'wide']);
    expect(res).toMatch(/\nnodes\s+metrics\.k8s\.io\/v1beta1\s+false\s+NodeMetrics\s+get,list/);
    expect(res).toMatch(/\npods\s+metrics\.k8s\.io\/v1beta1\s+true\s+PodMetrics\s+get,list/);
    const all = await kubectl.ok(['get', 'all', '-o', 'name']);
    expect(all).not.toContain('metrics.k8s.io');
    const del = await kubectl.run([
      'delete',
      '--raw',
      '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/spin',
    ]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('MethodNotAllowed');
  }, 60_000);
});
