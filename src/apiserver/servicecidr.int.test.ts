// Real kubectl against the read-only ServiceCIDR kind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../testkit/cluster.js';
import { Kubectl } from '../testkit/kubectl.js';

describe('kubectl 1.35 and servicecidrs', () => {
  let cluster: TestCluster;
  let k: Kubectl;
  beforeAll(async () => {
    cluster = await startTestCluster({ store: 'sqlite', serviceClusterIPRange: '10.96.0.0/16' });
    k = new Kubectl('1.35', cluster.kubeconfig);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('gets the kubernetes row with the server range; a delete is refused naming the flag', async () => {
    const lines = (await k.ok(['get', 'servicecidrs'])).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +CIDRS +AGE$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 2))).toEqual([['kubernetes', '10.96.0.0/16']]);
    const del = await k.run(['delete', 'servicecidr', 'kubernetes']);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain('Error from server (MethodNotAllowed)');
    expect(del.stderr).toContain('--service-cluster-ip-range');
    expect(await k.ok(['get', 'servicecidr', 'kubernetes', '-o', 'jsonpath={.spec.cidrs}'])).toBe(
      '["10.96.0.0/16"]',
    );
  });
});
