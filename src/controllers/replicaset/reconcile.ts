// The ReplicaSet controller's decisions, pure: which pods it owns (adopt / release), how many pods to
// create or which to delete, and the status it reports. Upstream semantics
// (pkg/controller/replicaset): active pods only, burst of 500 per sync, deletion order of
// `sortPodsForDeletion`, ReplicaFailure condition when creates or deletes fail.

import { jsonEqual } from '../../api/patch/json.js';
import { labelSelectorMatcher, mapSelectorMatches, type LabelSelector } from '../../api/selectors.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { claimObjects, controllerRef, type ClaimResult } from './claim.js';
import { formatTime, isPodActive, isPodReady, podAvailableInMs, sortPodsForDeletion } from './pods.js';

/** Most pods created or deleted for one ReplicaSet in one sync. */
export const BURST_REPLICAS = 500;

export interface ReplicaSetCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** apps/v1 ReplicaSetStatus (zero counts other than `replicas` are omitted, as upstream). */
export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

function specOf(obj: KubeObject): Record<string, unknown> {
  return isObject(obj.spec) ? obj.spec : {};
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** spec.replicas (the API defaults it to 1). */
export function specReplicas(obj: KubeObject): number {
  return num(specOf(obj).replicas, 1);
}

export function minReadySecondsOf(obj: KubeObject): number {
  return num(specOf(obj).minReadySeconds, 0);
}

export function selectorOf(obj: KubeObject): LabelSelector | undefined {
  const sel = specOf(obj).selector;
  return isObject(sel) ? sel : undefined;
}

/** Labels of spec.template.metadata. */
export function templateLabelsOf(obj: KubeObject): Record<string, string> {
  const template = specOf(obj).template;
  const meta = isObject(template) && isObject(template.metadata) ? template.metadata : {};
  return isObject(meta.labels) ? (meta.labels as Record<string, string>) : {};
}

/**
 * A matcher for the object's selector. An absent or empty selector matches nothing here: validation
 * forbids it, and a controller must never claim every pod of a namespace.
 */
export function selectorMatcher(obj: KubeObject): (labels: Record<string, string> | undefined) => boolean {
  const sel = selectorOf(obj);
  const empty =
    sel === undefined ||
    (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
  if (empty) return () => false;
  try {
    return labelSelectorMatcher(sel);
  } catch {
    return () => false;
  }
}

/** Sort the namespace's active pods into owned / adopt / release for `rs`. Inactive pods are left alone. */
export function claimPods(rs: KubeObject, pods: readonly KubeObject[]): ClaimResult {
  const matches = selectorMatcher(rs);
  return claimObjects(
    rs,
    pods.filter((p) => isPodActive(p)),
    (p) => matches(p.metadata.labels),
  );
}

/** The pod a ReplicaSet creates: the template's labels, annotations, finalizers and spec, owned by the RS. */
export function podFromTemplate(rs: KubeObject): KubeObject {
  const template = specOf(rs).template;
  const t = isObject(template) ? template : {};
  const meta = isObject(t.metadata) ? t.metadata : {};
  const metadata: KubeObject['metadata'] = {
    generateName: `${rs.metadata.name ?? ''}-`,
    ownerReferences: [controllerRef(rs)],
  };
  if (rs.metadata.namespace !== undefined) metadata.namespace = rs.metadata.namespace;
  if (isObject(meta.labels)) metadata.labels = structuredClone(meta.labels) as Record<string, string>;
  if (isObject(meta.annotations))
    metadata.annotations = structuredClone(meta.annotations) as Record<string, string>;
  if (Array.isArray(meta.finalizers)) metadata.finalizers = [...(meta.finalizers as string[])];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: structuredClone(isObject(t.spec) ? t.spec : {}),
  };
}

export interface ReplicaPlan {
  /** Pods to create (at most `burstReplicas`). */
  create: number;
  /** Pods to delete, most expendable first. */
  delete: KubeObject[];
}

/**
 * How to move `owned` (the RS's active pods) toward spec.replicas. `relatedPods` (active pods of the
 * RS and of its siblings under the same controller) rank pods by how crowded their node is.
 */
export function planReplicas(input: {
  rs: KubeObject;
  owned: readonly KubeObject[];
  relatedPods?: readonly KubeObject[];
  burstReplicas?: number;
}): ReplicaPlan {
  const burst = input.burstReplicas ?? BURST_REPLICAS;
  const diff = input.owned.length - specReplicas(input.rs);
  if (diff < 0) return { create: Math.min(-diff, burst), delete: [] };
  if (diff === 0) return { create: 0, delete: [] };
  const n = Math.min(diff, burst);
  const ordered =
    n < input.owned.length
      ? sortPodsForDeletion(input.owned, input.relatedPods ?? input.owned)
      : [...input.owned];
  return { create: 0, delete: ordered.slice(0, n) };
}

/**
 * Batch sizes of a slow-start create: 1, 2, 4, 8 ... up to `count` in total. The caller runs each
 * batch concurrently and stops at the first batch with a failure, so a quota or validation error
 * costs one request, not hundreds.
 */
export function slowStartBatches(count: number, initial = 1): number[] {
  const batches: number[] = [];
  let remaining = count;
  for (let size = Math.min(remaining, initial); size > 0; size = Math.min(2 * size, remaining)) {
    batches.push(size);
    remaining -= size;
  }
  return batches;
}

/** What went wrong while creating or deleting pods in this sync. */
export interface ManageError {
  message: string;
}

export interface StatusResult {
  status: ReplicaSetStatus;
  /** False when the stored status already says this (no write needed). */
  changed: boolean;
  /** Requeue after this long: a ready pod becomes available once minReadySeconds passed. */
  requeueAfterMs: number | undefined;
}

function conditionsOf(status: Record<string, unknown>): ReplicaSetCondition[] {
  return Array.isArray(status.conditions) ? (status.conditions as ReplicaSetCondition[]) : [];
}

/**
 * The status of `rs` given its owned active pods: replicas, fullyLabeledReplicas (pods carrying all
 * template labels), readyReplicas, availableReplicas (ready for minReadySeconds), observedGeneration,
 * and the ReplicaFailure condition while creating/deleting fails.
 */
export function replicaSetStatus(input: {
  rs: KubeObject;
  owned: readonly KubeObject[];
  now: number;
  manageError?: ManageError | undefined;
}): StatusResult {
  const { rs, owned, now } = input;
  const current = isObject(rs.status) ? rs.status : {};
  const templateLabels = templateLabelsOf(rs);
  const minReady = minReadySecondsOf(rs);
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  let requeueAfterMs: number | undefined;
  for (const pod of owned) {
    if (mapSelectorMatches(templateLabels, pod.metadata.labels)) fullyLabeled++;
    if (!isPodReady(pod)) continue;
    ready++;
    const inMs = podAvailableInMs(pod, minReady, now);
    if (inMs === 0) available++;
    else if (inMs !== undefined) requeueAfterMs = Math.min(requeueAfterMs ?? inMs, inMs);
  }

  let conditions = conditionsOf(current).map((c) => ({ ...c }));
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (input.manageError !== undefined && failure === undefined) {
    const diff = owned.length - specReplicas(rs);
    conditions.push({
      type: 'ReplicaFailure',
      status: 'True',
      lastTransitionTime: formatTime(now),
      reason: diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '',
      message: input.manageError.message,
    });
  } else if (input.manageError === undefined && failure !== undefined) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }

  const generation = rs.metadata.generation ?? 0;
  const status: ReplicaSetStatus = { replicas: owned.length };
  if (fullyLabeled > 0) status.fullyLabeledReplicas = fullyLabeled;
  if (ready > 0) status.readyReplicas = ready;
  if (available > 0) status.availableReplicas = available;
  if (generation > 0) status.observedGeneration = generation;
  if (conditions.length > 0) status.conditions = conditions;

  const n = (v: unknown): number => num(v, 0);
  const changed = !(
    n(current.replicas) === status.replicas &&
    n(current.fullyLabeledReplicas) === fullyLabeled &&
    n(current.readyReplicas) === ready &&
    n(current.availableReplicas) === available &&
    n(current.observedGeneration) === generation &&
    jsonEqual(conditionsOf(current), conditions)
  );
  return { status, changed, requeueAfterMs };
}

export interface ReplicaSetSnapshot {
  rs: KubeObject;
  /** Every pod of the ReplicaSet's namespace, as cached. */
  pods: readonly KubeObject[];
  /** Active pods of sibling ReplicaSets (same controller), for node ranks. Default: none. */
  siblingPods?: readonly KubeObject[];
  now: number;
  /** False while earlier creates/deletes were not yet observed by the cache (expectations). */
  expectationsSatisfied: boolean;
  burstReplicas?: number;
}

export interface ReplicaSetPlan extends ClaimResult, ReplicaPlan {
  /** A pod to create, `create` times. */
  pod: KubeObject;
  /** The status if every write succeeds (pods counted as owned before this sync's creates/deletes). */
  status: StatusResult;
}

/**
 * The whole decision for one ReplicaSet, assuming every write succeeds: the controller executes the
 * parts in order (adopt/release, create/delete, status) and recomputes the status with
 * `replicaSetStatus` when a write failed. No creates or deletes while expectations are unsatisfied
 * or the ReplicaSet is being deleted.
 */
export function reconcileReplicaSet(s: ReplicaSetSnapshot): ReplicaSetPlan {
  const claim = claimPods(s.rs, s.pods);
  const owned = [...claim.owned, ...claim.adopt];
  const act = s.expectationsSatisfied && s.rs.metadata.deletionTimestamp === undefined;
  const replicas = act
    ? planReplicas({
        rs: s.rs,
        owned,
        relatedPods: [...owned, ...(s.siblingPods ?? [])],
        ...(s.burstReplicas === undefined ? {} : { burstReplicas: s.burstReplicas }),
      })
    : { create: 0, delete: [] };
  return {
    ...claim,
    owned,
    ...replicas,
    pod: podFromTemplate(s.rs),
    status: replicaSetStatus({ rs: s.rs, owned, now: s.now }),
  };
}
