// Namespace-lifecycle wiring: empties a terminating Namespace, then finalizes it.
//
// The interfaces the server implements to run it:
//
//   InformerProvider (src/machinery/object-source.ts)
//     informerFor(info) for the Namespace resource and every namespaced kind in `kinds`
//     (default: every namespaced resource of src/api/resources.ts that supports list and delete).
//
//   NamespaceExecutor (below), e.g. over an ApiClient `c` (nsInfo = the Namespace ResourceInfo):
//     delete:       (info, ns, name, propagationPolicy, uid) =>
//                     c.delete(info, ns, name, { propagationPolicy, preconditions: { uid } })
//     updateStatus: (ns) => c.updateStatus(nsInfo, undefined, ns)                 PUT .../namespaces/{n}/status
//     finalize:     (ns) => c.request('PUT', `/api/v1/namespaces/${n}/finalize`, ns)  PUT .../finalize
//     list:         async (info, ns) => (await c.list(info, ns)).items             a live list, not the cache
//   Errors are thrown as ApiError; NotFound and Conflict are tolerated (the next pass decides again).
//
// Behaviour: a Namespace event with a deletionTimestamp, or any change to an object in a terminating
// namespace, queues the namespace (debounced). A sync runs `reconcileNamespace` on the caches: deletes
// every object not yet being deleted (uid precondition), updates the status (phase Terminating and the
// content/finalizer conditions), and when the caches show the namespace empty, confirms it with live
// lists of every kind before finalizing: a lagging cache must never let the namespace go while objects
// remain in it. While content remains the namespace is looked at again every `recheckMs`; all
// terminating namespaces are re-queued every `resyncPeriodMs`.

import { isApiError } from '../../api/errors.js';
import { findByKind, resources, type ResourceInfo } from '../../api/resources.js';
import type { DeletionPropagation, KubeObject } from '../../api/types.js';
import { kubeTime } from '../../machinery/event-recorder.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { forEachLimit } from '../../machinery/limit.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import { onAnyChange, type InformerProvider, type ObjectSource } from '../../machinery/object-source.js';
import {
  reconcileNamespace,
  toNamespaceContent,
  type NamespaceAction,
  type NamespaceContent,
} from './reconcile.js';

export interface NamespaceExecutor {
  delete(
    info: ResourceInfo,
    namespace: string,
    name: string,
    propagationPolicy: DeletionPropagation,
    preconditionUid: string,
  ): Promise<unknown>;
  /** PUT the Namespace's status subresource (the object carries its resourceVersion). */
  updateStatus(namespace: KubeObject): Promise<unknown>;
  /** PUT /api/v1/namespaces/{name}/finalize: replaces spec.finalizers with the object's. */
  finalize(namespace: KubeObject): Promise<unknown>;
  /** List `info` in `namespace` from the API server (not a cache). */
  list(info: ResourceInfo, namespace: string): Promise<readonly KubeObject[]>;
}

export interface NamespaceControllerOptions {
  informers: InformerProvider;
  executor: NamespaceExecutor;
  clock: Clock;
  /** Namespaced kinds to empty. Default: every namespaced resource with list and delete verbs. */
  kinds?: readonly ResourceInfo[];
  logger?: Logger;
  workers?: number;
  /** Delay from a content event to the sync it triggers. Default 100 ms. */
  debounceMs?: number;
  /** Look again this soon while content remains. Default 2 s. */
  recheckMs?: number;
  /** Re-queue every terminating namespace this often. Default 5 min. */
  resyncPeriodMs?: number;
  /** How soon to look again while informers are not synced. Default 200 ms. */
  syncPollMs?: number;
  /** Deletes in flight per namespace. Default 8. */
  concurrency?: number;
}

function namespaceInfo(): ResourceInfo {
  const info = findByKind('v1', 'Namespace');
  if (info === undefined)
    throw new MachineryError('InvalidKey', 'the Namespace resource is missing from the resource table');
  return info;
}

export class NamespaceController {
  private readonly nsSource: ObjectSource;
  private readonly content: { info: ResourceInfo; source: ObjectSource }[];
  private readonly executor: NamespaceExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private readonly recheckMs: number;
  private readonly resyncPeriodMs: number;
  private readonly syncPollMs: number;
  private readonly concurrency: number;
  private readonly controller: Controller;
  private unsubscribe: (() => void)[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: NamespaceControllerOptions) {
    const kinds =
      options.kinds ??
      resources.filter((r) => r.namespaced && r.verbs.includes('list') && r.verbs.includes('delete'));
    this.nsSource = options.informers.informerFor(namespaceInfo());
    this.content = kinds.map((info) => ({ info, source: options.informers.informerFor(info) }));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.debounceMs = options.debounceMs ?? 100;
    this.recheckMs = options.recheckMs ?? 2000;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 5 * 60_000;
    this.syncPollMs = options.syncPollMs ?? 200;
    this.concurrency = options.concurrency ?? 8;
    this.controller = new Controller({
      name: 'namespace',
      clock: options.clock,
      logger: this.logger,
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      sync: (name) => this.sync(name),
    });
  }

  start(): void {
    this.controller.start();
    const onNamespace = (ns: KubeObject): void => {
      if (ns.metadata.deletionTimestamp !== undefined && ns.metadata.name !== undefined)
        this.controller.enqueue(ns.metadata.name);
    };
    this.unsubscribe.push(
      this.nsSource.addEventHandler({ onAdd: onNamespace, onUpdate: (_old, ns) => onNamespace(ns) }),
      onAnyChange(
        this.content.map((c) => c.source),
        (obj) => {
          const ns = obj.metadata.namespace;
          if (ns !== undefined && this.terminating(ns) !== undefined)
            this.controller.queue.addAfter(ns, this.debounceMs);
        },
      ),
    );
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    await this.controller.stop();
  }

  /** The cached Namespace `name` if it is being deleted. */
  private terminating(name: string): KubeObject | undefined {
    const ns = this.nsSource.list().find((n) => n.metadata.name === name);
    return ns?.metadata.deletionTimestamp === undefined ? undefined : ns;
  }

  /** One sync of namespace `name` (the queue worker's function; exposed for tests). */
  async sync(name: string): Promise<void> {
    if (!this.nsSource.hasSynced() || !this.content.every((c) => c.source.hasSynced())) {
      this.controller.queue.addAfter(name, this.syncPollMs);
      return;
    }
    const ns = this.terminating(name);
    if (ns === undefined) return;
    const contents: NamespaceContent[] = [];
    for (const { info, source } of this.content) {
      for (const obj of source.list()) {
        if (obj.metadata.namespace !== name) continue;
        const c = toNamespaceContent(info, obj);
        if (c !== undefined) contents.push(c);
      }
    }
    const result = reconcileNamespace({ namespace: ns, contents, now: kubeTime(this.clock.now()) });
    if (result.state !== 'terminating') return;

    const failures: unknown[] = [];
    let again = result.remaining > 0;
    const deletes = result.actions.filter(
      (a): a is Extract<NamespaceAction, { type: 'delete' }> => a.type === 'delete',
    );
    await forEachLimit(deletes, this.concurrency, async (a) => {
      try {
        await this.executor.delete(
          a.target.info,
          a.target.namespace,
          a.target.name,
          a.propagationPolicy,
          a.target.uid,
        );
      } catch (err: unknown) {
        if (this.tolerated(err)) return;
        failures.push(err);
        this.logger.warn('could not delete namespace content', {
          namespace: name,
          kind: a.target.info.kind,
          name: a.target.name,
          error: describeError(err),
        });
      }
    });
    for (const a of result.actions) {
      if (a.type === 'delete') continue;
      try {
        if (a.type === 'updateStatus') {
          await this.executor.updateStatus(a.namespace);
          again = true; // finalizing comes on the next pass
        } else if (await this.confirmEmpty(name)) {
          await this.executor.finalize(a.namespace);
          this.logger.info('namespace finalized', { namespace: name });
        } else {
          again = true;
        }
      } catch (err: unknown) {
        if (this.tolerated(err)) {
          again = true;
          continue;
        }
        failures.push(err);
        this.logger.warn(`could not ${a.type} namespace`, { namespace: name, error: describeError(err) });
      }
    }
    if (failures.length > 0) {
      throw new MachineryError(
        'ActionsFailed',
        `${failures.length} write(s) failed while deleting namespace ${name}`,
        {
          cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
        },
      );
    }
    if (again) this.controller.queue.addAfter(name, result.remaining > 0 ? this.recheckMs : this.debounceMs);
  }

  /** Live lists of every kind: true when the namespace holds nothing. */
  private async confirmEmpty(name: string): Promise<boolean> {
    for (const { info } of this.content) {
      const items = await this.executor.list(info, name);
      if (items.length > 0) {
        this.logger.debug('namespace not empty yet (cache behind)', {
          namespace: name,
          kind: info.kind,
          count: items.length,
        });
        return false;
      }
    }
    return true;
  }

  private tolerated(err: unknown): boolean {
    return isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict');
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const ns of this.nsSource.list()) {
        if (ns.metadata.deletionTimestamp !== undefined && ns.metadata.name !== undefined)
          this.controller.enqueue(ns.metadata.name);
      }
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}
