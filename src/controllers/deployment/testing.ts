// Test helpers: a DeploymentExecutor over FakeApi (which has no PUT and no generation bookkeeping).

import { jsonEqual } from '../../api/patch/json.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import { isObject, type KubeObject } from '../../api/types.js';
import type { Clock } from '../../machinery/clock.js';
import type { FakeApi } from '../../machinery/fake-api.js';
import { createLikeServer, DeploymentInfo, ReplicaSetInfo } from '../replicaset/testing.js';
import type { DeploymentExecutor } from './controller.js';

/** A DeploymentExecutor over FakeApi; `createFailures` makes the next ReplicaSet creates fail. */
export function fakeDeploymentExecutor(
  api: FakeApi,
  clock: Clock,
): DeploymentExecutor & { createFailures: Error[]; seq: { n: number } } {
  const ex = {
    createFailures: [] as Error[],
    seq: { n: 0 },
    createReplicaSet: async (ns: string, rs: KubeObject) => {
      const failure = ex.createFailures.shift();
      if (failure !== undefined) throw failure;
      return createLikeServer(api, ReplicaSetInfo, ns, rs, clock, ex.seq);
    },
    // PUT as a merge patch of the whole spec and annotations, with the resourceVersion precondition;
    // generation moves on a spec change, as the API server does it.
    updateReplicaSet: async (rs: KubeObject) => {
      const current = api.find(ReplicaSetInfo, rs.metadata.namespace, rs.metadata.name ?? '');
      const generation = (current?.metadata.generation ?? 1) + (jsonEqual(current?.spec, rs.spec) ? 0 : 1);
      return api.patch(ReplicaSetInfo, rs.metadata.namespace, rs.metadata.name ?? '', {
        metadata: {
          resourceVersion: rs.metadata.resourceVersion,
          annotations: rs.metadata.annotations ?? null,
          generation,
        },
        spec: rs.spec,
      });
    },
    deleteReplicaSet: (ns: string, name: string, uid: string) =>
      api.delete(ReplicaSetInfo, ns, name, 'Background', uid),
    patchReplicaSet: (ns: string, name: string, patch: Record<string, unknown>) =>
      api.patch(ReplicaSetInfo, ns, name, patch),
    getReplicaSet: (ns: string, name: string) => api.get(ReplicaSetInfo, ns, name),
    getDeployment: (ns: string, name: string) => api.get(DeploymentInfo, ns, name),
    // A JSON merge patch as the API server applies it (null removes), generation + 1 on a spec change.
    patchDeployment: async (ns: string, name: string, patch: Record<string, unknown>) => {
      const current = api.find(DeploymentInfo, ns, name);
      if (current === undefined) return api.patch(DeploymentInfo, ns, name, patch);
      const next = applyMergePatch(current, patch) as KubeObject;
      const rv = isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
      const generation = (current.metadata.generation ?? 1) + (jsonEqual(current.spec, next.spec) ? 0 : 1);
      return api.patch(DeploymentInfo, ns, name, {
        metadata: {
          ...(typeof rv === 'string' ? { resourceVersion: rv } : {}),
          annotations: next.metadata.annotations ?? null,
          generation,
        },
        spec: next.spec,
      });
    },
    updateDeploymentStatus: (d: KubeObject) => api.updateStatus(DeploymentInfo, d),
  };
  return ex;
}

/** A user's spec change of a Deployment through FakeApi (generation + 1, as the API server would). */
export async function updateDeploymentSpec(
  api: FakeApi,
  namespace: string,
  name: string,
  change: (spec: Record<string, unknown>) => void,
): Promise<KubeObject> {
  const current = api.find(DeploymentInfo, namespace, name);
  if (current === undefined) throw new Error(`no deployment ${namespace}/${name}`);
  const spec = structuredClone(current.spec) as Record<string, unknown>;
  change(spec);
  return api.patch(DeploymentInfo, namespace, name, {
    metadata: { generation: (current.metadata.generation ?? 1) + 1 },
    spec,
  });
}
