// The pure parts of `flotilla rollout`: kubectl's rollout status messages, the history table, the
// revision an undo goes back to and the JSON patch it sends. No I/O here; rollout.ts does the calls.
import type { KubeObject } from '../../api/types.js';
import { equalIgnoreHash } from '../../controllers/deployment/hash.js';
import { tabwrite } from '../printers/tabwriter.js';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** Annotations an undo keeps from the Deployment instead of copying them from the ReplicaSet (kubectl's list). */
const KEPT_BY_UNDO = new Set([
  LAST_APPLIED_ANNOTATION,
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  lastUpdateTime: string;
}

export function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  const list = rec(obj.status)['conditions'];
  if (!Array.isArray(list)) return undefined;
  for (const c of list.map(rec)) {
    if (c['type'] !== type) continue;
    const s = (k: string): string => (typeof c[k] === 'string' ? c[k] : '');
    return {
      type,
      status: s('status'),
      reason: s('reason'),
      message: s('message'),
      lastTransitionTime: s('lastTransitionTime'),
      lastUpdateTime: s('lastUpdateTime'),
    };
  }
  return undefined;
}

export function revisionOf(obj: KubeObject): number | undefined {
  const v = obj.metadata.annotations?.[REVISION_ANNOTATION];
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number.parseInt(v, 10);
}

/** The counts a progress line shows. */
export interface Progress {
  desired: number;
  updated: number;
  ready: number;
  available: number;
  total: number;
}

export function progressOf(d: KubeObject): Progress {
  const spec = rec(d.spec);
  const st = rec(d.status);
  return {
    desired: typeof spec['replicas'] === 'number' ? spec['replicas'] : 1,
    updated: num(st['updatedReplicas']),
    ready: num(st['readyReplicas']),
    available: num(st['availableReplicas']),
    total: num(st['replicas']),
  };
}

export type StatusVerdict =
  | { kind: 'waiting'; message: string }
  | { kind: 'done'; message: string }
  | { kind: 'failed'; message: string; deadline?: boolean };

export const ROLLBACK_ON_FAILURE_ANNOTATION = 'flotilla.dev/rollback-on-failure';

/**
 * Whether the controller will roll this Deployment back when its progress deadline passes: 'on' by
 * its annotation, 'off' by its annotation, 'unknown' when the cluster default decides (the server's
 * --deployment-rollback-on-failure, which a client cannot see).
 */
export function autoRollback(d: KubeObject): 'on' | 'off' | 'unknown' {
  const v = d.metadata.annotations?.[ROLLBACK_ON_FAILURE_ANNOTATION];
  return v === 'true' ? 'on' : v === 'false' ? 'off' : 'unknown';
}

export interface StatusOptions {
  /** `--revision`: the Deployment must be at this revision (0: any). */
  revision?: number;
}

/** The failure to report when the controller rolled the Deployment back (condition RolledBack=True). */
export function rollbackFailure(d: KubeObject): StatusVerdict | undefined {
  const c = conditionOf(d, 'RolledBack');
  if (c?.status !== 'True') return undefined;
  const why = c.message !== '' ? `: ${c.message}` : '';
  return {
    kind: 'failed',
    message: `deployment "${d.metadata.name ?? ''}" was rolled back automatically${why}`,
  };
}

/**
 * kubectl's DeploymentStatusViewer (same messages, same order of checks), plus Flotilla's own
 * outcomes: an automatic rollback, a failed template the controller will not retry, a canary pause.
 */
export function deploymentStatus(d: KubeObject, opts: StatusOptions = {}): StatusVerdict {
  const name = d.metadata.name ?? '';
  if (opts.revision !== undefined && opts.revision > 0) {
    const rev = revisionOf(d);
    if (rev === undefined)
      return { kind: 'failed', message: `cannot get the revision of deployment "${name}"` };
    if (rev !== opts.revision)
      return {
        kind: 'failed',
        message: `desired revision (${opts.revision}) is different from the running revision (${rev})`,
      };
  }
  const generation = num(d.metadata.generation);
  const observed = num(rec(d.status)['observedGeneration']);
  if (generation > observed)
    return { kind: 'waiting', message: 'Waiting for deployment spec update to be observed...' };
  // The controller keeps RolledBack=True until a new template rolls out (it removes the condition
  // when it observes one), so a rollback that happened just before the command started counts too.
  const rolledBack = rollbackFailure(d);
  if (rolledBack !== undefined) return rolledBack;
  const progressing = conditionOf(d, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    // With automatic rollback on, the deadline is the controller's cue: wait for its RolledBack.
    if (autoRollback(d) === 'on')
      return {
        kind: 'waiting',
        message: `Waiting for deployment "${name}" rollout to finish: progress deadline exceeded, waiting for the automatic rollback...`,
      };
    return { kind: 'failed', message: `deployment "${name}" exceeded its progress deadline`, deadline: true };
  }
  if (progressing?.status === 'False' && progressing.reason === 'FailedRevisionNotRetried') {
    const why = progressing.message !== '' ? `: ${progressing.message}` : '';
    return {
      kind: 'failed',
      message: `deployment "${name}" will not roll out a failed revision again${why}`,
    };
  }
  const p = progressOf(d);
  const prefix = `Waiting for deployment "${name}" rollout to finish: `;
  if (p.updated < p.desired) {
    const canary = conditionOf(d, 'Canary');
    if (canary?.status === 'True' && rec(d.spec)['paused'] === true)
      return { kind: 'waiting', message: `${prefix}${canary.message || 'canary paused'}` };
    return {
      kind: 'waiting',
      message: `${prefix}${p.updated} out of ${p.desired} new replicas have been updated...`,
    };
  }
  if (p.total > p.updated)
    return {
      kind: 'waiting',
      message: `${prefix}${p.total - p.updated} old replicas are pending termination...`,
    };
  if (p.available < p.updated)
    return {
      kind: 'waiting',
      message: `${prefix}${p.available} of ${p.updated} updated replicas are available...`,
    };
  return { kind: 'done', message: `deployment "${name}" successfully rolled out` };
}

/** The line a terminal shows and rewrites in place: kubectl's message and the counts behind it. */
export function progressLine(d: KubeObject, verdict: StatusVerdict): string {
  const p = progressOf(d);
  const paused = rec(d.spec)['paused'] === true ? ' (paused)' : '';
  return `${verdict.message} [${p.updated} updated, ${p.ready} ready, ${p.available} available of ${p.desired}]${paused}`;
}

/** The ReplicaSets a Deployment controls (owner reference with its uid, controller: true). */
export function ownedReplicaSets(d: KubeObject, replicaSets: KubeObject[]): KubeObject[] {
  const uid = d.metadata.uid;
  return replicaSets.filter((rs) =>
    (rs.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === uid),
  );
}

/** Revision number → ReplicaSet (ReplicaSets without a valid revision annotation are left out). */
export function revisions(replicaSets: KubeObject[]): Map<number, KubeObject> {
  const out = new Map<number, KubeObject>();
  for (const rs of replicaSets) {
    const r = revisionOf(rs);
    if (r !== undefined) out.set(r, rs);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** kubectl's history table (tabwriter, padding 2), or its "No rollout history found.". */
export function historyTable(replicaSets: KubeObject[]): string {
  const byRevision = revisions(replicaSets);
  if (byRevision.size === 0) return 'No rollout history found.\n';
  let text = 'REVISION\tCHANGE-CAUSE\n';
  for (const [r, rs] of byRevision) {
    const cause = rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] ?? '';
    text += `${r}\t${cause === '' ? '<none>' : cause}\n`;
  }
  return tabwrite(text, { minWidth: 0, padding: 2 });
}

/**
 * The ReplicaSet an undo goes back to: `toRevision`, or (0) the second-newest revision. Throws
 * kubectl's messages when there is none.
 */
export function undoTarget(
  deploymentName: string,
  replicaSets: KubeObject[],
  toRevision: number,
): KubeObject {
  const byRevision = revisions(replicaSets);
  if (toRevision > 0) {
    const rs = byRevision.get(toRevision);
    if (rs === undefined) throw new Error(`unable to find specified revision ${toRevision} in history`);
    return rs;
  }
  const sorted = [...byRevision.keys()];
  const previous = sorted[sorted.length - 2];
  const rs = previous === undefined ? undefined : byRevision.get(previous);
  if (rs === undefined) throw new Error(`no rollout history found for deployment "${deploymentName}"`);
  return rs;
}

/** The ReplicaSet's pod template without its pod-template-hash label (what goes back into the Deployment). */
export function templateWithoutHash(rs: KubeObject): Rec {
  const template = structuredClone(rec(rec(rs.spec)['template']));
  const meta = rec(template['metadata']);
  const labels = { ...rec(meta['labels']) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  template['metadata'] = { ...meta, labels };
  return template;
}

/** Whether the Deployment already runs the ReplicaSet's template (an undo would be skipped). */
export function templateMatches(d: KubeObject, rs: KubeObject): boolean {
  return equalIgnoreHash(rec(d.spec)['template'], rec(rs.spec)['template']);
}

export type JsonPatchOp = { op: 'replace' | 'add'; path: string; value: unknown };

/**
 * kubectl's rollback patch: replace the template with the ReplicaSet's (minus the hash label) and the
 * annotations with the ReplicaSet's, keeping the Deployment's own bookkeeping ones. Flotilla also
 * keeps the Deployment's `flotilla.dev/*` settings (rollback and canary configuration are not part of
 * a revision), and with `unpause` sets spec.paused false in the same write (a canary abort).
 */
export function undoPatch(d: KubeObject, rs: KubeObject, opts: { unpause: boolean }): JsonPatchOp[] {
  const current = d.metadata.annotations ?? {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(current)) {
    if (KEPT_BY_UNDO.has(k) || k.startsWith('flotilla.dev/')) annotations[k] = v;
  }
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {})) {
    if (!KEPT_BY_UNDO.has(k) && !k.startsWith('flotilla.dev/')) annotations[k] = v;
  }
  const ops: JsonPatchOp[] = [
    { op: 'replace', path: '/spec/template', value: templateWithoutHash(rs) },
    { op: 'replace', path: '/metadata/annotations', value: annotations },
  ];
  if (opts.unpause) ops.push({ op: 'add', path: '/spec/paused', value: false });
  return ops;
}

/** kubectl's restart patch (a strategic merge patch of one template annotation). */
export function restartPatch(now: Date): Rec {
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } } };
}

/** Whether a canary step is waiting for promotion: paused by the controller with Canary=True. */
export function canaryWaiting(d: KubeObject): Condition | undefined {
  const c = conditionOf(d, 'Canary');
  return c?.status === 'True' && rec(d.spec)['paused'] === true ? c : undefined;
}
