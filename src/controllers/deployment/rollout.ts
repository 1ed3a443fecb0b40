// Rollout strategies of the Deployment controller, pure (upstream pkg/controller/deployment:
// rolling.go, recreate.go, sync.go `scale`, util/deployment_util.go). They work on a mutable model
// of the Deployment's ReplicaSets and change sizes only through the `scale` callback the caller
// provides, which records the write. The rollout issue extends this file (rollback, pause
// semantics beyond scaling, progress reporting).

/** An int-or-percent value of spec.strategy.rollingUpdate. */
export type IntOrPercent = number | string;

export type RolloutStrategy =
  { type: 'Recreate' } | { type: 'RollingUpdate'; maxSurge: IntOrPercent; maxUnavailable: IntOrPercent };

/** What the strategies need to know about the Deployment. */
export interface RolloutDeployment {
  /** spec.replicas */
  replicas: number;
  strategy: RolloutStrategy;
  /** spec.revisionHistoryLimit; undefined keeps every old ReplicaSet. */
  revisionHistoryLimit: number | undefined;
  paused: boolean;
}

/** A ReplicaSet as the strategies see it. `replicas` (spec) changes only through `Scale`. */
export interface RolloutReplicaSet {
  readonly name: string;
  /** metadata.creationTimestamp in ms (now, for one this plan creates). */
  readonly createdMs: number;
  /** spec.replicas */
  replicas: number;
  /** status.replicas, readyReplicas, availableReplicas as last observed. */
  readonly statusReplicas: number;
  readonly readyReplicas: number;
  readonly availableReplicas: number;
  /** metadata.annotations (mutable: the caller keeps them in step with scaling). */
  annotations: Record<string, string>;
  readonly deleting: boolean;
  readonly generation: number;
  readonly observedGeneration: number;
}

/**
 * Set `rs` to `replicas`; `operation` names the direction for the event. Returns true when the size
 * changed (the caller also refreshes the desired/max-replicas annotations, even without a size change).
 */
export type Scale = (rs: RolloutReplicaSet, replicas: number, operation: 'up' | 'down' | '') => boolean;

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';

// ------------------------------------------------------------------------------------ arithmetic

/**
 * An int-or-percent against `total`: an integer as is; "N%" as N% of total, rounded up (surge) or
 * down (unavailable). Anything else counts as 0 (validation rejects it).
 */
export function scaledValue(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 0;
  const m = /^(-?\d+)%$/.exec(value.trim());
  if (m === null) return 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge (rounded up) and maxUnavailable (rounded down); both zero becomes unavailable 1. */
export function resolveFenceposts(
  maxSurge: IntOrPercent,
  maxUnavailable: IntOrPercent,
  desired: number,
): { surge: number; unavailable: number } {
  const surge = scaledValue(maxSurge, desired, true);
  let unavailable = scaledValue(maxUnavailable, desired, false);
  // Validation forbids both being zero; a rollout could never progress.
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** Pods a rolling update may run above spec.replicas (0 for Recreate). */
export function maxSurge(d: RolloutDeployment): number {
  if (d.strategy.type !== 'RollingUpdate') return 0;
  return resolveFenceposts(d.strategy.maxSurge, d.strategy.maxUnavailable, d.replicas).surge;
}

/** Pods a rolling update may have unavailable (0 for Recreate or zero replicas; never above replicas). */
export function maxUnavailable(d: RolloutDeployment): number {
  if (d.strategy.type !== 'RollingUpdate' || d.replicas === 0) return 0;
  const { unavailable } = resolveFenceposts(d.strategy.maxSurge, d.strategy.maxUnavailable, d.replicas);
  return Math.min(unavailable, d.replicas);
}

// ------------------------------------------------------------------------------------ helpers

export function sumReplicas(rss: readonly (RolloutReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.replicas ?? 0), 0);
}
export function sumStatusReplicas(rss: readonly (RolloutReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.statusReplicas ?? 0), 0);
}
export function sumReady(rss: readonly (RolloutReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.readyReplicas ?? 0), 0);
}
export function sumAvailable(rss: readonly (RolloutReplicaSet | undefined)[]): number {
  return rss.reduce((n, rs) => n + (rs?.availableReplicas ?? 0), 0);
}

/** ReplicaSets with replicas > 0. */
export function filterActive(rss: readonly (RolloutReplicaSet | undefined)[]): RolloutReplicaSet[] {
  return rss.filter((rs): rs is RolloutReplicaSet => rs !== undefined && rs.replicas > 0);
}

/** Oldest first; ties by name. */
export function byCreation(a: RolloutReplicaSet, b: RolloutReplicaSet): number {
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The revision annotation as a number (0 when absent or not a number). */
export function revisionOf(rs: Pick<RolloutReplicaSet, 'annotations'>): number {
  const raw = rs.annotations[REVISION_ANNOTATION];
  if (raw === undefined || !/^\d+$/.test(raw)) return 0;
  return Number(raw);
}

export function maxRevision(rss: readonly RolloutReplicaSet[]): number {
  return rss.reduce((m, rs) => Math.max(m, revisionOf(rs)), 0);
}

function intAnnotation(rs: RolloutReplicaSet, key: string): number | undefined {
  const raw = rs.annotations[key];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/**
 * Write desired-replicas and max-replicas (replicas + maxSurge) into `annotations`; true when either
 * changed. They let a later scaling event tell which ReplicaSets belong to which Deployment size.
 */
export function setReplicasAnnotations(
  annotations: Record<string, string>,
  desired: number,
  max: number,
): boolean {
  let changed = false;
  if (annotations[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    annotations[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (annotations[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    annotations[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

/** Scale when the size differs, naming the direction. */
export function scaleTo(scale: Scale, rs: RolloutReplicaSet, replicas: number): boolean {
  if (rs.replicas === replicas) return false;
  return scale(rs, replicas, rs.replicas < replicas ? 'up' : 'down');
}

// ------------------------------------------------------------------------------------ rolling update

/** How big the new ReplicaSet may be now (upstream NewRSNewReplicas). */
export function newReplicaSetReplicas(
  d: RolloutDeployment,
  all: readonly RolloutReplicaSet[],
  newRs: RolloutReplicaSet,
  canary?: number,
): number {
  if (d.strategy.type === 'Recreate') return d.replicas;
  const target = canary === undefined ? d.replicas : Math.min(canary, d.replicas);
  const maxTotal = d.replicas + maxSurge(d);
  const current = sumReplicas(all);
  if (current >= maxTotal) return newRs.replicas; // surge used up
  const up = Math.min(maxTotal - current, target - newRs.replicas);
  return newRs.replicas + Math.max(0, up);
}

/**
 * Scale the new ReplicaSet toward spec.replicas (or the canary size) within maxSurge; true when it
 * scaled.
 */
export function reconcileNewReplicaSet(
  d: RolloutDeployment,
  all: readonly RolloutReplicaSet[],
  newRs: RolloutReplicaSet,
  scale: Scale,
  canary?: number,
): boolean {
  const target = canary === undefined ? d.replicas : Math.min(canary, d.replicas);
  if (newRs.replicas === target) return false;
  if (newRs.replicas > d.replicas) return scaleTo(scale, newRs, d.replicas);
  return scaleTo(scale, newRs, newReplicaSetReplicas(d, all, newRs, canary));
}

/**
 * Scale old ReplicaSets down as far as maxUnavailable allows: first their unavailable pods (they
 * cost no availability, and would otherwise block the rollout), then available ones while the
 * Deployment keeps spec.replicas − maxUnavailable available. True when anything scaled.
 */
export function reconcileOldReplicaSets(
  d: RolloutDeployment,
  all: readonly RolloutReplicaSet[],
  oldRss: readonly RolloutReplicaSet[],
  newRs: RolloutReplicaSet,
  scale: Scale,
  canary?: number,
): boolean {
  if (sumReplicas(oldRss) === 0) return false;
  const minAvailable = d.replicas - maxUnavailable(d);
  const newUnavailable = newRs.replicas - newRs.availableReplicas;
  let maxScaledDown = sumReplicas(all) - minAvailable - newUnavailable;
  // A canary step keeps spec.replicas − canary old pods: old ones go down only as far as that.
  const floor = canary === undefined ? 0 : d.replicas - Math.min(canary, d.replicas);
  maxScaledDown = Math.min(maxScaledDown, sumReplicas(oldRss) - floor);
  if (maxScaledDown <= 0) return false;
  const cleaned = cleanupUnhealthyReplicas(oldRss, maxScaledDown, scale);
  const budget = canary === undefined ? Infinity : Math.max(0, sumReplicas(oldRss) - floor);
  const scaledDown = scaleDownOldForRollingUpdate(d, [...oldRss, newRs], oldRss, scale, budget);
  return cleaned + scaledDown > 0;
}

/** Remove unavailable pods of old ReplicaSets, oldest first, at most `maxCleanup`. */
function cleanupUnhealthyReplicas(
  oldRss: readonly RolloutReplicaSet[],
  maxCleanup: number,
  scale: Scale,
): number {
  let total = 0;
  for (const rs of [...oldRss].sort(byCreation)) {
    if (total >= maxCleanup) break;
    // More available than its size: its status has not caught up with a scale-down yet, and none of its
    // pods is unhealthy. (Taking spec − available here would scale it up; upstream refuses with an error.)
    if (rs.replicas === 0 || rs.replicas <= rs.availableReplicas) continue;
    const down = Math.min(maxCleanup - total, rs.replicas - rs.availableReplicas);
    scaleTo(scale, rs, rs.replicas - down);
    total += down;
  }
  return total;
}

/** Scale old ReplicaSets down, oldest first, while the available count stays ≥ minAvailable. */
function scaleDownOldForRollingUpdate(
  d: RolloutDeployment,
  all: readonly RolloutReplicaSet[],
  oldRss: readonly RolloutReplicaSet[],
  scale: Scale,
  budget = Infinity,
): number {
  const minAvailable = d.replicas - maxUnavailable(d);
  // A ReplicaSet counts at most its own size: available pods beyond it are being scaled away (its status
  // has not caught up yet) and will not serve for long.
  const available = all.reduce((n, rs) => n + Math.min(rs.availableReplicas, rs.replicas), 0);
  if (available <= minAvailable) return 0;
  const wanted = Math.min(available - minAvailable, budget);
  let total = 0;
  for (const rs of [...oldRss].sort(byCreation)) {
    if (total >= wanted) break;
    if (rs.replicas === 0) continue;
    const down = Math.min(rs.replicas, wanted - total);
    scaleTo(scale, rs, rs.replicas - down);
    total += down;
  }
  return total;
}

/**
 * One step of a rolling update: scale up the new ReplicaSet if possible, else old ones down. With
 * `canary`, the new ReplicaSet stops at that size and old ones at spec.replicas − canary.
 */
export function rollingUpdateStep(
  d: RolloutDeployment,
  newRs: RolloutReplicaSet,
  oldRss: readonly RolloutReplicaSet[],
  scale: Scale,
  canary?: number,
): 'scaledUp' | 'scaledDown' | 'idle' {
  const all = [...oldRss, newRs];
  if (reconcileNewReplicaSet(d, all, newRs, scale, canary)) return 'scaledUp';
  if (reconcileOldReplicaSets(d, all, filterActive(oldRss), newRs, scale, canary)) return 'scaledDown';
  return 'idle';
}

/** The canary step's sizes are reached: the new ReplicaSet at `canary`, old ones at the rest. */
export function canaryReached(
  d: RolloutDeployment,
  newRs: RolloutReplicaSet,
  oldRss: readonly RolloutReplicaSet[],
  canary: number,
): boolean {
  const size = Math.min(canary, d.replicas);
  return newRs.replicas >= size && sumReplicas(oldRss) <= d.replicas - size;
}

/**
 * The canary size of `value` ("3" pods, or "10%" of spec.replicas rounded up, at least 1), or
 * undefined when the value is not valid or the canary would be the whole Deployment.
 */
export function canarySize(value: string | undefined, replicas: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let size: number;
  if (/^\d+$/.test(v)) size = Number(v);
  else if (/^\d+(\.\d+)?%$/.test(v)) size = Math.max(1, Math.ceil((parseFloat(v) * replicas) / 100));
  else return undefined;
  if (size < 1 || size >= replicas) return undefined;
  return size;
}

// ------------------------------------------------------------------------------------ recreate

/** Recreate, first half: every old ReplicaSet to zero. True when anything scaled. */
export function scaleDownOldForRecreate(oldRss: readonly RolloutReplicaSet[], scale: Scale): boolean {
  let scaled = false;
  for (const rs of filterActive(oldRss)) {
    if (scaleTo(scale, rs, 0)) scaled = true;
  }
  return scaled;
}

/**
 * Recreate waits until no old pod runs: old ReplicaSets report no replicas, and no pod of theirs is
 * still in a non-terminal phase (terminating pods count: they may still be serving).
 */
export function oldPodsRunning(
  oldRss: readonly RolloutReplicaSet[],
  oldPodPhases: readonly string[],
): boolean {
  if (sumStatusReplicas(oldRss) > 0) return true;
  return oldPodPhases.some((phase) => phase !== 'Succeeded' && phase !== 'Failed');
}

// ------------------------------------------------------------------------------------ scaling

/**
 * The one ReplicaSet to give every replica when a Deployment is not mid-rollout: the only active
 * one, or, when none is active, the new one (else the newest old one). Undefined when several are active.
 */
export function findActiveOrLatest(
  newRs: RolloutReplicaSet | undefined,
  oldRss: readonly RolloutReplicaSet[],
): RolloutReplicaSet | undefined {
  if (newRs === undefined && oldRss.length === 0) return undefined;
  const newestFirst = [...oldRss].sort((a, b) => byCreation(b, a));
  const active = filterActive([...newestFirst, newRs]);
  if (active.length === 0) return newRs ?? newestFirst[0];
  if (active.length === 1) return active[0];
  return undefined;
}

/** The new ReplicaSet already has every replica of the Deployment, all available. */
export function isSaturated(d: RolloutDeployment, rs: RolloutReplicaSet | undefined): boolean {
  if (rs === undefined) return false;
  return (
    intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION) === d.replicas &&
    rs.replicas === d.replicas &&
    rs.availableReplicas === d.replicas
  );
}

/** spec.replicas changed since the active ReplicaSets were sized (their desired-replicas annotation). */
export function isScalingEvent(
  d: RolloutDeployment,
  all: readonly (RolloutReplicaSet | undefined)[],
): boolean {
  return filterActive(all).some((rs) => {
    const desired = intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
    return desired !== undefined && desired !== d.replicas;
  });
}

/**
 * Apply a spec.replicas change (upstream `scale`): one active ReplicaSet takes it all; a saturated
 * new ReplicaSet means old ones go to zero; mid rolling update the difference is shared out in
 * proportion to each ReplicaSet's size (largest first, leftovers to the largest), so a scale during
 * a rollout neither restarts nor skips it.
 */
export function scaleDeployment(
  d: RolloutDeployment,
  newRs: RolloutReplicaSet | undefined,
  oldRss: readonly RolloutReplicaSet[],
  scale: Scale,
  statusReplicas: number,
): void {
  const single = findActiveOrLatest(newRs, oldRss);
  if (single !== undefined) {
    if (single.replicas !== d.replicas) scaleTo(scale, single, d.replicas);
    return;
  }
  if (isSaturated(d, newRs)) {
    for (const rs of filterActive(oldRss)) scaleTo(scale, rs, 0);
    return;
  }
  if (d.strategy.type !== 'RollingUpdate') return;

  const active = filterActive([...oldRss, newRs]);
  const allowed = d.replicas > 0 ? d.replicas + maxSurge(d) : 0;
  const toAdd = allowed - sumReplicas(active);
  let operation: 'up' | 'down' | '' = '';
  if (toAdd > 0) {
    // Larger first; among equals, newer first when growing.
    active.sort((a, b) => b.replicas - a.replicas || byCreation(b, a));
    operation = 'up';
  } else if (toAdd < 0) {
    // Larger first; among equals, older first when shrinking.
    active.sort((a, b) => b.replicas - a.replicas || byCreation(a, b));
    operation = 'down';
  }
  const sizes = new Map<RolloutReplicaSet, number>();
  let added = 0;
  for (const rs of active) {
    if (toAdd === 0) {
      sizes.set(rs, rs.replicas);
      continue;
    }
    const p = proportion(d, rs, toAdd, added, statusReplicas);
    sizes.set(rs, rs.replicas + p);
    added += p;
  }
  active.forEach((rs, i) => {
    let size = sizes.get(rs) ?? rs.replicas;
    if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added); // leftovers to the largest
    scale(rs, size, operation);
  });
}

/** This ReplicaSet's share of `toAdd` (upstream GetProportion). */
function proportion(
  d: RolloutDeployment,
  rs: RolloutReplicaSet,
  toAdd: number,
  added: number,
  statusReplicas: number,
): number {
  if (rs.replicas === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(d, rs, statusReplicas);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

function replicaSetFraction(d: RolloutDeployment, rs: RolloutReplicaSet, statusReplicas: number): number {
  if (d.replicas === 0) return -rs.replicas;
  const deploymentReplicas = d.replicas + maxSurge(d);
  // The size the Deployment had when this ReplicaSet was last sized; without the annotation, its status.
  const annotated = intAnnotation(rs, MAX_REPLICAS_ANNOTATION) ?? statusReplicas;
  if (annotated === 0) return 0;
  const newSize = (rs.replicas * deploymentReplicas) / annotated;
  return roundHalfAway(newSize) - rs.replicas;
}

function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

// ------------------------------------------------------------------------------------ history

/**
 * Old ReplicaSets to delete beyond revisionHistoryLimit, lowest revision first; only those fully
 * scaled down and settled (no replicas in spec or status, status caught up with the spec).
 */
export function replicaSetsToCleanUp(
  d: RolloutDeployment,
  oldRss: readonly RolloutReplicaSet[],
): RolloutReplicaSet[] {
  if (d.revisionHistoryLimit === undefined) return [];
  const alive = oldRss.filter((rs) => !rs.deleting);
  const diff = alive.length - d.revisionHistoryLimit;
  if (diff <= 0) return [];
  const byRevision = [...alive].sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  return byRevision
    .slice(0, diff)
    .filter((rs) => rs.statusReplicas === 0 && rs.replicas === 0 && rs.generation <= rs.observedGeneration);
}
