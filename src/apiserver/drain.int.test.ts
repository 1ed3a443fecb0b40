// Real kubectl cordon / drain / uncordon / taint against a Flotilla control plane: drain finds pods/eviction
// in discovery (policy/v1), cordons the node with a patch, evicts every pod on it and waits for them to go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../testkit/cluster.js';
import { eventually } from '../testkit/eventually.js';
import { Kubectl, type KubectlVersion } from '../testkit/kubectl.js';

/** Pods that tolerate every taint, so the node lifecycle controller leaves them to the drain. */
function manifest(ns: string): string {
  const pod = (name: string, node: string) => `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  nodeName: ${node}
  tolerations: [{operator: Exists}]
  containers: [{name: c, image: busybox:1}]
`;
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: Node
metadata: {name: ${ns}-a}
---
apiVersion: v1
kind: Node
metadata: {name: ${ns}-b}
${pod('a1', `${ns}-a`)}${pod('a2', `${ns}-a`)}${pod('b1', `${ns}-b`)}`;
}

describe.each<KubectlVersion>(['1.35', '1.31'])('kubectl %s drain', (version) => {
  let cluster: TestCluster;
  let k: Kubectl;
  const ns = `drain-${version.replace('.', '-')}`;
  const nodeA = `${ns}-a`;
  const nodeB = `${ns}-b`;

  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl(version, cluster.kubeconfig);
    await k.ok(['apply', '--validate=false', '-f', '-'], manifest(ns));
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('cordons the node, evicts its pods and leaves other nodes alone', async () => {
    const out = await k.run(['drain', nodeA, '--force', '--grace-period=0', '--timeout=60s']);
    expect(out.code, out.stderr).toBe(0);
    const text = out.stdout + out.stderr;
    expect(text).toContain(`node/${nodeA} cordoned`);
    expect(text).toContain(`evicting pod ${ns}/a1`);
    expect(text).toContain('pod/a1 evicted');
    expect(text).toContain(`node/${nodeA} drained`);
    // Evicted, not deleted behind kubectl's back: nothing is left on the node.
    expect(await k.ok(['get', 'pods', '-n', ns, '-o', 'name'])).toBe('pod/b1\n');
    const node = JSON.parse(await k.ok(['get', 'node', nodeA, '-o', 'json']));
    expect(node.spec.unschedulable).toBe(true);
    expect(await k.ok(['get', 'nodes', '--field-selector=spec.unschedulable=true', '-o', 'name'])).toContain(
      `node/${nodeA}`,
    );
    expect(await k.ok(['uncordon', nodeA])).toContain(`node/${nodeA} uncordoned`);
    const after = JSON.parse(await k.ok(['get', 'node', nodeA, '-o', 'json']));
    expect(after.spec.unschedulable).toBeUndefined();
  });

  it('waits for graceful termination before calling the node drained', async () => {
    const drain = k.run(['drain', nodeB, '--force', '--timeout=60s']);
    // The eviction starts a graceful delete; the node's agent would finish it once the containers stop.
    const pod = await eventually(async () => {
      const got = JSON.parse(await k.ok(['get', 'pod', 'b1', '-n', ns, '-o', 'json']));
      expect(got.metadata.deletionTimestamp).toBeDefined();
      return got;
    }, 20_000);
    expect(pod.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'DisruptionTarget', reason: 'EvictionByEvictionAPI' }),
    );
    expect(pod.metadata.deletionGracePeriodSeconds).toBe(30);
    await k.ok(['delete', 'pod', 'b1', '-n', ns, '--grace-period=0', '--force']);
    const out = await drain;
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout + out.stderr).toContain(`node/${nodeB} drained`);
  });

  it('takes taints with their effect and timeAdded, and names a bad one', async () => {
    expect(await k.ok(['taint', 'nodes', nodeA, 'dedicated=db:NoSchedule'])).toContain('tainted');
    const node = JSON.parse(await k.ok(['get', 'node', nodeA, '-o', 'json']));
    expect(node.spec.taints).toContainEqual({ key: 'dedicated', value: 'db', effect: 'NoSchedule' });
    const patch = (taints: unknown) =>
      k.run(['patch', 'node', nodeA, '--type=merge', '-p', JSON.stringify({ spec: { taints } })]);
    const bad = await patch([
      { key: 'x', effect: 'Sometimes' },
      { value: 'v', effect: 'NoExecute' },
      { key: 'y' },
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.taints[0].effect: Unsupported value: "Sometimes"');
    expect(bad.stderr).toContain('spec.taints[1].key: Required value');
    expect(bad.stderr).toContain('spec.taints[2].effect: Required value');
    const late = await patch([{ key: 'x', effect: 'NoExecute', timeAdded: 'soon' }]);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain('spec.taints[0].timeAdded');
    const timed = await k.run([
      'patch',
      'node',
      nodeA,
      '--type=merge',
      '-p',
      '{"spec":{"taints":[{"key":"gone","effect":"NoExecute","timeAdded":"2026-01-01T00:00:00Z"}]}}',
    ]);
    expect(timed.code, timed.stderr).toBe(0);
  });
});
