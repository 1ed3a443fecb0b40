// Automatic rollback (Flotilla, beyond Kubernetes), pure. Opt-in per Deployment with
// `flotilla.dev/rollback-on-failure: "true"` (or on for every Deployment with the server flag
// `--deployment-rollback-on-failure`, "false" opting out). When the revision being rolled out fails
// (Progressing False ProgressDeadlineExceeded, or more failing pods than the budget), the decision
// names the revision to go back to: the newest one whose rollout completed. The controller applies
// it with one update of the Deployment (template back, failed template marked) and a status write.

import { isObject, type KubeObject } from '../../api/types.js';
import { controllerRefOf, formatTime, parseTime } from '../replicaset/pods.js';
import {
  CANARY_PAUSED_ANNOTATION,
  FAILED_TEMPLATE_HASH_ANNOTATION,
  FULLY_AVAILABLE_ANNOTATION,
  ROLLBACK_FAILURE_BUDGET_ANNOTATION,
  ROLLBACK_ON_FAILURE_ANNOTATION,
  ROLLED_BACK_EVENT,
  RolloutConditions,
  RolloutReasons,
} from './annotations.js';
import { equalIgnoreHash, POD_TEMPLATE_HASH_LABEL, withoutHash } from './hash.js';
import type { DeploymentCondition, DeploymentStatus } from './reconcile.js';
import { REVISION_ANNOTATION } from './rollout.js';

/** Container waiting reasons that count a pod as failing. */
export const FAILING_WAITING_REASONS: ReadonlySet<string> = new Set([
  'CrashLoopBackOff',
  'ErrImagePull',
  'ImagePullBackOff',
  'CreateContainerError',
]);
/** A container restarted this often counts its pod as failing. */
export const FAILING_RESTART_COUNT = 2;

export interface RollbackInput {
  deployment: KubeObject;
  /** The ReplicaSets the Deployment controls. */
  replicaSets: readonly KubeObject[];
  /** Their pods. */
  pods: readonly KubeObject[];
  now: number;
  /** The cluster default (server flag); the annotation overrides it either way. */
  clusterDefault: boolean;
}

export interface RollbackDecision {
  /** The Deployment with the template of `toReplicaSet`, the failed hash marked (apply with one update). */
  deployment: KubeObject;
  /** Its status: RolledBack True AutomaticRollback, Progressing restarted, a canary aborted. */
  status: DeploymentStatus;
  event: { type: 'Warning'; reason: string; message: string };
  toRevision: number;
  toReplicaSet: string;
  failedRevision: number;
  failedHash: string;
  /** Why, in words ("exceeded its progress deadline", "has 2 failing pods (budget 0): ..."). */
  why: string;
}

function obj(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

/** Automatic rollback applies to this Deployment. */
export function rollbackEnabled(d: KubeObject, clusterDefault: boolean): boolean {
  const v = d.metadata.annotations?.[ROLLBACK_ON_FAILURE_ANNOTATION]?.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return clusterDefault;
}

/** The failure budget annotation; 0 when absent or not a whole number. */
export function failureBudget(d: KubeObject): number {
  const raw = d.metadata.annotations?.[ROLLBACK_FAILURE_BUDGET_ANNOTATION]?.trim();
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
}

/**
 * Why a pod counts as failing (a container waiting in CrashLoopBackOff, ErrImagePull,
 * ImagePullBackOff or CreateContainerError, or restarted at least twice), or undefined.
 */
export function podFailure(pod: KubeObject): string | undefined {
  const status = obj(pod.status);
  for (const key of ['initContainerStatuses', 'containerStatuses']) {
    const list = status[key];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      const cs = obj(c);
      const reason = obj(obj(cs.state).waiting).reason;
      if (typeof reason === 'string' && FAILING_WAITING_REASONS.has(reason)) return reason;
      if (typeof cs.restartCount === 'number' && cs.restartCount >= FAILING_RESTART_COUNT)
        return `restarted ${cs.restartCount} times`;
    }
  }
  return undefined;
}

export function podTemplateHashOf(rs: KubeObject): string {
  return rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '';
}

export function revisionNumber(rs: KubeObject): number {
  const raw = rs.metadata.annotations?.[REVISION_ANNOTATION];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
}

export function isFullyAvailable(rs: KubeObject): boolean {
  return rs.metadata.annotations?.[FULLY_AVAILABLE_ANNOTATION] === 'true';
}

/** The ReplicaSet running the Deployment's template (the oldest when several do), as upstream. */
export function currentReplicaSet(d: KubeObject, rss: readonly KubeObject[]): KubeObject | undefined {
  const template = obj(d.spec).template;
  return [...rss]
    .filter((rs) => rs.metadata.deletionTimestamp === undefined)
    .sort(
      (a, b) =>
        (parseTime(a.metadata.creationTimestamp) ?? 0) - (parseTime(b.metadata.creationTimestamp) ?? 0) ||
        (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    )
    .find((rs) => equalIgnoreHash(obj(rs.spec).template, template));
}

/** Pods of `rs` (not being deleted) that are failing, with why: "name: reason". */
export function failingPods(rs: KubeObject, pods: readonly KubeObject[]): string[] {
  const out: string[] = [];
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp !== undefined) continue;
    if (controllerRefOf(pod)?.uid !== rs.metadata.uid) continue;
    const why = podFailure(pod);
    if (why !== undefined) out.push(`${pod.metadata.name ?? ''}: ${why}`);
  }
  return out.sort();
}

function conditionOf(status: unknown, type: string): DeploymentCondition | undefined {
  const list = obj(status).conditions;
  if (!Array.isArray(list)) return undefined;
  return list.find((c): c is DeploymentCondition => isObject(c) && c.type === type);
}

/** Why the current revision counts as failed, or undefined. */
function failure(d: KubeObject, current: KubeObject, pods: readonly KubeObject[]): string | undefined {
  const failing = failingPods(current, pods);
  const budget = failureBudget(d);
  if (failing.length > budget) {
    const shown = failing.slice(0, 3).join(', ') + (failing.length > 3 ? ', ...' : '');
    return `has ${failing.length} failing pod${failing.length === 1 ? '' : 's'} (budget ${budget}): ${shown}`;
  }
  // The deadline is not checked while paused; the condition must be about this generation.
  const paused = obj(d.spec).paused === true;
  const observed = obj(d.status).observedGeneration;
  const fresh = typeof observed === 'number' && observed >= (d.metadata.generation ?? 0);
  const progressing = conditionOf(d.status, 'Progressing');
  if (
    !paused &&
    fresh &&
    progressing?.status === 'False' &&
    progressing.reason === 'ProgressDeadlineExceeded'
  )
    return 'exceeded its progress deadline';
  return undefined;
}

/**
 * Decide whether to roll the Deployment back now. Undefined unless automatic rollback is on, the
 * template being rolled out has never completed, is not already marked failed, fails (see
 * `podFailure`, the budget, the progress deadline) and a revision that completed exists. A
 * Deployment paused by a person is left alone; one paused by its canary step is rolled back (abort).
 */
export function decideRollback(input: RollbackInput): RollbackDecision | undefined {
  const d = input.deployment;
  if (d.metadata.deletionTimestamp !== undefined) return undefined;
  if (!rollbackEnabled(d, input.clusterDefault)) return undefined;
  const current = currentReplicaSet(d, input.replicaSets);
  if (current === undefined || isFullyAvailable(current)) return undefined;
  const failedHash = podTemplateHashOf(current);
  if (failedHash !== '' && d.metadata.annotations?.[FAILED_TEMPLATE_HASH_ANNOTATION] === failedHash)
    return undefined;
  const spec = obj(d.spec);
  // Paused by the canary step (not by a person after a promotion): the mark and the condition.
  const canaryPaused =
    current.metadata.annotations?.[CANARY_PAUSED_ANNOTATION] !== undefined &&
    conditionOf(d.status, RolloutConditions.Canary)?.status === 'True';
  if (spec.paused === true && !canaryPaused) return undefined;
  const why = failure(d, current, input.pods);
  if (why === undefined) return undefined;

  const target = input.replicaSets
    .filter((rs) => rs !== current && rs.metadata.deletionTimestamp === undefined && isFullyAvailable(rs))
    .sort((a, b) => revisionNumber(b) - revisionNumber(a))[0];
  if (target === undefined) return undefined;

  const toRevision = revisionNumber(target);
  const failedRevision = revisionNumber(current);
  const message =
    `Rolled back to revision ${toRevision} (replica set ${target.metadata.name ?? ''}): ` +
    `revision ${failedRevision} (replica set ${current.metadata.name ?? ''}) ${why}`;

  const next = structuredClone(d);
  const nextSpec = obj(next.spec);
  nextSpec.template = structuredClone(withoutHash(obj(target.spec).template));
  if (canaryPaused) delete nextSpec.paused;
  next.spec = nextSpec;
  const annotations = { ...(next.metadata.annotations ?? {}) };
  annotations[FAILED_TEMPLATE_HASH_ANNOTATION] = failedHash;
  // As kubectl rollout undo: the change-cause of the revision brought back.
  const cause = target.metadata.annotations?.['kubernetes.io/change-cause'];
  if (cause !== undefined) annotations['kubernetes.io/change-cause'] = cause;
  next.metadata.annotations = annotations;

  const t = formatTime(input.now);
  const cond = (
    type: string,
    status: 'True' | 'False',
    reason: string,
    msg: string,
  ): DeploymentCondition => ({
    type,
    status,
    lastUpdateTime: t,
    lastTransitionTime: t,
    reason,
    message: msg,
  });
  const status = structuredClone(obj(d.status)) as DeploymentStatus;
  const others = (status.conditions ?? []).filter(
    (c) =>
      c.type !== RolloutConditions.RolledBack &&
      c.type !== 'Progressing' &&
      c.type !== RolloutConditions.Canary,
  );
  const canary = conditionOf(d.status, RolloutConditions.Canary);
  status.conditions = [
    ...others,
    // The deadline counts again from now, for the revision brought back.
    cond(
      'Progressing',
      'True',
      'ReplicaSetUpdated',
      `ReplicaSet "${target.metadata.name ?? ''}" is progressing.`,
    ),
    ...(canary?.status === 'True'
      ? [cond(RolloutConditions.Canary, 'False', RolloutReasons.CanaryAborted, `canary aborted: ${why}`)]
      : []),
    cond(RolloutConditions.RolledBack, 'True', RolloutReasons.AutomaticRollback, message),
  ];
  return {
    deployment: next,
    status,
    event: { type: 'Warning', reason: ROLLED_BACK_EVENT, message },
    toRevision,
    toReplicaSet: target.metadata.name ?? '',
    failedRevision,
    failedHash,
    why,
  };
}
