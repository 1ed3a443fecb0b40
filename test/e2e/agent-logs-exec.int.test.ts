// kubectl logs and exec against real containers (runc + conmon) through the API server's node proxy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { Kubectl } from '../../src/testkit/kubectl.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { flotillaBin } from '../../src/testkit/process.js';
import { runCommand } from '../../src/testkit/command.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
let cluster: NodeCluster;
let registry: TestRegistry;
let kubectl: Kubectl;
let image = '';
let layoutDir = '';

beforeAll(async () => {
  registry = await startRegistry();
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'busybox:1');
  image = `${registry.host}/busybox:1`;
  cluster = await startNodeCluster();
  kubectl = new Kubectl('1.35', cluster.kubeconfig);
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

function pod(name: string, command: string[], annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', annotations },
    spec: {
      nodeName: cluster.nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image, command }],
    },
  };
}

async function running(name: string): Promise<any> {
  return eventually(
    async () => {
      const p: any = await cluster.client.get(podRef, 'default', name);
      if (p.status?.phase !== 'Running') throw new Error(`${name} is ${p.status?.phase}`);
      return p;
    },
    90_000,
    200,
  );
}

describe('kubectl logs and exec on real containers', () => {
  it('shows logs with --tail and follows new lines with -f', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('talker', [
        'sh',
        '-c',
        'for i in 1 2 3 4 5; do echo line-$i; done; echo oops >&2; sleep 2; echo late; exec sleep 3600',
      ]),
    );
    await running('talker');
    await eventually(async () => expect(await kubectl.ok(['logs', 'talker'])).toContain('oops'), 20_000, 200);
    expect(await kubectl.ok(['logs', 'talker', '--tail=2'])).toBe('line-5\noops\n');
    const ts = await kubectl.ok(['logs', 'talker', '--timestamps', '--tail=1']);
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z oops\n$/);

    const follow = kubectl.start(['logs', '-f', 'talker']);
    try {
      await eventually(() => expect(follow.output()).toContain('late'), 20_000, 100);
    } finally {
      follow.stop();
    }
  });

  it('shows the previous instance of a restarted container with --previous', async () => {
    await cluster.client.create(
      podRef,
      'default',
      pod('restarter', ['sh', '-c', 'echo run-$RANDOM$RANDOM; sleep 1; exit 3'], {
        'flotilla.dev/restart-backoff-initial': '1s',
      }),
    );
    await eventually(
      async () => {
        const p: any = await cluster.client.get(podRef, 'default', 'restarter');
        if ((p.status?.containerStatuses?.[0]?.restartCount ?? 0) < 1) throw new Error('not restarted yet');
      },
      60_000,
      200,
    );
    const previous = await kubectl.ok(['logs', 'restarter', '--previous']);
    expect(previous).toMatch(/^run-\d+\n$/);
  });

  it('runs commands with kubectl exec, returning their output and exit code', async () => {
    await cluster.client.create(podRef, 'default', pod('shell', ['sleep', '3600']));
    await running('shell');
    expect(await kubectl.ok(['exec', 'shell', '--', 'sh', '-c', 'echo hi from $HOSTNAME'])).toBe(
      'hi from shell\n',
    );

    const failed = await kubectl.run(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    expect(failed.code).toBe(7);
    expect(failed.stdout).toBe('out\n');
    expect(failed.stderr).toContain('err');

    const piped = await kubectl.run(['exec', '-i', 'shell', '--', 'cat'], 'through stdin\n');
    expect(piped.stdout).toBe('through stdin\n');

    const missing = await kubectl.run(['exec', 'shell', '--', '/no/such/thing']);
    expect(missing.code).not.toBe(0);

    // flotilla's own verbs do the same.
    const own = await runCommand(
      process.execPath,
      [flotillaBin, '--kubeconfig', cluster.kubeconfig, 'exec', 'shell', '--', 'sh', '-c', 'exit 5'],
      {
        timeoutMs: 30_000,
      },
    );
    expect(own.code).toBe(5);
    const logs = await runCommand(
      process.execPath,
      [flotillaBin, '--kubeconfig', cluster.kubeconfig, 'logs', 'talker', '--tail', '1'],
      {
        timeoutMs: 30_000,
      },
    );
    expect(logs.stdout).toBe('late\n');
  });

  it('cleans up after the pods are deleted', async () => {
    await cluster.client.request('DELETE', '/api/v1/namespaces/default/pods');
    await eventually(
      async () => {
        const list = await cluster.client.list(podRef, 'default');
        if (list.items.length > 0) throw new Error(`${list.items.length} pods left`);
        const left = cluster.leftovers();
        if (left.length > 0) throw new Error(left.join('\n'));
      },
      90_000,
      500,
    );
  }, 120_000);
});
