// kubectl scale, rollout status and rollout history against the Deployment controller in a real
// control plane. A fake kubelet loop marks pods Running and Ready (there are no containers).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { Kubectl } from '../../testkit/kubectl.js';
import { formatTime, isPodReady } from '../replicaset/pods.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };

function manifest(name: string, replicas: number, image: string, extra = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
${extra}  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: c
          image: ${image}
`;
}

describe('kubectl against the Deployment controller', () => {
  let cluster: TestCluster;
  let client: ApiClient;
  let k: Kubectl;
  let kubeletTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  /** Marks every pod Ready, except those of apps listed in `ignore`. */
  const ignore = new Set<string>();
  async function kubeletPass(): Promise<void> {
    const list = await client.list(podRef, 'default');
    for (const p of list.items) {
      if (isPodReady(p) || p.metadata.deletionTimestamp !== undefined) continue;
      if (ignore.has(p.metadata.labels?.app ?? '')) continue;
      try {
        await client.updateStatus(podRef, 'default', {
          ...p,
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(Date.now()) }],
          },
        });
      } catch (err) {
        if (!(isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
      }
    }
  }
  function loop(): void {
    kubeletTimer = setTimeout(() => {
      kubeletPass()
        .catch(() => undefined)
        .finally(() => {
          if (!stopping) loop();
        });
    }, 200);
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
    client = new ApiClient({
      server: cluster.url,
      ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
      token: cluster.adminToken,
    });
    k = new Kubectl('1.35', cluster.kubeconfig);
    loop();
  });
  afterAll(async () => {
    stopping = true;
    if (kubeletTimer !== undefined) clearTimeout(kubeletTimer);
    await client.close();
    await cluster.destroy();
  });

  it('rollout status waits for the pods and reports success', async () => {
    await k.ok(['apply', '-f', '-'], manifest('web', 2, 'busybox:1'));
    const out = await k.ok(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    expect(out).toContain('deployment "web" successfully rolled out');
    const ready = await k.ok([
      'get',
      'deployment',
      'web',
      '-o',
      'jsonpath={.status.readyReplicas}/{.status.replicas}',
    ]);
    expect(ready).toBe('2/2');
  });

  it('scale goes through the scale subresource and the controller follows', async () => {
    expect(await k.ok(['scale', 'deployment', 'web', '--replicas=4'])).toContain(
      'deployment.apps/web scaled',
    );
    expect(await k.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'])).toContain(
      'successfully rolled out',
    );
    const rs = await k.ok(['get', 'rs', '-l', 'app=web', '-o', 'jsonpath={.items[*].spec.replicas}']);
    expect(rs).toBe('4');
  });

  it('a new image rolls out to a second ReplicaSet, with history', async () => {
    await k.ok(['set', 'image', 'deployment/web', 'c=busybox:2']);
    const out = await k.ok(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    expect(out).toContain('deployment "web" successfully rolled out');
    const sizes = await k.ok([
      'get',
      'rs',
      '-l',
      'app=web',
      '-o',
      'jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} {end}',
    ]);
    expect(sizes.trim().split(' ').sort()).toEqual(['1=0', '2=4']);
    const history = await k.ok(['rollout', 'history', 'deployment/web']);
    expect(history).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  });

  it('rollout undo brings the first ReplicaSet back as revision 3; restart makes a new one', async () => {
    expect(await k.ok(['rollout', 'undo', 'deployment/web'])).toContain('deployment.apps/web rolled back');
    expect(await k.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'])).toContain(
      'successfully rolled out',
    );
    const sizes = await k.ok([
      'get',
      'rs',
      '-l',
      'app=web',
      '-o',
      'jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}@{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} {end}',
    ]);
    expect(sizes.trim().split(' ').sort()).toEqual(['busybox:1@3=4', 'busybox:2@2=0']);
    await k.ok(['rollout', 'restart', 'deployment/web']);
    expect(await k.ok(['rollout', 'status', 'deployment/web', '--timeout=60s'])).toContain(
      'successfully rolled out',
    );
    const count = await k.ok(['get', 'rs', '-l', 'app=web', '-o', 'name']);
    expect(count.trim().split('\n')).toHaveLength(3);
  });

  it('rollout status fails once the progress deadline passes', async () => {
    ignore.add('stuck');
    await k.ok(['apply', '-f', '-'], manifest('stuck', 1, 'busybox:1', '  progressDeadlineSeconds: 2\n'));
    const r = await k.run(['rollout', 'status', 'deployment/stuck', '--timeout=60s']);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('deployment "stuck" exceeded its progress deadline');
  });
});
