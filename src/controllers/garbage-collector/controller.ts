// Garbage-collector wiring: informers → one debounced, level-triggered pass → reconcileGarbage → writes.
//
// The interfaces the server implements to run it (both are thin over ApiClient and Informer):
//
//   InformerProvider (src/machinery/object-source.ts)
//     informerFor(info: ResourceInfo): ObjectSource   one started informer per kind in `kinds`
//       (default: every resource in src/api/resources.ts). `Informer` already has the shape:
//       hasSynced(), list(), addEventHandler({ onAdd, onUpdate, onDelete }).
//
//   GcExecutor (below), e.g. over an ApiClient `c`:
//     delete: (info, ns, name, propagationPolicy, uid) =>
//               c.delete(info, ns, name, { propagationPolicy, preconditions: { uid } })
//     patch:  (info, ns, name, mergePatch) => c.patch(info, ns, name, 'merge', mergePatch)
//     get:    (info, ns, name) => c.get(info, ns, name)            (a live read, not the cache)
//   Errors are thrown as ApiError; NotFound and Conflict are expected and tolerated.
//
// Behaviour: any informer event schedules a pass `debounceMs` later (events in between coalesce into
// it); a pass also runs every `resyncPeriodMs`. A pass waits until every informer has synced, builds
// the snapshot, runs `reconcileGarbage`, confirms each owner the decision assumes absent with a live
// GET (absences are cached: a uid never comes back), then executes the actions, at most `concurrency`
// objects at a time, each object's actions in order. Deletes carry the object's uid as a precondition
// and patches its resourceVersion, so a stale cache can never delete a recreated object or overwrite a
// newer one: such writes fail with Conflict and the next pass decides again. Warnings (invalid owner
// references) are recorded as Events once per object and message.

import { isApiError } from '../../api/errors.js';
import { resources, type ResourceInfo } from '../../api/resources.js';
import type { DeletionPropagation, KubeObject } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { nullEventRecorder, type EventRecorder } from '../../machinery/event-recorder.js';
import { forEachLimit } from '../../machinery/limit.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import { type InformerProvider, type ObjectSource } from '../../machinery/object-source.js';
import {
  reconcileGarbage,
  toGcNode,
  type GcAction,
  type GcNode,
  type GcWarning,
  type OwnerLocation,
} from './reconcile.js';

export interface GcExecutor {
  /** DELETE the object with `propagationPolicy` and `preconditions.uid`. */
  delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    propagationPolicy: DeletionPropagation,
    preconditionUid: string,
  ): Promise<unknown>;
  /** PATCH with `application/merge-patch+json`. A `metadata.resourceVersion` in it is a precondition. */
  patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mergePatch: Record<string, unknown>,
  ): Promise<unknown>;
  /** GET from the API server; resolve `undefined` or throw a NotFound ApiError when there is none. */
  get(info: ResourceInfo, namespace: string | undefined, name: string): Promise<KubeObject | undefined>;
}

export interface GarbageCollectorOptions {
  informers: InformerProvider;
  executor: GcExecutor;
  clock: Clock;
  /** Kinds to collect and resolve owners among. Default: every resource in src/api/resources.ts. */
  kinds?: readonly ResourceInfo[];
  logger?: Logger;
  recorder?: EventRecorder;
  /** Delay from an informer event to the pass it triggers. Default 100 ms. */
  debounceMs?: number;
  /** A pass runs at least this often. Default 60 s. */
  resyncPeriodMs?: number;
  /** How soon to look again while informers are not synced. Default 200 ms. */
  syncPollMs?: number;
  /** Objects written concurrently. Default 8. */
  concurrency?: number;
}

export interface GcPassResult {
  /** False when informers were not synced and nothing was decided. */
  synced: boolean;
  planned: number;
  executed: number;
  /** Actions skipped because an owner believed absent exists, or tolerated NotFound/Conflict. */
  skipped: number;
  failed: number;
}

const PASS_KEY = 'gc';
const ABSENT_CACHE_SIZE = 10_000;

export class GarbageCollector {
  private readonly kinds: readonly ResourceInfo[];
  private readonly sources: { info: ResourceInfo; source: ObjectSource }[];
  private readonly executor: GcExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: EventRecorder;
  private readonly debounceMs: number;
  private readonly resyncPeriodMs: number;
  private readonly syncPollMs: number;
  private readonly concurrency: number;
  private readonly controller: Controller;
  /** `namespace/uid` of owners confirmed absent, oldest first. */
  private readonly absentOwners = new Set<string>();
  /** Warnings already recorded, so a resync does not repeat them. */
  private readonly warned = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: GarbageCollectorOptions) {
    this.kinds =
      options.kinds ?? resources.filter((r) => r.verbs.includes('delete') && r.verbs.includes('list'));
    this.sources = this.kinds.map((info) => ({ info, source: options.informers.informerFor(info) }));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.recorder = options.recorder ?? nullEventRecorder;
    this.debounceMs = options.debounceMs ?? 100;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 60_000;
    this.syncPollMs = options.syncPollMs ?? 200;
    this.concurrency = options.concurrency ?? 8;
    this.controller = new Controller({
      name: 'garbage-collector',
      clock: options.clock,
      logger: this.logger,
      sync: async () => {
        const result = await this.runOnce();
        if (!result.synced) this.controller.queue.addAfter(PASS_KEY, this.syncPollMs);
      },
    });
  }

  start(): void {
    this.controller.start();
    // Only changes that can create work start a pass: any deletion (the object may have been an owner), and
    // adds/updates of objects that have owners or are being deleted. A plain write of an unowned object (most
    // of a busy cluster's traffic) cannot, so it does not cost a pass over every cached object.
    const kick = (): void => this.controller.queue.addAfter(PASS_KEY, this.debounceMs);
    const mayNeedWork = (obj: KubeObject): boolean =>
      (obj.metadata.ownerReferences?.length ?? 0) > 0 || obj.metadata.deletionTimestamp !== undefined;
    const removers = this.sources.map((s) =>
      s.source.addEventHandler({
        onAdd: (obj) => {
          if (mayNeedWork(obj)) kick();
        },
        // An update that drops owner references can finish an orphaning owner's work, so the old state counts.
        onUpdate: (old, obj) => {
          if (mayNeedWork(old) || mayNeedWork(obj)) kick();
        },
        onDelete: kick,
      }),
    );
    this.unsubscribe = () => {
      for (const remove of removers) remove();
    };
    this.controller.queue.add(PASS_KEY);
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    await this.controller.stop();
  }

  /** One pass: snapshot, decide, act. Throws `ActionsFailed` when a write failed in an unexpected way. */
  async runOnce(): Promise<GcPassResult> {
    if (!this.sources.every((s) => s.source.hasSynced())) {
      return { synced: false, planned: 0, executed: 0, skipped: 0, failed: 0 };
    }
    const objects: GcNode[] = [];
    for (const { info, source } of this.sources) {
      for (const obj of source.list()) {
        const node = toGcNode(info, obj);
        if (node !== undefined) objects.push(node);
      }
    }
    const { actions, warnings } = reconcileGarbage({ objects, observed: this.kinds });
    this.recordWarnings(warnings);

    // Group by object: an object's actions run in order (patch before delete), objects concurrently.
    const groups = new Map<string, GcAction[]>();
    for (const a of actions) {
      const list = groups.get(a.target.uid);
      if (list === undefined) groups.set(a.target.uid, [a]);
      else list.push(a);
    }
    const result: GcPassResult = {
      synced: true,
      planned: actions.length,
      executed: 0,
      skipped: 0,
      failed: 0,
    };
    const failures: unknown[] = [];
    await forEachLimit([...groups.values()], this.concurrency, async (group) => {
      for (const action of group) {
        const outcome = await this.execute(action).catch((err: unknown) => {
          failures.push(err);
          this.logger.warn('garbage collector action failed', {
            ...describeAction(action),
            error: describeError(err),
          });
          return 'failed' as const;
        });
        result[outcome]++;
        if (outcome !== 'executed') break;
      }
    });
    if (actions.length > 0) this.logger.info('garbage collection pass', { ...result });
    if (failures.length > 0) {
      throw new MachineryError('ActionsFailed', `${failures.length} garbage collector action(s) failed`, {
        cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
      });
    }
    return result;
  }

  private async execute(action: GcAction): Promise<'executed' | 'skipped'> {
    if (action.type !== 'removeFinalizer') {
      for (const owner of action.absentOwners) {
        if (!(await this.confirmAbsent(owner))) {
          this.logger.debug('owner exists after all; waiting for the cache', {
            ...describeAction(action),
            owner: owner.name,
          });
          this.controller.queue.addAfter(PASS_KEY, this.debounceMs);
          return 'skipped';
        }
      }
    }
    const { info, namespace, name, uid, resourceVersion } = action.target;
    const precondition = resourceVersion === undefined ? {} : { resourceVersion };
    try {
      switch (action.type) {
        case 'delete':
          await this.executor.delete(info, namespace, name, action.propagationPolicy, uid);
          break;
        case 'patchOwnerRefs':
          await this.executor.patch(info, namespace, name, {
            metadata: {
              ...precondition,
              ownerReferences: action.ownerReferences.length === 0 ? null : action.ownerReferences,
            },
          });
          break;
        case 'removeFinalizer':
          await this.executor.patch(info, namespace, name, {
            metadata: {
              ...precondition,
              finalizers: action.finalizers.length === 0 ? null : action.finalizers,
            },
          });
          break;
        default: {
          const never: never = action;
          return never;
        }
      }
    } catch (err: unknown) {
      if (isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict')) {
        // Gone already, or changed since the snapshot: the informer event brings the next pass.
        this.logger.debug('garbage collector action overtaken', {
          ...describeAction(action),
          reason: err.reason,
        });
        return 'skipped';
      }
      throw err;
    }
    this.logger.info(`garbage collector: ${action.type}`, describeAction(action));
    return 'executed';
  }

  /** True when the owner is confirmed gone (by cache of earlier confirmations, or a live GET). */
  private async confirmAbsent(owner: OwnerLocation): Promise<boolean> {
    const key = `${owner.namespace ?? ''}/${owner.uid}`;
    if (this.absentOwners.has(key)) return true;
    let live: KubeObject | undefined;
    try {
      live = await this.executor.get(owner.info, owner.namespace, owner.name);
    } catch (err: unknown) {
      if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
      live = undefined;
    }
    if (live !== undefined && live.metadata.uid === owner.uid) return false;
    this.absentOwners.add(key);
    if (this.absentOwners.size > ABSENT_CACHE_SIZE) {
      const oldest = this.absentOwners.values().next();
      if (oldest.done !== true) this.absentOwners.delete(oldest.value);
    }
    return true;
  }

  private recordWarnings(warnings: GcWarning[]): void {
    for (const w of warnings) {
      const key = `${w.target.uid}\u0000${w.reason}\u0000${w.message}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      if (this.warned.size > ABSENT_CACHE_SIZE) {
        const oldest = this.warned.values().next();
        if (oldest.done !== true) this.warned.delete(oldest.value);
      }
      this.logger.warn(w.message, {
        reason: w.reason,
        kind: w.target.info.kind,
        namespace: w.target.namespace,
        name: w.target.name,
      });
      const involved: KubeObject = {
        apiVersion:
          w.target.info.group === ''
            ? w.target.info.version
            : `${w.target.info.group}/${w.target.info.version}`,
        kind: w.target.info.kind,
        metadata: {
          name: w.target.name,
          uid: w.target.uid,
          ...(w.target.namespace === undefined ? {} : { namespace: w.target.namespace }),
        },
      };
      this.recorder.record(involved, 'Warning', w.reason, w.message);
    }
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      this.controller.queue.add(PASS_KEY);
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}

function describeAction(a: GcAction): Record<string, unknown> {
  return {
    action: a.type,
    kind: a.target.info.kind,
    namespace: a.target.namespace,
    name: a.target.name,
    uid: a.target.uid,
    message: a.message,
    ...(a.type === 'delete' ? { propagationPolicy: a.propagationPolicy } : {}),
  };
}
