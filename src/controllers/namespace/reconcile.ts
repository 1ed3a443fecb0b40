// Namespace lifecycle, as a pure function (Kubernetes' namespace controller, namespaced_resources_deleter).
//
// A Namespace being deleted (deletionTimestamp set, phase Terminating, `kubernetes` in spec.finalizers):
// - every object in it that is not already being deleted is deleted (Background propagation);
// - the status says why it is still there: phase Terminating and the upstream conditions
//   NamespaceContentRemaining ("Some resources are remaining: pods has 2 resource instances") and
//   NamespaceFinalizersRemaining ("Some content in the namespace has finalizers remaining: ...");
// - once nothing remains, `kubernetes` is removed from spec.finalizers (`finalize`), after which the
//   API server completes the deletion. The status update and the finalize never go in the same pass
//   (the first changes the resourceVersion the second is conditional on): finalize comes next pass.
// Objects being deleted count as remaining: the namespace waits for their finalizers and grace periods.

import type { ResourceInfo } from '../../api/resources.js';
import { isObject, type KubeObject } from '../../api/types.js';

export const kubernetesFinalizer = 'kubernetes';

/** One object living in the namespace. */
export interface NamespaceContent {
  info: ResourceInfo;
  name: string;
  uid: string;
  deletionTimestamp: string | undefined;
  finalizers: readonly string[];
}

export interface NamespaceSnapshot {
  /** The Namespace as cached. */
  namespace: KubeObject;
  /** Every object of every namespaced kind in that namespace. */
  contents: readonly NamespaceContent[];
  /** Now, RFC 3339: the lastTransitionTime of conditions that change. */
  now: string;
}

export interface NamespaceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export type NamespaceAction =
  | {
      type: 'delete';
      target: { info: ResourceInfo; namespace: string; name: string; uid: string };
      propagationPolicy: 'Background';
    }
  /** PUT /api/v1/namespaces/{name}/status with this object. */
  | { type: 'updateStatus'; namespace: KubeObject }
  /** PUT /api/v1/namespaces/{name}/finalize with this object (spec.finalizers without `kubernetes`). */
  | { type: 'finalize'; namespace: KubeObject };

export interface NamespaceResult {
  actions: NamespaceAction[];
  /** Objects still in the namespace (including those deleted by this pass's actions). */
  remaining: number;
  /** `active`: not being deleted; `terminating`: work remains; `finalized`: nothing left for us to do. */
  state: 'active' | 'terminating' | 'finalized';
}

export const contentRemainingCondition = 'NamespaceContentRemaining';
export const finalizersRemainingCondition = 'NamespaceFinalizersRemaining';

export function specFinalizers(ns: KubeObject): string[] {
  const spec = ns.spec;
  return isObject(spec) && Array.isArray(spec.finalizers)
    ? spec.finalizers.filter((f): f is string => typeof f === 'string')
    : [];
}

export function toNamespaceContent(info: ResourceInfo, obj: KubeObject): NamespaceContent | undefined {
  const m = obj.metadata;
  if (m.name === undefined || m.name === '') return undefined;
  return {
    info,
    name: m.name,
    uid: m.uid ?? '',
    deletionTimestamp: m.deletionTimestamp,
    finalizers: m.finalizers ?? [],
  };
}

function groupResource(info: ResourceInfo): string {
  return info.group === '' ? info.resource : `${info.resource}.${info.group}`;
}

function counted(counts: Map<string, number>, format: (key: string, n: number) => string): string {
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, n]) => format(k, n))
    .join(', ');
}

function conditionsFor(contents: readonly NamespaceContent[]): NamespaceCondition[] {
  const byResource = new Map<string, number>();
  const byFinalizer = new Map<string, number>();
  for (const c of contents) {
    const gr = groupResource(c.info);
    byResource.set(gr, (byResource.get(gr) ?? 0) + 1);
    for (const f of c.finalizers) byFinalizer.set(f, (byFinalizer.get(f) ?? 0) + 1);
  }
  return [
    byResource.size > 0
      ? {
          type: contentRemainingCondition,
          status: 'True',
          reason: 'SomeResourcesRemain',
          message: `Some resources are remaining: ${counted(byResource, (r, n) => `${r} has ${n} resource instances`)}`,
        }
      : {
          type: contentRemainingCondition,
          status: 'False',
          reason: 'ContentRemoved',
          message: 'All content successfully removed',
        },
    byFinalizer.size > 0
      ? {
          type: finalizersRemainingCondition,
          status: 'True',
          reason: 'SomeFinalizersRemain',
          message: `Some content in the namespace has finalizers remaining: ${counted(byFinalizer, (f, n) => `${f} in ${n} resource instances`)}`,
        }
      : {
          type: finalizersRemainingCondition,
          status: 'False',
          reason: 'ContentHasNoFinalizers',
          message: 'All content-preserving finalizers finished',
        },
  ];
}

function readConditions(status: Record<string, unknown>): NamespaceCondition[] {
  const list = Array.isArray(status.conditions) ? status.conditions : [];
  return list.filter(
    (c): c is NamespaceCondition => isObject(c) && typeof c.type === 'string' && typeof c.status === 'string',
  );
}

/** Merge wanted conditions into existing ones; undefined when nothing changes. */
function mergeConditions(
  existing: NamespaceCondition[],
  wanted: NamespaceCondition[],
  now: string,
): NamespaceCondition[] | undefined {
  let changed = false;
  const out = existing.map((c) => ({ ...c }));
  for (const w of wanted) {
    const i = out.findIndex((c) => c.type === w.type);
    const old = out[i];
    if (old === undefined) {
      out.push({ ...w, lastTransitionTime: now });
      changed = true;
      continue;
    }
    if (old.status === w.status && old.reason === w.reason && old.message === w.message) continue;
    out[i] = {
      ...w,
      lastTransitionTime:
        old.status === w.status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now,
    };
    changed = true;
  }
  return changed ? out : undefined;
}

/** Decide the next steps for one namespace. Pure. */
export function reconcileNamespace(snapshot: NamespaceSnapshot): NamespaceResult {
  const ns = snapshot.namespace;
  const name = ns.metadata.name ?? '';
  if (ns.metadata.deletionTimestamp === undefined)
    return { actions: [], remaining: snapshot.contents.length, state: 'active' };
  const finalizers = specFinalizers(ns);
  if (!finalizers.includes(kubernetesFinalizer)) {
    return { actions: [], remaining: snapshot.contents.length, state: 'finalized' };
  }

  const sorted = [...snapshot.contents].sort((a, b) => {
    const ka = `${a.info.group}\u0000${a.info.resource}\u0000${a.name}`;
    const kb = `${b.info.group}\u0000${b.info.resource}\u0000${b.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const actions: NamespaceAction[] = [];
  for (const c of sorted) {
    if (c.deletionTimestamp !== undefined) continue;
    actions.push({
      type: 'delete',
      target: { info: c.info, namespace: name, name: c.name, uid: c.uid },
      propagationPolicy: 'Background',
    });
  }

  const status = isObject(ns.status) ? ns.status : {};
  const conditions = mergeConditions(readConditions(status), conditionsFor(sorted), snapshot.now);
  if (status.phase !== 'Terminating' || conditions !== undefined) {
    const nextStatus: Record<string, unknown> = { ...status, phase: 'Terminating' };
    if (conditions !== undefined) nextStatus.conditions = conditions;
    actions.push({ type: 'updateStatus', namespace: { ...ns, status: nextStatus } });
    return { actions, remaining: sorted.length, state: 'terminating' };
  }

  if (sorted.length === 0) {
    const spec = isObject(ns.spec) ? ns.spec : {};
    actions.push({
      type: 'finalize',
      namespace: {
        ...ns,
        spec: { ...spec, finalizers: finalizers.filter((f) => f !== kubernetesFinalizer) },
      },
    });
  }
  return { actions, remaining: sorted.length, state: 'terminating' };
}
