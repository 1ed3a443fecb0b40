// Flotilla's own Deployment annotations (beyond Kubernetes): automatic rollback and canary. The
// user-facing ones are set on the Deployment; the bookkeeping ones are written by the controller.

/** On the Deployment: "true" opts in to automatic rollback, "false" opts out of the cluster default. */
export const ROLLBACK_ON_FAILURE_ANNOTATION = 'flotilla.dev/rollback-on-failure';
/** On the Deployment: how many failing new-revision pods are tolerated before rolling back (default 0). */
export const ROLLBACK_FAILURE_BUDGET_ANNOTATION = 'flotilla.dev/rollback-failure-budget';
/** On the Deployment, written by the controller: the pod-template-hash that failed and was rolled back. */
export const FAILED_TEMPLATE_HASH_ANNOTATION = 'flotilla.dev/failed-template-hash';
/** On the Deployment: canary size, pods ("1") or a percentage of spec.replicas ("10%"). */
export const CANARY_ANNOTATION = 'flotilla.dev/canary';
/** On the Deployment: promote the canary automatically after it has been available this long ("60s"). */
export const CANARY_PROMOTE_AFTER_ANNOTATION = 'flotilla.dev/canary-promote-after';

/**
 * On a ReplicaSet, written by the controller: the rollout of this template once completed (every
 * replica updated and available). Automatic rollback reverts to the newest such revision; a
 * template that was fully available before gets no canary step.
 */
export const FULLY_AVAILABLE_ANNOTATION = 'flotilla.dev/fully-available';
/** On a ReplicaSet, written by the controller: when its canary step paused the Deployment (RFC 3339). */
export const CANARY_PAUSED_ANNOTATION = 'flotilla.dev/canary-paused';

/**
 * Bookkeeping kept on ReplicaSets only. `kubectl rollout undo` copies a ReplicaSet's annotations to
 * the Deployment; the controller never copies these back to a ReplicaSet and removes them from the
 * Deployment.
 */
export const REPLICASET_ONLY_ANNOTATIONS: readonly string[] = [
  FULLY_AVAILABLE_ANNOTATION,
  CANARY_PAUSED_ANNOTATION,
];

/** Deployment annotations not copied to ReplicaSets (controller state of the Deployment). */
export const DEPLOYMENT_ONLY_ANNOTATIONS: readonly string[] = [FAILED_TEMPLATE_HASH_ANNOTATION];

/** Condition types and reasons Flotilla adds. */
export const RolloutConditions = {
  RolledBack: 'RolledBack',
  Canary: 'Canary',
} as const;

export const RolloutReasons = {
  AutomaticRollback: 'AutomaticRollback',
  FailedRevisionNotRetried: 'FailedRevisionNotRetried',
  CanaryPaused: 'CanaryPaused',
  CanaryPromoted: 'CanaryPromoted',
  CanaryAborted: 'CanaryAborted',
} as const;

/** The Warning event recorded on an automatic rollback. */
export const ROLLED_BACK_EVENT = 'RolledBack';

/** A duration such as "60s", "2m", "1h30m", "500ms" or a bare number of seconds; undefined when invalid. */
export function parseDurationMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (s === '' || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0);
  return Math.round(total);
}
