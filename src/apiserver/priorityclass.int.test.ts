// Real kubectl against PriorityClass and pod priority admission.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../testkit/cluster.js';
import { Kubectl } from '../testkit/kubectl.js';

describe('kubectl 1.35 and priority classes', () => {
  let cluster: TestCluster;
  let k: Kubectl;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite' });
    k = new Kubectl('1.35', cluster.kubeconfig);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('lists the built-in classes with upstream columns, wide adding PREEMPTIONPOLICY', async () => {
    const out = await k.ok(['get', 'pc']);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +VALUE +GLOBAL-DEFAULT +AGE$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 3))).toEqual([
      ['system-cluster-critical', '2000000000', 'false'],
      ['system-node-critical', '2000001000', 'false'],
    ]);
    expect((await k.ok(['get', 'priorityclasses', '-o', 'wide'])).split('\n')[0]).toMatch(
      / +AGE +PREEMPTIONPOLICY$/,
    );
  });

  it('applies a class and gives its pods the priority; names the problem otherwise', async () => {
    const cls = `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: batch}
value: -10
preemptionPolicy: Never
description: runs when nothing else needs the room
`;
    expect(await k.ok(['apply', '-f', '-'], cls)).toBe('priorityclass.scheduling.k8s.io/batch created\n');
    const pod = (name: string, className: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  priorityClassName: ${className}
  containers: [{name: c, image: busybox:1}]
`;
    await k.ok(['apply', '-f', '-'], pod('job', 'batch'));
    const got = JSON.parse(await k.ok(['get', 'pod', 'job', '-o', 'json']));
    expect(got.spec).toMatchObject({ priority: -10, preemptionPolicy: 'Never' });
    expect(got.spec.tolerations.map((t: { key: string }) => t.key)).toEqual([
      'node.kubernetes.io/not-ready',
      'node.kubernetes.io/unreachable',
    ]);
    const unknown = await k.run(['apply', '-f', '-'], pod('lost', 'nope'));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('pods "lost" is forbidden: no PriorityClass with name nope was found');
    const changed = await k.run(['patch', 'pc', 'batch', '--type=merge', '-p', '{"value":5}']);
    expect(changed.code).not.toBe(0);
    expect(changed.stderr).toContain('value: Forbidden: may not be changed in an update.');
    // kubectl create priorityclass sends a protobuf body.
    expect(await k.ok(['create', 'priorityclass', 'high', '--value=1000', '--preemption-policy=Never'])).toBe(
      'priorityclass.scheduling.k8s.io/high created\n',
    );
    const high = JSON.parse(await k.ok(['get', 'pc', 'high', '-o', 'json']));
    expect(high).toMatchObject({ value: 1000, preemptionPolicy: 'Never' });
    const reserved = await k.run(['create', 'priorityclass', 'system-mine', '--value=1']);
    expect(reserved.code).not.toBe(0);
    expect(reserved.stderr).toContain("names with 'system-' prefix are reserved");
  });
});
