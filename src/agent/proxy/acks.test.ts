import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { appliedRevisionAnnotation, laggingPeers } from './acks.js';

const now = Date.parse('2030-01-01T00:00:30Z');
function lease(name: string, rev: number | undefined, renew = '2030-01-01T00:00:20.000000Z'): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: 'kube-node-lease',
      ...(rev === undefined ? {} : { annotations: { [appliedRevisionAnnotation]: String(rev) } }),
    },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: renew },
  };
}

describe('laggingPeers', () => {
  it('waits only for live nodes that publish a revision below the one needed', () => {
    const leases = [
      lease('self', 1),
      lease('behind', 9),
      lease('caught-up', 10),
      lease('simulated', undefined),
      lease('dead', 3, '2029-12-31T23:00:00.000000Z'),
    ];
    expect(laggingPeers(leases, 'self', 10, now)).toEqual(['behind']);
    expect(laggingPeers(leases, 'self', 9, now)).toEqual([]);
  });
});
