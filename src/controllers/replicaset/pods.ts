// Pure helpers about pods and owner references shared by the ReplicaSet and Deployment controllers:
// activeness, readiness and availability (minReadySeconds), and the order in which a ReplicaSet gives
// up pods when it scales down (upstream `ActivePodsWithRanks`).

import { isObject, type KubeObject, type OwnerReference } from '../../api/types.js';

/** `controller.kubernetes.io/pod-deletion-cost`: pods with a lower cost are removed first. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

function statusOf(pod: KubeObject): Record<string, unknown> {
  return isObject(pod.status) ? pod.status : {};
}

function specOf(pod: KubeObject): Record<string, unknown> {
  return isObject(pod.spec) ? pod.spec : {};
}

/** Milliseconds of an RFC 3339 time, or undefined when absent or unparsable. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

/** RFC 3339 with second precision, as Kubernetes serialises `metav1.Time`. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function podPhase(pod: KubeObject): string {
  const phase = statusOf(pod).phase;
  return typeof phase === 'string' ? phase : '';
}

export function nodeNameOf(pod: KubeObject): string {
  const n = specOf(pod).nodeName;
  return typeof n === 'string' ? n : '';
}

/**
 * A pod counts toward a ReplicaSet's replicas unless it finished (Succeeded/Failed) or is being
 * deleted: such pods are replaced at once, not when they are finally gone.
 */
export function isPodActive(pod: KubeObject): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && pod.metadata.deletionTimestamp === undefined;
}

interface ReadyCondition {
  status: string;
  lastTransitionTime: number | undefined;
}

function readyCondition(pod: KubeObject): ReadyCondition | undefined {
  const conditions = statusOf(pod).conditions;
  if (!Array.isArray(conditions)) return undefined;
  for (const c of conditions) {
    if (isObject(c) && c.type === 'Ready') {
      return {
        status: typeof c.status === 'string' ? c.status : '',
        lastTransitionTime: parseTime(c.lastTransitionTime),
      };
    }
  }
  return undefined;
}

/** The pod's Ready condition is True. */
export function isPodReady(pod: KubeObject): boolean {
  return readyCondition(pod)?.status === 'True';
}

/**
 * How long until a ready pod becomes available: 0 when it is available now, a positive number of ms
 * when it will be once it stayed ready for `minReadySeconds`, undefined when it is not ready or never
 * will be by waiting (ready without a transition time while `minReadySeconds` > 0, as upstream).
 */
export function podAvailableInMs(
  pod: KubeObject,
  minReadySeconds: number,
  nowMs: number,
): number | undefined {
  const ready = readyCondition(pod);
  if (ready?.status !== 'True') return undefined;
  if (minReadySeconds <= 0) return 0;
  if (ready.lastTransitionTime === undefined) return undefined;
  // Upstream: available when lastTransitionTime + minReadySeconds is strictly before now.
  const remaining = ready.lastTransitionTime + minReadySeconds * 1000 - nowMs;
  return remaining < 0 ? 0 : remaining + 1;
}

export function isPodAvailable(pod: KubeObject, minReadySeconds: number, nowMs: number): boolean {
  return podAvailableInMs(pod, minReadySeconds, nowMs) === 0;
}

/** The highest restartCount of the pod's containers. */
export function maxContainerRestarts(pod: KubeObject): number {
  const statuses = statusOf(pod).containerStatuses;
  let max = 0;
  if (Array.isArray(statuses)) {
    for (const s of statuses) {
      if (isObject(s) && typeof s.restartCount === 'number' && s.restartCount > max) max = s.restartCount;
    }
  }
  return max;
}

/** The pod-deletion-cost annotation as an int32; 0 when absent or not an integer. */
export function podDeletionCost(pod: KubeObject): number {
  const raw = pod.metadata.annotations?.[POD_DELETION_COST];
  if (raw === undefined || !/^[+-]?\d+$/.test(raw.trim())) return 0;
  const n = Number(raw.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

/** The owner reference with `controller: true`, if any. */
export function controllerRefOf(obj: Pick<KubeObject, 'metadata'>): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** `namespace/name`, the key expectations track deletions by. */
export function podKey(pod: Pick<KubeObject, 'metadata'>): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

const phaseOrdinal: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** "a is zero, or a after b": an unknown time counts as the newest. */
function afterOrZero(a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || b === undefined) return a === undefined;
  return a > b;
}

interface Ranked {
  pod: KubeObject;
  rank: number;
  index: number;
}

/** Negative when `a` should be deleted before `b` (upstream ActivePodsWithRanks.Less). */
function compareRanked(a: Ranked, b: Ranked): number {
  const less = (x: Ranked, y: Ranked): boolean => {
    const nx = nodeNameOf(x.pod);
    const ny = nodeNameOf(y.pod);
    // 1. unassigned before assigned
    if (nx !== ny && (nx === '' || ny === '')) return nx === '';
    // 2. Pending < Unknown < Running
    const px = phaseOrdinal[podPhase(x.pod)] ?? 0;
    const py = phaseOrdinal[podPhase(y.pod)] ?? 0;
    if (px !== py) return px < py;
    // 3. not ready before ready
    const rx = isPodReady(x.pod);
    const ry = isPodReady(y.pod);
    if (rx !== ry) return !rx;
    // 4. lower pod-deletion-cost first
    const cx = podDeletionCost(x.pod);
    const cy = podDeletionCost(y.pod);
    if (cx !== cy) return cx < cy;
    // 5. doubled up (more related pods on the same node) first
    if (x.rank !== y.rank) return x.rank > y.rank;
    // 6. ready for a shorter time first
    if (rx && ry) {
      const tx = readyCondition(x.pod)?.lastTransitionTime;
      const ty = readyCondition(y.pod)?.lastTransitionTime;
      if (tx !== ty) return afterOrZero(tx, ty);
    }
    // 7. more container restarts first
    const sx = maxContainerRestarts(x.pod);
    const sy = maxContainerRestarts(y.pod);
    if (sx !== sy) return sx > sy;
    // 8. newer first
    const ox = parseTime(x.pod.metadata.creationTimestamp);
    const oy = parseTime(y.pod.metadata.creationTimestamp);
    if (ox !== oy) return afterOrZero(ox, oy);
    return false;
  };
  if (less(a, b)) return -1;
  if (less(b, a)) return 1;
  return a.index - b.index; // stable
}

/**
 * `pods` in the order a ReplicaSet deletes them: unscheduled before scheduled, Pending before Unknown
 * before Running, not ready before ready, lower deletion cost first, more related pods on the same
 * node first, ready for less time first, more restarts first, newer first. `relatedPods` (active
 * pods of the same ReplicaSet and of its siblings under the same controller) give the node ranks.
 */
export function sortPodsForDeletion(
  pods: readonly KubeObject[],
  relatedPods: readonly KubeObject[] = pods,
): KubeObject[] {
  const onNode = new Map<string, number>();
  for (const p of relatedPods) {
    if (!isPodActive(p)) continue;
    const node = nodeNameOf(p);
    onNode.set(node, (onNode.get(node) ?? 0) + 1);
  }
  const ranked = pods.map((pod, index) => ({ pod, rank: onNode.get(nodeNameOf(pod)) ?? 0, index }));
  ranked.sort(compareRanked);
  return ranked.map((r) => r.pod);
}
