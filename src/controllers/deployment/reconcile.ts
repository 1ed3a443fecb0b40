// The Deployment controller's decisions, pure (upstream pkg/controller/deployment: sync.go,
// progress.go, and the strategies in rollout.ts). Given a Deployment, the ReplicaSets it controls
// and their pods, it plans the writes of one sync in order: create the new ReplicaSet
// (`<name>-<pod-template-hash>`), update ReplicaSets (annotations, minReadySeconds, sizes), delete
// old ones beyond revisionHistoryLimit, the Deployment's revision annotation, and its status
// (counts, Available and Progressing conditions). The plan is computed on a model that applies each
// write as it is planned, as upstream's sync sees its own writes.

import type { LabelSelector } from '../../api/selectors.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { controllerRef } from '../replicaset/claim.js';
import { controllerRefOf, formatTime, parseTime, podAvailableInMs, podPhase } from '../replicaset/pods.js';
import {
  CANARY_ANNOTATION,
  CANARY_PAUSED_ANNOTATION,
  CANARY_PROMOTE_AFTER_ANNOTATION,
  DEPLOYMENT_ONLY_ANNOTATIONS,
  FAILED_TEMPLATE_HASH_ANNOTATION,
  FULLY_AVAILABLE_ANNOTATION,
  parseDurationMs,
  REPLICASET_ONLY_ANNOTATIONS,
  RolloutConditions,
  RolloutReasons,
} from './annotations.js';
import { podFailure } from './autorollback.js';
import { canonicalJson, computePodTemplateHash, equalIgnoreHash, POD_TEMPLATE_HASH_LABEL } from './hash.js';
import {
  canaryReached,
  canarySize,
  DESIRED_REPLICAS_ANNOTATION,
  isScalingEvent,
  MAX_REPLICAS_ANNOTATION,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newReplicaSetReplicas,
  revisionOf,
  oldPodsRunning,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  replicaSetsToCleanUp,
  rollingUpdateStep,
  scaleDeployment,
  scaleDownOldForRecreate,
  scaleTo,
  setReplicasAnnotations,
  sumAvailable,
  sumReady,
  sumReplicas,
  type RolloutDeployment,
  type RolloutReplicaSet,
  type RolloutStrategy,
  type Scale,
} from './rollout.js';

/** Annotations of a Deployment never copied to its ReplicaSets. */
const ANNOTATIONS_NOT_COPIED = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  'deprecated.deployment.rollback.to',
  ...REPLICASET_ONLY_ANNOTATIONS,
  ...DEPLOYMENT_ONLY_ANNOTATIONS,
]);

/** Longest revision-history annotation kept on a ReplicaSet brought back by a rollback. */
const MAX_REVISION_HISTORY_CHARS = 2000;
const MAX_INT32 = 2147483647;

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface DeploymentCondition {
  type: string;
  status: ConditionStatus;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** apps/v1 DeploymentStatus; zero counts are omitted, as upstream serialises them. */
export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
}

/** Progressing condition reasons (upstream util/deployment_util.go). */
export const Reasons = {
  NewReplicaSetCreated: 'NewReplicaSetCreated',
  FoundNewReplicaSet: 'FoundNewReplicaSet',
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  NewReplicaSetAvailable: 'NewReplicaSetAvailable',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  ReplicaSetCreateError: 'ReplicaSetCreateError',
  DeploymentPaused: 'DeploymentPaused',
  DeploymentResumed: 'DeploymentResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type DeploymentAction =
  /** POST the ReplicaSet; on AlreadyExists the controller checks for a hash collision. */
  | { type: 'createReplicaSet'; replicaSet: KubeObject; event?: PlannedEvent }
  /** PUT the ReplicaSet (its resourceVersion is a precondition). */
  | { type: 'updateReplicaSet'; replicaSet: KubeObject; event?: PlannedEvent }
  /** DELETE an old ReplicaSet beyond revisionHistoryLimit (uid precondition). */
  | { type: 'deleteReplicaSet'; name: string; uid: string }
  /** Merge-patch the Deployment's annotations (the revision, Flotilla's marks); null removes a key. */
  | { type: 'patchDeploymentAnnotations'; annotations: Record<string, string | null> }
  /** Merge-patch spec.paused (a canary step pauses; its automatic promotion resumes). */
  | { type: 'patchDeploymentPaused'; paused: boolean; event?: PlannedEvent }
  /** PUT the Deployment's status subresource. */
  | { type: 'updateStatus'; status: DeploymentStatus };

export interface DeploymentSnapshot {
  deployment: KubeObject;
  /** The ReplicaSets the Deployment controls (after adoption and release). */
  replicaSets: readonly KubeObject[];
  /** Pods whose controller is one of those ReplicaSets (Recreate waits for old ones to stop). */
  pods: readonly KubeObject[];
  now: number;
}

export interface DeploymentPlan {
  actions: DeploymentAction[];
  /** The ReplicaSet running the current template, if any (created by this plan or existing). */
  newReplicaSetName: string | undefined;
  /** Look again after this long: a rollout may pass its progress deadline meanwhile. */
  requeueAfterMs: number | undefined;
  /** The status after this plan (what it writes, or the current one when unchanged). */
  status: DeploymentStatus;
}

// ------------------------------------------------------------------------------------ reading objects

function obj(value: unknown): Record<string, unknown> {
  return isObject(value) ? value : {};
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

interface DeploymentParams extends RolloutDeployment {
  name: string;
  namespace: string;
  generation: number;
  minReadySeconds: number;
  /** Undefined when there is no deadline (the MaxInt32 sentinel). */
  progressDeadlineSeconds: number | undefined;
  template: Record<string, unknown>;
  selector: LabelSelector;
}

/** The Deployment's spec with the API's defaults applied where a field is absent. */
export function deploymentParams(d: KubeObject): DeploymentParams {
  const spec = obj(d.spec);
  const strategySpec = obj(spec.strategy);
  const ru = obj(strategySpec.rollingUpdate);
  const intOrPercent = (v: unknown): number | string =>
    typeof v === 'number' || typeof v === 'string' ? v : '25%';
  const strategy: RolloutStrategy =
    strategySpec.type === 'Recreate'
      ? { type: 'Recreate' }
      : {
          type: 'RollingUpdate',
          maxSurge: intOrPercent(ru.maxSurge),
          maxUnavailable: intOrPercent(ru.maxUnavailable),
        };
  const rhl = int(spec.revisionHistoryLimit) ?? 10;
  const pds = int(spec.progressDeadlineSeconds) ?? 600;
  return {
    name: d.metadata.name ?? '',
    namespace: d.metadata.namespace ?? '',
    generation: d.metadata.generation ?? 0,
    replicas: int(spec.replicas) ?? 1,
    strategy,
    revisionHistoryLimit: rhl === MAX_INT32 ? undefined : rhl,
    paused: spec.paused === true,
    minReadySeconds: int(spec.minReadySeconds) ?? 0,
    progressDeadlineSeconds: pds === MAX_INT32 ? undefined : pds,
    template: obj(spec.template),
    selector: obj(spec.selector),
  };
}

// ------------------------------------------------------------------------------------ conditions

export function getCondition(status: DeploymentStatus, type: string): DeploymentCondition | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/**
 * Set a condition as upstream SetDeploymentCondition: unchanged when status and reason are the
 * same; keeps lastTransitionTime when only the reason changes; the condition moves to the end.
 */
export function setCondition(status: DeploymentStatus, condition: DeploymentCondition): void {
  const current = getCondition(status, condition.type);
  if (current !== undefined && current.status === condition.status && current.reason === condition.reason)
    return;
  const next = { ...condition };
  if (
    current !== undefined &&
    current.status === condition.status &&
    current.lastTransitionTime !== undefined
  )
    next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== condition.type), next];
}

export function removeCondition(status: DeploymentStatus, type: string): void {
  if (status.conditions === undefined) return;
  const rest = status.conditions.filter((c) => c.type !== type);
  if (rest.length === 0) delete status.conditions;
  else status.conditions = rest;
}

function newCondition(
  type: string,
  status: ConditionStatus,
  reason: string,
  message: string,
  now: number,
): DeploymentCondition {
  const t = formatTime(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** Status as stored, normalised: only our fields, zero counts dropped. */
export function normalizeStatus(value: unknown): DeploymentStatus {
  const s = obj(value);
  const out: DeploymentStatus = {};
  for (const k of [
    'observedGeneration',
    'replicas',
    'updatedReplicas',
    'readyReplicas',
    'availableReplicas',
    'unavailableReplicas',
  ] as const) {
    const v = int(s[k]);
    if (v !== undefined && v !== 0) out[k] = v;
  }
  if (Array.isArray(s.conditions) && s.conditions.length > 0)
    out.conditions = structuredClone(s.conditions) as DeploymentCondition[];
  const cc = int(s.collisionCount);
  if (cc !== undefined) out.collisionCount = cc;
  return out;
}

function sameStatus(a: DeploymentStatus, b: DeploymentStatus): boolean {
  return canonicalJson(normalizeStatus(a)) === canonicalJson(normalizeStatus(b));
}

/** Every replica updated and available, and the latest spec observed (upstream DeploymentComplete). */
export function deploymentComplete(
  p: { replicas: number; generation: number },
  s: DeploymentStatus,
): boolean {
  return (
    (s.updatedReplicas ?? 0) === p.replicas &&
    (s.replicas ?? 0) === p.replicas &&
    (s.availableReplicas ?? 0) === p.replicas &&
    (s.observedGeneration ?? 0) >= p.generation
  );
}

/**
 * The status a failed create of the new ReplicaSet leaves (Progressing False ReplicaSetCreateError),
 * or undefined when the Deployment has no progress deadline. The controller writes it and records
 * a Warning event with the same reason and message.
 */
export function failedCreateStatus(
  deployment: KubeObject,
  replicaSetName: string,
  error: string,
  now: number,
): { status: DeploymentStatus | undefined; message: string } {
  const message = `Failed to create new replica set "${replicaSetName}": ${error}`;
  const p = deploymentParams(deployment);
  if (p.progressDeadlineSeconds === undefined) return { status: undefined, message };
  const status = normalizeStatus(deployment.status);
  setCondition(status, newCondition('Progressing', 'False', Reasons.ReplicaSetCreateError, message, now));
  return { status, message };
}

/** The status after a hash collision: collisionCount + 1, so the next hash differs. */
export function collisionStatus(deployment: KubeObject): DeploymentStatus {
  const status = normalizeStatus(deployment.status);
  status.collisionCount = (status.collisionCount ?? 0) + 1;
  return status;
}

// ------------------------------------------------------------------------------------ the model

interface Model extends RolloutReplicaSet {
  /** The cached object; undefined for one this plan creates. */
  readonly obj: KubeObject | undefined;
  readonly uid: string;
  readonly template: unknown;
  minReadySeconds: number;
  readonly failureConditions: DeploymentCondition[];
  /** Index of this plan's create action, when it creates the ReplicaSet. */
  createIndex: number | undefined;
}

function toModel(rs: KubeObject): Model {
  const spec = obj(rs.spec);
  const status = obj(rs.status);
  const conditions = Array.isArray(status.conditions) ? (status.conditions as Record<string, unknown>[]) : [];
  return {
    obj: rs,
    name: rs.metadata.name ?? '',
    uid: rs.metadata.uid ?? '',
    createdMs: parseTime(rs.metadata.creationTimestamp) ?? 0,
    replicas: int(spec.replicas) ?? 1,
    statusReplicas: int(status.replicas) ?? 0,
    readyReplicas: int(status.readyReplicas) ?? 0,
    availableReplicas: int(status.availableReplicas) ?? 0,
    annotations: { ...(rs.metadata.annotations ?? {}) },
    deleting: rs.metadata.deletionTimestamp !== undefined,
    generation: rs.metadata.generation ?? 0,
    observedGeneration: int(status.observedGeneration) ?? 0,
    template: spec.template,
    minReadySeconds: int(spec.minReadySeconds) ?? 0,
    failureConditions: conditions
      .filter((c) => c.type === 'ReplicaFailure')
      .map((c) => {
        const t = typeof c.lastTransitionTime === 'string' ? c.lastTransitionTime : undefined;
        const cond: DeploymentCondition = {
          type: 'ReplicaFailure',
          status: (c.status as ConditionStatus | undefined) ?? 'True',
        };
        if (t !== undefined) {
          cond.lastUpdateTime = t;
          cond.lastTransitionTime = t;
        }
        if (typeof c.reason === 'string') cond.reason = c.reason;
        if (typeof c.message === 'string') cond.message = c.message;
        return cond;
      }),
    createIndex: undefined,
  };
}

class Planner {
  readonly actions: DeploymentAction[] = [];
  private readonly d: KubeObject;
  private readonly p: DeploymentParams;
  private readonly now: number;
  private readonly models: Model[];
  private readonly pods: readonly KubeObject[];
  /** The Deployment's status as this sync has changed it so far (upstream writes these at once). */
  readonly working: DeploymentStatus;
  private readonly original: DeploymentStatus;
  /** The Deployment's annotations as this sync has changed them. */
  private readonly annotations: Record<string, string>;
  private final: DeploymentStatus | undefined;
  private requeueAfterMs: number | undefined;
  private newName: string | undefined;
  /** spec.paused to write (a canary step pauses, its automatic promotion resumes). */
  private pausedPatch: { paused: boolean; event: PlannedEvent } | undefined;
  /** Look again this soon for an automatic canary promotion. */
  private promoteRequeueMs: number | undefined;

  constructor(s: DeploymentSnapshot) {
    this.d = s.deployment;
    this.p = deploymentParams(s.deployment);
    this.now = s.now;
    this.models = s.replicaSets.map(toModel);
    this.pods = s.pods;
    this.original = normalizeStatus(s.deployment.status);
    this.working = normalizeStatus(s.deployment.status);
    this.annotations = { ...(s.deployment.metadata.annotations ?? {}) };
    // `kubectl rollout undo` copies a ReplicaSet's annotations to the Deployment: drop our bookkeeping.
    for (const k of REPLICASET_ONLY_ANNOTATIONS) delete this.annotations[k];
  }

  private get hasProgressDeadline(): boolean {
    return this.p.progressDeadlineSeconds !== undefined;
  }

  private condition(
    type: string,
    status: ConditionStatus,
    reason: string,
    message: string,
  ): DeploymentCondition {
    return newCondition(type, status, reason, message, this.now);
  }

  // ---------------------------------------------------------------- writes

  /** Plan a write of `m`'s current spec size, minReadySeconds and annotations. */
  private writeReplicaSet(m: Model, event?: PlannedEvent): void {
    if (m.createIndex !== undefined) {
      // Not created yet: fold the change into the create.
      const create = this.actions[m.createIndex];
      if (create?.type === 'createReplicaSet') {
        create.replicaSet = this.replicaSetObject(m, create.replicaSet);
        if (event !== undefined) create.event = event;
      }
      return;
    }
    if (m.obj === undefined) return;
    this.actions.push({
      type: 'updateReplicaSet',
      replicaSet: this.replicaSetObject(m, m.obj),
      ...(event === undefined ? {} : { event }),
    });
  }

  private replicaSetObject(m: Model, base: KubeObject): KubeObject {
    const next = structuredClone(base);
    next.metadata.annotations = { ...m.annotations };
    next.spec = { ...obj(next.spec), replicas: m.replicas, minReadySeconds: m.minReadySeconds };
    return next;
  }

  /** The `Scale` the strategies use: refreshes the replicas annotations, records size changes. */
  private readonly scale: Scale = (rs, replicas, operation) => {
    const m = this.models.find((x) => x === rs);
    if (m === undefined) return false;
    const sizeChanged = m.replicas !== replicas;
    const annotationsChanged = setReplicasAnnotations(
      m.annotations,
      this.p.replicas,
      this.p.replicas + maxSurge(this.p),
    );
    if (!sizeChanged && !annotationsChanged) return false;
    const from = m.replicas;
    m.replicas = replicas;
    this.writeReplicaSet(
      m,
      sizeChanged
        ? {
            type: 'Normal',
            reason: 'ScalingReplicaSet',
            message: `Scaled ${operation} replica set ${m.name} from ${from} to ${replicas}`,
          }
        : undefined,
    );
    return sizeChanged;
  };

  // ---------------------------------------------------------------- new and old ReplicaSets

  /** The oldest ReplicaSet whose template is the Deployment's (ignoring the hash label). */
  private findNew(): Model | undefined {
    return [...this.models]
      .sort((a, b) => a.createdMs - b.createdMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .find((m) => equalIgnoreHash(m.template, this.p.template));
  }

  /** Upstream getAllReplicaSetsAndSyncRevision. */
  private getAll(createIfMissing: boolean): { newRs: Model | undefined; oldRss: Model[] } {
    const existing = this.findNew();
    const oldRss = this.models.filter((m) => m !== existing);
    const newRs = this.getNewReplicaSet(existing, oldRss, createIfMissing);
    if (newRs !== undefined) this.newName = newRs.name;
    return { newRs, oldRss: this.models.filter((m) => m !== newRs) };
  }

  private getNewReplicaSet(existing: Model | undefined, oldRss: Model[], create: boolean): Model | undefined {
    const newRevision = maxRevision(oldRss) + 1;
    if (existing !== undefined) {
      const annotationsChanged = this.setNewReplicaSetAnnotations(existing, newRevision, true);
      if (annotationsChanged || existing.minReadySeconds !== this.p.minReadySeconds) {
        existing.minReadySeconds = this.p.minReadySeconds;
        this.writeReplicaSet(existing);
      }
      this.setDeploymentRevision(existing.annotations[REVISION_ANNOTATION] ?? '');
      if (this.hasProgressDeadline && getCondition(this.working, 'Progressing') === undefined) {
        setCondition(
          this.working,
          this.condition(
            'Progressing',
            'True',
            Reasons.FoundNewReplicaSet,
            `Found new replica set "${existing.name}"`,
          ),
        );
      }
      return existing;
    }
    if (!create) return undefined;

    const hash = computePodTemplateHash(this.p.template, this.working.collisionCount);
    const name = `${this.p.name}-${hash}`;
    const templateMeta = obj(this.p.template.metadata);
    const labels = { ...obj(templateMeta.labels), [POD_TEMPLATE_HASH_LABEL]: hash } as Record<string, string>;
    const template = {
      ...structuredClone(this.p.template),
      metadata: { ...structuredClone(templateMeta), labels },
    };
    const selector: LabelSelector = {
      ...structuredClone(this.p.selector),
      matchLabels: { ...(this.p.selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
    };
    const rs: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace: this.p.namespace,
        labels: { ...labels },
        ownerReferences: [controllerRef(this.d)],
      },
      spec: { replicas: 0, minReadySeconds: this.p.minReadySeconds, selector, template },
    };
    const m: Model = {
      ...toModel(rs),
      obj: undefined,
      createdMs: this.now,
      replicas: 0,
      annotations: {},
    };
    const replicas = newReplicaSetReplicas(this.p, [...oldRss, m], m, this.canaryCap(oldRss));
    m.replicas = replicas;
    this.setNewReplicaSetAnnotations(m, newRevision, false);
    this.actions.push({
      type: 'createReplicaSet',
      replicaSet: this.replicaSetObject(m, rs),
      ...(replicas > 0
        ? {
            event: {
              type: 'Normal',
              reason: 'ScalingReplicaSet',
              message: `Scaled up replica set ${name} from 0 to ${replicas}`,
            } satisfies PlannedEvent,
          }
        : {}),
    });
    m.createIndex = this.actions.length - 1;
    this.models.push(m);
    this.setDeploymentRevision(String(newRevision));
    if (this.hasProgressDeadline) {
      setCondition(
        this.working,
        this.condition(
          'Progressing',
          'True',
          Reasons.NewReplicaSetCreated,
          `Created new replica set "${name}"`,
        ),
      );
    }
    return m;
  }

  /**
   * Copy the Deployment's annotations (but its own bookkeeping ones) to the new ReplicaSet, raise
   * its revision to `newRevision` (keeping the revisions it had in revision-history when a rollback
   * brings it back), and for a ReplicaSet being created set the replicas annotations. True on change.
   */
  private setNewReplicaSetAnnotations(m: Model, newRevision: number, exists: boolean): boolean {
    let changed = false;
    for (const [k, v] of Object.entries(this.annotations)) {
      if (ANNOTATIONS_NOT_COPIED.has(k) || m.annotations[k] === v) continue;
      m.annotations[k] = v;
      changed = true;
    }
    const oldRevision = m.annotations[REVISION_ANNOTATION];
    if (oldRevision !== undefined && oldRevision !== '' && !/^\d+$/.test(oldRevision)) return changed;
    const oldInt = oldRevision === undefined || oldRevision === '' ? 0 : Number(oldRevision);
    if (oldInt < newRevision) {
      m.annotations[REVISION_ANNOTATION] = String(newRevision);
      changed = true;
      if (oldRevision !== undefined) this.appendRevisionHistory(m, oldRevision);
    }
    if (!exists && setReplicasAnnotations(m.annotations, this.p.replicas, this.p.replicas + maxSurge(this.p)))
      changed = true;
    return changed;
  }

  private appendRevisionHistory(m: Model, oldRevision: string): void {
    const history = m.annotations[REVISION_HISTORY_ANNOTATION] ?? '';
    if (history === '') {
      m.annotations[REVISION_HISTORY_ANNOTATION] = oldRevision;
      return;
    }
    const revisions = history.split(',');
    let total = history.length + oldRevision.length + 1;
    let start = 0;
    while (total > MAX_REVISION_HISTORY_CHARS && start < revisions.length) {
      total -= (revisions[start]?.length ?? 0) + 1;
      start++;
    }
    if (total <= MAX_REVISION_HISTORY_CHARS)
      m.annotations[REVISION_HISTORY_ANNOTATION] = [...revisions.slice(start), oldRevision].join(',');
  }

  private setDeploymentRevision(revision: string): void {
    if (this.annotations[REVISION_ANNOTATION] !== revision) this.annotations[REVISION_ANNOTATION] = revision;
  }

  // ---------------------------------------------------------------- paths of a sync

  /** Progressing Unknown DeploymentPaused / DeploymentResumed when spec.paused flips. */
  checkPausedConditions(): void {
    if (!this.hasProgressDeadline) return;
    const cond = getCondition(this.working, 'Progressing');
    if (cond?.reason === Reasons.ProgressDeadlineExceeded) return; // keep reporting the timeout
    const pausedCond = cond?.reason === Reasons.DeploymentPaused;
    if (this.p.paused && !pausedCond) {
      setCondition(
        this.working,
        this.condition('Progressing', 'Unknown', Reasons.DeploymentPaused, 'Deployment is paused'),
      );
    } else if (!this.p.paused && pausedCond) {
      setCondition(
        this.working,
        this.condition('Progressing', 'Unknown', Reasons.DeploymentResumed, 'Deployment is resumed'),
      );
    }
  }

  get paused(): boolean {
    return this.p.paused;
  }

  get deleting(): boolean {
    return this.d.metadata.deletionTimestamp !== undefined;
  }

  isScalingEvent(): boolean {
    const { newRs, oldRss } = this.getAll(false);
    return isScalingEvent(this.p, [...oldRss, newRs]);
  }

  /** Scaling (and, while paused, history cleanup) without rolling out. */
  sync(): void {
    const { newRs, oldRss } = this.getAll(false);
    if (this.p.paused) this.maybePromoteCanary(newRs);
    if (this.p.paused && newRs !== undefined && this.onCanary(newRs)) this.scaleCanary(newRs, oldRss);
    else scaleDeployment(this.p, newRs, oldRss, this.scale, this.original.replicas ?? 0);
    if (this.p.paused) this.cleanup(oldRss);
    this.final = this.calculateStatus([...oldRss, newRs], newRs);
  }

  syncStatusOnly(): void {
    const { newRs, oldRss } = this.getAll(false);
    this.final = this.calculateStatus([...oldRss, newRs], newRs);
  }

  rolloutRolling(): void {
    const { newRs, oldRss } = this.getAll(true);
    const all = [...oldRss, newRs];
    if (newRs === undefined) return; // cannot happen: created above
    this.settleCanary(newRs, oldRss);
    const canary = this.canaryFor(newRs, oldRss);
    const step = rollingUpdateStep(this.p, newRs, oldRss, this.scale, canary);
    if (canary !== undefined && canaryReached(this.p, newRs, oldRss, canary)) this.pauseForCanary(newRs);
    if (step === 'idle' && deploymentComplete(this.p, this.working)) this.cleanup(oldRss);
    this.syncRolloutStatus(all, newRs);
    this.markFullyAvailable(newRs);
  }

  rolloutRecreate(): void {
    let { newRs, oldRss } = this.getAll(false);
    this.settleCanary(newRs, oldRss);
    if (scaleDownOldForRecreate(oldRss, this.scale)) {
      this.syncRolloutStatus([...oldRss, newRs], newRs);
      return;
    }
    const oldUids = new Set(oldRss.map((m) => m.uid));
    const oldPhases = this.pods.filter((p) => oldUids.has(controllerRefOf(p)?.uid ?? '')).map(podPhase);
    if (oldPodsRunning(oldRss, oldPhases)) {
      this.syncRolloutStatus([...oldRss, newRs], newRs);
      return;
    }
    if (newRs === undefined) ({ newRs, oldRss } = this.getAll(true));
    if (newRs !== undefined) scaleTo(this.scale, newRs, this.p.replicas);
    if (deploymentComplete(this.p, this.working)) this.cleanup(oldRss);
    this.syncRolloutStatus([...oldRss, newRs], newRs);
    this.markFullyAvailable(newRs);
  }

  // ---------------------------------------------------------------- Flotilla: failed templates, canary

  /** The current template's ReplicaSet when the template is marked failed (undefined: none yet). */
  private blockedRs: Model | undefined;

  /**
   * The failed-template mark (set by an automatic rollback): true when the Deployment's template is
   * the failed one, which is then not rolled out again. A template that is neither the failed one
   * nor one that completed before (the revision rolled back to) clears the mark.
   */
  checkFailedMark(): boolean {
    const mark = this.annotations[FAILED_TEMPLATE_HASH_ANNOTATION];
    if (mark === undefined) return false;
    const current = this.findNew();
    const hash = computePodTemplateHash(this.p.template, this.working.collisionCount);
    const currentHash = current?.obj?.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (hash === mark || currentHash === mark) {
      this.blockedRs = current;
      return true;
    }
    if (current?.annotations[FULLY_AVAILABLE_ANNOTATION] !== 'true') {
      delete this.annotations[FAILED_TEMPLATE_HASH_ANNOTATION];
      removeCondition(this.working, RolloutConditions.RolledBack);
    }
    return false;
  }

  /**
   * The template is the failed one: keep (or bring back) the newest revision that completed, as a
   * rollout towards it, and report Progressing False FailedRevisionNotRetried.
   */
  rolloutBlocked(): void {
    const failed = this.blockedRs;
    const others = this.models.filter((m) => m !== failed && !m.deleting);
    const newestFirst = (a: Model, b: Model): number => revisionOf(b) - revisionOf(a);
    const target =
      others.filter((m) => m.annotations[FULLY_AVAILABLE_ANNOTATION] === 'true').sort(newestFirst)[0] ??
      others.sort(newestFirst)[0];
    if (failed !== undefined) this.newName = failed.name;
    if (target !== undefined) {
      const rest = this.models.filter((m) => m !== target);
      if (this.p.strategy.type === 'Recreate') {
        if (!scaleDownOldForRecreate(rest, this.scale)) scaleTo(this.scale, target, this.p.replicas);
      } else {
        rollingUpdateStep(this.p, target, rest, this.scale);
      }
    }
    const status = this.calculateStatus(this.models, failed);
    const mark = this.annotations[FAILED_TEMPLATE_HASH_ANNOTATION] ?? '';
    setCondition(
      status,
      this.condition(
        'Progressing',
        'False',
        RolloutReasons.FailedRevisionNotRetried,
        `pod template ${mark} failed and was rolled back automatically; it is not retried. ` +
          'Change the template to roll out again.',
      ),
    );
    this.final = status;
  }

  /** The canary size for rolling out a new template, when the canary step applies to it. */
  private canaryCap(oldRss: readonly Model[]): number | undefined {
    if (this.p.strategy.type !== 'RollingUpdate') return undefined;
    // A fresh Deployment has nothing to compare a canary against.
    if (sumReplicas(oldRss) === 0) return undefined;
    return canarySize(this.annotations[CANARY_ANNOTATION], this.p.replicas);
  }

  /**
   * The canary size for `newRs`: its template never completed a rollout (not a rollback to a
   * revision that was fully available), has not had its canary step yet, and is not past it.
   */
  private canaryFor(newRs: Model, oldRss: readonly Model[]): number | undefined {
    const size = this.canaryCap(oldRss);
    if (size === undefined) return undefined;
    if (newRs.annotations[FULLY_AVAILABLE_ANNOTATION] === 'true') return undefined;
    if (newRs.annotations[CANARY_PAUSED_ANNOTATION] !== undefined) return undefined;
    if (newRs.replicas > size) return undefined;
    return size;
  }

  /** Paused on `newRs`'s canary step (set by pauseForCanary, not yet promoted). */
  private onCanary(newRs: Model): boolean {
    // The condition tells a canary pause from a person's pause after the canary was promoted.
    return (
      newRs.annotations[CANARY_PAUSED_ANNOTATION] !== undefined &&
      newRs.annotations[FULLY_AVAILABLE_ANNOTATION] !== 'true' &&
      getCondition(this.working, RolloutConditions.Canary)?.status === 'True'
    );
  }

  /**
   * Scaling while paused on a canary: the canary keeps its size (or the annotation's size of the new
   * spec.replicas), old ReplicaSets hold the rest, largest first. Upstream's proportional scaling
   * would fill the unused surge and so change the canary's share.
   */
  private scaleCanary(newRs: Model, oldRss: Model[]): void {
    const size = Math.min(
      canarySize(this.annotations[CANARY_ANNOTATION], this.p.replicas) ?? newRs.replicas,
      this.p.replicas,
    );
    scaleTo(this.scale, newRs, size);
    let delta = this.p.replicas - size - sumReplicas(oldRss);
    const active = oldRss
      .filter((m) => m.replicas > 0)
      .sort((a, b) => b.replicas - a.replicas || b.createdMs - a.createdMs);
    const largest = active[0] ?? [...oldRss].sort((a, b) => revisionOf(b) - revisionOf(a))[0];
    if (delta > 0 && largest !== undefined) scaleTo(this.scale, largest, largest.replicas + delta);
    for (const m of active) {
      if (delta >= 0) break;
      const down = Math.min(m.replicas, -delta);
      scaleTo(this.scale, m, m.replicas - down);
      delta += down;
    }
  }

  /** The canary's sizes are reached: pause the Deployment and say so. */
  private pauseForCanary(newRs: Model): void {
    newRs.annotations[CANARY_PAUSED_ANNOTATION] = formatTime(this.now);
    this.writeReplicaSet(newRs);
    const message =
      `canary of ${newRs.replicas} pod${newRs.replicas === 1 ? '' : 's'} on revision ${revisionOf(newRs)}; ` +
      'promote with `flotilla rollout promote` or `kubectl rollout resume`';
    this.pausedPatch = {
      paused: true,
      event: { type: 'Normal', reason: RolloutReasons.CanaryPaused, message },
    };
    setCondition(
      this.working,
      this.condition(RolloutConditions.Canary, 'True', RolloutReasons.CanaryPaused, message),
    );
  }

  /**
   * After a canary pause: resumed on the canary's template is a promotion; any other template is an
   * abort (its ReplicaSet loses the canary mark, so applying that template again repeats the canary).
   */
  private settleCanary(newRs: Model | undefined, oldRss: readonly Model[]): void {
    for (const m of oldRss) {
      if (
        m.annotations[CANARY_PAUSED_ANNOTATION] !== undefined &&
        m.annotations[FULLY_AVAILABLE_ANNOTATION] !== 'true'
      ) {
        delete m.annotations[CANARY_PAUSED_ANNOTATION];
        this.writeReplicaSet(m);
      }
    }
    const cond = getCondition(this.working, RolloutConditions.Canary);
    if (cond?.status !== 'True') return;
    if (newRs !== undefined && newRs.annotations[CANARY_PAUSED_ANNOTATION] !== undefined) {
      setCondition(
        this.working,
        this.condition(
          RolloutConditions.Canary,
          'False',
          RolloutReasons.CanaryPromoted,
          `canary promoted; rolling out revision ${revisionOf(newRs)}`,
        ),
      );
    } else {
      setCondition(
        this.working,
        this.condition(
          RolloutConditions.Canary,
          'False',
          RolloutReasons.CanaryAborted,
          'canary aborted: the template changed',
        ),
      );
    }
  }

  /**
   * While paused on a canary with `flotilla.dev/canary-promote-after`: promote (unpause) once every
   * canary pod has been available that long with no failure; else look again when it may be due.
   */
  private maybePromoteCanary(newRs: Model | undefined): void {
    if (newRs === undefined || newRs.replicas === 0 || !this.onCanary(newRs)) return;
    const after = parseDurationMs(this.annotations[CANARY_PROMOTE_AFTER_ANNOTATION]);
    if (after === undefined) return;
    const pods = this.pods.filter(
      (p) => p.metadata.deletionTimestamp === undefined && controllerRefOf(p)?.uid === newRs.uid,
    );
    if (pods.length < newRs.replicas) return;
    // Counted from the pause (or later, when a canary pod became available after it).
    let availableSince = parseTime(newRs.annotations[CANARY_PAUSED_ANNOTATION]) ?? 0;
    for (const pod of pods) {
      if (podFailure(pod) !== undefined) return;
      if (podAvailableInMs(pod, this.p.minReadySeconds, this.now) !== 0) return;
      availableSince = Math.max(availableSince, readySince(pod) + this.p.minReadySeconds * 1000);
    }
    const due = availableSince + after;
    if (due > this.now) {
      this.promoteRequeueMs = due - this.now;
      return;
    }
    const message = `canary promoted automatically after ${this.annotations[CANARY_PROMOTE_AFTER_ANNOTATION] ?? ''} available; rolling out revision ${revisionOf(newRs)}`;
    this.pausedPatch = {
      paused: false,
      event: { type: 'Normal', reason: RolloutReasons.CanaryPromoted, message },
    };
    setCondition(
      this.working,
      this.condition(RolloutConditions.Canary, 'False', RolloutReasons.CanaryPromoted, message),
    );
  }

  /** Once the rollout of `newRs` completed, mark it (the revision automatic rollback returns to). */
  private markFullyAvailable(newRs: Model | undefined): void {
    if (newRs === undefined || this.final === undefined) return;
    if (newRs.annotations[FULLY_AVAILABLE_ANNOTATION] === 'true') return;
    if (!deploymentComplete(this.p, this.final) || newRs.replicas !== this.p.replicas) return;
    newRs.annotations[FULLY_AVAILABLE_ANNOTATION] = 'true';
    delete newRs.annotations[CANARY_PAUSED_ANNOTATION];
    this.writeReplicaSet(newRs);
  }

  /** Delete old ReplicaSets beyond revisionHistoryLimit. */
  private cleanup(oldRss: Model[]): void {
    for (const rs of replicaSetsToCleanUp(this.p, oldRss)) {
      const m = rs as Model;
      if (m.obj === undefined) continue;
      this.actions.push({ type: 'deleteReplicaSet', name: m.name, uid: m.uid });
    }
  }

  // ---------------------------------------------------------------- status

  /** Counts from the ReplicaSets and the Available condition (upstream calculateStatus). */
  private calculateStatus(all: (Model | undefined)[], newRs: Model | undefined): DeploymentStatus {
    const rss = all.filter((m): m is Model => m !== undefined);
    const available = sumAvailable(rss);
    const status: DeploymentStatus = {};
    const put = (k: Exclude<keyof DeploymentStatus, 'conditions' | 'collisionCount'>, v: number): void => {
      if (v !== 0) status[k] = v;
    };
    put('observedGeneration', this.p.generation);
    put(
      'replicas',
      rss.reduce((n, m) => n + m.statusReplicas, 0),
    );
    put('updatedReplicas', newRs?.statusReplicas ?? 0);
    put('readyReplicas', sumReady(rss));
    put('availableReplicas', available);
    put('unavailableReplicas', Math.max(0, sumReplicas(rss) - available));
    if (this.working.conditions !== undefined) status.conditions = structuredClone(this.working.conditions);
    if (this.working.collisionCount !== undefined) status.collisionCount = this.working.collisionCount;
    if (available >= this.p.replicas - maxUnavailable(this.p)) {
      setCondition(
        status,
        this.condition(
          'Available',
          'True',
          Reasons.MinimumReplicasAvailable,
          'Deployment has minimum availability.',
        ),
      );
    } else {
      setCondition(
        status,
        this.condition(
          'Available',
          'False',
          Reasons.MinimumReplicasUnavailable,
          'Deployment does not have minimum availability.',
        ),
      );
    }
    return status;
  }

  /** calculateStatus plus the Progressing condition and ReplicaFailure (upstream syncRolloutStatus). */
  private syncRolloutStatus(all: (Model | undefined)[], newRs: Model | undefined): void {
    const next = this.calculateStatus(all, newRs);
    if (!this.hasProgressDeadline) removeCondition(next, 'Progressing');
    const current = getCondition(this.working, 'Progressing');
    const complete =
      (next.replicas ?? 0) === (next.updatedReplicas ?? 0) &&
      current?.reason === Reasons.NewReplicaSetAvailable;
    if (this.hasProgressDeadline && !complete) {
      const subject = newRs === undefined ? `Deployment "${this.p.name}"` : `ReplicaSet "${newRs.name}"`;
      if (deploymentComplete(this.p, next)) {
        setCondition(
          next,
          this.condition(
            'Progressing',
            'True',
            Reasons.NewReplicaSetAvailable,
            `${subject} has successfully progressed.`,
          ),
        );
      } else if (this.progressing(next)) {
        const cond = this.condition(
          'Progressing',
          'True',
          Reasons.ReplicaSetUpdated,
          `${subject} is progressing.`,
        );
        // Progress moves lastUpdateTime (the deadline counts from it); lastTransitionTime stays while True.
        if (current !== undefined) {
          if (current.status === 'True' && current.lastTransitionTime !== undefined)
            cond.lastTransitionTime = current.lastTransitionTime;
          removeCondition(next, 'Progressing');
        }
        setCondition(next, cond);
      } else if (this.timedOut(next)) {
        setCondition(
          next,
          this.condition(
            'Progressing',
            'False',
            Reasons.ProgressDeadlineExceeded,
            `${subject} has timed out progressing.`,
          ),
        );
      }
    }
    const failures = this.replicaFailures(all, newRs);
    const first = failures[0];
    if (first !== undefined) setCondition(next, first);
    else removeCondition(next, 'ReplicaFailure');
    this.final = next;
  }

  private progressing(next: DeploymentStatus): boolean {
    const old = this.working;
    const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
    const newOld = (next.replicas ?? 0) - (next.updatedReplicas ?? 0);
    return (
      (next.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
      newOld < oldOld ||
      (next.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
      (next.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
    );
  }

  /** The Progressing condition was last updated more than progressDeadlineSeconds ago. */
  private timedOut(next: DeploymentStatus): boolean {
    const cond = getCondition(next, 'Progressing');
    if (cond === undefined || this.p.progressDeadlineSeconds === undefined) return false;
    if (cond.reason === Reasons.NewReplicaSetAvailable) return false;
    if (cond.reason === Reasons.ProgressDeadlineExceeded) return true;
    const from = parseTime(cond.lastUpdateTime);
    return from !== undefined && from + this.p.progressDeadlineSeconds * 1000 < this.now;
  }

  private replicaFailures(all: (Model | undefined)[], newRs: Model | undefined): DeploymentCondition[] {
    if (newRs !== undefined && newRs.failureConditions.length > 0) return newRs.failureConditions;
    return all.flatMap((m) => m?.failureConditions ?? []);
  }

  /** When to look again for a stuck rollout, if the status does not change meanwhile (requeueStuckDeployment). */
  private stuckRequeue(next: DeploymentStatus): number | undefined {
    const cond = getCondition(this.working, 'Progressing');
    if (this.p.progressDeadlineSeconds === undefined || cond === undefined) return undefined;
    if (deploymentComplete(this.p, next) || cond.reason === Reasons.ProgressDeadlineExceeded)
      return undefined;
    const from = parseTime(cond.lastUpdateTime);
    if (from === undefined) return undefined;
    const after = from + this.p.progressDeadlineSeconds * 1000 - this.now;
    return after < 1000 ? 1000 : after + 1000;
  }

  finish(): DeploymentPlan {
    const before = this.d.metadata.annotations ?? {};
    if (canonicalJson(this.annotations) !== canonicalJson(before)) {
      const annotations: Record<string, string | null> = { ...this.annotations };
      for (const k of Object.keys(before)) if (!(k in this.annotations)) annotations[k] = null;
      this.actions.push({ type: 'patchDeploymentAnnotations', annotations });
    }
    if (this.pausedPatch !== undefined)
      this.actions.push({ type: 'patchDeploymentPaused', ...this.pausedPatch });
    const status = this.final ?? this.working;
    if (!sameStatus(status, this.original)) {
      this.actions.push({ type: 'updateStatus', status });
    } else {
      this.requeueAfterMs = this.stuckRequeue(status);
    }
    if (this.promoteRequeueMs !== undefined)
      this.requeueAfterMs = Math.min(this.requeueAfterMs ?? Infinity, this.promoteRequeueMs);
    return {
      actions: this.actions,
      newReplicaSetName: this.newName,
      requeueAfterMs: this.requeueAfterMs,
      status,
    };
  }
}

/**
 * One sync of a Deployment (upstream syncDeployment after claiming ReplicaSets):
 * - being deleted: status only;
 * - paused, or spec.replicas changed since the ReplicaSets were sized: scale (proportionally while
 *   a rolling update is under way), and while paused trim history;
 * - otherwise roll out with the strategy (rollout.ts): RollingUpdate within maxSurge/maxUnavailable,
 *   or Recreate (old pods gone before the new ReplicaSet grows); trim history once complete.
 * Then the status: counts, Available (at least replicas − maxUnavailable available), Progressing
 * (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
 * ProgressDeadlineExceeded, DeploymentPaused/Resumed) and ReplicaFailure copied from ReplicaSets.
 */
export function reconcileDeployment(s: DeploymentSnapshot): DeploymentPlan {
  const planner = new Planner(s);
  if (planner.deleting) {
    planner.syncStatusOnly();
  } else {
    const blocked = planner.checkFailedMark();
    planner.checkPausedConditions();
    if (planner.paused || planner.isScalingEvent()) planner.sync();
    else if (blocked) planner.rolloutBlocked();
    else if (deploymentParams(s.deployment).strategy.type === 'Recreate') planner.rolloutRecreate();
    else planner.rolloutRolling();
  }
  return planner.finish();
}

/** When the pod's Ready condition last turned True (ms; 0 when unknown). */
function readySince(pod: KubeObject): number {
  const conditions = obj(pod.status).conditions;
  if (!Array.isArray(conditions)) return 0;
  for (const c of conditions) {
    if (isObject(c) && c.type === 'Ready') return parseTime(c.lastTransitionTime) ?? 0;
  }
  return 0;
}
