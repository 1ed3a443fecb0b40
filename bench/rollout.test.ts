import { describe, expect, it } from 'vitest';
import { nodeCapacity, replicaSetTrace, surgeOf, takeTrace } from './rollout.js';

describe('rollout bench helpers', () => {
  it('gives the node room for the old pods still terminating beside the new ones and the surge', () => {
    expect(surgeOf(100)).toBe(10);
    expect(nodeCapacity(100)).toBe(210);
    expect(nodeCapacity(20)).toBe(110); // never below the usual 110
  });

  it('takes --trace FILE out of the shared arguments, and refuses it without a file', () => {
    expect(takeTrace(['--replicas', '20', '--trace', '/tmp/t.json', '--no-peer'])).toEqual({
      trace: '/tmp/t.json',
      rest: ['--replicas', '20', '--no-peer'],
    });
    expect(takeTrace(['--no-peer'])).toEqual({ trace: undefined, rest: ['--no-peer'] });
    expect(() => takeTrace(['--trace'])).toThrow(/--trace needs a file/);
    expect(() => takeTrace(['--trace', '--no-peer'])).toThrow(/--trace needs a file/);
  });

  it('records a ReplicaSet as the update sees it, missing status fields as 0', () => {
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'bench-abc', generation: 3 },
      spec: { replicas: 12 },
      status: { readyReplicas: 10, observedGeneration: 2 },
    };
    expect(replicaSetTrace(rs, 1234.6)).toEqual({
      t: 1235,
      name: 'bench-abc',
      replicas: 12,
      generation: 3,
      readyReplicas: 10,
      availableReplicas: 0,
      observedGeneration: 2,
    });
  });
});
